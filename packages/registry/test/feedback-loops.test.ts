import { ErrorCode, type BusEvent, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

type Env = ReturnType<typeof setup>;

/** A witness that records every state it sees of `entities`. */
async function loadWitness(env: Env, entities: string[]) {
  const seen: string[] = [];
  await env.registry.load(manifest('witness', { permissions: ['state:read:*'], subscriptions: { entities } }), {
    setup() {},
    onStateChanged: (e: StateChangedEvent) => void seen.push(`${e.data.entity_id}=${e.data.new_state?.state}`),
  });
  return seen;
}

const codeOf = (error: unknown) => (error as { code?: string }).code;

describe('feedback loops', () => {
  it('a plugin whose own write comes back to it is stopped at loopDepth; the next outside event starts afresh', async () => {
    const env = setup();
    const { registry, core } = env;
    const refusals: unknown[] = [];
    let ctx!: PluginContext;
    await registry.load(manifest('echo', { permissions: ['state:read:counter.x', 'state:write:counter.x'], subscriptions: { entities: ['counter.x'] } }), {
      setup(c) {
        ctx = c;
      },
      onStateChanged(e: StateChangedEvent) {
        try {
          ctx.setState('counter.x', String(Number(e.data.new_state?.state) + 1));
        } catch (error) {
          refusals.push(error);
        }
      },
    });
    const seen = await loadWitness(env, ['counter.x']);

    core.setState('counter.x', '0', {}, userContext(core));
    await registry.idle();
    expect(core.getState('counter.x')?.state).toBe('32'); // 32 hops (the default loopDepth), then refused
    expect(refusals.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
    expect((refusals[0] as Error).message).toContain('33 hops from the event that started the chain');
    expect((refusals[0] as Error).message).toContain('"plugin:echo"');
    expect(seen).toHaveLength(33); // the witness saw the outside write and every hop

    const stats = registry.stats().plugins;
    expect(stats.echo?.refused).toEqual({ feedbackLoop: 1, rateLimited: 0, resourceLimit: 0 });
    expect(stats.echo?.writes).toBe(32);
    expect(stats.witness?.refused.feedbackLoop).toBe(0);
    expect(registry.audit('echo')).toEqual([
      expect.objectContaining({ code: ErrorCode.FEEDBACK_LOOP, action: 'state:write', target: 'counter.x', hook: 'onStateChanged' }),
    ]);
    expect(env.of('action_refused')).toEqual([
      { type: 'action_refused', plugin: 'echo', action: 'state:write', target: 'counter.x', hook: 'onStateChanged', code: ErrorCode.FEEDBACK_LOOP },
    ]);

    core.setState('counter.x', '100', {}, userContext(core));
    await registry.idle();
    expect(core.getState('counter.x')?.state).toBe('132');
    expect(refusals).toHaveLength(2);
    expect(seen).toHaveLength(66);
  });

  it('an uncaught refusal is a handler failure of the plugin that closed the loop, and only its', async () => {
    const env = setup({ limits: { loopDepth: 4 } });
    const { registry, core } = env;
    let ctx!: PluginContext;
    await registry.load(manifest('careless', { permissions: ['state:read:*', 'state:write:sensor.loop'], subscriptions: { entities: ['sensor.loop'] } }), {
      setup(c) {
        ctx = c;
      },
      onStateChanged(e: StateChangedEvent) {
        ctx.setState('sensor.loop', `${e.data.new_state?.state}+`);
      },
    });
    const seen = await loadWitness(env, ['sensor.loop']);
    core.setState('sensor.loop', 'a', {}, userContext(core));
    await registry.idle();
    expect(core.getState('sensor.loop')?.state).toBe('a++++');
    const careless = registry.stats().plugins.careless;
    expect(careless?.errors).toBe(1);
    expect(careless?.lastError).toMatchObject({ code: ErrorCode.FEEDBACK_LOOP, hook: 'onStateChanged' });
    expect(registry.stats().plugins.witness?.errors).toBe(0);
    expect(seen).toEqual(['sensor.loop=a', 'sensor.loop=a+', 'sensor.loop=a++', 'sensor.loop=a+++', 'sensor.loop=a++++']);
  });

  it('a plugin reacting to its own fired event is stopped the same way', async () => {
    const { registry, core } = setup({ limits: { loopDepth: 10 } });
    let ctx!: PluginContext;
    const got: BusEvent[] = [];
    const refusals: unknown[] = [];
    await registry.load(manifest('pinger', { permissions: ['event:fire:ping', 'event:subscribe:ping'], subscriptions: { events: ['ping'] } }), {
      setup(c) {
        ctx = c;
      },
      onEvent(e: BusEvent) {
        got.push(e);
        try {
          ctx.fireEvent('ping', { n: (e.data.n as number) + 1 });
        } catch (error) {
          refusals.push(error);
        }
      },
    });
    core.fireEvent('ping', { n: 0 }, core.createContext());
    await registry.idle();
    expect(got.map((e) => e.data.n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(refusals.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
    // Each fired event names the one it answered: the chain is visible in the contexts.
    expect(got[2]?.context.parent_id).toBe(got[1]?.context.id);
    expect(registry.audit('pinger')[0]).toMatchObject({ action: 'event:fire', target: 'ping', code: ErrorCode.FEEDBACK_LOOP });
  });

  it('a service that calls itself is stopped at loopDepth', async () => {
    const { registry, core } = setup({ limits: { loopDepth: 6 } });
    let ctx!: PluginContext;
    const refusals: unknown[] = [];
    let calls = 0;
    await registry.load(manifest('looper', { permissions: ['service:call:looper.again'], services: [{ name: 'again' }] }), {
      setup(c) {
        ctx = c;
        ctx.registerService('again', () => {
          calls++;
          ctx.callService('looper', 'again').catch((error: unknown) => refusals.push(error));
        });
      },
    });
    await core.callService('looper', 'again', {}, { context: core.createContext() });
    await registry.idle();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(calls).toBe(7); // the outside call, then 6 hops
    expect(refusals.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
    expect(registry.stats().plugins.looper?.refused.feedbackLoop).toBe(1);
    expect(registry.stats().plugins.looper?.servicesCalled).toBe(6);
  });

  it('three plugins in a cycle are stopped; the one that would close it is charged; the next event is unaffected', async () => {
    const env = setup({ limits: { loopDepth: 7 } });
    const { registry, core } = env;
    const hops: [string, string, string][] = [
      ['a', 'sensor.a', 'sensor.b'],
      ['b', 'sensor.b', 'sensor.c'],
      ['c', 'sensor.c', 'sensor.a'],
    ];
    const refusals: Record<string, unknown[]> = { a: [], b: [], c: [] };
    for (const [id, from, to] of hops) {
      let ctx!: PluginContext;
      await registry.load(manifest(id, { permissions: [`state:read:${from}`, `state:write:${to}`], subscriptions: { entities: [from] } }), {
        setup(c) {
          ctx = c;
        },
        onStateChanged(e: StateChangedEvent) {
          try {
            ctx.setState(to, String(Number(e.data.new_state?.state) + 1));
          } catch (error) {
            refusals[id]?.push(error);
          }
        },
      });
    }
    const seen = await loadWitness(env, ['sensor.a', 'sensor.b', 'sensor.c']);
    core.setState('sensor.a', '0', {}, userContext(core));
    await registry.idle();
    // 7 writes: b, c, a, b, c, a, b; then c would make the 8th hop.
    expect(seen).toEqual(['sensor.a=0', 'sensor.b=1', 'sensor.c=2', 'sensor.a=3', 'sensor.b=4', 'sensor.c=5', 'sensor.a=6', 'sensor.b=7']);
    expect(refusals.b?.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
    expect(refusals.a).toEqual([]);
    expect(refusals.c).toEqual([]);
    const stats = registry.stats().plugins;
    expect([stats.a?.refused.feedbackLoop, stats.b?.refused.feedbackLoop, stats.c?.refused.feedbackLoop]).toEqual([0, 1, 0]);

    core.setState('sensor.c', '100', {}, userContext(core));
    await registry.idle();
    expect(seen.slice(8)).toEqual(['sensor.c=100', 'sensor.a=101', 'sensor.b=102', 'sensor.c=103', 'sensor.a=104', 'sensor.b=105', 'sensor.c=106', 'sensor.a=107']);
    expect(refusals.a?.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);
  });

  it('bounds the actions one root event may cause (loopActions), then the next event has its own budget', async () => {
    const { registry, core } = setup({ limits: { loopActions: 5 } });
    let ctx!: PluginContext;
    const outcomes: string[] = [];
    await registry.load(manifest('fan', { permissions: ['state:read:sensor.trigger', 'state:write:light.*'], subscriptions: { entities: ['sensor.trigger'] } }), {
      setup(c) {
        ctx = c;
      },
      onStateChanged() {
        for (let i = 0; i < 7; i++) {
          try {
            ctx.setState(`light.l${i}`, 'on', {}, { forceUpdate: true });
            outcomes.push('ok');
          } catch (error) {
            outcomes.push(codeOf(error) ?? '?');
          }
        }
      },
    });
    core.setState('sensor.trigger', '1', {}, userContext(core));
    await registry.idle();
    expect(outcomes).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', ErrorCode.FEEDBACK_LOOP, ErrorCode.FEEDBACK_LOOP]);
    expect(registry.audit('fan')[0]?.target).toBe('light.l5');
    outcomes.length = 0;
    core.setState('sensor.trigger', '2', {}, userContext(core));
    await registry.idle();
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(5);
  });

  it('a loop through ctx.callLater is bounded too, while a polling timer that re-arms itself is not a chain', async () => {
    const { registry, core, clock } = setup({ limits: { loopDepth: 3, loopActions: 10 } });
    let ctx!: PluginContext;
    const refusals: unknown[] = [];
    let polls = 0;
    await registry.load(
      manifest('timed', { permissions: ['state:read:*', 'state:write:sensor.*'], subscriptions: { entities: ['sensor.echo', 'sensor.start'] } }),
      {
        setup(c) {
          ctx = c;
        },
        onStateChanged(e: StateChangedEvent) {
          if (e.data.entity_id === 'sensor.echo') {
            // Writes its own entity a moment later: a loop through a timer.
            ctx.callLater(10, () => {
              try {
                ctx.setState('sensor.echo', String(Number(e.data.new_state?.state) + 1));
              } catch (error) {
                refusals.push(error);
              }
            });
            return;
          }
          const poll = (): void => {
            polls++;
            ctx.setState('sensor.poll', String(polls));
            if (polls < 30) ctx.callLater(10, poll);
          };
          ctx.callLater(10, poll);
        },
      },
    );
    core.setState('sensor.echo', '0', {}, userContext(core));
    for (let i = 0; i < 10; i++) await clock.advance(10);
    expect(core.getState('sensor.echo')?.state).toBe('3');
    expect(refusals.map(codeOf)).toEqual([ErrorCode.FEEDBACK_LOOP]);

    core.setState('sensor.start', 'go', {}, userContext(core));
    for (let i = 0; i < 40; i++) await clock.advance(10);
    expect(polls).toBe(30);
    expect(core.getState('sensor.poll')?.state).toBe('30');
    expect(registry.stats().plugins.timed?.refused.feedbackLoop).toBe(1);
  });

  it('cuts a runaway chain for the plugin that closed its loop: its further events of that chain are dropped, not delivered', async () => {
    const env = setup({ limits: { loopActions: 20 } });
    const { registry, core } = env;
    let ctx!: PluginContext;
    let calls = 0;
    await registry.load(manifest('fanout', { permissions: ['state:read:*', 'state:write:sensor.r*'], subscriptions: { entities: ['sensor.*'] } }), {
      setup(c) {
        ctx = c;
      },
      onStateChanged(e: StateChangedEvent) {
        calls++;
        // Three writes per event it sees, its own included: the chain grows threefold each hop.
        for (const id of ['sensor.r1', 'sensor.r2', 'sensor.r3']) {
          try {
            ctx.setState(id, `${e.data.new_state?.state ?? ''}.`.slice(-50), {}, { forceUpdate: true });
          } catch {
            return;
          }
        }
      },
    });
    const seen = await loadWitness(env, ['sensor.*']);
    core.setState('sensor.start', 'x', {}, userContext(core));
    await registry.idle();
    const fanout = registry.stats().plugins.fanout!;
    expect(fanout.writes).toBe(20);
    expect(fanout.refused.feedbackLoop).toBeGreaterThan(0);
    expect(registry.audit('fanout')).toHaveLength(1); // audited once for the chain, however often refused
    // Events of the chain queued or fired after the loop closed never reached it...
    expect(fanout.dropped.feedback_loop).toBeGreaterThan(0);
    expect(calls + fanout.dropped.feedback_loop).toBe(21);
    // ...while the witness got every one of them.
    expect(seen).toHaveLength(21);
    expect(registry.stats().plugins.witness?.dropped.feedback_loop).toBe(0);
    // A new outside event is a new chain.
    core.setState('sensor.start', 'y', {}, userContext(core));
    await registry.idle();
    expect(registry.stats().plugins.fanout?.writes).toBe(40);
  });

  it('counts a refused attempt against its chain, so a plugin retrying a spent budget closes the loop', async () => {
    const { registry, core } = setup({ limits: { loopActions: 50 } });
    let ctx!: PluginContext;
    const codes = new Map<string, number>();
    const errors: unknown[] = [];
    await registry.load(
      manifest('retrier', { permissions: ['state:read:sensor.go', 'state:write:sensor.out'], subscriptions: { entities: ['sensor.go'] }, limits: { writes_per_second: 5 } }),
      {
        setup(c) {
          ctx = c;
        },
        onStateChanged() {
          for (let i = 0; i < 200; i++) {
            try {
              ctx.setState('sensor.out', String(i));
            } catch (error) {
              const code = codeOf(error) ?? '?';
              codes.set(code, (codes.get(code) ?? 0) + 1);
              errors.push(error);
            }
          }
        },
      },
    );
    core.setState('sensor.go', '1', {}, userContext(core));
    await registry.idle();
    expect(Object.fromEntries(codes)).toEqual({ [ErrorCode.RATE_LIMITED]: 45, [ErrorCode.FEEDBACK_LOOP]: 150 });
    expect(registry.stats().plugins.retrier?.refused).toEqual({ feedbackLoop: 150, rateLimited: 45, resourceLimit: 0 });
    // The first refusal of a run is detailed; the repeats share one cheap error.
    const rate = errors.filter((e) => codeOf(e) === ErrorCode.RATE_LIMITED) as Error[];
    expect(rate[0]?.message).toContain('refused state:write sensor.out:');
    expect(rate[1]).toBe(rate[2]);
    expect(rate[1]?.message).toMatch(/refused state:write: .*; refused again$/);
    expect(new Set(rate.slice(1)).size).toBe(1);
  });

  it('a synchronous ping-pong between two plugins yields to timers and I/O while it runs', async () => {
    const unbounded = { loopDepth: Infinity, loopActions: Infinity, writesPerSecond: Infinity };
    const { registry, core } = setup({ limits: unbounded });
    const rounds = 3000;
    for (const [id, from, to] of [
      ['ping', 'sensor.ping', 'sensor.pong'],
      ['pong', 'sensor.pong', 'sensor.ping'],
    ] as const) {
      let ctx!: PluginContext;
      await registry.load(manifest(id, { permissions: [`state:read:${from}`, `state:write:${to}`], subscriptions: { entities: [from] } }), {
        setup(c) {
          ctx = c;
        },
        onStateChanged(e: StateChangedEvent) {
          const n = Number(e.data.new_state?.state);
          if (n < rounds) ctx.setState(to, String(n + 1));
        },
      });
    }
    let seenByImmediate = -1;
    core.setState('sensor.ping', '0', {}, userContext(core));
    setImmediate(() => {
      seenByImmediate = Number(core.getState('sensor.ping')?.state ?? 0);
    });
    await registry.idle();
    expect(Number(core.getState('sensor.pong')?.state) + Number(core.getState('sensor.ping')?.state)).toBe(2 * rounds - 1);
    // The immediate ran while the loop was still going, not after it.
    expect(seenByImmediate).toBeGreaterThan(0);
    expect(seenByImmediate).toBeLessThan(rounds - 1);
  });
});
