import { ErrorCode, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

const codeOf = (error: unknown) => (error as { code?: string }).code;

describe('the loop guard memory', () => {
  it('still bounds a feedback loop after tens of thousands of other chains have been remembered and forgotten', async () => {
    // A manual clock never refills the write budget: lift it, so only the loop bounds refuse.
    const { registry, core } = setup({ limits: { writesPerSecond: Infinity } });
    let mirror!: PluginContext;
    await registry.load(manifest('mirror', { permissions: ['state:read:sensor.in', 'state:write:sensor.out'], subscriptions: { entities: ['sensor.in'] } }), {
      setup(c) {
        mirror = c;
      },
      onStateChanged(e: StateChangedEvent) {
        mirror.setState('sensor.out', e.data.new_state?.state ?? 'gone');
      },
    });
    const refusals: unknown[] = [];
    let echo!: PluginContext;
    await registry.load(manifest('echo', { permissions: ['state:read:counter.x', 'state:write:counter.x'], subscriptions: { entities: ['counter.x'] } }), {
      setup(c) {
        echo = c;
      },
      onStateChanged(e: StateChangedEvent) {
        try {
          echo.setState('counter.x', String(Number(e.data.new_state?.state) + 1));
        } catch (error) {
          refusals.push(error);
        }
      },
    });

    // Each outside write starts a chain the mirror answers: two remembered contexts per write.
    for (let i = 0; i < 20_000; i++) {
      core.setState('sensor.in', String(i), {}, userContext(core));
      if (i % 1000 === 999) await registry.idle();
    }
    await registry.idle();
    expect(core.getState('sensor.out')?.state).toBe('19999');
    expect(registry.stats().plugins.mirror?.refused.feedbackLoop).toBe(0);

    core.setState('counter.x', '0', {}, userContext(core));
    await registry.idle();
    expect(core.getState('counter.x')?.state).toBe('32'); // cut at the default loopDepth, as with an empty memory
    expect(refusals.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
  });
});
