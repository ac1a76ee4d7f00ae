import type { PluginContext, ServiceCall, StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { flush, manifest, setup } from './fakes.js';

const lamp = () =>
  manifest('lamp', {
    permissions: ['state:write:light.*', 'state:read:sensor.*'],
    subscriptions: { entities: ['sensor.*'] },
    services: [{ name: 'on' }, { name: 'off' }],
  });

describe('causality through services', () => {
  it('writes made by a service handler carry the call context as parent (queued handlers across awaits too)', async () => {
    const { registry, core } = setup();
    let lampCtx: PluginContext | undefined;
    await registry.load(lamp(), {
      setup(ctx: PluginContext) {
        ctx.registerService('on', async () => {
          ctx.setState('light.a', 'on');
          await flush();
          ctx.setState('light.b', 'on');
        });
        lampCtx = ctx;
      },
      async onServiceCall(call: ServiceCall) {
        await flush();
        lampCtx?.setState('light.a', 'off', { by: call.service });
      },
      onStateChanged(e: StateChangedEvent) {
        lampCtx?.setState('light.c', e.data.new_state?.state ?? '');
      },
    });
    let mirror: PluginContext | undefined;
    await registry.load(manifest('mirror', { permissions: ['state:read:light.a', 'state:write:switch.*'], subscriptions: { entities: ['light.a'] } }), {
      setup(ctx: PluginContext) {
        mirror = ctx;
      },
      onStateChanged: () => void mirror?.setState('switch.m', 'on'),
    });
    const on = core.createContext({ userId: 'tester' });
    await core.callService('lamp', 'on', {}, { context: on });
    expect(core.getState('light.a')?.context).toMatchObject({ user_id: 'plugin:lamp', parent_id: on.id });
    // A directly registered handler runs outside the plugin's queue: after an await its writes are
    // no longer tied to the call (tracking that would need promise hooks for the whole process).
    expect(core.getState('light.b')?.context).toMatchObject({ user_id: 'plugin:lamp', parent_id: null });
    // The event the service's write caused is handled outside the call: its writes name that event.
    await registry.idle();
    expect(core.getState('switch.m')?.context.parent_id).toBe(core.getState('light.a')?.context.id);

    const off = core.createContext({ userId: 'tester' });
    await core.callService('lamp', 'off', {}, { context: off });
    expect(core.getState('light.a')?.context).toMatchObject({ user_id: 'plugin:lamp', parent_id: off.id });

    // An event handled after a service call still parents its writes to the event.
    const write = core.createContext({ userId: 'tester' });
    const source = core.setState('sensor.t', '5', {}, { context: write });
    await registry.idle();
    expect(core.getState('light.c')?.context.parent_id).toBe(source.context.id);
  });
});
