//! A dependency-free SDK for HOMECORE wasm plugins (host ABI v1, docs/host-abi.md).
//!
//! ```ignore
//! use homecore::{Json, Plugin, Status};
//!
//! #[derive(Default)]
//! struct Hello;
//! impl Plugin for Hello {
//!     fn setup(&mut self, _entry: &Json) -> Result<(), Status> {
//!         homecore::log_info("hello")
//!     }
//! }
//! homecore::export_plugin!(Hello);
//! ```
//!
//! Build (Debian's rustc 1.63; see docs/plugin-development.md for why each flag):
//! `rustc --edition 2021 --crate-type cdylib --target wasm32-unknown-unknown -C opt-level=z
//! -C panic=abort -C lto -C codegen-units=1 -C strip=symbols
//! -C link-arg=-zstack-size=65536 -C link-arg=--max-memory=1048576 --extern homecore=... plugin.rs`.

#![forbid(unsafe_op_in_unsafe_fn)]

use std::fmt::Write as _;

/// The raw host imports of module `homecore` (section 6 of the ABI). Prefer the safe wrappers.
pub mod sys {
    #[link(wasm_import_module = "homecore")]
    extern "C" {
        pub fn hc_log(level: i32, msg: *const u8, msg_len: i32) -> i32;
        pub fn hc_state_get(id: *const u8, id_len: i32, out: *mut u8, out_cap: i32) -> i32;
        pub fn hc_state_set(id: *const u8, id_len: i32, state: *const u8, state_len: i32, attrs: *const u8, attrs_len: i32) -> i32;
        pub fn hc_service_call(domain: *const u8, domain_len: i32, service: *const u8, service_len: i32, data: *const u8, data_len: i32) -> i32;
        pub fn hc_event_fire(kind: *const u8, kind_len: i32, data: *const u8, data_len: i32) -> i32;
        pub fn hc_subscribe(kind: i32, pattern: *const u8, pattern_len: i32) -> i32;
        pub fn hc_config_get(out: *mut u8, out_cap: i32) -> i32;
        pub fn hc_clock_now() -> f64;
    }
}

/// A status of the ABI (section 7): returned by host imports and by the plugin's hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status(pub i32);

impl Status {
    pub const OK: Status = Status(0);
    /// From setup only: Home Assistant's ConfigEntryNotReady, retried with backoff.
    pub const NOT_READY: Status = Status(1);
    pub const BAD_POINTER: Status = Status(-1);
    pub const NOT_FOUND: Status = Status(-2);
    pub const DENIED: Status = Status(-3);
    pub const INVALID_UTF8: Status = Status(-4);
    pub const INVALID_JSON: Status = Status(-5);
    pub const TOO_LARGE: Status = Status(-6);
    pub const QUOTA_EXCEEDED: Status = Status(-7);
    pub const INVALID_ARGUMENT: Status = Status(-8);
    pub const FAILED: Status = Status(-10);
}

/// What a host import or a hook gives back.
pub type HcResult<T> = Result<T, Status>;

fn check(status: i32) -> HcResult<()> {
    if status >= 0 { Ok(()) } else { Err(Status(status)) }
}

fn len(s: &[u8]) -> i32 {
    s.len() as i32
}

/// Log levels of `hc_log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Debug = 0,
    Info = 1,
    Warn = 2,
    Error = 3,
}

/// Writes a log line.
pub fn log(level: Level, msg: &str) -> HcResult<()> {
    check(unsafe { sys::hc_log(level as i32, msg.as_ptr(), len(msg.as_bytes())) })
}
/// A debug line.
pub fn log_debug(msg: &str) -> HcResult<()> { log(Level::Debug, msg) }
/// An info line.
pub fn log_info(msg: &str) -> HcResult<()> { log(Level::Info, msg) }
/// A warning.
pub fn log_warn(msg: &str) -> HcResult<()> { log(Level::Warn, msg) }
/// An error line.
pub fn log_error(msg: &str) -> HcResult<()> { log(Level::Error, msg) }

/// Calls an output import (`hc_state_get`, `hc_config_get`) until the buffer is big enough.
fn read_output(mut call: impl FnMut(*mut u8, i32) -> i32) -> HcResult<String> {
    let mut buf: Vec<u8> = vec![0; 512];
    for _ in 0..3 {
        let size = call(buf.as_mut_ptr(), len(&buf));
        if size < 0 {
            return Err(Status(size));
        }
        if size as usize <= buf.len() {
            buf.truncate(size as usize);
            return String::from_utf8(buf).map_err(|_| Status::INVALID_UTF8);
        }
        buf.resize(size as usize, 0);
    }
    Err(Status::FAILED)
}

/// An entity's State JSON (needs `state:read:<entity_id>`).
pub fn state_get(entity_id: &str) -> HcResult<Json> {
    let text = read_output(|out, cap| unsafe { sys::hc_state_get(entity_id.as_ptr(), len(entity_id.as_bytes()), out, cap) })?;
    Json::parse(&text).ok_or(Status::INVALID_JSON)
}

/// Writes a state with attributes (`None` is `{}`; needs `state:write:<entity_id>`).
pub fn state_set(entity_id: &str, state: &str, attributes: Option<&Json>) -> HcResult<()> {
    let attrs = attributes.map(Json::to_json).unwrap_or_default();
    check(unsafe {
        sys::hc_state_set(entity_id.as_ptr(), len(entity_id.as_bytes()), state.as_ptr(), len(state.as_bytes()), attrs.as_ptr(), len(attrs.as_bytes()))
    })
}

/// Calls a service after the hook returns (`None` data is `{}`; needs `service:call:<domain>.<service>`).
pub fn service_call(domain: &str, service: &str, data: Option<&Json>) -> HcResult<()> {
    let data = data.map(Json::to_json).unwrap_or_default();
    check(unsafe {
        sys::hc_service_call(domain.as_ptr(), len(domain.as_bytes()), service.as_ptr(), len(service.as_bytes()), data.as_ptr(), len(data.as_bytes()))
    })
}

/// Fires an event (`None` data is `{}`; needs `event:fire:<event_type>`).
pub fn event_fire(event_type: &str, data: Option<&Json>) -> HcResult<()> {
    let data = data.map(Json::to_json).unwrap_or_default();
    check(unsafe { sys::hc_event_fire(event_type.as_ptr(), len(event_type.as_bytes()), data.as_ptr(), len(data.as_bytes())) })
}

/// Subscribes to state changes of entities matching `pattern` (needs `state:read:<pattern>`).
pub fn subscribe_entities(pattern: &str) -> HcResult<()> {
    check(unsafe { sys::hc_subscribe(0, pattern.as_ptr(), len(pattern.as_bytes())) })
}

/// Subscribes to events whose type matches `pattern` (needs `event:subscribe:<pattern>`).
pub fn subscribe_events(pattern: &str) -> HcResult<()> {
    check(unsafe { sys::hc_subscribe(1, pattern.as_ptr(), len(pattern.as_bytes())) })
}

/// The current ConfigEntry JSON.
pub fn config_get() -> HcResult<Json> {
    let text = read_output(|out, cap| unsafe { sys::hc_config_get(out, cap) })?;
    Json::parse(&text).ok_or(Status::INVALID_JSON)
}

/// Milliseconds since the Unix epoch, from the host's clock.
pub fn now() -> f64 {
    unsafe { sys::hc_clock_now() }
}

/// A parsed JSON value. Objects keep their members in order; `get` finds the last of a repeated key.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// Deepest nesting the parser accepts (it recurses on a small stack).
pub const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Parser<'a> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn literal(&mut self, lit: &[u8], value: Json) -> Option<Json> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Some(value)
        } else {
            None
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<Json> {
        let start = self.i;
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match self.s.get(self.i) {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return None,
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        // The grammar is checked above; Rust's parser is correctly rounded.
        let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        text.parse::<f64>().ok().map(Json::Number)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.s.get(self.i..self.i + 4)?;
        let mut v = 0;
        for &d in digits {
            v = v * 16 + (d as char).to_digit(16)?;
        }
        self.i += 4;
        Some(v)
    }

    fn string(&mut self) -> Option<String> {
        self.i += 1; // the opening quote
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != b'"' && self.s[self.i] != b'\\' && self.s[self.i] >= 0x20 {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.s[start..self.i]).ok()?);
            match self.s.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    let e = *self.s.get(self.i + 1)?;
                    self.i += 2;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                if self.s.get(self.i..self.i + 2)? != b"\\u" {
                                    return None;
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(cp)?
                        }
                        _ => return None,
                    };
                    out.push(c);
                }
                _ => return None, // a control character
            }
        }
    }

    fn value(&mut self, depth: usize) -> Option<Json> {
        match *self.s.get(self.i)? {
            b'n' => self.literal(b"null", Json::Null),
            b't' => self.literal(b"true", Json::Bool(true)),
            b'f' => self.literal(b"false", Json::Bool(false)),
            b'"' => self.string().map(Json::String),
            b'-' | b'0'..=b'9' => self.number(),
            open @ (b'[' | b'{') => {
                if depth >= MAX_DEPTH {
                    return None;
                }
                let close = if open == b'[' { b']' } else { b'}' };
                self.i += 1;
                self.ws();
                let mut items = Vec::new();
                let mut members = Vec::new();
                if self.s.get(self.i) == Some(&close) {
                    self.i += 1;
                } else {
                    loop {
                        if open == b'{' {
                            if self.s.get(self.i) != Some(&b'"') {
                                return None;
                            }
                            let key = self.string()?;
                            self.ws();
                            if self.s.get(self.i) != Some(&b':') {
                                return None;
                            }
                            self.i += 1;
                            self.ws();
                            members.push((key, self.value(depth + 1)?));
                        } else {
                            items.push(self.value(depth + 1)?);
                        }
                        self.ws();
                        match *self.s.get(self.i)? {
                            b',' => {
                                self.i += 1;
                                self.ws();
                            }
                            c if c == close => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Some(if open == b'[' { Json::Array(items) } else { Json::Object(members) })
            }
            _ => None,
        }
    }
}

impl Json {
    /// Parses one JSON value (RFC 8259; surrounding whitespace allowed), or `None` when invalid.
    pub fn parse(text: &str) -> Option<Json> {
        let mut p = Parser { s: text.as_bytes(), i: 0 };
        p.ws();
        let v = p.value(0)?;
        p.ws();
        if p.i == p.s.len() { Some(v) } else { None }
    }

    /// The member `key` of an object (the last one if repeated).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// `get` along a path of keys.
    pub fn path(&self, keys: &[&str]) -> Option<&Json> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        if let Json::String(s) = self { Some(s) } else { None }
    }

    /// The value of a number.
    pub fn as_f64(&self) -> Option<f64> {
        if let Json::Number(x) = self { Some(*x) } else { None }
    }

    /// The value of a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        if let Json::Bool(b) = self { Some(*b) } else { None }
    }

    /// An object from `(key, value)` pairs.
    pub fn object<const N: usize>(members: [(&str, Json); N]) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// A string value.
    pub fn str(s: &str) -> Json {
        Json::String(s.to_string())
    }

    /// The JSON text: numbers in their shortest form that reads back as the same double
    /// (non-finite numbers, which JSON cannot hold, as `null`), strings escaped.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(x) => write_number(out, *x),
            Json::String(s) => write_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(out, k);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// A number as JSON: Rust's `Display` for f64 is the shortest round-trip form, never with an exponent.
pub fn write_number(out: &mut String, x: f64) {
    if x.is_finite() {
        let _ = write!(out, "{}", x);
    } else {
        out.push_str("null");
    }
}

/// A JSON string literal of `s`.
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A config entry's setting: `options` first, then `data` (as Home Assistant integrations read them).
pub fn setting<'a>(entry: &'a Json, key: &str) -> Option<&'a Json> {
    entry.path(&["options", key]).or_else(|| entry.path(&["data", key]))
}

/// A plugin's hooks; each default does nothing. `Err(status)` fails the call with that status
/// (`Status::NOT_READY` from setup asks the host to retry later).
pub trait Plugin {
    /// `hc_setup`: the ConfigEntry.
    fn setup(&mut self, _entry: &Json) -> HcResult<()> { Ok(()) }
    /// `hc_teardown`.
    fn teardown(&mut self) -> HcResult<()> { Ok(()) }
    /// `hc_on_state_changed`: a state_changed Event.
    fn on_state_changed(&mut self, _event: &Json) -> HcResult<()> { Ok(()) }
    /// `hc_on_event`: any other subscribed Event.
    fn on_event(&mut self, _event: &Json) -> HcResult<()> { Ok(()) }
    /// `hc_on_service_call`: a ServiceCall for a service of the manifest.
    fn on_service_call(&mut self, _call: &Json) -> HcResult<()> { Ok(()) }
    /// `hc_on_config_update` (exported only with `export_plugin!(T, config_update)`).
    fn on_config_update(&mut self, _entry: &Json) -> HcResult<()> { Ok(()) }
}

/// The status a hook returns to the host.
pub fn status_of(result: HcResult<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(Status(s)) => s,
    }
}

/// Reads a hook's payload: the UTF-8 JSON at (ptr, len), valid during the call.
///
/// # Safety
/// `(ptr, len)` must be a range of this module's memory (the host guarantees it for hooks).
pub unsafe fn payload(ptr: i32, len: i32) -> HcResult<Json> {
    let bytes = unsafe { std::slice::from_raw_parts(ptr as usize as *const u8, len as usize) };
    let text = std::str::from_utf8(bytes).map_err(|_| Status::INVALID_UTF8)?;
    Json::parse(text).ok_or(Status::INVALID_JSON)
}

/// `hc_alloc`: `size` bytes from Rust's allocator (never moved until `hc_free`), or 0.
pub fn alloc(size: i32) -> i32 {
    if size < 0 || size > 1 << 29 {
        return 0;
    }
    match std::alloc::Layout::from_size_align(size.max(1) as usize, 8) {
        Ok(layout) => unsafe { std::alloc::alloc(layout) as usize as i32 },
        Err(_) => 0,
    }
}

/// `hc_free`: gives back memory from `alloc` with the same size.
///
/// # Safety
/// `ptr` and `size` must come from one `alloc` call that was not freed yet.
pub unsafe fn free(ptr: i32, size: i32) {
    if ptr == 0 || size < 0 {
        return;
    }
    if let Ok(layout) = std::alloc::Layout::from_size_align(size.max(1) as usize, 8) {
        unsafe { std::alloc::dealloc(ptr as usize as *mut u8, layout) }
    }
}

/// Exports a plugin type (`Default + Plugin`): the ABI marker, `hc_alloc`/`hc_free` and every
/// hook; add `config_update` to export `hc_on_config_update` too (without it the host reloads the
/// plugin on an options update, as Home Assistant does).
#[macro_export]
macro_rules! export_plugin {
    ($t:ty) => {
        $crate::export_plugin!(@common $t);
    };
    ($t:ty, config_update) => {
        $crate::export_plugin!(@common $t);
        #[no_mangle]
        pub extern "C" fn hc_on_config_update(ptr: i32, len: i32) -> i32 {
            __homecore_hook(|p| $crate::Plugin::on_config_update(p, &unsafe { $crate::payload(ptr, len) }?))
        }
    };
    (@common $t:ty) => {
        static mut __HOMECORE_PLUGIN: Option<$t> = None;

        fn __homecore_hook(f: impl FnOnce(&mut $t) -> $crate::HcResult<()>) -> i32 {
            // wasm32-unknown-unknown has one thread and the host never re-enters a plugin.
            let plugin = unsafe { __HOMECORE_PLUGIN.get_or_insert_with(<$t as Default>::default) };
            $crate::status_of(f(plugin))
        }

        #[no_mangle]
        pub extern "C" fn homecore_abi_version_1() {}

        #[no_mangle]
        pub extern "C" fn hc_alloc(size: i32) -> i32 {
            $crate::alloc(size)
        }

        #[no_mangle]
        pub unsafe extern "C" fn hc_free(ptr: i32, size: i32) {
            unsafe { $crate::free(ptr, size) }
        }

        #[no_mangle]
        pub extern "C" fn hc_setup(ptr: i32, len: i32) -> i32 {
            __homecore_hook(|p| $crate::Plugin::setup(p, &unsafe { $crate::payload(ptr, len) }?))
        }

        #[no_mangle]
        pub extern "C" fn hc_teardown() -> i32 {
            __homecore_hook(|p| $crate::Plugin::teardown(p))
        }

        #[no_mangle]
        pub extern "C" fn hc_on_state_changed(ptr: i32, len: i32) -> i32 {
            __homecore_hook(|p| $crate::Plugin::on_state_changed(p, &unsafe { $crate::payload(ptr, len) }?))
        }

        #[no_mangle]
        pub extern "C" fn hc_on_event(ptr: i32, len: i32) -> i32 {
            __homecore_hook(|p| $crate::Plugin::on_event(p, &unsafe { $crate::payload(ptr, len) }?))
        }

        #[no_mangle]
        pub extern "C" fn hc_on_service_call(ptr: i32, len: i32) -> i32 {
            __homecore_hook(|p| $crate::Plugin::on_service_call(p, &unsafe { $crate::payload(ptr, len) }?))
        }
    };
}
