;; Uses almost its whole budget (about 9.6 of the default 10 million units) on every event, and
;; returns OK: no failure, so no backoff either. A burst of events makes the host run one such call
;; after another.
(module
  (memory (export "memory") 1 1)
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func $burn (result i32) (local $i i32)
    ;; 8 units per iteration
    (loop $again
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $again (i32.lt_u (local.get $i) (i32.const 1200000))))
    (i32.const 0))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $burn))
  (func (export "hc_on_event") (param i32 i32) (result i32) (call $burn)))
