;; Reads sensor.hostile_big, a large state the host wrote, into a 64 KiB buffer as often as the
;; host call quota allows: each read makes the host serialise the whole state.
(module
  (import "homecore" "hc_state_get" (func $get (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 3 3)
  (data (i32.const 16) "sensor.hostile_big")
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func $spin (local $i i32) (loop $again
    (drop (call $get (i32.const 16) (i32.const 18) (i32.const 65536) (i32.const 65536)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br_if $again (i32.lt_u (local.get $i) (i32.const 1000)))))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $spin) (i32.const 0))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $spin) (i32.const 0)))
