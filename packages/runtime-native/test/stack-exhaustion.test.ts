import { setImmediate as realSetImmediate } from 'node:timers';
import { describe, expect, it } from 'vitest';
import type { Clock, JsonValue, PluginCode, PluginContext, PluginInstance, PluginManifest, PluginRuntime, StateChangedEvent } from '@homecore/core-traits';
import { InProcessRuntime, createHomecore, definePlugin } from '@homecore/runtime-native';

/** A clock that only moves when told (no timing in these tests). */
class FrozenClock implements Clock {
  now = () => Date.UTC(2026, 0, 1);
  setTimeout = (): unknown => ({});
  clearTimeout = (): void => undefined;
}

/** Resolves true if `work` settles within `n` event-loop turns (a hang fails the test instead of timing out). */
async function within<T>(work: Promise<T>, n = 2000): Promise<boolean> {
  let done = false;
  void work.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < n && !done; i++) await new Promise((resolve) => realSetImmediate(resolve));
  return done;
}

/** Levels, counted up from the deepest, that write on the way back up. */
const WINDOW = 600;

/**
 * Runs native plugins as if they were sandboxed: its instances cap events (as the wasm runtime's
 * do), so the registry serialises each event while dispatching it, deep in the writer's stack.
 */
class CappedRuntime implements PluginRuntime {
  readonly kind = 'wasm' as const;
  private readonly native = new InProcessRuntime();
  async load(code: PluginCode, manifest: PluginManifest): Promise<PluginInstance> {
    const inner = await this.native.load(code, { ...manifest, runtime: 'native' });
    return {
      kind: 'wasm',
      hooks: inner.hooks,
      maxEventBytes: 1024 * 1024,
      setup: (context) => inner.setup(context),
      teardown: () => inner.teardown(),
      handleEvent: (event) => inner.handleEvent(event),
      handleServiceCall: (call) => inner.handleServiceCall(call),
      handleConfigUpdate: (entry) => inner.handleConfigUpdate(entry),
      stats: () => inner.stats(),
      dispose: () => inner.dispose(),
    };
  }
}

/** Attributes nested `depth` levels deep: serialising the event that carries them takes stack. */
function nested(depth: number, n: number): Record<string, JsonValue> {
  let value: Record<string, JsonValue> = { n };
  for (let i = 0; i < depth; i++) value = { v: value };
  return value;
}

describe('a native handler that exhausts the stack, then writes', () => {
  it('leaves the registry consistent: every write that succeeded reaches the witness, idle() and unloadAll() finish', async () => {
    const home = createHomecore({ clock: new FrozenClock(), runtimes: [new CappedRuntime()] });
    const { core, registry } = home;
    const seen: string[] = [];
    const sandboxed: string[] = [];
    // First in the index, so a dispatch cut short by the exhausted stack has not reached the witness yet.
    await registry.load(
      { domain: 'sandboxed', name: 'Sandboxed', version: '1.0.0', runtime: 'wasm', permissions: ['state:read:*'], subscriptions: { entities: ['sensor.outside', 'sensor.deep'] } },
      definePlugin({
        setup() {},
        onStateChanged: (e: StateChangedEvent) => void sandboxed.push(`${e.data.entity_id}=${e.data.new_state?.state}`),
      }),
    );
    await registry.load(
      { domain: 'witness', name: 'Witness', version: '1.0.0', permissions: ['state:read:*'], subscriptions: { entities: ['sensor.outside', 'sensor.deep'] } },
      definePlugin({
        setup() {},
        onStateChanged: (e: StateChangedEvent) => void seen.push(`${e.data.entity_id}=${e.data.new_state?.state}`),
      }),
    );
    let ctx!: PluginContext;
    const committed: string[] = [];
    let refused = 0;
    let deepest = 0;
    await registry.load(
      { domain: 'diver', name: 'Diver', version: '1.0.0', permissions: ['state:read:sensor.go', 'state:write:sensor.deep'], subscriptions: { entities: ['sensor.go'] } },
      definePlugin({
        setup(c) {
          ctx = c;
        },
        onStateChanged() {
          // Recurse until the stack is exhausted; on the way back up, write at each of the last
          // WINDOW levels: each write starts with a little more stack than the one before, so the
          // stack runs out at one point after another of the path (context, core, registry) until
          // writes go through. Nested attributes make that path deep on both sides of the commit.
          const attributes = nested(40, 0);
          const attempt = (n: number): void => {
            const value = String(n);
            try {
              ctx.setState('sensor.deep', value, attributes);
            } catch {
              refused++;
              return;
            }
            committed.push(value);
          };
          const dive = (n: number): void => {
            try {
              dive(n + 1);
            } catch {
              if (deepest === 0) deepest = n;
            }
            if (deepest - n < WINDOW) attempt(n);
          };
          dive(0);
        },
      }),
    );

    const outside = (v: string) => core.setState('sensor.outside', v, {}, { context: core.createContext() });
    outside('before');
    core.setState('sensor.go', 'dive', {}, { context: core.createContext() });
    outside('during');
    expect(await within(registry.idle())).toBe(true);
    outside('after');
    expect(await within(registry.idle())).toBe(true);

    expect(deepest).toBeGreaterThan(WINDOW);
    expect(refused).toBeGreaterThan(0); // the stack really ran out while writing
    expect(committed.length).toBeGreaterThan(100);
    expect(seen.filter((s) => s.startsWith('sensor.outside'))).toEqual(['sensor.outside=before', 'sensor.outside=during', 'sensor.outside=after']);
    expect(sandboxed).toEqual(seen);
    const deep = seen.filter((s) => s.startsWith('sensor.deep')).map((s) => s.slice('sensor.deep='.length));
    const missed = committed.filter((v) => !deep.includes(v));
    expect(missed).toEqual([]);
    expect(deep.at(-1)).toBe(core.getState('sensor.deep')?.state);
    const stats = registry.stats().plugins;
    for (const id of ['witness', 'sandboxed']) {
      expect(stats[id]?.queueDepth).toBe(0);
      expect(stats[id]?.errors).toBe(0);
    }
    expect(stats.diver?.queueDepth).toBe(0);

    expect(await within(home.close())).toBe(true);
    expect(registry.list()).toEqual([]);
  });
});
