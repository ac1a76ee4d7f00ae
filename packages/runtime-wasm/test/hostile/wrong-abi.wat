;; Declares host ABI version 2.
(module
  (memory (export "memory") 1 1)
  (func (export "homecore_abi_version_2"))
  (func (export "hc_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "hc_free") (param i32 i32)))
