import { InMemoryCore } from '@homecore/core';
import type { HomeCorePlugin, PluginCode, PluginInstance, PluginManifest, PluginRuntime, StateChangedEvent } from '@homecore/core-traits';
import { PluginRegistry } from '@homecore/registry';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeInstance, FakeRuntime, ManualClock, manifest, userContext } from './fakes.js';

/** A runtime whose instances accept events of at most `max` bytes, as the wasm runtime's do. */
class CappedRuntime implements PluginRuntime {
  readonly kind = 'wasm' as const;
  readonly instances: FakeInstance[] = [];
  constructor(private readonly max: number) {}
  async load(code: PluginCode, m: PluginManifest): Promise<PluginInstance> {
    const instance = new FakeInstance('wasm', code as HomeCorePlugin, m);
    Object.defineProperty(instance, 'maxEventBytes', { value: this.max });
    this.instances.push(instance);
    return instance;
  }
}

function house(max: number) {
  const clock = new ManualClock();
  const core = new InMemoryCore({ clock });
  const capped = new CappedRuntime(max);
  const registry = new PluginRegistry({ core, runtimes: [new FakeRuntime('native'), capped], clock });
  return { core, registry, capped };
}

const watcher = (seen: string[]): HomeCorePlugin => ({
  setup() {},
  onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.new_state?.attributes.note as string),
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('events larger than a receiver accepts', () => {
  it('are skipped for that receiver, counted as too_large, not as failures; other receivers get them', async () => {
    const { core, registry, capped } = house(1500);
    const small: string[] = [];
    const big: string[] = [];
    const subs = { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.x'] } };
    await registry.load(manifest('tiny', { ...subs, runtime: 'wasm' }), watcher(small));
    await registry.load(manifest('roomy', subs), watcher(big));
    core.setState('sensor.x', '1', { note: 'short' }, userContext(core));
    core.setState('sensor.x', '2', { note: 'long'.padEnd(2000, '.') }, userContext(core));
    core.setState('sensor.x', '3', { note: 'short again' }, userContext(core)); // its old_state is the long one
    core.setState('sensor.x', '4', { note: 'fine' }, userContext(core));
    await registry.idle();
    expect(small).toEqual(['short', 'fine']);
    expect(big).toHaveLength(4);
    expect(capped.instances[0]?.received).toHaveLength(2); // never called with the big ones
    const tiny = registry.stats().plugins.tiny!;
    expect(tiny.dropped.too_large).toBe(2);
    expect(tiny.errors).toBe(0);
    expect(tiny.health).toBe('ok');
    expect(tiny.delivered).toBe(2);
    expect(registry.stats().plugins.roomy?.dropped.too_large).toBe(0);
  });

  it('serialise an event only when a receiver has a cap, and each state once', async () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    const statesSerialised = () => stringify.mock.calls.filter(([value]) => (value as { entity_id?: unknown } | null)?.entity_id === 'sensor.x').length;
    const { core, registry } = house(10_000);
    const seen: string[] = [];
    await registry.load(manifest('roomy', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.x'] } }), watcher(seen));
    core.setState('sensor.x', '1', { note: 'a' }, userContext(core));
    await registry.idle();
    expect(seen).toEqual(['a']);
    expect(statesSerialised()).toBe(0);

    await registry.load(manifest('tiny', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.x'] }, runtime: 'wasm' }), watcher(seen));
    core.setState('sensor.x', '2', { note: 'b' }, userContext(core));
    await registry.idle();
    expect(statesSerialised()).toBe(2); // old and new state, once each, shared by every receiver
    core.setState('sensor.x', '3', { note: 'c' }, userContext(core));
    await registry.idle();
    expect(statesSerialised()).toBe(3); // only the new one: the old state's JSON is reused
  });
});
