import { ErrorCode, type BusEvent, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, manifest, setup, userContext } from './fakes.js';

describe('one plugin\'s output does not evict another\'s input', () => {
  it('a witness receives every outside change of its entity while another plugin floods it as hard as it may', async () => {
    const { registry, core, clock, of } = setup();
    // The witness is slow: each handler waits for the test, so its queue (64) fills up.
    let gate = deferred();
    const seen: string[] = [];
    const events: string[] = [];
    await registry.load(
      manifest('witness', {
        permissions: ['state:read:sensor.*', 'event:subscribe:*'],
        subscriptions: { entities: ['sensor.shared'], events: ['flood_*', 'outside_*'] },
        limits: { queue_capacity: 64 },
      }),
      {
        setup() {},
        async onStateChanged(e: StateChangedEvent) {
          seen.push(e.data.new_state?.state ?? '');
          await gate.promise;
        },
        onEvent: (e: BusEvent) => void events.push(e.event_type),
      },
    );
    let ctx!: PluginContext;
    const refused: string[] = [];
    await registry.load(
      manifest('flooder', {
        permissions: ['state:read:sensor.trigger', 'state:write:sensor.*', 'event:fire:flood_*'],
        subscriptions: { entities: ['sensor.trigger'] },
      }),
      {
        setup(c) {
          ctx = c;
        },
        // Everything its permissions and budgets allow, in one handler call.
        onStateChanged() {
          for (let i = 0; ; i++) {
            try {
              ctx.setState(i % 2 === 0 ? 'sensor.shared' : 'sensor.other', `flood-${i}`);
            } catch (error) {
              refused.push((error as { code: string }).code);
              break;
            }
          }
          for (;;) {
            try {
              ctx.fireEvent('flood_event', {});
            } catch (error) {
              refused.push((error as { code: string }).code);
              break;
            }
          }
        },
      },
    );

    const outside: string[] = [];
    for (let round = 0; round < 4; round++) {
      core.setState('sensor.shared', `outside-${round}-a`, {}, userContext(core));
      outside.push(`outside-${round}-a`);
      core.setState('sensor.trigger', String(round), {}, userContext(core));
      core.fireEvent('outside_event', { round }, core.createContext());
      core.setState('sensor.shared', `outside-${round}-b`, {}, userContext(core));
      outside.push(`outside-${round}-b`);
      await new Promise((resolve) => setImmediate(resolve)); // the flooder's handler runs
      clock.skip(1000); // its budgets refill
    }
    expect(refused).toEqual(Array(8).fill(ErrorCode.RATE_LIMITED));
    // Release the witness and let it drain.
    gate.resolve();
    gate = { promise: Promise.resolve(), resolve: () => undefined, reject: () => undefined };
    await registry.idle();

    expect(seen.filter((s) => s.startsWith('outside'))).toEqual(outside);
    expect(events.filter((e) => e === 'outside_event')).toHaveLength(4);
    const witness = registry.stats().plugins.witness!;
    expect(witness.dropped.overflow).toBeGreaterThan(1000);
    expect(witness.overflowBySource).toEqual({ 'plugin:flooder': witness.dropped.overflow });
    expect(registry.stats().plugins.flooder?.overflowCaused).toBe(witness.dropped.overflow);
    expect(witness.errors).toBe(0);
    expect(of('event_dropped').every((a) => a.plugin === 'witness' && a.reason === 'overflow' && a.source === 'plugin:flooder')).toBe(true);
  });

  it('drops the oldest event of the source with the most queued events, not simply the oldest', async () => {
    const { registry, core } = setup();
    const gate = deferred();
    const seen: string[] = [];
    await registry.load(
      manifest('slow', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*'] }, limits: { queue_capacity: 4 } }),
      {
        setup() {},
        async onStateChanged(e: StateChangedEvent) {
          seen.push(`${e.context.user_id ?? 'host'}:${e.data.new_state?.state}`);
          await gate.promise;
        },
      },
    );
    const writers: Record<string, PluginContext> = {};
    for (const id of ['alpha', 'beta']) {
      await registry.load(manifest(id, { permissions: ['state:write:sensor.*'] }), {
        setup(c) {
          writers[id] = c;
        },
      });
    }
    const host = (v: string) => core.setState('sensor.h', v, {}, userContext(core));
    host('h0'); // delivered at once: the slow handler now holds it
    await new Promise((resolve) => setImmediate(resolve));
    writers.alpha!.setState('sensor.a', 'a1');
    host('h1');
    writers.beta!.setState('sensor.b', 'b1');
    writers.alpha!.setState('sensor.a', 'a2'); // queue full: [a1, h1, b1, a2]
    writers.beta!.setState('sensor.b', 'b2'); // alpha 2, beta 2 with this one: a tie goes against the arriving source, b1 goes
    host('h2'); // outside events are kept: alpha has the most (2 to 1), a1 goes
    gate.resolve();
    await registry.idle();
    expect(seen).toEqual(['test:h0', 'test:h1', 'plugin:alpha:a2', 'plugin:beta:b2', 'test:h2']);
    expect(registry.stats().plugins.slow?.overflowBySource).toEqual({ 'plugin:beta': 1, 'plugin:alpha': 1 });
  });

  it('keeps outside events: a plugin event arriving at a queue full of them is the one dropped', async () => {
    const { registry, core } = setup();
    const gate = deferred();
    const seen: string[] = [];
    await registry.load(
      manifest('slow', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*'] }, limits: { queue_capacity: 2 } }),
      {
        setup() {},
        async onStateChanged(e: StateChangedEvent) {
          seen.push(e.data.new_state?.state ?? '');
          await gate.promise;
        },
      },
    );
    let ctx!: PluginContext;
    await registry.load(manifest('noisy', { permissions: ['state:write:sensor.*'] }), {
      setup(c) {
        ctx = c;
      },
    });
    core.setState('sensor.h', 'h0', {}, userContext(core));
    await new Promise((resolve) => setImmediate(resolve)); // the slow handler now holds h0
    for (const v of ['h1', 'h2']) core.setState('sensor.h', v, {}, userContext(core)); // the queue is full
    ctx.setState('sensor.n', 'n1'); // dropped on arrival: outside events are kept
    core.setState('sensor.h', 'h3', {}, userContext(core)); // nothing from a plugin is queued: the oldest outside event goes
    gate.resolve();
    await registry.idle();
    expect(seen).toEqual(['h0', 'h2', 'h3']);
    expect(registry.stats().plugins.slow?.overflowBySource).toEqual({ 'plugin:noisy': 1, external: 1 });
    expect(registry.stats().plugins.noisy?.overflowCaused).toBe(1);
  });
});
