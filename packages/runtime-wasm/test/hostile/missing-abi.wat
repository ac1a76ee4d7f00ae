;; Declares no host ABI version at all.
(module
  (memory (export "memory") 1 1)
  (func (export "hc_alloc") (param i32) (result i32) (i32.const 4096))
  (func (export "hc_free") (param i32 i32)))
