// Reloading a wasm plugin with new bytes through the registry: the new version is gated and set
// up before the swap, a refused or failing new version leaves the old one running, and no event
// is lost or delivered twice across the swap.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode, isHomecoreError, type BusEvent } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry } from '@homecore/registry';
import { WasmRuntime } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { wat } from './helpers.js';

/** A plugin that fires `seen_<tag>` for every state change it receives; `setupStatus` is what hc_setup returns. */
function version(tag: string, setupStatus = 0): Uint8Array {
  return wat(`(module
  (import "homecore" "hc_event_fire" (func $fire (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 300) "seen_${tag}")
  (global $bump (mut i32) (i32.const 4096))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  (func (export "hc_setup") (param i32 i32) (result i32) (i32.const ${setupStatus}))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32)
    (drop (call $fire (i32.const 300) (i32.const ${5 + tag.length}) (i32.const 0) (i32.const 0)))
    (i32.const 0)))`);
}

const manifest = {
  domain: 'counter',
  name: 'Counter',
  version: '1.0.0',
  runtime: 'wasm',
  subscriptions: { entities: ['sensor.input'] },
  permissions: ['state:read:sensor.input', 'event:fire:seen_*'],
};

async function house() {
  const core = new InMemoryCore();
  const registry = new PluginRegistry({ core, runtimes: [new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined })] });
  const seen: string[] = [];
  core.listen((event: BusEvent) => {
    if (event.event_type.startsWith('seen_')) seen.push(event.event_type.slice('seen_'.length));
  });
  let n = 0;
  const write = () => core.setState('sensor.input', String(++n), {}, { context: core.createContext() });
  await registry.load(manifest, version('a'));
  return { core, registry, seen, write, written: () => n };
}

describe('reloading a wasm plugin', () => {
  test('swaps in new bytes under a stream of events: every event handled exactly once, old version first', async () => {
    const { registry, seen, write, written } = await house();
    for (let i = 0; i < 20; i++) write();
    await registry.idle();
    const reload = registry.reload('counter', { code: version('b') });
    for (let i = 0; i < 30; i++) {
      write();
      await nextTurn();
    }
    await reload;
    for (let i = 0; i < 10; i++) write();
    await registry.idle();

    expect(seen).toHaveLength(written());
    const firstB = seen.indexOf('b');
    expect(firstB).toBeGreaterThanOrEqual(20);
    expect(seen.slice(0, firstB).every((tag) => tag === 'a')).toBe(true);
    expect(seen.slice(firstB).every((tag) => tag === 'b')).toBe(true);
    expect(registry.get('counter')).toMatchObject({ runtime: 'wasm', state: 'loaded', health: 'ok' });
    await registry.unloadAll();
  });

  test('new bytes that fail the load gate are refused and the old version keeps running', async () => {
    const { registry, seen, write } = await house();
    const error = await registry
      .reload('counter', { code: version('b'), manifest: { ...manifest, module_hash: `sha256:${'0'.repeat(64)}` } })
      .then(() => undefined, (err: unknown) => err);
    expect(isHomecoreError(error, ErrorCode.RELOAD_FAILED)).toBe(true);
    expect(isHomecoreError((error as Error).cause, ErrorCode.WASM_HASH_MISMATCH)).toBe(true);
    write();
    await registry.idle();
    expect(seen).toEqual(['a']);
    expect(registry.get('counter')?.state).toBe('loaded');
    await registry.unloadAll();
  });

  test('a new version whose setup fails is rolled back and the old one keeps every event', async () => {
    const { registry, seen, write } = await house();
    write();
    const reload = registry.reload('counter', { code: version('b', -1) });
    write();
    const error = await reload.then(() => undefined, (err: unknown) => err);
    expect(isHomecoreError(error, ErrorCode.RELOAD_FAILED)).toBe(true);
    write();
    await registry.idle();
    expect(seen).toEqual(['a', 'a', 'a']);
    expect(registry.stats().plugins.counter?.errors).toBe(0);
    await registry.unloadAll();
  });
});
