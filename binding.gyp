{
  "targets": [
    {
      "target_name": "bundle_codec",
      "sources": ["native/bundle_codec.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
