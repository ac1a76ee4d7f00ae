import { ErrorCode, type PluginContext } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

async function withContext(permissions: string[], extra: Record<string, unknown> = {}) {
  const env = setup();
  let ctx!: PluginContext;
  await env.registry.load(manifest('guard', { permissions, ...extra }), {
    setup(c) {
      ctx = c;
    },
  });
  return { ...env, ctx };
}

describe('permissions at the context API', () => {
  it('denies by default, with a message naming the claim to add, and audits', async () => {
    const { ctx, registry, of } = await withContext([]);
    const denied = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return error as Error & { code: string };
      }
      throw new Error('expected a denial');
    };
    const error = denied(() => ctx.setState('light.kitchen', 'on'));
    expect(error.code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(error.message).toContain('guard');
    expect(error.message).toContain('add "state:write:light.kitchen" to permissions');
    expect(denied(() => ctx.getState('sensor.a')).code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(denied(() => ctx.removeState('sensor.a')).code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(denied(() => ctx.fireEvent('boom')).code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(denied(() => ctx.subscribe({ entities: ['sensor.*'] })).message).toContain('"state:read:sensor.*"');
    expect(denied(() => ctx.subscribe({ events: ['call_service'] })).message).toContain('"event:subscribe:call_service"');
    await expect(ctx.callService('light', 'turn_on')).rejects.toMatchObject({
      code: ErrorCode.PERMISSION_DENIED,
      message: expect.stringContaining('"service:call:light.turn_on"'),
    });
    expect(registry.audit('guard').map((d) => [d.action, d.target])).toEqual([
      ['state:write', 'light.kitchen'],
      ['state:read', 'sensor.a'],
      ['state:write', 'sensor.a'],
      ['event:fire', 'boom'],
      ['state:read', 'sensor.*'],
      ['event:subscribe', 'call_service'],
      ['service:call', 'light.turn_on'],
    ]);
    expect(registry.audit()).toHaveLength(7);
    expect(registry.audit('other')).toEqual([]);
    expect(registry.stats().plugins.guard?.permissionDenials).toBe(7);
    expect(of('permission_denied')).toHaveLength(7);
    expect(registry.audit()[0]).toMatchObject({ plugin: 'guard', hook: null, time: expect.any(Number) });
  });

  it('allows what the manifest grants; writes carry a context naming the plugin', async () => {
    const { ctx, core, of } = await withContext([
      'state:read:sensor.*',
      'state:write:light.*',
      'service:call:test.echo',
      'event:fire:guard_*',
    ]);
    core.setState('sensor.a', '1', {}, userContext(core));
    core.setState('switch.hidden', 'on', {}, userContext(core));
    expect(ctx.getState('sensor.a')?.state).toBe('1');
    expect(ctx.getStates().map((s) => s.entity_id)).toEqual(['sensor.a']);
    expect(ctx.getStates('switch.*')).toEqual([]);
    const written = ctx.setState('light.desk', 'on', { brightness: 5 });
    expect(written.context.user_id).toBe('plugin:guard');
    expect(written.context.parent_id).toBeNull();
    core.registerService('test', 'echo', (call) => ({ got: call.data.x ?? null, by: call.context.user_id }));
    await expect(ctx.callService('test', 'echo', { x: 1 }, { returnResponse: true })).resolves.toEqual({ got: 1, by: 'plugin:guard' });
    ctx.fireEvent('guard_tripped', { level: 2 });
    expect(ctx.removeState('light.desk')).toBe(true);
    expect(of('state_written')).toEqual([{ type: 'state_written', plugin: 'guard', entity_id: 'light.desk', state: 'on' }]);
    expect(of('service_called')).toEqual([{ type: 'service_called', plugin: 'guard', domain: 'test', service: 'echo' }]);
    expect(of('event_fired')).toEqual([{ type: 'event_fired', plugin: 'guard', event_type: 'guard_tripped' }]);
    expect(of('state_removed')).toHaveLength(1);
  });

  it('a write made while handling an event names that event as parent', async () => {
    const { registry, core } = setup();
    let ctx!: PluginContext;
    await registry.load(
      manifest('mirror', { permissions: ['state:read:sensor.*', 'state:write:sensor.mirror'], subscriptions: { entities: ['sensor.source'] } }),
      {
        setup(c) {
          ctx = c;
        },
        onStateChanged(e) {
          ctx.setState('sensor.mirror', e.data.new_state?.state ?? 'unknown');
        },
      },
    );
    const source = core.setState('sensor.source', '7', {}, userContext(core));
    await registry.idle();
    const mirror = core.getState('sensor.mirror');
    expect(mirror?.state).toBe('7');
    expect(mirror?.context).toMatchObject({ user_id: 'plugin:mirror', parent_id: source.context.id });
  });

  it('registerService needs the service in the manifest; manifest services route to onServiceCall', async () => {
    const { registry, core, of } = setup();
    let ctx!: PluginContext;
    await registry.load(manifest('svc', { services: [{ name: 'explicit' }, { name: 'routed' }] }), {
      setup(c) {
        ctx = c;
        c.registerService('explicit', (call) => ({ explicit: call.data.n ?? null }));
      },
      onServiceCall: (call) => ({ routed: call.service }),
    });
    expect(() => ctx.registerService('secret', () => 1)).toThrow(
      expect.objectContaining({ code: ErrorCode.PERMISSION_DENIED, message: expect.stringContaining('add { "name": "secret" } to services') }),
    );
    const call = (service: string) => core.callService('svc', service, { n: 3 }, { ...userContext(core), returnResponse: true });
    await expect(call('explicit')).resolves.toEqual({ explicit: 3 });
    await expect(call('routed')).resolves.toEqual({ routed: 'routed' });
    expect(core.hasService('svc', 'secret')).toBe(false);
    expect(registry.stats().plugins.svc?.serviceCalls).toBe(2);
    expect(of('service_handled').map((a) => [a.service, a.ok])).toEqual([
      ['explicit', true],
      ['routed', true],
    ]);
  });

  it('a failing service handler rejects the caller and is counted', async () => {
    const { registry, core, of } = setup();
    await registry.load(manifest('svc', { services: [{ name: 'fail' }] }), {
      setup() {},
      onServiceCall: () => {
        throw new Error('service broke');
      },
    });
    await expect(core.callService('svc', 'fail', {}, userContext(core))).rejects.toMatchObject({
      code: ErrorCode.HANDLER_FAILED,
      plugin: 'svc',
      hook: 'onServiceCall',
    });
    expect(registry.stats().plugins.svc?.errors).toBe(1);
    expect(of('service_handled')).toEqual([{ type: 'service_handled', plugin: 'svc', domain: 'svc', service: 'fail', ok: false }]);
  });

  it('logger, now and signal come from the registry', async () => {
    const { ctx, clock, of, registry } = await withContext([]);
    ctx.logger.info('hello', { n: 1 });
    ctx.logger.error('bad');
    expect(of('log')).toEqual([
      { type: 'log', plugin: 'guard', level: 'info', message: 'hello', data: { n: 1 } },
      { type: 'log', plugin: 'guard', level: 'error', message: 'bad', data: undefined },
    ]);
    expect(ctx.now()).toBe(clock.now());
    expect(ctx.pluginId).toBe('guard');
    expect(ctx.configEntry.domain).toBe('guard');
    expect(ctx.signal.aborted).toBe(false);
    await registry.unload('guard');
    expect(ctx.signal.aborted).toBe(true);
  });

  it('rejects a manifest with a malformed permission claim', async () => {
    const { registry } = setup();
    await expect(registry.load(manifest('bad_claims', { permissions: ['state:fly:*'] }), { setup() {} })).rejects.toMatchObject({
      code: expect.stringMatching(/HC_ERR_(MANIFEST_INVALID|PERMISSION_INVALID)/),
    });
  });
});
