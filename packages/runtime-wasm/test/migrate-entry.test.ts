import { ErrorCode } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { configEntry, devRuntime, guest, manifest, rejection, wat } from './helpers.js';

// hc_migrate_entry (host-abi.md): an optional export v1 hosts call before setup when a config
// entry's version differs from the plugin's; modules without it load and run as before.
const RESULT = JSON.stringify({ data: { host: 'b' }, version: 2 });
const escaped = RESULT.replace(/"/g, '\\"');

function migrating(body: string): Uint8Array {
  return wat(guest({ body: `(data (i32.const 1024) "${escaped}") ${body}` }));
}

describe('hc_migrate_entry', () => {
  it('returns the migrated fields the guest points at ((ptr << 32) | len), after reading the stored entry', async () => {
    const bytes = migrating(`
      (global $seen (mut i32) (i32.const 0))
      (func (export "hc_migrate_entry") (param $p i32) (param $n i32) (result i64)
        (global.set $seen (local.get $n))
        (i64.or (i64.shl (i64.const 1024) (i64.const 32)) (i64.const ${RESULT.length})))`);
    const { runtime } = devRuntime();
    const instance = await runtime.load(bytes, manifest());
    expect(typeof instance.migrateEntry).toBe('function');
    await expect(instance.migrateEntry!(configEntry())).resolves.toEqual({ data: { host: 'b' }, version: 2 });
    await instance.dispose();
  });

  it('negative means the migration failed, 0 that the data is kept as it is', async () => {
    const { runtime } = devRuntime();
    const failed = await runtime.load(migrating('(func (export "hc_migrate_entry") (param i32 i32) (result i64) (i64.const -1))'), manifest());
    await expect(failed.migrateEntry!(configEntry())).resolves.toBe(false);
    const kept = await runtime.load(migrating('(func (export "hc_migrate_entry") (param i32 i32) (result i64) (i64.const 0))'), manifest());
    await expect(kept.migrateEntry!(configEntry())).resolves.toBe(true);
  });

  it('refuses a result outside memory with HC_ERR_WASM_STATUS, and a wrong signature at load', async () => {
    const { runtime } = devRuntime();
    const outside = await runtime.load(
      migrating('(func (export "hc_migrate_entry") (param i32 i32) (result i64) (i64.or (i64.shl (i64.const 65000) (i64.const 32)) (i64.const 4000)))'),
      manifest(),
    );
    expect((await rejection(outside.migrateEntry!(configEntry()))).code).toBe(ErrorCode.WASM_STATUS);
    // The signature is part of the ABI: the load gate refuses it before anything runs.
    const error = await rejection(runtime.load(migrating('(func (export "hc_migrate_entry") (param i32 i32) (result i32) (i32.const 0))'), manifest()));
    expect(error.code).toBe(ErrorCode.WASM_EXPORT_MISSING);
    expect(error.message).toContain("export 'hc_migrate_entry' must be a function (i32, i32) -> i64, not (i32, i32) -> i32");
  });

  it('a v1 module without the export has no migrateEntry and loads unchanged', async () => {
    const { runtime } = devRuntime();
    const instance = await runtime.load(wat(guest()), manifest());
    expect(instance.migrateEntry).toBeUndefined();
  });
});
