// The rule of parseNumericState in packages/plugin-example/src/settings.ts: a plain decimal
// number, optionally signed, with optional fraction and exponent, surrounded by optional ASCII
// whitespace. "unknown", "unavailable", "inf", "nan", hex and anything else are not numbers.
#ifndef PORTS_NUMERIC_H
#define PORTS_NUMERIC_H
#include "homecore.h"

static inline int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

/** 1 and *out when the state is a finite decimal number, else 0. */
static inline int parse_numeric_state(const char *s, int32_t n, double *out) {
  int32_t start = 0, end = n;
  while (start < end && is_space(s[start])) start++;
  while (end > start && is_space(s[end - 1])) end--;
  // Rewrite it in JSON's number grammar (no '+', no leading zeros, digits on both sides of '.'),
  // which denotes the same decimal value, then read it.
  char json[300];
  int32_t at = 0, i = start, digits = 0;
  if (end - start > 256) return 0;
  if (i < end && (s[i] == '+' || s[i] == '-')) { if (s[i] == '-') json[at++] = '-'; i++; }
  int32_t int_start = at;
  while (i < end && is_digit(s[i])) { if (at > int_start || s[i] != '0') json[at++] = s[i]; i++; digits++; }
  if (at == int_start) json[at++] = '0';
  if (i < end && s[i] == '.') {
    i++;
    int32_t point = at;
    json[at++] = '.';
    while (i < end && is_digit(s[i])) { json[at++] = s[i++]; digits++; }
    if (at == point + 1) at = point;
  }
  if (digits == 0) return 0;
  if (i < end && (s[i] == 'e' || s[i] == 'E')) {
    json[at++] = 'e';
    i++;
    if (i < end && (s[i] == '+' || s[i] == '-')) json[at++] = s[i++];
    int32_t exp_digits = 0;
    while (i < end && is_digit(s[i])) { json[at++] = s[i++]; exp_digits++; }
    if (exp_digits == 0) return 0;
  }
  if (i != end) return 0;
  double v;
  if (!hc_parse_decimal(json, at, &v) || !hc_isfinite(v)) return 0;
  *out = v;
  return 1;
}

/** A finite number setting: *out = fallback when absent; 0 when present but not a finite number. */
static inline int number_setting(hc_json v, double fallback, double *out) {
  if (v.p == NULL) { *out = fallback; return 1; }
  double x;
  if (!hc_json_number(v, &x) || !hc_isfinite(x)) return 0;
  *out = x;
  return 1;
}
#endif
