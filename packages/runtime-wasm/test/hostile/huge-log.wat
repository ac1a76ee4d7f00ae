;; Logs 60,000 bytes 10,000 times per event.
(module
  (import "homecore" "hc_log" (func $log (param i32 i32 i32) (result i32)))
  (memory (export "memory") 2 2)
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func $flood (result i32) (local $i i32)
    (loop $more
      (drop (call $log (i32.const 1) (i32.const 8192) (i32.const 60000)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $more (i32.lt_u (local.get $i) (i32.const 10000))))
    (i32.const 0))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $flood))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $flood)))
