import { ErrorCode, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup, userContext } from './fakes.js';

const watching = (extra: Record<string, unknown> = {}) => ({
  permissions: ['state:read:*', 'state:write:light.*'],
  subscriptions: { entities: ['sensor.a'] },
  ...extra,
});

async function withTimers(options: Parameters<typeof setup>[0] = {}, hooks: Record<string, unknown> = {}) {
  const env = setup(options);
  let ctx!: PluginContext;
  await env.registry.load(manifest('timed', watching()), {
    setup(c: PluginContext) {
      ctx = c;
    },
    ...hooks,
  });
  return { ...env, ctx: () => ctx };
}

describe('ctx.callLater', () => {
  it('runs the callback once after ms on the registry clock, and cancel stops it', async () => {
    const { clock, ctx, registry } = await withTimers();
    const ran: string[] = [];
    ctx().callLater(1000, () => void ran.push('a'));
    const cancel = ctx().callLater(2000, () => void ran.push('b'));
    await clock.advance(999);
    expect(ran).toEqual([]);
    await clock.advance(1);
    await registry.idle();
    expect(ran).toEqual(['a']);
    cancel();
    cancel(); // harmless twice
    await clock.advance(5000);
    expect(ran).toEqual(['a']);
    expect(clock.pending()).toEqual([]);
  });

  it('waits its turn in the queue: never alongside an event handler of the same plugin', async () => {
    const gate = deferred();
    const order: string[] = [];
    const { clock, core, ctx, registry } = await withTimers({}, {
      async onStateChanged(e: StateChangedEvent) {
        order.push(`start ${e.data.new_state?.state}`);
        await gate.promise;
        order.push(`end ${e.data.new_state?.state}`);
      },
    });
    ctx().callLater(10, () => void order.push('timer'));
    core.setState('sensor.a', '1', {}, userContext(core));
    await flush();
    await clock.advance(10);
    expect(order).toEqual(['start 1']);
    gate.resolve();
    await registry.idle();
    expect(order).toEqual(['start 1', 'end 1', 'timer']);
  });

  it('runs with hook callLater; a throw is a handler failure that feeds the failure policy', async () => {
    const { clock, ctx, registry, of } = await withTimers({ failurePolicy: { maxConsecutiveFailures: 2, backoffMs: 1000 } });
    ctx().callLater(5, () => {
      ctx().setState('switch.nope', 'on'); // denied: the audit names the hook
    });
    ctx().callLater(5, async () => {
      throw new Error('timer broke');
    });
    await clock.advance(5);
    await registry.idle();
    expect(registry.audit('timed').map((d) => d.hook)).toEqual(['callLater']);
    expect(of('handler_failed').map((a) => [a.hook, a.error.code])).toEqual([
      ['callLater', ErrorCode.PERMISSION_DENIED],
      ['callLater', ErrorCode.HANDLER_FAILED],
    ]);
    expect(registry.get('timed')?.health).toBe('backoff');
    expect(registry.stats().plugins.timed?.errors).toBe(2);
  });

  it('drops and counts timers that come due in backoff or quarantine', async () => {
    const { clock, core, ctx, registry, of } = await withTimers(
      { failurePolicy: { maxConsecutiveFailures: 1, backoffMs: 1000, quarantineAfterBackoffs: 0 } },
      {
        onStateChanged() {
          throw new Error('bad event');
        },
      },
    );
    const ran: string[] = [];
    ctx().callLater(100, () => void ran.push('in quarantine'));
    core.setState('sensor.a', '1', {}, userContext(core));
    await registry.idle();
    expect(registry.get('timed')?.health).toBe('quarantined');
    await clock.advance(100);
    await registry.idle();
    expect(ran).toEqual([]);
    expect(registry.stats().plugins.timed?.dropped.quarantined).toBe(1);
    expect(of('event_dropped').at(-1)).toEqual({ type: 'event_dropped', plugin: 'timed', event_type: 'callLater', reason: 'quarantined' });
  });

  it('drops a timer already queued when a backoff starts', async () => {
    const gate = deferred();
    const { clock, core, ctx, registry } = await withTimers(
      { failurePolicy: { maxConsecutiveFailures: 1, backoffMs: 1000 } },
      {
        async onStateChanged() {
          await gate.promise;
          throw new Error('bad event');
        },
      },
    );
    const ran: string[] = [];
    core.setState('sensor.a', '1', {}, userContext(core));
    await flush();
    ctx().callLater(1, () => void ran.push('queued'));
    await clock.advance(1); // queued behind the failing handler
    gate.resolve();
    await registry.idle();
    expect(ran).toEqual([]);
    expect(registry.stats().plugins.timed?.dropped.backoff).toBe(1);
  });

  it('cancels every pending timer at unload and reload; the new version keeps its own', async () => {
    const { clock, ctx, registry } = await withTimers();
    const ran: string[] = [];
    const first = ctx();
    first.callLater(1000, () => void ran.push('old'));
    await registry.reload('timed');
    expect(clock.pending()).toEqual([]);
    ctx().callLater(1000, () => void ran.push('new'));
    await clock.advance(1000);
    await registry.idle();
    expect(ran).toEqual(['new']);
    ctx().callLater(1000, () => void ran.push('after unload'));
    await registry.unload('timed');
    expect(clock.pending()).toEqual([]);
    await clock.advance(1000);
    expect(ran).toEqual(['new']);
    expect(() => first.callLater(1, () => undefined)).toThrow(expect.objectContaining({ code: ErrorCode.OPERATION_NOT_ALLOWED }));
  });

  it('refuses a bad delay or callback, and timers started once teardown began', async () => {
    let teardownError: unknown;
    const { ctx, registry } = await withTimers({}, {
      teardown() {
        try {
          ctx().callLater(1, () => undefined);
        } catch (error) {
          teardownError = error;
        }
      },
    });
    for (const [ms, callback] of [[-1, () => undefined], [Number.NaN, () => undefined], ['5', () => undefined], [5, 'nope']] as const) {
      expect(() => ctx().callLater(ms as number, callback as () => void)).toThrow(
        expect.objectContaining({ code: ErrorCode.OPERATION_NOT_ALLOWED, plugin: 'timed', message: expect.stringContaining('callLater needs a delay') }),
      );
    }
    await registry.unload('timed');
    expect(teardownError).toMatchObject({ code: ErrorCode.OPERATION_NOT_ALLOWED, message: expect.stringContaining('after teardown started') });
  });

  it('is bounded by the handler timeout', async () => {
    const { clock, ctx, registry, of } = await withTimers({ limits: { handlerTimeoutMs: 500 } });
    ctx().callLater(10, () => new Promise<void>(() => undefined));
    await clock.advance(510);
    await registry.idle();
    expect(of('handler_failed').map((a) => [a.hook, a.error.code])).toEqual([['callLater', ErrorCode.HANDLER_TIMEOUT]]);
  });
});
