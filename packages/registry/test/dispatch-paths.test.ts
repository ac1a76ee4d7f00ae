// The dispatch paths beside the usual async one: runtimes whose handleEvent completes synchronously
// (or returns a foreign thenable), shared summaries, sampled handler timing and idle().
import type { DeliveredEvent, HomeCorePlugin, PluginCode, PluginContext, PluginInstance, PluginManifest, StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { FakeInstance, FakeRuntime, deferred, manifest, setup, userContext } from './fakes.js';

type Delivery = 'sync' | 'thenable';

/** An instance whose handleEvent runs the hook at once and returns no promise (or a bare thenable). */
class DirectInstance extends FakeInstance {
  constructor(
    plugin: HomeCorePlugin,
    manifest: PluginManifest,
    private readonly delivery: Delivery,
  ) {
    super('native', plugin, manifest);
  }

  // The contract types a promise; the registry also accepts a synchronous completion or any thenable.
  override handleEvent(event: DeliveredEvent): Promise<void> {
    this.received.push(event);
    const run = () => this.plugin.onStateChanged?.(event.event as unknown as StateChangedEvent);
    if (this.delivery === 'sync') {
      run();
      return undefined as unknown as Promise<void>;
    }
    const thenable = {
      then(onFulfilled: () => void, onRejected: (error: unknown) => void) {
        try {
          run();
        } catch (error) {
          onRejected(error);
          return;
        }
        onFulfilled();
      },
    };
    return thenable as unknown as Promise<void>;
  }
}

class DirectRuntime extends FakeRuntime {
  constructor(private readonly delivery: Delivery) {
    super('native');
  }

  override async load(code: PluginCode, manifest: PluginManifest): Promise<PluginInstance> {
    const instance = new DirectInstance(code as HomeCorePlugin, manifest, this.delivery);
    this.instances.push(instance);
    return instance;
  }
}

const watching = (extra: Record<string, unknown> = {}) => ({ permissions: ['state:read:sensor.*'], subscriptions: { entities: ['sensor.*'] }, ...extra });

describe.each<Delivery>(['sync', 'thenable'])('a runtime whose handleEvent completes %s', (delivery) => {
  it('delivers in order after the write returns, with the event as the parent context', async () => {
    const env = setup({ runtimes: [new DirectRuntime(delivery)] });
    const { registry, core } = env;
    const seen: string[] = [];
    let ctx!: PluginContext;
    await registry.load(manifest('mirror', { ...watching(), permissions: ['state:read:sensor.*', 'state:write:light.mirror'] }), {
      setup(c: PluginContext) {
        ctx = c;
      },
      onStateChanged(e: StateChangedEvent) {
        seen.push(e.data.new_state?.state ?? '');
        ctx.setState('light.mirror', e.data.new_state?.state ?? 'unknown');
      },
    });
    const writes = ['1', '2', '3'].map((v) => core.setState('sensor.a', v, {}, userContext(core)));
    expect(seen).toEqual([]); // never inside the write
    await registry.idle();
    expect(seen).toEqual(['1', '2', '3']);
    expect(core.getState('light.mirror')?.context).toMatchObject({ user_id: 'plugin:mirror', parent_id: writes[2]!.context.id });
    expect(registry.stats().plugins.mirror).toMatchObject({ delivered: 3, errors: 0, queueDepth: 0 });
  });

  it('counts a throwing handler towards the failure policy', async () => {
    const env = setup({ runtimes: [new DirectRuntime(delivery)], failurePolicy: { maxConsecutiveFailures: 2, backoffMs: 1000 } });
    const { registry, core, of } = env;
    await registry.load(manifest('broken', watching()), {
      setup() {},
      onStateChanged() {
        throw new Error('sync failure');
      },
    });
    for (const v of ['1', '2', '3']) core.setState('sensor.a', v, {}, userContext(core));
    await registry.idle();
    expect(of('handler_failed').map((a) => [a.hook, a.error.code])).toEqual([
      ['onStateChanged', 'HC_ERR_HANDLER_FAILED'],
      ['onStateChanged', 'HC_ERR_HANDLER_FAILED'],
    ]);
    expect(registry.get('broken')?.health).toBe('backoff');
    expect(registry.stats().plugins.broken).toMatchObject({ delivered: 2, errors: 2, dropped: { backoff: 1 } });
  });
});

describe('summaries, handler timing and idle()', () => {
  it('get() hands out one frozen summary until something it shows changes', async () => {
    const { registry, core } = setup({ failurePolicy: { maxConsecutiveFailures: 1, backoffMs: 1000 } });
    await registry.load(manifest('once', watching()), {
      setup() {},
      onStateChanged() {
        throw new Error('fails');
      },
    });
    const first = registry.get('once');
    expect(registry.get('once')).toBe(first);
    expect(registry.list()[0]).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(first).toMatchObject({ id: 'once', state: 'loaded', health: 'ok', reason: null });
    core.setState('sensor.a', '1', {}, userContext(core));
    await registry.idle();
    const after = registry.get('once');
    expect(after).not.toBe(first);
    expect(after).toMatchObject({ health: 'backoff', reason: expect.stringContaining('fails') });
    await registry.updateConfigEntry('once', { title: 'Renamed' });
    expect(registry.get('once')).toEqual(after); // rebuilt (the entry changed), same content
    await registry.reload('once');
    expect(registry.get('once')).toMatchObject({ health: 'ok', reason: null });
    await registry.unload('once');
    expect(registry.get('once')).toBeUndefined();
  });

  it('times every one of the first 64 deliveries, then one in 8', async () => {
    const { registry, core } = setup();
    await registry.load(manifest('counted', watching()), { setup() {}, onStateChanged() {} });
    for (let i = 1; i <= 100; i++) core.setState('sensor.a', String(i), {}, userContext(core));
    await registry.idle();
    const stats = registry.stats().plugins.counted!;
    expect(stats.delivered).toBe(100);
    expect(stats.handlerMs.samples).toBe(64 + 4); // deliveries 72, 80, 88 and 96
  });

  it('idle() resolves at once with nothing queued and waits for queued events and service calls', async () => {
    const { registry, core } = setup();
    await registry.idle();
    const gate = deferred();
    const seen: string[] = [];
    await registry.load(manifest('slow', { ...watching(), services: [{ name: 'poke' }] }), {
      setup() {},
      async onStateChanged(e: StateChangedEvent) {
        await gate.promise;
        seen.push(e.data.new_state?.state ?? '');
      },
      onServiceCall: () => void seen.push('poke'),
    });
    core.setState('sensor.a', '1', {}, userContext(core));
    const call = core.callService('slow', 'poke', {}, userContext(core));
    let idle = false;
    const done = registry.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    gate.resolve();
    await done;
    expect(seen).toEqual(['1', 'poke']);
    await call;
  });
});
