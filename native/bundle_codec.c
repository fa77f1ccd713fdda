/*
 * The native AES-256-GCM bundle codec: seals and opens the pages of a TDX memory bundle in one call, reading the
 * plaintext from (or writing it to) the TD's memory in place, page by page through the bundle's GPA list.
 *
 * Layout of a memory bundle (see orchestrator/tdx/mbmd.ts): MBMD ‖ GPA list (8 bytes an entry) ‖ pages (4 KiB
 * each) ‖ MACs (16 bytes each). Page i is sealed with IV = (firstIv + i) as u64 LE ‖ migsIndex as u16 LE ‖ 0 0 and
 * its GPA-list entry as AAD, exactly as the node:crypto path does (orchestrator/tdx/bundle-crypto.ts).
 *
 * Every length, offset and GPA is checked before any byte of memory or bundle is touched, so that no bundle,
 * however it is made, can make the codec read or write out of bounds. OpenSSL comes from the symbols the node
 * binary exports: nothing is linked.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

#define PAGE 4096u
#define ENTRY 8u
#define MAC 16u
#define KEY 32u
#define MAX_PAGES 512u

typedef struct {
  uint8_t *key;
  size_t key_len;
  uint8_t *memory;
  size_t memory_len;
  uint8_t *bundle;
  size_t bundle_len;
  uint32_t list_at, pages_at, macs_at, count, migs_index;
  double first_iv;
} codec_args;

static napi_value throw_code(napi_env env, const char *code, const char *message) {
  napi_throw_range_error(env, code, message);
  return NULL;
}

/* A Buffer or any TypedArray (also one over a SharedArrayBuffer): its bytes. */
static int bytes_of(napi_env env, napi_value v, uint8_t **data, size_t *len) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  size_t length, offset;
  napi_value ab;
  void *base;
  if (napi_get_typedarray_info(env, v, &type, &length, &base, &ab, &offset) != napi_ok) return 0;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return 0;
  *data = (uint8_t *)base;
  *len = length;
  return 1;
}

static int u32_of(napi_env env, napi_value v, uint32_t *out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= 0 && d <= 4294967295.0) || d != (double)(uint32_t)d) return 0;
  *out = (uint32_t)d;
  return 1;
}

/* The GPA of a well-formed 4 KiB MIGRATE entry, or UINT64_MAX (same rules as orchestrator/tdx/gpa-list.ts). */
static uint64_t gpa_of(const uint8_t *e) {
  uint32_t lo = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
  uint32_t hi = (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
  if ((lo & 0xfffu) != 0) return UINT64_MAX;
  if ((hi >> 30) != 1u) return UINT64_MAX;
  if ((hi & 0x3ff00000u) != 0) return UINT64_MAX;
  return ((uint64_t)(hi & 0xfffffu) << 32) | lo;
}

/*
 * (key, memory, bundle, listAt, pagesAt, macsAt, count, firstIv, migsIndex): parses and checks every argument and
 * every GPA entry against the memory; returns 0 (an exception pending) when one is wrong.
 */
static int parse_args(napi_env env, napi_callback_info info, codec_args *a) {
  size_t argc = 9;
  napi_value argv[9];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 9) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the bundle codec takes 9 arguments");
    return 0;
  }
  if (!bytes_of(env, argv[0], &a->key, &a->key_len) || a->key_len != KEY) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the key is not 32 bytes");
    return 0;
  }
  if (!bytes_of(env, argv[1], &a->memory, &a->memory_len)) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the memory is not a Uint8Array");
    return 0;
  }
  if (!bytes_of(env, argv[2], &a->bundle, &a->bundle_len)) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the bundle is not a Uint8Array");
    return 0;
  }
  if (!u32_of(env, argv[3], &a->list_at) || !u32_of(env, argv[4], &a->pages_at) || !u32_of(env, argv[5], &a->macs_at) ||
      !u32_of(env, argv[6], &a->count) || !u32_of(env, argv[8], &a->migs_index)) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "an offset, count or stream index is not a u32");
    return 0;
  }
  if (napi_get_value_double(env, argv[7], &a->first_iv) != napi_ok || !(a->first_iv >= 0) ||
      a->first_iv != (double)(uint64_t)a->first_iv || a->first_iv + a->count > 9007199254740991.0) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the first IV counter is not an integer below 2^53 - count");
    return 0;
  }
  if (a->count == 0 || a->count > MAX_PAGES || a->migs_index > 0xffffu) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the page count or stream index is out of range");
    return 0;
  }
  /* The three regions lie inside the bundle and do not overlap (all in 64 bits: no wrap-around). */
  uint64_t n = a->count, len = a->bundle_len;
  uint64_t list_end = (uint64_t)a->list_at + n * ENTRY, pages_end = (uint64_t)a->pages_at + n * PAGE,
           macs_end = (uint64_t)a->macs_at + n * MAC;
  if (list_end > len || pages_end > len || macs_end > len) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the GPA list, pages or MACs run past the end of the bundle");
    return 0;
  }
  if (!(list_end <= a->pages_at || pages_end <= a->list_at) || !(list_end <= a->macs_at || macs_end <= a->list_at) ||
      !(pages_end <= a->macs_at || macs_end <= a->pages_at)) {
    throw_code(env, "TDX_CODEC_ARGUMENT", "the GPA list, pages and MACs overlap");
    return 0;
  }
  for (uint32_t i = 0; i < a->count; i++) {
    uint64_t gpa = gpa_of(a->bundle + a->list_at + (size_t)i * ENTRY);
    if (gpa == UINT64_MAX || gpa > (uint64_t)a->memory_len || (uint64_t)a->memory_len - gpa < PAGE) {
      throw_code(env, "TDX_CODEC_ARGUMENT", "a GPA entry is malformed or outside the TD's memory");
      return 0;
    }
  }
  return 1;
}

static void page_iv(uint8_t iv[12], uint64_t counter, uint32_t migs_index) {
  for (int b = 0; b < 8; b++) iv[b] = (uint8_t)(counter >> (8 * b));
  iv[8] = (uint8_t)migs_index;
  iv[9] = (uint8_t)(migs_index >> 8);
  iv[10] = 0;
  iv[11] = 0;
}

/* An AES-256-GCM context keyed for sealing (encrypt = 1) or opening (0); each page then sets its own IV. NULL on failure. */
static EVP_CIPHER_CTX *gcm_context(const uint8_t *key, int encrypt) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, NULL, encrypt) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

/* sealPages(...): encrypts memory[gpa_i] into the bundle's page i and its tag into MAC i. Returns undefined. */
static napi_value seal_pages(napi_env env, napi_callback_info info) {
  codec_args a;
  if (!parse_args(env, info, &a)) return NULL;
  EVP_CIPHER_CTX *ctx = gcm_context(a.key, 1);
  if (ctx == NULL) return throw_code(env, "TDX_CODEC_CIPHER", "OpenSSL could not set up AES-256-GCM");
  uint64_t first = (uint64_t)a.first_iv;
  for (uint32_t i = 0; i < a.count; i++) {
    const uint8_t *entry = a.bundle + a.list_at + (size_t)i * ENTRY;
    const uint8_t *plain = a.memory + gpa_of(entry);
    uint8_t *out = a.bundle + a.pages_at + (size_t)i * PAGE;
    uint8_t iv[12];
    int len = 0, fin = 0;
    page_iv(iv, first + i, a.migs_index);
    if (EVP_EncryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 || EVP_EncryptUpdate(ctx, NULL, &len, entry, ENTRY) != 1 ||
        EVP_EncryptUpdate(ctx, out, &len, plain, PAGE) != 1 || EVP_EncryptFinal_ex(ctx, out + len, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, MAC, a.bundle + a.macs_at + (size_t)i * MAC) != 1) {
      EVP_CIPHER_CTX_free(ctx);
      return throw_code(env, "TDX_CODEC_CIPHER", "OpenSSL failed to seal a page");
    }
  }
  EVP_CIPHER_CTX_free(ctx);
  return NULL;
}

/*
 * openPages(...): authenticates and decrypts page i (into a scratch page, so that a page whose tag fails writes
 * nothing) and copies it to memory[gpa_i], in list order. Returns the number of pages written: `count` when every
 * tag verified, else the index of the first page whose tag failed.
 */
static napi_value open_pages(napi_env env, napi_callback_info info) {
  codec_args a;
  if (!parse_args(env, info, &a)) return NULL;
  EVP_CIPHER_CTX *ctx = gcm_context(a.key, 0);
  if (ctx == NULL) return throw_code(env, "TDX_CODEC_CIPHER", "OpenSSL could not set up AES-256-GCM");
  uint64_t first = (uint64_t)a.first_iv;
  uint8_t scratch[PAGE];
  uint32_t written = 0;
  for (; written < a.count; written++) {
    uint32_t i = written;
    const uint8_t *entry = a.bundle + a.list_at + (size_t)i * ENTRY;
    uint8_t tag[MAC];
    uint8_t iv[12];
    int len = 0, fin = 0;
    memcpy(tag, a.bundle + a.macs_at + (size_t)i * MAC, MAC);
    page_iv(iv, first + i, a.migs_index);
    if (EVP_DecryptInit_ex(ctx, NULL, NULL, NULL, iv) != 1 || EVP_DecryptUpdate(ctx, NULL, &len, entry, ENTRY) != 1 ||
        EVP_DecryptUpdate(ctx, scratch, &len, a.bundle + a.pages_at + (size_t)i * PAGE, PAGE) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, MAC, tag) != 1) {
      EVP_CIPHER_CTX_free(ctx);
      return throw_code(env, "TDX_CODEC_CIPHER", "OpenSSL failed to open a page");
    }
    if (EVP_DecryptFinal_ex(ctx, scratch + len, &fin) != 1) break; /* the tag did not verify */
    memcpy(a.memory + gpa_of(entry), scratch, PAGE);
  }
  EVP_CIPHER_CTX_free(ctx);
  napi_value result;
  napi_create_uint32(env, written, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sealPages", NAPI_AUTO_LENGTH, seal_pages, NULL, &fn);
  napi_set_named_property(env, exports, "sealPages", fn);
  napi_create_function(env, "openPages", NAPI_AUTO_LENGTH, open_pages, NULL, &fn);
  napi_set_named_property(env, exports, "openPages", fn);
  return exports;
}
