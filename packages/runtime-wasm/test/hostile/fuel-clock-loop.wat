;; Calls hc_clock_now in an endless loop: two wasm instructions per host call. The host call
;; quota refuses all but the first 1,000; the refusals must still cost enough fuel to end the call quickly.
(module
  (import "homecore" "hc_clock_now" (func $now (result f64)))
  (memory (export "memory") 1 1)
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func $spin (loop $again (drop (call $now)) (br $again)))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $spin) (i32.const 0))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $spin) (i32.const 0)))
