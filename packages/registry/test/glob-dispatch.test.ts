import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesPattern } from '@homecore/core-traits';
import { flush, manifest, setup, userContext } from './fakes.js';

// Glob subscriptions are dispatched through a segment index, not by testing every pattern: this
// checks, differentially against matchesPattern, that exactly the plugins whose pattern matches
// receive each change, for every shape of pattern.
const patternSegment = fc.oneof(fc.stringMatching(/^[ab]{1,3}$/), fc.stringMatching(/^[ab_*]{1,4}$/));
const pattern = fc.oneof(
  fc.constant('*'),
  fc.tuple(patternSegment, patternSegment).map(([d, o]) => `${d}.${o}`),
);
const entityId = fc.tuple(fc.stringMatching(/^[ab]{1,2}$/), fc.constantFrom('a', 'b', 'ab', 'ba', 'a_b', 'b_a', 'ab_ba', 'aab')).map(([d, o]) => `${d}.${o}`);

describe('glob subscriptions', () => {
  it('reach exactly the plugins whose pattern matches the entity id, whatever the pattern', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pattern, { minLength: 1, maxLength: 12 }), fc.array(entityId, { minLength: 1, maxLength: 6 }), async (patterns, ids) => {
        const { core, registry } = setup();
        const got = new Map<number, string[]>();
        for (const [i, p] of patterns.entries()) {
          got.set(i, []);
          await registry.load(manifest(`glob_${i}`, { permissions: ['state:read:*'], subscriptions: { entities: [p] } }), {
            setup() {},
            onStateChanged(event) {
              got.get(i)!.push(String(event.data.entity_id));
            },
          });
        }
        for (const id of ids) core.setState(id, 'on', {}, userContext(core));
        await registry.idle();
        await flush();
        for (const [i, p] of patterns.entries()) {
          // Each id is set once to "on": later sets of the same id change nothing (state_reported).
          const expected = [...new Set(ids)].filter((id) => matchesPattern(p, id));
          expect(got.get(i), `pattern ${p}`).toEqual(expected);
        }
        await registry.unloadAll();
      }),
      { numRuns: 60 },
    );
  });

  it('reach exactly the plugins whose event pattern matches the event type, dots and all', async () => {
    const typeSegment = fc.stringMatching(/^[ab:]{1,3}$/);
    const eventPattern = fc.array(fc.oneof(typeSegment, fc.stringMatching(/^[ab*]{1,3}$/)), { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
    const eventType = fc.array(typeSegment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('.'));
    await fc.assert(
      fc.asyncProperty(fc.array(eventPattern, { minLength: 1, maxLength: 10 }), fc.array(eventType, { minLength: 1, maxLength: 6 }), async (patterns, types) => {
        const { core, registry } = setup();
        const got = new Map<number, string[]>();
        for (const [i, p] of patterns.entries()) {
          got.set(i, []);
          await registry.load(manifest(`ev_${i}`, { permissions: ['event:subscribe:*'], subscriptions: { events: [p] } }), {
            setup() {},
            onEvent(event) {
              got.get(i)!.push(event.event_type);
            },
          });
        }
        for (const type of types) core.fireEvent(type, {}, core.createContext());
        await registry.idle();
        for (const [i, p] of patterns.entries()) expect(got.get(i), `pattern ${p}`).toEqual(types.filter((t) => matchesPattern(p, t)));
        await registry.unloadAll();
      }),
      { numRuns: 60 },
    );
  });

  it('stops delivering a runtime subscription once it is removed', async () => {
    const { core, registry } = setup();
    const seen: string[] = [];
    let unsubscribe: () => void = () => undefined;
    await registry.load(manifest('later', { permissions: ['state:read:*'] }), {
      setup(context) {
        unsubscribe = context.subscribe({ entities: ['sensor.*_temp', 'light.k*n'] });
      },
      onStateChanged(event) {
        seen.push(String(event.data.entity_id));
      },
    });
    core.setState('sensor.room_temp', '1', {}, userContext(core));
    core.setState('light.kitchen', 'on', {}, userContext(core));
    core.setState('light.hall', 'on', {}, userContext(core));
    await registry.idle();
    unsubscribe();
    core.setState('sensor.room_temp', '2', {}, userContext(core));
    await registry.idle();
    expect(seen).toEqual(['sensor.room_temp', 'light.kitchen']);
  });
});
