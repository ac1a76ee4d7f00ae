;; Its hooks write three states and return OK, then its hc_free, which the host calls after the
;; hook, traps: the call failed, so the writes must not happen.
(module
  (import "homecore" "hc_state_set" (func $set (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "sensor.hostile_a")
  (data (i32.const 32) "sensor.hostile_b")
  (data (i32.const 48) "sensor.hostile_c")
  (data (i32.const 64) "on")
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (i32.const 4096))
  (func (export "hc_free") (param i32 i32) unreachable)
  (func $act (result i32)
    (drop (call $set (i32.const 16) (i32.const 16) (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 0)))
    (drop (call $set (i32.const 32) (i32.const 16) (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 0)))
    (drop (call $set (i32.const 48) (i32.const 16) (i32.const 64) (i32.const 2) (i32.const 0) (i32.const 0)))
    (i32.const 0))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $act))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $act)))
