// The rule of parseNumericState in packages/plugin-example/src/settings.ts: a plain decimal
// number, optionally signed, with optional fraction and exponent, surrounded by optional ASCII
// whitespace. "unknown", "unavailable", "inf", "nan", hex and anything else are not numbers.

/// The state as a finite number, or `None`.
pub fn parse_numeric_state(state: &str) -> Option<f64> {
    let t = state.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'));
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    let mut digits = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    // Rust's parser takes exactly this grammar ("5.", ".5", "+5" included) and rounds correctly.
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A finite number setting: `fallback` when absent, `None` when present but not a finite number.
pub fn number_setting(value: Option<&homecore::Json>, fallback: f64) -> Option<f64> {
    match value {
        None => Some(fallback),
        Some(v) => v.as_f64().filter(|x| x.is_finite()),
    }
}
