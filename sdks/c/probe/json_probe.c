// A test plugin for the SDK's JSON reader and writer: the service json_probe.parse {text} reads
// `text` with hc_json_valid, walks the value with hc_json_member / hc_json_at / hc_json_string /
// hc_json_number, writes it back with the writer, and fires json_probe_result
// {valid, value}. test/guest-ports.test.ts compares the result with JSON.parse.
#define HOMECORE_IMPLEMENTATION
#include "homecore.h"

// Writes v (already validated) to w; 0 when out of memory.
static int copy_value(hc_writer *w, hc_json v) {
  switch (hc_json_type(v)) {
    case HC_JSON_NULL: hc_w_null(w); return 1;
    case HC_JSON_BOOL: { int b = 0; hc_json_bool(v, &b); hc_w_bool(w, b); return 1; }
    case HC_JSON_NUMBER: { double x = 0; hc_json_number(v, &x); hc_w_f64(w, x); return 1; }
    case HC_JSON_STRING: {
      char *buf = (char *)hc_malloc(v.n + 1);
      if (buf == NULL) return 0;
      int32_t n = hc_json_string(v, buf, v.n + 1);
      if (n >= 0) hc_w_string_n(w, buf, n);
      hc_mfree(buf);
      return n >= 0;
    }
    case HC_JSON_ARRAY: {
      hc_w_array_begin(w);
      for (int32_t i = 0;; i++) {
        hc_json item = hc_json_at(v, i);
        if (item.p == NULL) break;
        if (!copy_value(w, item)) return 0;
      }
      hc_w_array_end(w);
      return 1;
    }
    case HC_JSON_OBJECT: {
      hc_w_object_begin(w);
      hc_json key, value;
      for (int32_t i = 0; hc_json_member(v, i, &key, &value); i++) {
        char *buf = (char *)hc_malloc(key.n + 1);
        if (buf == NULL) return 0;
        int32_t n = hc_json_string(key, buf, key.n + 1);
        if (n >= 0) hc_w_key_n(w, buf, n);
        hc_mfree(buf);
        if (n < 0 || !copy_value(w, value)) return 0;
      }
      hc_w_object_end(w);
      return 1;
    }
    default: return 0;
  }
}

HC_EXPORT(hc_on_service_call) int32_t on_service_call(int32_t ptr, int32_t len) {
  hc_json text_json = hc_json_path(hc_payload(ptr, len), "data", "text", NULL, NULL);
  if (hc_json_type(text_json) != HC_JSON_STRING) return HC_INVALID_ARGUMENT;
  int32_t cap = text_json.n * 8 + 256;
  char *text = (char *)hc_malloc(text_json.n + 1);
  char *out = (char *)hc_malloc(cap);
  int32_t status = HC_FAILED;
  int32_t n = text == NULL ? -1 : hc_json_string(text_json, text, text_json.n + 1);
  if (n >= 0 && out != NULL) {
    hc_json doc = hc_json_of(text, n);
    hc_writer w = hc_writer_init(out, cap);
    int valid = hc_json_valid(doc);
    hc_w_object_begin(&w);
    hc_w_key(&w, "valid");
    hc_w_bool(&w, valid);
    int copied = 1;
    if (valid) {
      hc_w_key(&w, "value");
      copied = copy_value(&w, doc);
    }
    hc_w_object_end(&w);
    if (copied && !w.overflow) status = hc_fire_event("json_probe_result", out, w.len);
  }
  hc_mfree(text);
  hc_mfree(out);
  return status;
}
