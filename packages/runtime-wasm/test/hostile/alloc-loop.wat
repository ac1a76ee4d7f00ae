;; Its allocator spins forever: the host calls hc_alloc before every hook, under the call's budget.
(module
  (memory (export "memory") 1 1)
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (loop $again (br $again)) (i32.const 4096))
  (func (export "hc_free") (param i32 i32))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32) (i32.const 0))
  (func (export "hc_on_event") (param i32 i32) (result i32) (i32.const 0)))
