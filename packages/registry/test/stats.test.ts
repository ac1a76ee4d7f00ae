import { ErrorCode, type PluginContext } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

describe('stats() of what a plugin did', () => {
  it('counts state writes and removes, services called and events fired through the context', async () => {
    const { registry, core } = setup();
    core.registerService('light', 'turn_on', () => undefined);
    let ctx!: PluginContext;
    await registry.load(
      manifest('busy', { permissions: ['state:write:light.*', 'service:call:light.*', 'event:fire:busy_*'] }),
      {
        setup(c) {
          ctx = c;
        },
      },
    );
    expect(registry.stats().plugins.busy).toMatchObject({ writes: 0, servicesCalled: 0, eventsFired: 0 });
    ctx.setState('light.a', 'on');
    ctx.setState('light.a', 'on'); // unchanged: still a write (state_reported)
    expect(ctx.removeState('light.a')).toBe(true);
    expect(ctx.removeState('light.never')).toBe(false); // nothing removed, not counted
    expect(() => ctx.setState('switch.x', 'on')).toThrow(expect.objectContaining({ code: ErrorCode.PERMISSION_DENIED }));
    await ctx.callService('light', 'turn_on');
    await expect(ctx.callService('light', 'missing')).rejects.toMatchObject({ code: ErrorCode.SERVICE_NOT_FOUND });
    await expect(ctx.callService('switch', 'turn_on')).rejects.toMatchObject({ code: ErrorCode.PERMISSION_DENIED });
    ctx.fireEvent('busy_done', { n: 1 });
    expect(registry.stats().plugins.busy).toMatchObject({ writes: 3, servicesCalled: 2, eventsFired: 1, permissionDenials: 2 });

    await registry.reload('busy'); // the figures belong to the plugin, not to one version of it
    ctx.fireEvent('busy_again');
    expect(registry.stats().plugins.busy).toMatchObject({ writes: 3, servicesCalled: 2, eventsFired: 2 });
    core.setState('light.b', 'on', {}, userContext(core)); // the host's own writes are not the plugin's
    expect(registry.stats().plugins.busy?.writes).toBe(3);
  });
});
