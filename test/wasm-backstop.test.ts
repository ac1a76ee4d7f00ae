// The wasm preemption backstop: with metering switched off (a test-only option that exists only
// under the backstop), an endless loop is stopped by the wall-clock bound and every other plugin
// keeps receiving every event.
import { readFileSync } from 'node:fs';
import { ErrorCode, type BusEvent, type HomeCorePlugin } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry, type RegistryActivity } from '@homecore/registry';
import { InProcessRuntime } from '@homecore/runtime-native';
import { WasmRuntime } from '@homecore/runtime-wasm';
import { describe, expect, it } from 'vitest';
import { wat } from '../packages/runtime-wasm/test/helpers.js';

const corpus = (name: string): Uint8Array => wat(readFileSync(new URL(`../packages/runtime-wasm/test/hostile/${name}.wat`, import.meta.url), 'utf8'));

const manifest = (domain: string, extra: Record<string, unknown> = {}) => ({
  domain,
  name: domain,
  version: '1.0.0',
  runtime: 'wasm',
  permissions: ['state:read:sensor.*'],
  subscriptions: { entities: ['sensor.*'] },
  ...extra,
});

function house(backstop: { callTimeoutMs: number; unmeteredForTesting?: boolean }) {
  const core = new InMemoryCore();
  const wasm = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined, backstop: { core, ...backstop } });
  const registry = new PluginRegistry({ core, runtimes: [wasm, new InProcessRuntime()] });
  const activity: RegistryActivity[] = [];
  registry.on((a) => void activity.push(a));
  const seen: string[] = [];
  const witness: HomeCorePlugin = { setup: () => undefined, onStateChanged: (event) => void seen.push(String((event as unknown as BusEvent<{ new_state: { state: string } }>).data.new_state.state)) };
  return { core, registry, activity, seen, witness };
}

const waitFor = async (done: () => boolean, ms = 10_000) => {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('the wasm preemption backstop', () => {
  it('stops an unmetered endless loop at its wall-clock bound; the other plugins receive every event', async () => {
    const { core, registry, activity, seen, witness } = house({ callTimeoutMs: 200, unmeteredForTesting: true });
    await registry.load(manifest('witness', { runtime: 'native' }), witness);
    await registry.load(manifest('spinner'), corpus('handler-loop'));
    const context = core.createContext();
    for (const value of ['1', '2', '3']) {
      core.setState('sensor.t', value, {}, { context });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => (registry.stats().plugins.spinner?.runtime.preemptions ?? 0) >= 3);
    await registry.idle();
    expect(seen).toEqual(['1', '2', '3']);
    const failures = activity.filter((a) => a.type === 'handler_failed' && a.plugin === 'spinner');
    expect(failures.length).toBe(3);
    for (const f of failures) expect(f.type === 'handler_failed' && f.error.code).toBe(ErrorCode.PLUGIN_PREEMPTED);
    expect(registry.stats().plugins.spinner?.runtime).toMatchObject({ preemptions: 3, isolationLevel: 1 });
    await registry.unloadAll();
  });

  it('runs a well-behaved plugin with metering as before, in its worker', async () => {
    const { core, registry, seen, witness } = house({ callTimeoutMs: 2000 });
    await registry.load(manifest('witness', { runtime: 'native' }), witness);
    await registry.load(manifest('looping', { limits: { fuel_per_call: 100_000 } }), corpus('handler-loop'));
    core.setState('sensor.t', '1', {}, { context: core.createContext() });
    await waitFor(() => registry.stats().plugins.looping?.errors === 1);
    await registry.idle();
    // Fuel stopped it (a trap), long before the backstop's bound: no preemption.
    expect(registry.stats().plugins.looping?.lastError?.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(registry.stats().plugins.looping?.runtime).toMatchObject({ preemptions: 0 });
    expect(seen).toEqual(['1']);
    await registry.unloadAll();
  });

  it('keeps the load gate on the host: an invalid module is refused before any worker starts', async () => {
    const { registry } = house({ callTimeoutMs: 2000 });
    await expect(registry.load(manifest('broken'), new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]))).rejects.toMatchObject({ code: ErrorCode.WASM_INVALID });
  });
});
