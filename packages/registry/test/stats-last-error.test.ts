import { ErrorCode, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

describe('stats(): lastError and loadedAt', () => {
  it('shows when the running version was set up and the most recent failure of each kind', async () => {
    const { registry, core, clock } = setup({ failurePolicy: { maxConsecutiveFailures: 10 } });
    const start = clock.now();
    let ctx!: PluginContext;
    await registry.load(
      manifest('flaky', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.a'] }, services: [{ name: 'poke' }] }),
      {
        setup(c: PluginContext) {
          ctx = c;
          ctx.registerService('poke', () => {
            throw new Error('poke broke');
          });
        },
        onStateChanged(e: StateChangedEvent) {
          throw new Error(`cannot handle ${e.data.new_state?.state}`);
        },
        teardown() {
          throw new Error('teardown broke');
        },
      },
    );
    expect(registry.stats().plugins.flaky).toMatchObject({ lastError: null, loadedAt: start });

    clock.skip(1000);
    core.setState('sensor.a', '1', {}, userContext(core));
    await registry.idle();
    expect(registry.stats().plugins.flaky?.lastError).toEqual({
      code: ErrorCode.HANDLER_FAILED,
      message: expect.stringContaining('cannot handle 1'),
      hook: 'onStateChanged',
      time: start + 1000,
    });

    clock.skip(1000);
    await expect(core.callService('flaky', 'poke', {}, userContext(core))).rejects.toThrow();
    expect(registry.stats().plugins.flaky?.lastError).toMatchObject({ hook: 'onServiceCall', message: expect.stringContaining('poke broke'), time: start + 2000 });

    clock.skip(1000);
    await registry.reload('flaky', { code: { setup() {} } }); // the old version's teardown fails
    expect(registry.stats().plugins.flaky).toMatchObject({
      loadedAt: start + 3000,
      lastError: { code: ErrorCode.TEARDOWN_FAILED, hook: 'teardown', time: start + 3000 },
    });
  });

  it('records a failed setup', async () => {
    const { registry, clock } = setup();
    await registry
      .load(manifest('broken'), {
        setup() {
          throw new Error('no device');
        },
      })
      .catch(() => undefined);
    expect(registry.stats().plugins.broken).toMatchObject({
      state: 'setup_error',
      loadedAt: null,
      lastError: { code: ErrorCode.SETUP_FAILED, hook: 'setup', message: expect.stringContaining('no device'), time: clock.now() },
    });
  });
});
