import { ErrorCode, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup, userContext } from './fakes.js';

const subscribed = (extra: Record<string, unknown> = {}) =>
  manifest('counter', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.n'] }, services: [{ name: 'who' }], ...extra });

describe('reload', () => {
  it('swaps in new code; the old instance is torn down after the new one is set up', async () => {
    const { registry, core, runtime, of } = setup();
    const order: string[] = [];
    await registry.load(subscribed(), {
      setup: () => void order.push('v1 setup'),
      teardown: () => void order.push('v1 teardown'),
      onServiceCall: () => ({ v: 'v1' }),
    });
    await registry.reload('counter', {
      code: { setup: () => void order.push('v2 setup'), teardown: () => void order.push('v2 teardown'), onServiceCall: () => ({ v: 'v2' }) },
    });
    expect(order).toEqual(['v1 setup', 'v2 setup', 'v1 teardown']);
    expect(runtime.instances[0]?.disposed).toBe(1);
    await expect(core.callService('counter', 'who', {}, { ...userContext(core), returnResponse: true })).resolves.toEqual({ v: 'v2' });
    expect(of('plugin_reloaded')).toHaveLength(1);
    expect(registry.get('counter')?.state).toBe('loaded');
  });

  it('rolls back when the new version fails: the old one keeps running', async () => {
    const { registry, core, runtime, of } = setup();
    const seen: string[] = [];
    await registry.load(subscribed(), {
      setup() {},
      onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.new_state?.state ?? ''),
      onServiceCall: () => ({ v: 'v1' }),
    });
    const error = await registry
      .reload('counter', {
        code: {
          setup() {
            throw new Error('v2 is broken');
          },
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.RELOAD_FAILED, plugin: 'counter', message: expect.stringContaining('v2 is broken') });
    expect((error as Error).cause).toMatchObject({ code: ErrorCode.SETUP_FAILED });
    expect(runtime.instances[1]?.disposed).toBe(1);
    expect(runtime.instances[0]).toMatchObject({ teardowns: 0, disposed: 0 });
    core.setState('sensor.n', '1', {}, userContext(core));
    await registry.idle();
    expect(seen).toEqual(['1']);
    await expect(core.callService('counter', 'who', {}, { ...userContext(core), returnResponse: true })).resolves.toEqual({ v: 'v1' });
    expect(registry.get('counter')?.state).toBe('loaded');
    expect(of('reload_failed')).toHaveLength(1);
  });

  it('rejects a new manifest with another domain or an invalid one, keeping the old', async () => {
    const { registry } = setup();
    await registry.load(subscribed(), { setup() {} });
    await expect(registry.reload('counter', { manifest: manifest('other') })).rejects.toMatchObject({ code: ErrorCode.RELOAD_FAILED });
    await expect(registry.reload('counter', { manifest: { domain: 'counter' } })).rejects.toMatchObject({
      code: ErrorCode.RELOAD_FAILED,
      cause: expect.objectContaining({ code: ErrorCode.MANIFEST_INVALID }),
    });
    expect(registry.get('counter')?.manifest.version).toBe('1.0.0');
    await registry.reload('counter', { manifest: subscribed({ version: '1.1.0' }) });
    expect(registry.get('counter')?.manifest.version).toBe('1.1.0');
  });

  it('loses and duplicates no event across the swap, in order', async () => {
    const { registry, core } = setup();
    const seen: { version: string; value: string }[] = [];
    const version = (name: string, gate?: Promise<void>) => ({
      setup: () => gate,
      async onStateChanged(e: StateChangedEvent) {
        seen.push({ version: name, value: e.data.new_state?.state ?? '' });
        await flush();
      },
    });
    await registry.load(subscribed(), version('v1'));
    const fired: string[] = [];
    let n = 0;
    const burst = (count: number) => {
      for (let i = 0; i < count; i++) {
        const value = String(++n);
        fired.push(value);
        core.setState('sensor.n', value, {}, userContext(core));
      }
    };
    burst(10);
    await flush();
    const gate = deferred();
    const reloading = registry.reload('counter', { code: version('v2', gate.promise) });
    burst(10); // arrive while v1 is paused and v2 is setting up
    await flush();
    gate.resolve();
    burst(5);
    await reloading;
    burst(5);
    await registry.idle();
    expect(seen.map((s) => s.value)).toEqual(fired);
    const versions = seen.map((s) => s.version);
    // v1 handles a prefix, v2 the rest: no interleaving, nothing twice.
    expect(versions.indexOf('v2')).toBeGreaterThan(0);
    expect(versions.slice(versions.indexOf('v2')).every((v) => v === 'v2')).toBe(true);
  });

  it('reloading a plugin in setup_error retries its setup', async () => {
    const { registry } = setup();
    let broken = true;
    const plugin = {
      setup() {
        if (broken) throw new Error('not yet');
      },
    };
    await registry.load(manifest('later'), plugin).catch(() => undefined);
    expect(registry.get('later')?.state).toBe('setup_error');
    await expect(registry.reload('later')).rejects.toMatchObject({ code: ErrorCode.RELOAD_FAILED });
    broken = false;
    await registry.reload('later');
    expect(registry.get('later')).toMatchObject({ state: 'loaded', reason: null });
  });
});
