;; Fires hostile_echo, which its manifest subscribes to, on every event it gets: a ping starts an
;; endless chain of its own events.
(module
  (import "homecore" "hc_event_fire" (func $fire (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "hostile_echo")
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func (export "hc_on_event") (param i32 i32) (result i32)
    (drop (call $fire (i32.const 16) (i32.const 12) (i32.const 0) (i32.const 0)))
    (i32.const 0)))
