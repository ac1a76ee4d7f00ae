import { ErrorCode, HomecoreError, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

const everything = ['state:read:*', 'state:write:*', 'service:call:*', 'event:fire:*', 'event:subscribe:*'];

describe('errors from the core, raised by a context call', () => {
  it('name the plugin and the hook that made the call, keeping the code, message and cause', async () => {
    const { registry, core, of } = setup({ failurePolicy: { maxConsecutiveFailures: 10 } });
    let ctx!: PluginContext;
    await registry.load(manifest('clumsy', { permissions: everything, subscriptions: { entities: ['sensor.a'] } }), {
      setup(c) {
        ctx = c;
      },
      async onStateChanged(e: StateChangedEvent) {
        if (e.data.new_state?.state === 'write') ctx.setState('Not An Id', 'on');
        else await ctx.callService('nowhere', 'nothing');
      },
    });
    core.setState('sensor.a', 'write', {}, userContext(core));
    core.setState('sensor.a', 'call', {}, userContext(core));
    await registry.idle();
    const [invalid, missing] = of('handler_failed').map((a) => a.error);
    expect(invalid).toBeInstanceOf(HomecoreError);
    expect(invalid).toMatchObject({ code: ErrorCode.ENTITY_ID_INVALID, plugin: 'clumsy', hook: 'onStateChanged' });
    expect(invalid?.message).toMatch(/^\[plugin clumsy, hook onStateChanged\] Invalid entity id "Not An Id"/);
    expect(invalid?.cause).toMatchObject({ code: ErrorCode.ENTITY_ID_INVALID, plugin: undefined });
    expect(missing).toMatchObject({ code: ErrorCode.SERVICE_NOT_FOUND, plugin: 'clumsy', hook: 'onStateChanged' });
    expect(missing?.message).toContain('nowhere.nothing is not registered');
  });

  it('outside any hook they name the plugin alone; errors that already name a plugin pass through', async () => {
    const { registry } = setup();
    let ctx!: PluginContext;
    await registry.load(manifest('caller', { permissions: everything }), {
      setup(c) {
        ctx = c;
      },
    });
    await registry.load(manifest('callee', { services: [{ name: 'fail' }] }), {
      setup(c) {
        c.registerService('fail', () => {
          throw new Error('callee broke');
        });
      },
    });
    let thrown: unknown;
    try {
      ctx.fireEvent('Bad Event Type!');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toMatchObject({ code: ErrorCode.EVENT_TYPE_INVALID, plugin: 'caller', hook: undefined });
    expect((thrown as Error).message.startsWith('[plugin caller] ')).toBe(true);
    expect(() => ctx.setState('light.kitchen', 'x'.repeat(300))).toThrow(expect.objectContaining({ code: ErrorCode.STATE_INVALID, plugin: 'caller' }));
    await expect(ctx.callService('callee', 'fail')).rejects.toMatchObject({ code: ErrorCode.HANDLER_FAILED, plugin: 'callee', hook: 'onServiceCall' });
  });
});
