;; Calls hc_clock_now and hc_log in an endless loop in its start function, where every host import
;; is refused (the instance is not bound to a plugin yet): the refusals must still cost fuel.
(module
  (import "homecore" "hc_clock_now" (func $now (result f64)))
  (import "homecore" "hc_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func $spin (loop $again
    (drop (call $now))
    (drop (call $log (i32.const 1) (i32.const 0) (i32.const 0)))
    (br $again)))
  (start $spin))
