import { ErrorCode } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

const policy = { maxConsecutiveFailures: 2, backoffMs: 1000, quarantineAfterBackoffs: 2 };

async function flaky(options: { failing: () => boolean } = { failing: () => true }) {
  const env = setup({ failurePolicy: policy });
  const seen: string[] = [];
  const plugin = {
    setup() {},
    onStateChanged(e: { data: { new_state: { state: string } | null } }) {
      seen.push(e.data.new_state?.state ?? '');
      if (options.failing()) throw new Error('handler broke');
    },
    onServiceCall: () => 'ok',
  };
  await env.registry.load(
    manifest('flaky', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*'] }, services: [{ name: 'poke' }] }),
    plugin,
  );
  let n = 0;
  const fire = async (count = 1) => {
    for (let i = 0; i < count; i++) env.core.setState('sensor.f', String(++n), {}, userContext(env.core));
    await env.registry.idle();
  };
  return { ...env, seen, fire };
}

describe('failure policy', () => {
  it('backs off after consecutive failures, drops events meanwhile, then resumes', async () => {
    const { registry, clock, fire, seen, of } = await flaky();
    await fire(2);
    expect(registry.get('flaky')).toMatchObject({ health: 'backoff', reason: expect.stringContaining('2 consecutive handler failures') });
    expect(of('plugin_backoff')).toEqual([{ type: 'plugin_backoff', plugin: 'flaky', failures: 2, backoffMs: 1000 }]);
    await fire(3);
    expect(seen).toEqual(['1', '2']);
    expect(registry.stats().plugins.flaky?.dropped.backoff).toBe(3);
    await clock.advance(1000);
    expect(registry.get('flaky')?.health).toBe('ok');
    expect(of('plugin_resumed')).toHaveLength(1);
    await fire();
    expect(seen).toEqual(['1', '2', '6']);
  });

  it('doubles the backoff and quarantines after repeated backoffs; services then reject', async () => {
    const { registry, core, clock, fire, of } = await flaky();
    await fire(2);
    await clock.advance(1000);
    await fire(2);
    expect(of('plugin_backoff').map((a) => a.backoffMs)).toEqual([1000, 2000]);
    await clock.advance(1999);
    expect(registry.get('flaky')?.health).toBe('backoff');
    await clock.advance(1);
    await fire(2);
    const summary = registry.get('flaky');
    expect(summary).toMatchObject({ health: 'quarantined', state: 'loaded', reason: expect.stringContaining('handler broke') });
    expect(of('plugin_quarantined')).toHaveLength(1);
    await fire(2);
    expect(registry.stats().plugins.flaky).toMatchObject({ health: 'quarantined', dropped: { quarantined: 2 }, errors: 6 });
    await expect(core.callService('flaky', 'poke', {}, userContext(core))).rejects.toMatchObject({
      code: ErrorCode.PLUGIN_QUARANTINED,
      message: expect.stringContaining('reload'),
    });
    await clock.advance(60_000);
    expect(registry.get('flaky')?.health).toBe('quarantined');
  });

  it('a success resets the counters', async () => {
    let failNext = true;
    const { registry, fire } = await flaky({ failing: () => failNext });
    await fire(1);
    failNext = false;
    await fire(1);
    failNext = true;
    await fire(1);
    expect(registry.get('flaky')?.health).toBe('ok');
  });

  it('unload still runs teardown for a quarantined plugin, and reload gives a fresh start', async () => {
    let failing = true;
    const { registry, clock, fire, runtime, seen } = await flaky({ failing: () => failing });
    await fire(2);
    await clock.advance(1000);
    await fire(2);
    await clock.advance(2000);
    await fire(2);
    expect(registry.get('flaky')?.health).toBe('quarantined');
    failing = false;
    await registry.reload('flaky');
    expect(registry.get('flaky')).toMatchObject({ health: 'ok', reason: null, state: 'loaded' });
    await fire();
    expect(seen.at(-1)).toBe('7');
    await registry.unload('flaky');
    expect(runtime.instances.map((i) => i.teardowns)).toEqual([1, 1]);
  });
});
