import { ErrorCode, type ConfigEntry, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup, userContext } from './fakes.js';

const watching = (extra: Record<string, unknown> = {}) => ({ permissions: ['state:read:*'], subscriptions: { entities: ['sensor.a'] }, ...extra });

/** A plugin whose handler for state "hang:<n>" waits on gate n; other states return at once. */
async function hanging(options: Parameters<typeof setup>[0] = {}, extra: Record<string, unknown> = {}) {
  const env = setup({ failurePolicy: { maxConsecutiveFailures: 5 }, ...options });
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  const gate = (name: string) => {
    if (!gates.has(name)) gates.set(name, deferred());
    return gates.get(name)!;
  };
  const started: string[] = [];
  const finished: string[] = [];
  await env.registry.load(manifest('sloth', watching(extra)), {
    setup() {},
    async onStateChanged(e: StateChangedEvent) {
      const state = e.data.new_state?.state ?? '';
      started.push(state);
      if (state.startsWith('hang')) await gate(state).promise;
      finished.push(state);
    },
  });
  const set = (state: string) => env.core.setState('sensor.a', state, {}, userContext(env.core));
  return { ...env, gate, started, finished, set };
}

describe('handler timeout', () => {
  it('fails a handler that does not settle in time with HC_ERR_HANDLER_TIMEOUT, and the queue moves on', async () => {
    const { registry, clock, set, started, of } = await hanging({ limits: { handlerTimeoutMs: 5000 } });
    set('hang1');
    set('next');
    await flush();
    expect(started).toEqual(['hang1']);
    await clock.advance(4999);
    expect(started).toEqual(['hang1']);
    await clock.advance(1);
    await registry.idle();
    expect(started).toEqual(['hang1', 'next']);
    const [failure] = of('handler_failed');
    expect(failure).toMatchObject({ plugin: 'sloth', hook: 'onStateChanged', error: { code: ErrorCode.HANDLER_TIMEOUT, plugin: 'sloth', hook: 'onStateChanged' } });
    expect(failure?.error.message).toMatch(/onStateChanged did not finish within 5000 ms/);
    expect(failure?.error.message).toContain('do slow work in the background');
    expect(failure?.error.message).toContain('raise limits.handler_timeout_ms');
    expect(registry.stats().plugins.sloth).toMatchObject({ errors: 1, delivered: 2, health: 'ok' });
  });

  it('ignores the late result of an abandoned handler and swallows its late rejection', async () => {
    const { registry, clock, set, gate, started, finished, of } = await hanging({ limits: { handlerTimeoutMs: 1000 } });
    set('hang1');
    await clock.advance(1000);
    set('hang2'); // in flight while hang1 settles late
    await flush();
    gate('hang1').resolve();
    await flush();
    expect(started).toEqual(['hang1', 'hang2']);
    let idle = false;
    const done = registry.idle().then(() => (idle = true));
    await flush();
    expect(idle).toBe(false); // hang1's late result did not end hang2
    gate('hang2').reject(new Error('in time')); // before its limit: an ordinary failure
    await clock.advance(1000);
    await done;
    set('hang3');
    await clock.advance(1000);
    gate('hang3').reject(new Error('after the timeout'));
    set('ok');
    await registry.idle();
    await flush();
    expect(finished).toEqual(['hang1', 'ok']);
    expect(of('handler_failed').map((a) => a.error.code)).toEqual([ErrorCode.HANDLER_TIMEOUT, ErrorCode.HANDLER_FAILED, ErrorCode.HANDLER_TIMEOUT]);
    expect(registry.stats().plugins.sloth?.errors).toBe(3);
  });

  it('counts toward the failure policy', async () => {
    const { registry, clock, set, of } = await hanging({ limits: { handlerTimeoutMs: 100 }, failurePolicy: { maxConsecutiveFailures: 2, backoffMs: 1000 } });
    set('hang1');
    set('hang2');
    await clock.advance(200);
    expect(registry.get('sloth')?.health).toBe('backoff');
    expect(of('plugin_backoff')).toEqual([{ type: 'plugin_backoff', plugin: 'sloth', failures: 2, backoffMs: 1000 }]);
    expect(registry.get('sloth')?.reason).toContain('did not finish within 100 ms');
  });

  it('takes the stricter of the manifest limit and the host cap', async () => {
    const strict = await hanging({ limits: { handlerTimeoutMs: 10_000 } }, { limits: { handler_timeout_ms: 50 } });
    strict.set('hang1');
    await strict.clock.advance(50);
    expect(strict.of('handler_failed')[0]?.error.message).toContain('within 50 ms');

    const capped = await hanging({ limits: { handlerTimeoutMs: 200 } }, { limits: { handler_timeout_ms: 60_000 } });
    capped.set('hang1');
    await capped.clock.advance(200);
    expect(capped.of('handler_failed')[0]?.error.message).toContain('within 200 ms');

    const fallback = await hanging();
    fallback.set('hang1');
    await fallback.clock.advance(29_999);
    expect(fallback.of('handler_failed')).toEqual([]);
    await fallback.clock.advance(1);
    expect(fallback.of('handler_failed')[0]?.error.message).toContain('within 30000 ms');
  });

  it('fails a routed service call and a config update that hang; the caller gets the timeout, counted once', async () => {
    const env = setup({ limits: { handlerTimeoutMs: 1000 }, failurePolicy: { maxConsecutiveFailures: 5 } });
    const never = new Promise<never>(() => undefined);
    const seen: string[] = [];
    await env.registry.load(manifest('stuck', watching({ services: [{ name: 'wait' }] })), {
      setup() {},
      onServiceCall: () => never,
      onConfigUpdate: (_entry: ConfigEntry) => never,
      onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.new_state?.state ?? ''),
    });
    const call = env.core.callService('stuck', 'wait', {}, userContext(env.core)).catch((e: unknown) => e);
    env.core.setState('sensor.a', 'behind the call', {}, userContext(env.core));
    await env.clock.advance(1000);
    expect(await call).toMatchObject({ code: ErrorCode.HANDLER_TIMEOUT, plugin: 'stuck', hook: 'onServiceCall' });
    await env.registry.idle();
    expect(seen).toEqual(['behind the call']);
    const update = env.registry.updateConfigEntry('stuck', { options: { x: 1 } }).catch((e: unknown) => e);
    await env.clock.advance(1000);
    expect(await update).toMatchObject({ code: ErrorCode.HANDLER_TIMEOUT, hook: 'onConfigUpdate' });
    expect(env.of('handler_failed').map((a) => a.hook)).toEqual(['onServiceCall', 'onConfigUpdate']);
    expect(env.registry.stats().plugins.stuck?.errors).toBe(2);
  });

  it('lets an unload waiting for a hung handler finish once it times out', async () => {
    const { registry, clock, set, runtime } = await hanging({ limits: { handlerTimeoutMs: 1000 } });
    set('hang1');
    await flush();
    let unloaded = false;
    const unloading = registry.unload('sloth').then(() => (unloaded = true));
    await flush();
    expect(unloaded).toBe(false);
    await clock.advance(1000);
    await unloading;
    expect(runtime.instances[0]?.teardowns).toBe(1);
    expect(clock.pending()).toEqual([]);
  });
});
