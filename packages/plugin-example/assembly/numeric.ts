// The same rule as parseNumericState in src/settings.ts: a plain decimal number, optionally
// signed, with optional fraction and exponent, surrounded by optional ASCII whitespace.
// "unknown", "unavailable", "inf", "nan", hex and anything else give NaN.

function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d;
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

/** The state as a finite number, or NaN when it is not one. */
export function parseNumericState(state: string): f64 {
  let start = 0;
  let end = state.length;
  while (start < end && isSpace(state.charCodeAt(start))) start++;
  while (end > start && isSpace(state.charCodeAt(end - 1))) end--;
  let i = start;
  if (i < end && (state.charCodeAt(i) == 0x2b || state.charCodeAt(i) == 0x2d)) i++; // + or -
  let digits = 0;
  while (i < end && isDigit(state.charCodeAt(i))) {
    i++;
    digits++;
  }
  if (i < end && state.charCodeAt(i) == 0x2e) {
    i++;
    while (i < end && isDigit(state.charCodeAt(i))) {
      i++;
      digits++;
    }
  }
  if (digits == 0) return NaN;
  if (i < end && (state.charCodeAt(i) == 0x65 || state.charCodeAt(i) == 0x45)) {
    i++;
    if (i < end && (state.charCodeAt(i) == 0x2b || state.charCodeAt(i) == 0x2d)) i++;
    let exponentDigits = 0;
    while (i < end && isDigit(state.charCodeAt(i))) {
      i++;
      exponentDigits++;
    }
    if (exponentDigits == 0) return NaN;
  }
  if (i != end) return NaN;
  const value = parseFloat(state.substring(start, end));
  return isFinite(value) ? value : NaN;
}

/** A finite number setting, `fallback` when absent; NaN when present but not a finite number. */
export function numberSetting(value: f64, present: bool, fallback: f64): f64 {
  if (!present) return fallback;
  return isFinite(value) ? value : NaN;
}
