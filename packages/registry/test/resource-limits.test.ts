import { ErrorCode, type PluginContext } from '@homecore/core-traits';
import { REGISTRY_LIMIT_DEFAULTS, type RegistryOptions } from '@homecore/registry';
import { describe, expect, it } from 'vitest';
import { deferred, manifest, setup, userContext } from './fakes.js';

async function withContext(limits: Record<string, number>, host: RegistryOptions['limits'] = {}) {
  const env = setup({ limits: host });
  let ctx!: PluginContext;
  await env.registry.load(
    manifest('holder', {
      permissions: ['state:read:*', 'state:write:*', 'event:subscribe:*', 'service:call:slow.*'],
      limits,
    }),
    {
      setup(c) {
        ctx = c;
      },
    },
  );
  const held = () => env.registry.stats().plugins.holder!.held;
  return { ...env, ctx, held };
}

function refusal(fn: () => unknown): { code: string; message: string; details?: Record<string, unknown>; plugin?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a refusal');
}

describe('host-side resource limits', () => {
  it('refuses a state whose attributes are too large, at the write, with HC_ERR_RESOURCE_LIMIT', async () => {
    const { ctx, core, registry } = await withContext({ state_bytes: 100 });
    // 100 bytes exactly: the state (2) plus {"text":"…"} (11 + 87).
    expect(ctx.setState('sensor.a', 'ok', { text: 'x'.repeat(87) }).state).toBe('ok');
    const error = refusal(() => ctx.setState('sensor.a', 'ok', { text: 'x'.repeat(88) }));
    expect(error).toMatchObject({
      code: ErrorCode.RESOURCE_LIMIT,
      plugin: 'holder',
      details: { limit: 'state_bytes', max: 100, bytes: 101 },
    });
    expect(error.message).toContain('limits.state_bytes, capped by the host\'s limits.stateBytes');
    // Multi-byte characters count as UTF-8.
    expect(refusal(() => ctx.setState('sensor.b', '😀'.repeat(30))).code).toBe(ErrorCode.RESOURCE_LIMIT);
    expect(core.getState('sensor.a')?.attributes.text).toHaveLength(87);
    expect(registry.stats().plugins.holder?.refused.resourceLimit).toBe(2);
  });

  it('applies the host cap on state size by default (16 KiB)', async () => {
    const { ctx } = await withContext({});
    expect(REGISTRY_LIMIT_DEFAULTS.stateBytes).toBe(16 * 1024);
    ctx.setState('sensor.a', 'on', { blob: 'x'.repeat(16 * 1024 - 100) });
    expect(refusal(() => ctx.setState('sensor.a', 'on', { blob: 'x'.repeat(16 * 1024) })).code).toBe(ErrorCode.RESOURCE_LIMIT);
    const lowered = await withContext({ state_bytes: 1_000_000 }, { stateBytes: 50 });
    expect(refusal(() => lowered.ctx.setState('sensor.a', 'on', { blob: 'x'.repeat(50) })).code).toBe(ErrorCode.RESOURCE_LIMIT);
  });

  it('counts the entities a plugin created; removing one, by anyone, frees its place', async () => {
    const { ctx, core, held } = await withContext({ entities: 3 });
    core.setState('sensor.host', 'on', {}, userContext(core));
    ctx.setState('sensor.host', 'off'); // not created by the plugin: not counted
    for (const id of ['light.a', 'light.b', 'light.c']) ctx.setState(id, 'on');
    ctx.setState('light.a', 'off'); // an update creates nothing
    expect(held().entities).toBe(3);
    const error = refusal(() => ctx.setState('light.d', 'on'));
    expect(error).toMatchObject({ code: ErrorCode.RESOURCE_LIMIT, details: { limit: 'entities', max: 3, entities: 3 } });
    expect(core.getState('light.d')).toBeUndefined();
    ctx.removeState('light.a');
    ctx.setState('light.d', 'on');
    core.removeState('light.b', core.createContext()); // the host removes one
    expect(held().entities).toBe(2);
    ctx.setState('light.e', 'on');
    expect(held().entities).toBe(3);
  });

  it('refuses entity ids longer than 255 characters whatever the core', async () => {
    const { ctx } = await withContext({});
    const longest = `sensor.${'a'.repeat(248)}`;
    expect(ctx.setState(longest, 'on').entity_id).toBe(longest);
    const error = refusal(() => ctx.setState(`${longest}a`, 'on'));
    expect(error).toMatchObject({ code: ErrorCode.ENTITY_ID_INVALID, plugin: 'holder', details: { limit: 255 } });
    expect(refusal(() => ctx.removeState(`sensor.${'b'.repeat(10_000)}`)).code).toBe(ErrorCode.ENTITY_ID_INVALID);
  });

  it('bounds subscriptions added at run time, by count and by bytes; unsubscribing frees them', async () => {
    const { ctx, held } = await withContext({ subscriptions: 3, subscription_bytes: 40 });
    const offA = ctx.subscribe({ entities: ['sensor.a', 'sensor.b'] });
    ctx.subscribe({ events: ['x_event'] });
    expect(held()).toMatchObject({ subscriptions: 3, subscriptionBytes: 8 + 8 + 7 });
    expect(refusal(() => ctx.subscribe({ entities: ['sensor.c'] }))).toMatchObject({ code: ErrorCode.RESOURCE_LIMIT, details: { limit: 'subscriptions' } });
    offA();
    offA(); // twice is harmless
    expect(held()).toMatchObject({ subscriptions: 1, subscriptionBytes: 7 });
    expect(refusal(() => ctx.subscribe({ entities: [`sensor.${'x'.repeat(40)}`] }))).toMatchObject({ details: { limit: 'subscription_bytes' } });
    ctx.subscribe({ entities: ['sensor.c'] });
    expect(held().subscriptions).toBe(2);
  });

  it('refuses a run-time subscription pattern over the glob limits with HC_ERR_PATTERN_INVALID, naming the plugin', async () => {
    const { ctx, held } = await withContext({});
    for (const pattern of [`sensor.${'a'.repeat(300)}`, `sensor.${'*a'.repeat(17)}`]) {
      expect(refusal(() => ctx.subscribe({ entities: [pattern] }))).toMatchObject({ code: ErrorCode.PATTERN_INVALID, plugin: 'holder' });
      expect(refusal(() => ctx.subscribe({ events: [pattern] }))).toMatchObject({ code: ErrorCode.PATTERN_INVALID, plugin: 'holder' });
    }
    expect(held().subscriptions).toBe(0);
    ctx.subscribe({ entities: [`sensor.${'*a'.repeat(16)}`] });
    expect(held().subscriptions).toBe(1);
  });

  it('bounds pending ctx.callLater timers, counting due ones until they run', async () => {
    const { ctx, clock, registry, held } = await withContext({ timers: 2 });
    let ran = 0;
    const cancel = ctx.callLater(100, () => void ran++);
    ctx.callLater(100, () => void ran++);
    expect(refusal(() => ctx.callLater(100, () => undefined))).toMatchObject({ code: ErrorCode.RESOURCE_LIMIT, details: { limit: 'timers', timers: 2 } });
    cancel();
    expect(held().timers).toBe(1);
    ctx.callLater(200, () => void ran++);
    clock.skip(100); // due, queued, not run yet
    expect(held().timers).toBe(2);
    await registry.idle();
    expect(ran).toBe(1);
    expect(held().timers).toBe(1);
    await clock.advance(100);
    expect(ran).toBe(2);
    expect(held().timers).toBe(0);
  });

  it('bounds service calls in flight', async () => {
    const { ctx, core, held } = await withContext({ pending_service_calls: 2 });
    const gate = deferred();
    core.registerService('slow', 'wait', () => gate.promise);
    const first = ctx.callService('slow', 'wait');
    const second = ctx.callService('slow', 'wait');
    expect(held().pendingServiceCalls).toBe(2);
    await expect(ctx.callService('slow', 'wait')).rejects.toMatchObject({ code: ErrorCode.RESOURCE_LIMIT, details: { limit: 'pending_service_calls' } });
    gate.resolve();
    await Promise.all([first, second]);
    expect(held().pendingServiceCalls).toBe(0);
    await expect(ctx.callService('slow', 'wait')).resolves.toBeUndefined();
  });

  it('shows zeros in stats for a plugin holding nothing', async () => {
    const { registry } = await withContext({});
    expect(registry.stats().plugins.holder).toMatchObject({
      held: { subscriptions: 0, subscriptionBytes: 0, entities: 0, timers: 0, pendingServiceCalls: 0 },
      refused: { feedbackLoop: 0, rateLimited: 0, resourceLimit: 0 },
      dropped: { overflow: 0, backoff: 0, quarantined: 0, too_large: 0 },
      overflowBySource: {},
      overflowCaused: 0,
    });
  });
});
