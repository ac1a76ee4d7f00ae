/*
 * homecore.h: a header-only C SDK for HOMECORE wasm plugins (host ABI v1, docs/host-abi.md).
 *
 * Use it like a single-file library: every C file may include it; exactly one of them defines
 * HOMECORE_IMPLEMENTATION first, which adds the required exports (the version marker,
 * hc_alloc/hc_free) and freestanding memcpy/memmove/memset/memcmp so that no `env.*` import is
 * left for the linker to invent.
 *
 *   #define HOMECORE_IMPLEMENTATION
 *   #include "homecore.h"
 *
 *   HC_EXPORT(hc_on_state_changed) int32_t on_state(int32_t ptr, int32_t len) {
 *     hc_json event = hc_payload(ptr, len);
 *     ...
 *     return HC_OK;
 *   }
 *
 * Build (clang 14 + lld, no libc):
 *   clang --target=wasm32 -O2 -ffreestanding -nostdlib -mbulk-memory -I sdks/c \
 *     -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=65536 -Wl,--max-memory=1048576 \
 *     -o plugin.wasm plugin.c
 *
 * Guest exports are plain functions marked HC_EXPORT(<name>); the hooks take (ptr, len) of a
 * UTF-8 JSON payload that is valid only during the call. Host imports are declared below with
 * import_module("homecore") and wrapped by small helpers taking NUL-terminated strings.
 *
 * JSON: hc_json is a view of one JSON value's text (no copies, no allocation). The reader
 * validates the grammar of RFC 8259 (hc_json_valid) and decodes strings with every escape
 * (\uXXXX surrogate pairs included) to UTF-8; a lone surrogate escape, which UTF-8 cannot hold,
 * is invalid, and so is nesting deeper than HC_JSON_MAX_DEPTH. Numbers are correctly rounded
 * (to nearest, ties to even) like JavaScript's JSON.parse. The writer prints doubles with 17
 * significant digits rounded from the exact binary value, so every finite double reads back
 * unchanged; hc_w_raw copies a value (a number token, say) as it was read.
 */
#ifndef HOMECORE_H
#define HOMECORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- attributes ------------------------------------------------------------------------- */

/** Exports a function under `name` (clang's export_name; no --export flags needed). */
#define HC_EXPORT(name) __attribute__((export_name(#name), used))
/** Imports a host function `name` from the `homecore` module. */
#define HC_IMPORT(name) __attribute__((import_module("homecore"), import_name(#name)))

/* ---- status codes (docs/host-abi.md section 7) ----------------------------------------------- */

enum {
  HC_OK = 0,
  HC_NOT_READY = 1,
  HC_BAD_POINTER = -1,
  HC_NOT_FOUND = -2,
  HC_DENIED = -3,
  HC_INVALID_UTF8 = -4,
  HC_INVALID_JSON = -5,
  HC_TOO_LARGE = -6,
  HC_QUOTA_EXCEEDED = -7,
  HC_INVALID_ARGUMENT = -8,
  HC_FAILED = -10
};

enum { HC_LOG_DEBUG = 0, HC_LOG_INFO = 1, HC_LOG_WARN = 2, HC_LOG_ERROR = 3 };
enum { HC_SUBSCRIBE_ENTITY = 0, HC_SUBSCRIBE_EVENT = 1 };

/* ---- host imports (docs/host-abi.md section 6) ------------------------------------------------ */

HC_IMPORT(hc_log) int32_t hc_log(int32_t level, const char *msg, int32_t msg_len);
HC_IMPORT(hc_state_get) int32_t hc_state_get(const char *id, int32_t id_len, char *out, int32_t out_cap);
HC_IMPORT(hc_state_set)
int32_t hc_state_set(const char *id, int32_t id_len, const char *state, int32_t state_len, const char *attrs, int32_t attrs_len);
HC_IMPORT(hc_service_call)
int32_t hc_service_call(const char *domain, int32_t domain_len, const char *service, int32_t service_len, const char *data, int32_t data_len);
HC_IMPORT(hc_event_fire) int32_t hc_event_fire(const char *type, int32_t type_len, const char *data, int32_t data_len);
HC_IMPORT(hc_subscribe) int32_t hc_subscribe(int32_t kind, const char *pattern, int32_t pattern_len);
HC_IMPORT(hc_config_get) int32_t hc_config_get(char *out, int32_t out_cap);
HC_IMPORT(hc_clock_now) double hc_clock_now(void);

/* ---- allocator (exported as hc_alloc / hc_free by the implementation) -------------------- */

/** `size` writable bytes aligned to 8, or NULL; the host calls it for every payload. */
void *hc_malloc(int32_t size);
/** Frees a pointer from hc_malloc (NULL is ignored). */
void hc_mfree(void *ptr);

/* ---- small string helpers ----------------------------------------------------------------- */

static inline int32_t hc_strlen(const char *s) {
  int32_t n = 0;
  while (s[n] != 0) n++;
  return n;
}

static inline int hc_bytes_eq(const char *a, int32_t an, const char *b, int32_t bn) {
  if (an != bn) return 0;
  for (int32_t i = 0; i < an; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* ---- host wrappers taking NUL-terminated strings ------------------------------------------- */

static inline int32_t hc_log_str(int32_t level, const char *msg) { return hc_log(level, msg, hc_strlen(msg)); }

/** Writes a state; `attrs_json` may be NULL (`{}`). */
static inline int32_t hc_set_state(const char *entity_id, const char *state, const char *attrs_json, int32_t attrs_len) {
  return hc_state_set(entity_id, hc_strlen(entity_id), state, hc_strlen(state), attrs_json, attrs_json == NULL ? 0 : attrs_len);
}

/** Calls a service after the hook returns; `data_json` may be NULL (`{}`). */
static inline int32_t hc_call_service(const char *domain, const char *service, const char *data_json, int32_t data_len) {
  return hc_service_call(domain, hc_strlen(domain), service, hc_strlen(service), data_json, data_json == NULL ? 0 : data_len);
}

/** Fires an event; `data_json` may be NULL (`{}`). */
static inline int32_t hc_fire_event(const char *event_type, const char *data_json, int32_t data_len) {
  return hc_event_fire(event_type, hc_strlen(event_type), data_json, data_json == NULL ? 0 : data_len);
}

/** Subscribes to state changes of entities matching `pattern` (`sensor.*`). */
static inline int32_t hc_subscribe_entities(const char *pattern) { return hc_subscribe(HC_SUBSCRIBE_ENTITY, pattern, hc_strlen(pattern)); }
/** Subscribes to events whose type matches `pattern`. */
static inline int32_t hc_subscribe_events(const char *pattern) { return hc_subscribe(HC_SUBSCRIBE_EVENT, pattern, hc_strlen(pattern)); }

/**
 * Reads an entity's State JSON into memory from hc_malloc: returns its length (>= 0) and sets
 * *out (free it with hc_mfree), or a negative status (HC_NOT_FOUND, HC_DENIED...).
 */
static inline int32_t hc_get_state(const char *entity_id, char **out) {
  int32_t id_len = hc_strlen(entity_id);
  int32_t cap = 512;
  for (int attempt = 0; attempt < 3; attempt++) {
    char *buf = (char *)hc_malloc(cap);
    if (buf == NULL) return HC_FAILED;
    int32_t size = hc_state_get(entity_id, id_len, buf, cap);
    if (size >= 0 && size <= cap) {
      *out = buf;
      return size;
    }
    hc_mfree(buf);
    if (size < 0) return size;
    cap = size;
  }
  return HC_FAILED;
}

/** Reads the ConfigEntry JSON like hc_get_state. */
static inline int32_t hc_get_config(char **out) {
  int32_t cap = 512;
  for (int attempt = 0; attempt < 3; attempt++) {
    char *buf = (char *)hc_malloc(cap);
    if (buf == NULL) return HC_FAILED;
    int32_t size = hc_config_get(buf, cap);
    if (size >= 0 && size <= cap) {
      *out = buf;
      return size;
    }
    hc_mfree(buf);
    if (size < 0) return size;
    cap = size;
  }
  return HC_FAILED;
}

/* ---- JSON reader ---------------------------------------------------------------------------- */

/** A view of one JSON value's text; `p == NULL` means "absent". */
typedef struct {
  const char *p;
  int32_t n;
} hc_json;

enum { HC_JSON_ABSENT = 0, HC_JSON_NULL, HC_JSON_BOOL, HC_JSON_NUMBER, HC_JSON_STRING, HC_JSON_ARRAY, HC_JSON_OBJECT };

/** Deepest nesting the reader accepts (it recurses; the stack is small). */
#define HC_JSON_MAX_DEPTH 64

static inline int hc__ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline int hc__digit(char c) { return c >= '0' && c <= '9'; }

static inline int32_t hc__skip_ws(const char *s, int32_t i, int32_t n) {
  while (i < n && hc__ws(s[i])) i++;
  return i;
}

static inline int hc__hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Length of a valid UTF-8 sequence starting at s[i] (1..4), or 0. Rejects overlongs and surrogates. */
static inline int32_t hc__utf8_len(const char *s, int32_t i, int32_t n) {
  unsigned char c = (unsigned char)s[i];
  if (c < 0x80) return 1;
  int32_t len;
  uint32_t min;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) { len = 2; min = 0x80; cp = c & 0x1f; }
  else if ((c & 0xf0) == 0xe0) { len = 3; min = 0x800; cp = c & 0x0f; }
  else if ((c & 0xf8) == 0xf0) { len = 4; min = 0x10000; cp = c & 0x07; }
  else return 0;
  if (i + len > n) return 0;
  for (int32_t k = 1; k < len; k++) {
    unsigned char d = (unsigned char)s[i + k];
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

/* s[i] is the opening quote; returns the index after the closing quote, or -1. */
static inline int32_t hc__skip_string(const char *s, int32_t i, int32_t n) {
  i++;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"') return i + 1;
    if (c < 0x20) return -1;
    if (c == '\\') {
      if (i + 1 >= n) return -1;
      char e = s[i + 1];
      if (e == 'u') {
        /* a surrogate must come as a high-low pair: a lone one has no UTF-8 form */
        uint32_t cp = 0;
        if (i + 6 > n) return -1;
        for (int k = 2; k < 6; k++) {
          int h = hc__hex(s[i + k]);
          if (h < 0) return -1;
          cp = (cp << 4) | (uint32_t)h;
        }
        i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t lo = 0;
          if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u') return -1;
          for (int k = 2; k < 6; k++) {
            int h = hc__hex(s[i + k]);
            if (h < 0) return -1;
            lo = (lo << 4) | (uint32_t)h;
          }
          if (lo < 0xdc00 || lo > 0xdfff) return -1;
          i += 6;
        }
      } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
        i += 2;
      } else {
        return -1;
      }
      continue;
    }
    int32_t len = hc__utf8_len(s, i, n);
    if (len == 0) return -1;
    i += len;
  }
  return -1;
}

static inline int32_t hc__skip_number(const char *s, int32_t i, int32_t n) {
  if (i < n && s[i] == '-') i++;
  if (i >= n) return -1;
  if (s[i] == '0') i++;
  else if (s[i] >= '1' && s[i] <= '9') while (i < n && hc__digit(s[i])) i++;
  else return -1;
  if (i < n && s[i] == '.') {
    i++;
    if (i >= n || !hc__digit(s[i])) return -1;
    while (i < n && hc__digit(s[i])) i++;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= n || !hc__digit(s[i])) return -1;
    while (i < n && hc__digit(s[i])) i++;
  }
  return i;
}

static inline int32_t hc__skip_literal(const char *s, int32_t i, int32_t n, const char *lit) {
  for (int32_t k = 0; lit[k] != 0; k++, i++)
    if (i >= n || s[i] != lit[k]) return -1;
  return i;
}

/* s[i] starts a value (no leading whitespace); returns the index after it, or -1 when invalid. */
static int32_t hc__skip_value(const char *s, int32_t i, int32_t n, int depth) {
  if (i >= n) return -1;
  char c = s[i];
  if (c == '"') return hc__skip_string(s, i, n);
  if (c == 't') return hc__skip_literal(s, i, n, "true");
  if (c == 'f') return hc__skip_literal(s, i, n, "false");
  if (c == 'n') return hc__skip_literal(s, i, n, "null");
  if (c == '-' || hc__digit(c)) return hc__skip_number(s, i, n);
  if (c != '{' && c != '[') return -1;
  if (depth >= HC_JSON_MAX_DEPTH) return -1;
  char close = c == '{' ? '}' : ']';
  i = hc__skip_ws(s, i + 1, n);
  if (i < n && s[i] == close) return i + 1;
  for (;;) {
    if (c == '{') {
      if (i >= n || s[i] != '"') return -1;
      i = hc__skip_string(s, i, n);
      if (i < 0) return -1;
      i = hc__skip_ws(s, i, n);
      if (i >= n || s[i] != ':') return -1;
      i = hc__skip_ws(s, i + 1, n);
    }
    i = hc__skip_value(s, i, n, depth + 1);
    if (i < 0) return -1;
    i = hc__skip_ws(s, i, n);
    if (i >= n) return -1;
    if (s[i] == close) return i + 1;
    if (s[i] != ',') return -1;
    i = hc__skip_ws(s, i + 1, n);
  }
}

/** A view of the whole text, whitespace trimmed (not validated: see hc_json_valid). */
static inline hc_json hc_json_of(const char *p, int32_t n) {
  int32_t a = hc__skip_ws(p, 0, n);
  int32_t b = n;
  while (b > a && hc__ws(p[b - 1])) b--;
  hc_json v = {p + a, b - a};
  return v;
}

/** The hook payload at (ptr, len) as a JSON view. */
static inline hc_json hc_payload(int32_t ptr, int32_t len) { return hc_json_of((const char *)(uintptr_t)ptr, len); }

/** 1 when `v` is exactly one valid JSON value (RFC 8259, nesting up to HC_JSON_MAX_DEPTH). */
static inline int hc_json_valid(hc_json v) {
  if (v.p == NULL) return 0;
  return hc__skip_value(v.p, 0, v.n, 0) == v.n;
}

/** The kind of value: HC_JSON_ABSENT for a missing one, else from its first character. */
static inline int hc_json_type(hc_json v) {
  if (v.p == NULL || v.n == 0) return HC_JSON_ABSENT;
  switch (v.p[0]) {
    case 'n': return HC_JSON_NULL;
    case 't': case 'f': return HC_JSON_BOOL;
    case '"': return HC_JSON_STRING;
    case '[': return HC_JSON_ARRAY;
    case '{': return HC_JSON_OBJECT;
    default: return HC_JSON_NUMBER;
  }
}

/*
 * Decodes the next character of a JSON string body at s[*i] (after the opening quote) into
 * out[0..4) as UTF-8; returns its byte count, 0 at the closing quote, -1 when invalid.
 */
static inline int hc__next_char(const char *s, int32_t *i, int32_t n, char out[4]) {
  int32_t k = *i;
  if (k >= n) return -1;
  unsigned char c = (unsigned char)s[k];
  if (c == '"') return 0;
  if (c != '\\') {
    int32_t len = hc__utf8_len(s, k, n);
    if (len == 0 || c < 0x20) return -1;
    for (int32_t j = 0; j < len; j++) out[j] = s[k + j];
    *i = k + len;
    return (int)len;
  }
  if (k + 1 >= n) return -1;
  char e = s[k + 1];
  uint32_t cp;
  switch (e) {
    case '"': cp = '"'; break;
    case '\\': cp = '\\'; break;
    case '/': cp = '/'; break;
    case 'b': cp = 8; break;
    case 'f': cp = 12; break;
    case 'n': cp = 10; break;
    case 'r': cp = 13; break;
    case 't': cp = 9; break;
    case 'u': {
      if (k + 6 > n) return -1;
      cp = 0;
      for (int j = 2; j < 6; j++) {
        int h = hc__hex(s[k + j]);
        if (h < 0) return -1;
        cp = (cp << 4) | (uint32_t)h;
      }
      k += 4;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        /* a high surrogate must be followed by \u and a low one */
        if (k + 8 > n || s[k + 2] != '\\' || s[k + 3] != 'u') return -1;
        uint32_t lo = 0;
        for (int j = 4; j < 8; j++) {
          int h = hc__hex(s[k + j]);
          if (h < 0) return -1;
          lo = (lo << 4) | (uint32_t)h;
        }
        if (lo < 0xdc00 || lo > 0xdfff) return -1;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        k += 6;
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return -1;
      }
      break;
    }
    default: return -1;
  }
  *i = k + 2;
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) { out[0] = (char)(0xc0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3f)); return 2; }
  if (cp < 0x10000) {
    out[0] = (char)(0xe0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  out[0] = (char)(0xf0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3f)); out[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/** 1 when `v` is a JSON string whose decoded text equals the `len` bytes at `text`. */
static inline int hc_json_string_eq(hc_json v, const char *text, int32_t len) {
  if (hc_json_type(v) != HC_JSON_STRING) return 0;
  int32_t i = 1;
  int32_t at = 0;
  char ch[4];
  for (;;) {
    int got = hc__next_char(v.p, &i, v.n, ch);
    if (got < 0) return 0;
    if (got == 0) return at == len;
    for (int j = 0; j < got; j++, at++)
      if (at >= len || text[at] != ch[j]) return 0;
  }
}

/** hc_json_string_eq with a NUL-terminated string. */
static inline int hc_json_is(hc_json v, const char *text) { return hc_json_string_eq(v, text, hc_strlen(text)); }

/**
 * Decodes a JSON string into buf (UTF-8, NUL-terminated when it fits): returns the decoded
 * length, or -1 when `v` is not a valid string or it needs more than cap - 1 bytes.
 */
static inline int32_t hc_json_string(hc_json v, char *buf, int32_t cap) {
  if (hc_json_type(v) != HC_JSON_STRING || cap <= 0) return -1;
  int32_t i = 1;
  int32_t at = 0;
  char ch[4];
  for (;;) {
    int got = hc__next_char(v.p, &i, v.n, ch);
    if (got < 0) return -1;
    if (got == 0) break;
    if (at + got >= cap) return -1;
    for (int j = 0; j < got; j++) buf[at++] = ch[j];
  }
  buf[at] = 0;
  return at;
}

/** The member `key` of an object (the last one if repeated), or an absent view. */
static inline hc_json hc_json_get(hc_json obj, const char *key) {
  hc_json found = {NULL, 0};
  if (hc_json_type(obj) != HC_JSON_OBJECT) return found;
  const char *s = obj.p;
  int32_t n = obj.n;
  int32_t key_len = hc_strlen(key);
  int32_t i = hc__skip_ws(s, 1, n);
  if (i < n && s[i] == '}') return found;
  while (i < n && s[i] == '"') {
    int32_t key_end = hc__skip_string(s, i, n);
    if (key_end < 0) return found;
    hc_json k = {s + i, key_end - i};
    int32_t j = hc__skip_ws(s, key_end, n);
    if (j >= n || s[j] != ':') return found;
    j = hc__skip_ws(s, j + 1, n);
    int32_t end = hc__skip_value(s, j, n, 1);
    if (end < 0) return found;
    if (hc_json_string_eq(k, key, key_len)) {
      found.p = s + j;
      found.n = end - j;
    }
    i = hc__skip_ws(s, end, n);
    if (i >= n || s[i] != ',') break;
    i = hc__skip_ws(s, i + 1, n);
  }
  return found;
}

/** Element `index` of an array, or an absent view. */
static inline hc_json hc_json_at(hc_json arr, int32_t index) {
  hc_json found = {NULL, 0};
  if (hc_json_type(arr) != HC_JSON_ARRAY) return found;
  const char *s = arr.p;
  int32_t n = arr.n;
  int32_t i = hc__skip_ws(s, 1, n);
  if (i < n && s[i] == ']') return found;
  for (int32_t k = 0; i < n; k++) {
    int32_t end = hc__skip_value(s, i, n, 1);
    if (end < 0) return found;
    if (k == index) {
      found.p = s + i;
      found.n = end - i;
      return found;
    }
    i = hc__skip_ws(s, end, n);
    if (i >= n || s[i] != ',') break;
    i = hc__skip_ws(s, i + 1, n);
  }
  return found;
}

/** Member `index` of an object: 1 with its key (a JSON string view) and value, or 0 past the end. */
static inline int hc_json_member(hc_json obj, int32_t index, hc_json *key, hc_json *value) {
  if (hc_json_type(obj) != HC_JSON_OBJECT) return 0;
  const char *s = obj.p;
  int32_t n = obj.n;
  int32_t i = hc__skip_ws(s, 1, n);
  for (int32_t k = 0; i < n && s[i] == '"'; k++) {
    int32_t key_end = hc__skip_string(s, i, n);
    if (key_end < 0) return 0;
    int32_t j = hc__skip_ws(s, key_end, n);
    if (j >= n || s[j] != ':') return 0;
    j = hc__skip_ws(s, j + 1, n);
    int32_t end = hc__skip_value(s, j, n, 1);
    if (end < 0) return 0;
    if (k == index) {
      key->p = s + i;
      key->n = key_end - i;
      value->p = s + j;
      value->n = end - j;
      return 1;
    }
    i = hc__skip_ws(s, end, n);
    if (i >= n || s[i] != ',') break;
    i = hc__skip_ws(s, i + 1, n);
  }
  return 0;
}

/** hc_json_get along a path of keys: hc_json_path(event, "data", "new_state", "state", NULL). */
static inline hc_json hc_json_path(hc_json v, const char *k1, const char *k2, const char *k3, const char *k4) {
  const char *keys[4] = {k1, k2, k3, k4};
  for (int i = 0; i < 4 && keys[i] != NULL; i++) v = hc_json_get(v, keys[i]);
  return v;
}

/** 1 and *out for `true`/`false`, else 0. */
static inline int hc_json_bool(hc_json v, int *out) {
  if (v.n == 4 && hc__skip_literal(v.p, 0, 4, "true") == 4) { *out = 1; return 1; }
  if (v.n == 5 && hc__skip_literal(v.p, 0, 5, "false") == 5) { *out = 0; return 1; }
  return 0;
}

/*
 * Decimal to double, correctly rounded (to nearest, ties to even): a first guess from at most 19
 * digits and powers of ten (exact on Clinger's fast path: <= 15 digits, exponent within +-22),
 * then corrected ulp by ulp by comparing the exact decimal with the midpoints between neighbouring
 * doubles in big integers. Digits beyond HC__MAX_DIGITS only matter as "something nonzero"
 * (a sticky digit), which no midpoint (at most 767 significant digits) can hide.
 */
#define HC__MAX_DIGITS 780
#define HC__LIMBS 280

typedef struct {
  uint32_t v[HC__LIMBS];
  int32_t n;
} hc__big;

static inline void hc__big_small(hc__big *b, uint64_t x) {
  b->n = 0;
  while (x != 0) { b->v[b->n++] = (uint32_t)x; x >>= 32; }
}

static inline void hc__big_muladd(hc__big *b, uint32_t m, uint32_t add) {
  uint64_t carry = add;
  for (int32_t i = 0; i < b->n; i++) {
    uint64_t t = (uint64_t)b->v[i] * m + carry;
    b->v[i] = (uint32_t)t;
    carry = t >> 32;
  }
  if (carry != 0 && b->n < HC__LIMBS) b->v[b->n++] = (uint32_t)carry;
}

static inline void hc__big_pow5(hc__big *b, int32_t k) {
  while (k > 0) {
    int32_t step = k > 13 ? 13 : k;
    uint32_t f = 1;
    for (int32_t i = 0; i < step; i++) f *= 5;
    hc__big_muladd(b, f, 0);
    k -= step;
  }
}

static inline void hc__big_shl(hc__big *b, int32_t k) {
  if (b->n == 0) return;
  int32_t words = k / 32, bits = k % 32;
  if (b->n + words + 1 > HC__LIMBS) return; /* cannot happen for doubles; see HC__LIMBS */
  b->v[b->n + words] = 0;
  for (int32_t i = b->n - 1; i >= 0; i--) {
    uint32_t x = b->v[i];
    if (bits != 0) b->v[i + words + 1] |= x >> (32 - bits);
    b->v[i + words] = bits != 0 ? x << bits : x;
  }
  for (int32_t i = 0; i < words; i++) b->v[i] = 0;
  b->n += words + 1;
  while (b->n > 0 && b->v[b->n - 1] == 0) b->n--;
}

static inline int hc__big_cmp(const hc__big *a, const hc__big *b) {
  if (a->n != b->n) return a->n < b->n ? -1 : 1;
  for (int32_t i = a->n - 1; i >= 0; i--)
    if (a->v[i] != b->v[i]) return a->v[i] < b->v[i] ? -1 : 1;
  return 0;
}

typedef union { double d; uint64_t u; } hc__bits;

/* A non-negative double (or the first value past DBL_MAX, 2^1024, for bits 0x7ff0...) as M * 2^e. */
static inline void hc__split(uint64_t bits, uint64_t *m, int32_t *e) {
  int32_t be = (int32_t)(bits >> 52);
  *m = bits & 0xfffffffffffffull;
  if (be == 0) { *e = -1074; return; }
  *m |= (uint64_t)1 << 52;
  *e = be - 1075;
}

/* Compares digits * 10^exp10 with the midpoint of the doubles with bit patterns lo and lo + 1. */
static inline int hc__cmp_mid(const char *dig, int32_t nd, int32_t exp10, uint64_t lo) {
  uint64_t m1, m2;
  int32_t e1, e2;
  hc__split(lo, &m1, &e1);
  hc__split(lo + 1, &m2, &e2);
  int32_t emin = e1 < e2 ? e1 : e2;
  /* S = m1 * 2^(e1-emin) + m2 * 2^(e2-emin): the shifts are 0 or 1 (one binade apart at most) */
  hc__big s;
  hc__big_small(&s, (m1 << (e1 - emin)) + (m2 << (e2 - emin)));
  hc__big d;
  d.n = 0;
  for (int32_t i = 0; i < nd;) {
    uint32_t chunk = 0, scale = 1;
    for (int32_t k = 0; k < 9 && i < nd; k++, i++) { chunk = chunk * 10 + (uint32_t)(dig[i] - '0'); scale *= 10; }
    if (d.n == 0) hc__big_small(&d, chunk);
    else hc__big_muladd(&d, scale, chunk);
  }
  /* 2 * D * 10^E  vs  S * 2^emin  <=>  D * 5^E * 2^(E + 1 - emin)  vs  S */
  if (exp10 >= 0) hc__big_pow5(&d, exp10); else hc__big_pow5(&s, -exp10);
  int32_t p2 = exp10 + 1 - emin;
  if (p2 >= 0) hc__big_shl(&d, p2); else hc__big_shl(&s, -p2);
  return hc__big_cmp(&d, &s);
}

/** 1 when `x` is neither infinite nor NaN. */
static inline int hc_isfinite(double x) { return x == x && x - x == 0.0; }

static const double hc__pow10[23] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/** Parses the decimal text [s, s+n) (JSON number grammar, whole text): 1 and *out, or 0. */
static inline int hc_parse_decimal(const char *s, int32_t n, double *out) {
  if (n <= 0 || hc__skip_number(s, 0, n) != n) return 0;
  char dig[HC__MAX_DIGITS + 1];
  int32_t nd = 0, exp10 = 0, i = 0;
  int neg = 0, sticky = 0;
  if (s[i] == '-') { neg = 1; i++; }
  for (; i < n && hc__digit(s[i]); i++) {
    if (nd == 0 && s[i] == '0') continue;
    if (nd < HC__MAX_DIGITS) dig[nd++] = s[i];
    else { exp10++; if (s[i] != '0') sticky = 1; }
  }
  if (i < n && s[i] == '.') {
    for (i++; i < n && hc__digit(s[i]); i++) {
      if (nd == 0 && s[i] == '0') { exp10--; continue; }
      if (nd < HC__MAX_DIGITS) { dig[nd++] = s[i]; exp10--; }
      else if (s[i] != '0') sticky = 1;
    }
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (s[i] == '+' || s[i] == '-') { eneg = s[i] == '-'; i++; }
    int32_t e = 0;
    for (; i < n; i++) if (e < 100000) e = e * 10 + (s[i] - '0');
    exp10 += eneg ? -e : e;
  }
  if (sticky) { dig[nd++] = '1'; exp10--; }
  while (nd > 0 && dig[nd - 1] == '0') { nd--; exp10++; }
  double v;
  if (nd == 0 || nd + exp10 < -330) v = 0.0;
  else if (nd + exp10 > 310) v = 1.0 / 0.0;
  else {
    uint64_t mant = 0;
    int32_t used = nd < 19 ? nd : 19;
    for (int32_t k = 0; k < used; k++) mant = mant * 10 + (uint64_t)(dig[k] - '0');
    int32_t e = exp10 + (nd - used);
    if (nd <= 15 && e >= -22 && e <= 22) {
      v = e < 0 ? (double)mant / hc__pow10[-e] : (double)mant * hc__pow10[e];
    } else {
      /* a guess within a few ulps; subnormal-safe because it scales down in steps */
      v = (double)mant;
      while (e > 22) { v *= 1e22; e -= 22; }
      while (e < -22) { v /= 1e22; e += 22; }
      v = e < 0 ? v / hc__pow10[-e] : v * hc__pow10[e];
      hc__bits b = {v};
      if (!hc_isfinite(v)) b.u = 0x7fefffffffffffffull; /* start from DBL_MAX */
      for (int iter = 0; iter < 64; iter++) {
        int up = hc__cmp_mid(dig, nd, exp10, b.u);
        if (up > 0 || (up == 0 && (b.u & 1))) { b.u++; if (b.u == 0x7ff0000000000000ull) break; continue; }
        if (b.u == 0) break;
        int down = hc__cmp_mid(dig, nd, exp10, b.u - 1);
        if (down < 0 || (down == 0 && (b.u & 1))) { b.u--; continue; }
        break;
      }
      v = b.d;
    }
  }
  *out = neg ? -v : v;
  return 1;
}

/** 1 and *out when `v` is a JSON number (it may be +-infinity when out of range), else 0. */
static inline int hc_json_number(hc_json v, double *out) {
  if (hc_json_type(v) != HC_JSON_NUMBER) return 0;
  return hc_parse_decimal(v.p, v.n, out);
}

/* ---- JSON writer ---------------------------------------------------------------------------- */

/** Deepest nesting the writer accepts (twice the reader's, so a read value fits inside a wrapper). */
#define HC_JSON_WRITE_DEPTH 128

/** Writes JSON into a caller's buffer; `overflow` is set (and output stops) when it is full. */
typedef struct {
  char *buf;
  int32_t cap;
  int32_t len;
  int32_t depth;
  uint64_t need_comma[2]; /* one bit per nesting level, up to HC_JSON_WRITE_DEPTH */
  int after_key;
  int overflow;
} hc_writer;

/** A writer over buf[0..cap). */
static inline hc_writer hc_writer_init(char *buf, int32_t cap) {
  hc_writer w = {buf, cap, 0, 0, {0, 0}, 0, 0};
  return w;
}

static inline void hc__put(hc_writer *w, const char *s, int32_t n) {
  if (w->overflow) return;
  if (n > w->cap - w->len) { w->overflow = 1; return; }
  for (int32_t i = 0; i < n; i++) w->buf[w->len + i] = s[i];
  w->len += n;
}

static inline void hc__putc(hc_writer *w, char c) { hc__put(w, &c, 1); }

/* Before a value: a comma when the container already holds one, unless a key was just written. */
static inline void hc__value(hc_writer *w) {
  if (w->after_key) { w->after_key = 0; return; }
  if (w->depth > 0) {
    int32_t level = w->depth - 1;
    uint64_t bit = (uint64_t)1 << (level & 63);
    if (w->need_comma[level >> 6] & bit) hc__putc(w, ',');
    w->need_comma[level >> 6] |= bit;
  }
}

static inline void hc__open(hc_writer *w, char c) {
  hc__value(w);
  hc__putc(w, c);
  if (w->depth >= HC_JSON_WRITE_DEPTH) { w->overflow = 1; return; }
  int32_t level = w->depth++;
  w->need_comma[level >> 6] &= ~((uint64_t)1 << (level & 63));
}

static inline void hc__close(hc_writer *w, char c) {
  if (w->depth > 0) w->depth--;
  hc__putc(w, c);
}

static inline void hc_w_object_begin(hc_writer *w) { hc__open(w, '{'); }
static inline void hc_w_object_end(hc_writer *w) { hc__close(w, '}'); }
static inline void hc_w_array_begin(hc_writer *w) { hc__open(w, '['); }
static inline void hc_w_array_end(hc_writer *w) { hc__close(w, ']'); }

/* A quoted, escaped string of n UTF-8 bytes (control characters as \u00XX). */
static inline void hc__quoted(hc_writer *w, const char *s, int32_t n) {
  static const char hex[] = "0123456789abcdef";
  hc__putc(w, '"');
  for (int32_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') { hc__putc(w, '\\'); hc__putc(w, (char)c); }
    else if (c == '\n') hc__put(w, "\\n", 2);
    else if (c == '\r') hc__put(w, "\\r", 2);
    else if (c == '\t') hc__put(w, "\\t", 2);
    else if (c < 0x20) { char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]}; hc__put(w, u, 6); }
    else hc__putc(w, (char)c);
  }
  hc__putc(w, '"');
}

/** An object key of `n` bytes of UTF-8; the next call writes its value. */
static inline void hc_w_key_n(hc_writer *w, const char *key, int32_t n) {
  hc__value(w);
  hc__quoted(w, key, n);
  hc__putc(w, ':');
  w->after_key = 1;
}

/** An object key (NUL-terminated); the next call writes its value. */
static inline void hc_w_key(hc_writer *w, const char *key) { hc_w_key_n(w, key, hc_strlen(key)); }

/** A string value of `n` bytes of UTF-8. */
static inline void hc_w_string_n(hc_writer *w, const char *s, int32_t n) { hc__value(w); hc__quoted(w, s, n); }
/** A string value (NUL-terminated). */
static inline void hc_w_string(hc_writer *w, const char *s) { hc_w_string_n(w, s, hc_strlen(s)); }
/** `true` or `false`. */
static inline void hc_w_bool(hc_writer *w, int b) { hc__value(w); if (b) hc__put(w, "true", 4); else hc__put(w, "false", 5); }
/** `null`. */
static inline void hc_w_null(hc_writer *w) { hc__value(w); hc__put(w, "null", 4); }

/** A JSON value copied verbatim (for example a number token or an object from a payload). */
static inline void hc_w_raw(hc_writer *w, hc_json v) { hc__value(w); hc__put(w, v.p, v.n); }

/** An integer. */
static inline void hc_w_i64(hc_writer *w, int64_t x) {
  char tmp[24];
  int32_t at = 24;
  uint64_t u = x < 0 ? (uint64_t)0 - (uint64_t)x : (uint64_t)x;
  do { tmp[--at] = (char)('0' + u % 10); u /= 10; } while (u != 0);
  if (x < 0) tmp[--at] = '-';
  hc__value(w);
  hc__put(w, tmp + at, 24 - at);
}

/*
 * The exact decimal digits of a finite positive double, without leading zeros, into digits[]
 * (ASCII), with *point = where the decimal point goes (digits before it; may be <= 0 or beyond
 * the digits). Bignum of base 1e9 limbs: the value is m * 2^e, exactly m * 5^-e / 10^-e for e < 0.
 */
static inline int32_t hc__exact_digits(double x, char *digits, int32_t *point) {
  union { double d; uint64_t u; } bits = {x};
  int32_t be = (int32_t)((bits.u >> 52) & 0x7ff);
  uint64_t m = bits.u & 0xfffffffffffffull;
  if (be == 0) be = 1; else m |= (uint64_t)1 << 52;
  int32_t e = be - 1075; /* x = m * 2^e */
  while (m != 0 && (m & 1) == 0 && e < 0) { m >>= 1; e++; }
  uint32_t limb[130]; /* enough for 2^1024 or m * 5^1074 (< 10^1100) */
  int32_t nl = 0;
  while (m != 0) { limb[nl++] = (uint32_t)(m % 1000000000u); m /= 1000000000u; }
  int32_t mul = e >= 0 ? 2 : 5;
  int32_t times = e >= 0 ? e : -e;
  while (times > 0) {
    int32_t step = times > 13 ? 13 : times; /* 5^13 < 2^31, so limb * factor fits in 64 bits */
    uint32_t factor = 1;
    for (int32_t k = 0; k < step; k++) factor *= (uint32_t)mul;
    uint64_t carry = 0;
    for (int32_t k = 0; k < nl; k++) {
      uint64_t t = (uint64_t)limb[k] * factor + carry;
      limb[k] = (uint32_t)(t % 1000000000u);
      carry = t / 1000000000u;
    }
    while (carry != 0) { limb[nl++] = (uint32_t)(carry % 1000000000u); carry /= 1000000000u; }
    times -= step;
  }
  int32_t nd = 0;
  for (int32_t k = nl - 1; k >= 0; k--) {
    char chunk[9];
    uint32_t v = limb[k];
    for (int32_t j = 8; j >= 0; j--) { chunk[j] = (char)('0' + v % 10); v /= 10; }
    int32_t j = 0;
    if (k == nl - 1) while (j < 8 && chunk[j] == '0') j++;
    for (; j < 9; j++) digits[nd++] = chunk[j];
  }
  *point = nd - (e < 0 ? -e : 0);
  return nd;
}

/**
 * A finite double with 17 significant digits rounded (half to even) from its exact value, so it
 * reads back as the same double; trailing zeros are dropped, integers up to 2^53 print as
 * integers, negative zero as -0, NaN and infinities (not JSON) as null.
 */
static inline void hc_w_f64(hc_writer *w, double x) {
  if (!hc_isfinite(x)) { hc_w_null(w); return; }
  if (x == 0.0) { hc__value(w); if (1.0 / x < 0) hc__put(w, "-0", 2); else hc__putc(w, '0'); return; }
  if (x >= -9007199254740992.0 && x <= 9007199254740992.0 && (double)(int64_t)x == x) { hc_w_i64(w, (int64_t)x); return; }
  int neg = x < 0;
  if (neg) x = -x;
  char digits[1200];
  int32_t point;
  int32_t nd = hc__exact_digits(x, digits, &point);
  if (nd > 17) {
    /* round to 17 digits, half to even on the exact tail */
    int up;
    char next = digits[17];
    if (next > '5') up = 1;
    else if (next < '5') up = 0;
    else {
      up = 0;
      for (int32_t k = 18; k < nd; k++) if (digits[k] != '0') { up = 1; break; }
      if (!up) up = (digits[16] - '0') & 1;
    }
    nd = 17;
    if (up) {
      int32_t k = 16;
      while (k >= 0 && digits[k] == '9') digits[k--] = '0';
      if (k >= 0) digits[k]++;
      else { for (int32_t j = 16; j > 0; j--) digits[j] = digits[j - 1]; digits[0] = '1'; point++; }
    }
  }
  while (nd > 1 && digits[nd - 1] == '0') nd--;
  char out[40];
  int32_t at = 0;
  if (neg) out[at++] = '-';
  if (point > 0 && point <= 21) {
    for (int32_t k = 0; k < point; k++) out[at++] = k < nd ? digits[k] : '0';
    if (nd > point) { out[at++] = '.'; for (int32_t k = point; k < nd; k++) out[at++] = digits[k]; }
  } else if (point <= 0 && point > -6) {
    out[at++] = '0'; out[at++] = '.';
    for (int32_t k = point; k < 0; k++) out[at++] = '0';
    for (int32_t k = 0; k < nd; k++) out[at++] = digits[k];
  } else {
    out[at++] = digits[0];
    if (nd > 1) { out[at++] = '.'; for (int32_t k = 1; k < nd; k++) out[at++] = digits[k]; }
    out[at++] = 'e';
    int32_t ex = point - 1;
    if (ex < 0) { out[at++] = '-'; ex = -ex; }
    char t[5];
    int32_t tn = 0;
    do { t[tn++] = (char)('0' + ex % 10); ex /= 10; } while (ex != 0);
    while (tn > 0) out[at++] = t[--tn];
  }
  hc__value(w);
  hc__put(w, out, at);
}

/** hc_w_key then hc_w_f64. */
static inline void hc_w_key_f64(hc_writer *w, const char *key, double x) { hc_w_key(w, key); hc_w_f64(w, x); }
/** hc_w_key then hc_w_string. */
static inline void hc_w_key_string(hc_writer *w, const char *key, const char *s) { hc_w_key(w, key); hc_w_string(w, s); }

/* ---- settings: a config entry's data with its options on top (as HA integrations read them) -- */

/** The setting `key` of a ConfigEntry JSON: options first, then data; absent when neither has it. */
static inline hc_json hc_setting(hc_json entry, const char *key) {
  hc_json v = hc_json_get(hc_json_get(entry, "options"), key);
  if (v.p != NULL) return v;
  return hc_json_get(hc_json_get(entry, "data"), key);
}

#ifdef __cplusplus
}
#endif

#endif /* HOMECORE_H */

/* ---- implementation: the required exports, the allocator, freestanding mem* ------------------ */

#ifdef HOMECORE_IMPLEMENTATION
#ifndef HOMECORE_IMPLEMENTED
#define HOMECORE_IMPLEMENTED

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI v1 marker: the host reads the export's name and never calls it. */
HC_EXPORT(homecore_abi_version_1) void homecore_abi_version_1(void) {}

/*
 * clang turns struct copies and loops into calls to memcpy/memset; with no libc those would be
 * left as imports (`env.memcpy`), which the host refuses. These definitions satisfy them; with
 * -mbulk-memory the builtins become memory.copy / memory.fill instructions.
 */
void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
#if defined(__wasm_bulk_memory__)
  __builtin_memcpy(dst, src, n);
#else
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  while (n--) *d++ = *s++;
#endif
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
#if defined(__wasm_bulk_memory__)
  __builtin_memmove(dst, src, n);
#else
  unsigned char *d = (unsigned char *)dst;
  const unsigned char *s = (const unsigned char *)src;
  if (d < s) while (n--) *d++ = *s++;
  else while (n--) d[n] = s[n];
#endif
  return dst;
}

void *memset(void *dst, int c, size_t n) {
#if defined(__wasm_bulk_memory__)
  __builtin_memset(dst, c, n);
#else
  unsigned char *d = (unsigned char *)dst;
  while (n--) *d++ = (unsigned char)c;
#endif
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *x = (const unsigned char *)a;
  const unsigned char *y = (const unsigned char *)b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

int bcmp(const void *a, const void *b, size_t n) { return memcmp(a, b, n); }

/*
 * The allocator: power-of-two size classes from 16 bytes, an 8-byte header holding the class,
 * one free list per class, fresh blocks bumped from __heap_base (memory grows on demand).
 * Blocks are never moved; a freed block is reused only for the same class.
 */
extern unsigned char __heap_base;
static uintptr_t hc__bump;
static void *hc__free_list[27];

void *hc_malloc(int32_t size) {
  if (size < 0 || size > (1 << 29)) return NULL;
  uint32_t need = (uint32_t)size + 8;
  int32_t cls = 0;
  while (((uint32_t)16 << cls) < need) cls++;
  void *block = hc__free_list[cls];
  if (block != NULL) {
    hc__free_list[cls] = *(void **)((char *)block + 8);
    return (char *)block + 8;
  }
  uint32_t bytes = (uint32_t)16 << cls;
  if (hc__bump == 0) hc__bump = ((uintptr_t)&__heap_base + 7) & ~(uintptr_t)7;
  uintptr_t end = hc__bump + bytes;
  uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * 65536u;
  if (end < hc__bump) return NULL;
  if (end > have) {
    uintptr_t pages = (end - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) return NULL;
  }
  block = (void *)hc__bump;
  hc__bump = end;
  *(uint32_t *)block = (uint32_t)cls;
  return (char *)block + 8;
}

void hc_mfree(void *ptr) {
  if (ptr == NULL) return;
  char *block = (char *)ptr - 8;
  uint32_t cls = *(uint32_t *)block;
  *(void **)(block + 8) = hc__free_list[cls];
  hc__free_list[cls] = block;
}

/** The host's allocator export: `size` bytes for a payload, or 0. */
HC_EXPORT(hc_alloc) int32_t hc_alloc_export(int32_t size) { return (int32_t)(uintptr_t)hc_malloc(size); }
/** The host's free export: the pointer from hc_alloc and its size. */
HC_EXPORT(hc_free) void hc_free_export(int32_t ptr, int32_t size) {
  (void)size;
  hc_mfree((void *)(uintptr_t)ptr);
}

#ifdef __cplusplus
}
#endif

#endif /* HOMECORE_IMPLEMENTED */
#endif /* HOMECORE_IMPLEMENTATION */
