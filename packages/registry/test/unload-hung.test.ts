import { ErrorCode, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { flush, manifest, setup, userContext } from './fakes.js';

const watching = (domain: string, extra: Record<string, unknown> = {}) =>
  manifest(domain, { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.a'] }, ...extra });

describe('unloading a plugin whose handler hangs', () => {
  it('aborts ctx.signal first, so a handler that listens to it ends and the unload does not wait', async () => {
    const { registry, core, runtime } = setup();
    let ctx: PluginContext | undefined;
    const order: string[] = [];
    await registry.load(watching('polite'), {
      setup(c: PluginContext) {
        ctx = c;
      },
      onStateChanged: () =>
        new Promise<void>((resolve) => {
          ctx!.signal.addEventListener('abort', () => {
            order.push('handler saw abort');
            resolve();
          });
        }),
      teardown: () => void order.push('teardown'),
    });
    core.setState('sensor.a', '1', {}, userContext(core));
    await flush();
    await registry.unload('polite'); // no clock movement needed
    expect(order).toEqual(['handler saw abort', 'teardown']);
    expect(runtime.instances[0]?.disposed).toBe(1);
  });

  it('abandons a hung handler after the teardown timeout, counts it, runs teardown; unloadAll unloads independent plugins in parallel', async () => {
    const { registry, core, clock, of } = setup({ limits: { teardownTimeoutMs: 2000 } });
    const never = new Promise<void>(() => undefined);
    const order: string[] = [];
    const stuck = (id: string) => ({ setup() {}, onStateChanged: (_e: StateChangedEvent) => never, teardown: () => void order.push(id) });
    const report = await registry.loadAll([
      { manifest: manifest('net'), code: { setup() {}, teardown: () => void order.push('net') } },
      { manifest: watching('stuck_a', { dependencies: ['net'] }), code: stuck('stuck_a') },
      { manifest: watching('stuck_b', { dependencies: ['net'] }), code: stuck('stuck_b') },
    ]);
    expect(report.errors).toEqual([]);
    core.setState('sensor.a', '1', {}, userContext(core));
    await flush();
    let done = false;
    const unloading = registry.unloadAll().then(() => (done = true));
    await clock.advance(1999);
    expect(done).toBe(false);
    await clock.advance(1); // one teardown timeout for both, not one each (nor the 30 s handler timeout)
    await unloading;
    expect(order.slice(0, 2).sort()).toEqual(['stuck_a', 'stuck_b']);
    expect(order[2]).toBe('net');
    expect(registry.list()).toEqual([]);
    const abandoned = of('handler_failed');
    expect(abandoned.map((a) => a.plugin).sort()).toEqual(['stuck_a', 'stuck_b']);
    expect(abandoned[0]).toMatchObject({ hook: 'onStateChanged', error: { code: ErrorCode.HANDLER_TIMEOUT } });
    expect(abandoned[0]?.error.message).toContain('abandoned');
    expect(clock.pending()).toEqual([]);
  });
});
