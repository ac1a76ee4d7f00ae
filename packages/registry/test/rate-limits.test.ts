import { ErrorCode, type PluginContext } from '@homecore/core-traits';
import { REGISTRY_LIMIT_DEFAULTS, type RegistryOptions } from '@homecore/registry';
import { describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

async function withContext(limits: Record<string, number>, host: RegistryOptions['limits'] = {}) {
  const env = setup({ limits: host });
  let ctx!: PluginContext;
  await env.registry.load(
    manifest('busy', {
      permissions: ['state:write:*', 'event:fire:busy_*', 'service:call:test.*'],
      limits,
    }),
    {
      setup(c) {
        ctx = c;
      },
    },
  );
  env.core.registerService('test', 'noop', () => undefined);
  return { ...env, ctx };
}

/** How many of `n` attempts succeed before the first refusal, and that refusal's code. */
function attempts(n: number, act: (i: number) => void): { ok: number; codes: string[] } {
  let ok = 0;
  const codes: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      act(i);
      ok++;
    } catch (error) {
      codes.push((error as { code: string }).code);
    }
  }
  return { ok, codes };
}

describe('per-second budgets', () => {
  it('refuses writes past the manifest budget with HC_ERR_RATE_LIMITED, refilling continuously on the registry clock', async () => {
    const { ctx, clock, registry, of } = await withContext({ writes_per_second: 5 });
    const write = (i: number) => ctx.setState('sensor.x', String(i));
    expect(attempts(8, write)).toEqual({ ok: 5, codes: [ErrorCode.RATE_LIMITED, ErrorCode.RATE_LIMITED, ErrorCode.RATE_LIMITED] });
    clock.skip(200); // one token back
    expect(attempts(3, write).ok).toBe(1);
    clock.skip(60_000); // the bucket holds one second's budget, no more
    expect(attempts(8, write).ok).toBe(5);
    expect(registry.stats().plugins.busy?.refused.rateLimited).toBe(3 + 2 + 3);
    expect(registry.stats().plugins.busy?.writes).toBe(11);
    // Reported once per run of refusals, not once per refused call.
    expect(of('action_refused').filter((a) => a.code === ErrorCode.RATE_LIMITED)).toHaveLength(3);
  });

  it('names the limit to change and the plugin and hook', async () => {
    const { ctx } = await withContext({ writes_per_second: 1 });
    ctx.setState('sensor.x', '1');
    let error: unknown;
    try {
      ctx.removeState('sensor.x');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      code: ErrorCode.RATE_LIMITED,
      plugin: 'busy',
      details: { limit: 'writes_per_second', perSecond: 1 },
      message: expect.stringContaining('budget of 1 state writes per second (limits.writes_per_second, capped by the host\'s limits.writesPerSecond)'),
    });
  });

  it('budgets fired events and service calls separately from writes', async () => {
    const { ctx, clock } = await withContext({ events_per_second: 2, service_calls_per_second: 3, writes_per_second: 100 });
    expect(attempts(4, () => ctx.fireEvent('busy_tick')).ok).toBe(2);
    const calls = await Promise.allSettled(Array.from({ length: 5 }, () => ctx.callService('test', 'noop')));
    expect(calls.map((c) => c.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
    expect((calls[3] as PromiseRejectedResult).reason).toMatchObject({ code: ErrorCode.RATE_LIMITED, details: { limit: 'service_calls_per_second' } });
    expect(attempts(4, (i) => ctx.setState('sensor.y', String(i))).ok).toBe(4);
    clock.skip(1000);
    expect(attempts(4, () => ctx.fireEvent('busy_tick')).ok).toBe(2);
  });

  it('caps a manifest budget by the host setting, and applies the host default without one', async () => {
    const capped = await withContext({ writes_per_second: 50 }, { writesPerSecond: 3 });
    expect(attempts(10, (i) => capped.ctx.setState('sensor.x', String(i))).ok).toBe(3);
    const defaults = await withContext({});
    const events = attempts(REGISTRY_LIMIT_DEFAULTS.eventsPerSecond + 10, () => defaults.ctx.fireEvent('busy_tick'));
    expect(events.ok).toBe(REGISTRY_LIMIT_DEFAULTS.eventsPerSecond);
  });

  it('a refused action changes nothing: no state, no event, no chain', async () => {
    const { ctx, core } = await withContext({ writes_per_second: 1 });
    const events: string[] = [];
    core.listen((e) => events.push(e.event_type));
    ctx.setState('sensor.x', 'first');
    expect(() => ctx.setState('sensor.x', 'second')).toThrow(expect.objectContaining({ code: ErrorCode.RATE_LIMITED }));
    expect(core.getState('sensor.x')?.state).toBe('first');
    expect(events).toEqual(['state_changed']);
  });

  it('refuses host settings that are not positive numbers', () => {
    for (const bad of [0, -1, Number.NaN, '5' as unknown as number]) {
      expect(() => setup({ limits: { writesPerSecond: bad } })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
    }
    expect(() => setup({ limits: { loopDepth: Infinity, stateBytes: 1 } })).not.toThrow();
  });
});
