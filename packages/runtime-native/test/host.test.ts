import { describe, expect, it } from 'vitest';
import { InMemoryCore } from '@homecore/core';
import { systemClock, type PluginInstance, type PluginRuntime } from '@homecore/core-traits';
import { createHomecore, definePlugin } from '@homecore/runtime-native';

const manifest = {
  domain: 'mirror',
  name: 'Mirror',
  version: '1.0.0',
  subscriptions: { entities: ['sensor.source'] },
  permissions: ['state:read:sensor.source', 'state:write:sensor.copy'],
};

const mirror = () => {
  let ctx: Parameters<Parameters<typeof definePlugin>[0]['setup']>[0];
  return definePlugin({
    setup(context) {
      ctx = context;
    },
    onStateChanged(event) {
      ctx.setState('sensor.copy', event.data.new_state?.state ?? 'gone');
    },
  });
};

describe('createHomecore', () => {
  it('runs a native plugin end to end with the reference core and the system clock', async () => {
    const home = createHomecore();
    const { core, registry, clock } = home;
    expect(clock).toBe(systemClock);
    await registry.load(manifest, mirror);
    core.setState('sensor.source', '42', {}, { context: core.createContext() });
    await registry.idle();
    const copy = core.getState('sensor.copy');
    expect(copy?.state).toBe('42');
    expect(copy?.context.user_id).toBe('plugin:mirror');
    await home.close();
  });

  it('fires time_changed on a timer for hosts that want it, and close() stops it and unloads', async () => {
    const home = createHomecore({ timeChangedMs: 5 });
    const ticks: string[] = [];
    home.core.listen((event) => {
      if (event.event_type === 'time_changed') ticks.push(String((event.data as { now: string }).now));
    });
    await home.registry.load(manifest, mirror);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await home.close();
    const seen = ticks.length;
    expect(seen).toBeGreaterThanOrEqual(2);
    expect(ticks[0]).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(home.registry.list()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ticks.length).toBe(seen);
  });

  it('refuses a nonsensical tick interval', () => {
    expect(() => createHomecore({ timeChangedMs: -1 })).toThrow(/timeChangedMs must be a number of milliseconds/);
  });

  it('uses the core and clock it is given', async () => {
    const clock = { now: () => Date.UTC(2030, 0, 1), setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
    const core = new InMemoryCore({ clock });
    const home = createHomecore({ core, clock });
    expect(home.core).toBe(core);
    await home.registry.load(manifest, mirror);
    core.setState('sensor.source', 'x', {}, { context: core.createContext() });
    await home.registry.idle();
    expect(core.getState('sensor.copy')?.last_changed).toBe('2030-01-01T00:00:00.000000+00:00');
    await home.registry.unloadAll();
  });

  it('adds the runtimes it is given, and a native one replaces the default', async () => {
    const loads: string[] = [];
    const fake = (kind: 'native' | 'wasm'): PluginRuntime => ({
      kind,
      async load(_code, m) {
        loads.push(`${kind}:${m.domain}`);
        return {
          kind,
          hooks: { teardown: false, stateChanged: false, event: false, serviceCall: false, configUpdate: false },
          setup: async () => undefined,
          teardown: async () => undefined,
          handleEvent: () => undefined,
          handleServiceCall: async () => undefined,
          handleConfigUpdate: async () => false,
          stats: () => ({}),
          dispose: () => undefined,
        } satisfies PluginInstance;
      },
    });
    const withWasm = createHomecore({ runtimes: [fake('wasm')] });
    await withWasm.registry.load({ ...manifest, domain: 'sandboxed', runtime: 'wasm', entry: 'plugin.wasm' }, new Uint8Array([0]));
    await withWasm.registry.load(manifest, mirror);
    expect(withWasm.registry.get('mirror')?.runtime).toBe('native');
    expect(loads).toEqual(['wasm:sandboxed']);

    const ownNative = createHomecore({ runtimes: [fake('native')] });
    await ownNative.registry.load(manifest, mirror);
    expect(loads).toEqual(['wasm:sandboxed', 'native:mirror']);
    await withWasm.registry.unloadAll();
    await ownNative.registry.unloadAll();
  });
});
