;; Creates a new entity on every host call the quota allows (1,000 per event), for as long as it
;; runs: sensor.hostile_e_000000, _000001, ...
(module
  (import "homecore" "hc_state_set" (func $set (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "sensor.hostile_e_")
  (data (i32.const 48) "on")
  (global $n (mut i32) (i32.const 0))
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  ;; Writes `count` decimal digits of `value` at `ptr` (most significant first).
  (func $digits (param $ptr i32) (param $value i32) (param $count i32)
    (loop $next
      (local.set $count (i32.sub (local.get $count) (i32.const 1)))
      (i32.store8 (i32.add (local.get $ptr) (local.get $count)) (i32.add (i32.const 48) (i32.rem_u (local.get $value) (i32.const 10))))
      (local.set $value (i32.div_u (local.get $value) (i32.const 10)))
      (br_if $next (i32.gt_s (local.get $count) (i32.const 0)))))
  (func $flood (result i32) (local $k i32)
    (loop $next
      (call $digits (i32.const 33) (global.get $n) (i32.const 6))
      (global.set $n (i32.add (global.get $n) (i32.const 1)))
      (drop (call $set (i32.const 16) (i32.const 23) (i32.const 48) (i32.const 2) (i32.const 0) (i32.const 0)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $k) (i32.const 1000))))
    (i32.const 0))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $flood))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $flood)))
