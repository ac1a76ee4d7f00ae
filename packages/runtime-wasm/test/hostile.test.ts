// The hostile corpus (test/hostile/*.wat), run through the registry and the reference core: each
// module is contained, and a well-behaved plugin loaded next to it receives every event.
import { readFileSync } from 'node:fs';
import { ErrorCode, type BusEvent, type HomecoreError } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry } from '@homecore/registry';
import { WasmRuntime, generatePublisherKeys, signModule } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { guest, wat } from './helpers.js';

const corpus = (name: string): Uint8Array => wat(readFileSync(new URL(`./hostile/${name}.wat`, import.meta.url), 'utf8'));
const ROUNDS = 4;

interface Scenario {
  registry: PluginRegistry;
  core: InMemoryCore;
  loadError: HomecoreError | undefined;
  failures: HomecoreError[];
  hostile: () => { errors: number; runtime: Record<string, number> } | undefined;
}

interface ScenarioOptions {
  runtime?: WasmRuntime;
  manifest?: Record<string, unknown>;
  witnessManifest?: Record<string, unknown>;
}

function pluginManifest(domain: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain,
    name: domain,
    version: '1.0.0',
    runtime: 'wasm',
    permissions: ['state:read:*', 'state:write:sensor.hostile*', 'state:write:light.flood', 'event:subscribe:*', 'service:call:light.turn_on', 'event:fire:my_event'],
    subscriptions: { entities: ['sensor.*'], events: ['ping'] },
    ...extra,
  };
}

/**
 * Loads the witness and the hostile module, drives ROUNDS rounds of a sensor write plus a `ping`
 * event, and checks that the witness received every event it subscribed to, without a failure.
 */
async function scenario(bytes: Uint8Array, options: ScenarioOptions = {}): Promise<Scenario> {
  const core = new InMemoryCore();
  const runtime = options.runtime ?? new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined });
  const registry = new PluginRegistry({ core, runtimes: [runtime] });
  const failures: HomecoreError[] = [];
  registry.on((activity) => {
    if (activity.type === 'handler_failed' && activity.plugin === 'hostile') failures.push(activity.error);
  });
  let expected = 0;
  core.listen((event: BusEvent) => {
    const data = event.data as { entity_id?: string };
    if (event.event_type === 'ping' || (event.event_type === 'state_changed' && data.entity_id?.startsWith('sensor.'))) expected++;
  });
  await registry.load(pluginManifest('witness', options.witnessManifest), corpus('witness'));
  let loadError: HomecoreError | undefined;
  try {
    await registry.load(pluginManifest('hostile', options.manifest), bytes);
  } catch (err) {
    loadError = err as HomecoreError;
  }
  for (let i = 0; i < ROUNDS; i++) {
    core.setState('sensor.temperature', String(20 + i), {}, { context: core.createContext() });
    core.fireEvent('ping', { round: i }, core.createContext());
    await registry.idle();
  }
  await registry.idle();
  const witness = registry.stats().plugins.witness;
  expect(witness?.errors).toBe(0);
  expect(witness?.delivered).toBe(expected);
  expect(witness?.runtime.calls).toBe(expected);
  expect(witness?.runtime.traps).toBe(0);
  expect(expected).toBeGreaterThanOrEqual(2 * ROUNDS);
  return {
    registry,
    core,
    loadError,
    failures,
    hostile: () => registry.stats().plugins.hostile as { errors: number; runtime: Record<string, number> } | undefined,
  };
}

describe('hostile modules are contained and the others receive every event', () => {
  test('infinite loop in the start function: the load fails with FUEL_EXHAUSTED', async () => {
    const { loadError } = await scenario(corpus('start-loop'));
    expect(loadError?.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(loadError?.hook).toBe('start');
  });

  test('infinite loop in setup: setup fails with FUEL_EXHAUSTED', async () => {
    const { loadError, registry } = await scenario(corpus('setup-loop'));
    expect(loadError?.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(registry.list().find((p) => p.id === 'hostile')?.state).toBe('setup_error');
  });

  test('infinite loop in a handler: each call fails with FUEL_EXHAUSTED and counts as a failure', async () => {
    const { hostile, failures, loadError } = await scenario(corpus('handler-loop'), { manifest: { limits: { fuel_per_call: 100_000 } } });
    expect(loadError).toBeUndefined();
    expect(hostile()?.errors).toBeGreaterThanOrEqual(1);
    expect(failures.every((f) => f.code === ErrorCode.WASM_FUEL_EXHAUSTED)).toBe(true);
    expect(failures[0]?.plugin).toBe('hostile');
  });

  test('memory bomb: growth stops at the cap, inside the guest, without a trap', async () => {
    const { hostile } = await scenario(corpus('memory-bomb'), { manifest: { limits: { memory_pages: 16 } } });
    expect(hostile()?.errors).toBe(0);
    expect(hostile()?.runtime).toMatchObject({ memoryPages: 16, memoryMaxPages: 16, traps: 0 });
  });

  test('deep recursion: a trap that fails only that call', async () => {
    const { hostile, failures } = await scenario(corpus('deep-recursion'));
    expect(hostile()?.errors).toBeGreaterThanOrEqual(1);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    for (const f of failures) expect([ErrorCode.WASM_TRAP, ErrorCode.WASM_FUEL_EXHAUSTED]).toContain(f.code);
  });

  test('trap: WASM_TRAP, the instance is re-created for the next call', async () => {
    const { hostile, failures } = await scenario(corpus('trap'));
    expect(failures[0]?.code).toBe(ErrorCode.WASM_TRAP);
    expect(failures[0]?.hook).toMatch(/^hc_on_/);
    expect(hostile()?.runtime.traps).toBe(failures.length);
    expect(hostile()?.runtime.instantiations).toBeGreaterThanOrEqual(failures.length);
  });

  test('abort: WASM_ABORT with the decoded AssemblyScript message', async () => {
    const { failures } = await scenario(corpus('abort'));
    expect(failures[0]?.code).toBe(ErrorCode.WASM_ABORT);
    expect(failures[0]?.message).toContain('boom at a.ts:28:32');
  });

  test('huge log output: truncated, stopped by the quotas, never a failure', async () => {
    const { hostile } = await scenario(corpus('huge-log'));
    expect(hostile()?.errors).toBe(0);
    expect(hostile()?.runtime.logTruncated).toBeGreaterThanOrEqual(1);
    expect(hostile()?.runtime.quotaHits).toBeGreaterThanOrEqual(1);
  });

  test('out-of-bounds, negative and overflowing (ptr, len) on every host import: all BAD_POINTER', async () => {
    const { hostile } = await scenario(corpus('bad-pointers'));
    // The module returns -100 - <check> for the first import that did not return BAD_POINTER.
    expect(hostile()?.errors).toBe(0);
    expect(hostile()?.runtime.calls).toBeGreaterThanOrEqual(2 * ROUNDS);
    expect(hostile()?.runtime.hostCalls).toBe(52 * (hostile()?.runtime.calls ?? 0));
  });

  test('invalid UTF-8 and invalid JSON: INVALID_UTF8 and INVALID_JSON', async () => {
    const { hostile } = await scenario(corpus('invalid-input'));
    expect(hostile()?.errors).toBe(0);
    expect(hostile()?.runtime.calls).toBeGreaterThanOrEqual(2 * ROUNDS);
  });

  test('wrong and missing ABI version: refused at load', async () => {
    for (const name of ['wrong-abi', 'missing-abi']) {
      const { loadError } = await scenario(corpus(name));
      expect(loadError?.code).toBe(ErrorCode.WASM_ABI_VERSION);
    }
  });

  test('unknown imports: refused at load, naming the import', async () => {
    const { loadError } = await scenario(corpus('unknown-import'));
    expect(loadError?.code).toBe(ErrorCode.WASM_IMPORT_FORBIDDEN);
    expect(loadError?.message).toContain('wasi_snapshot_preview1.fd_write');
  });

  test('re-entrant call: its own writes come back after the handler returns, never inside it', async () => {
    const { hostile, core } = await scenario(corpus('reentrant'));
    expect(hostile()?.errors).toBe(0);
    expect(core.getState('sensor.hostile_echo')?.state).toBe('9');
  });

  test('flood of state writes: cut off by the host call quota every event', async () => {
    const { hostile, core } = await scenario(corpus('write-flood'));
    expect(hostile()?.errors).toBe(0);
    expect(hostile()?.runtime.quotaHits).toBeGreaterThanOrEqual(1);
    expect(core.getState('light.flood')).toBeDefined();
  });

  test('bytes that do not match the manifest hash: refused at load', async () => {
    const { loadError } = await scenario(corpus('trap'), { manifest: { module_hash: `sha256:${'0'.repeat(64)}` } });
    expect(loadError?.code).toBe(ErrorCode.WASM_HASH_MISMATCH);
  });

  test('a module signed by an untrusted key: refused at load under a strict policy', async () => {
    const trusted = generatePublisherKeys();
    const stranger = generatePublisherKeys();
    const runtime = new WasmRuntime({ trust: { mode: 'strict', trustedKeys: [trusted.publisherKey] } });
    const bytes = corpus('trap');
    const { loadError } = await scenario(bytes, {
      runtime,
      witnessManifest: { ...signModule(corpus('witness'), 'witness', trusted.privateKey) },
      manifest: { ...signModule(bytes, 'hostile', stranger.privateKey) },
    });
    expect(loadError?.code).toBe(ErrorCode.WASM_UNTRUSTED_KEY);
  });

  test('a write outside its permissions: DENIED to the guest, recorded in the registry audit', async () => {
    // Writes light.kitchen (not granted) and fails with the status it got back unless it was DENIED.
    const body = `(data (i32.const 300) "light.kitchen")
      (func (export "hc_on_event") (param i32 i32) (result i32) (local $s i32)
        (local.set $s (call $hc_state_set (i32.const 300) (i32.const 13) (i32.const 48) (i32.const 2) (i32.const 0) (i32.const 0)))
        (if (result i32) (i32.eq (local.get $s) (i32.const -3)) (then (i32.const 0)) (else (local.get $s))))
      (func (export "hc_on_state_changed") (param i32 i32) (result i32) (i32.const 0))`;
    const { hostile, registry, core } = await scenario(wat(guest({ body })));
    expect(hostile()?.errors).toBe(0);
    expect(core.getState('light.kitchen')).toBeUndefined();
    const denials = registry.audit('hostile');
    expect(denials).toHaveLength(ROUNDS);
    expect(denials[0]).toMatchObject({ plugin: 'hostile', action: 'state:write', target: 'light.kitchen' });
  });
});
