import type { BusEvent, StateChangedEvent } from '@homecore/core-traits';
import { createDeliveredEvent } from '@homecore/registry';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup, userContext } from './fakes.js';

const write = (core: ReturnType<typeof setup>['core'], id: string, state: string) => core.setState(id, state, {}, userContext(core));

function recorder() {
  const seen: string[] = [];
  return {
    seen,
    plugin: {
      setup() {},
      onStateChanged: (e: StateChangedEvent) => void seen.push(`${e.data.entity_id}=${e.data.new_state?.state}`),
      onEvent: (e: BusEvent) => void seen.push(e.event_type),
    },
  };
}

describe('dispatch', () => {
  it('delivers only what a plugin subscribed to: exact ids, domains and globs', async () => {
    const { registry, core } = setup();
    const exact = recorder();
    const domain = recorder();
    const glob = recorder();
    const all = ['state:read:*'];
    await registry.load(manifest('exact', { permissions: all, subscriptions: { entities: ['sensor.kitchen'] } }), exact.plugin);
    await registry.load(manifest('domain', { permissions: all, subscriptions: { entities: ['sensor.*'] } }), domain.plugin);
    await registry.load(manifest('glob', { permissions: all, subscriptions: { entities: ['*.kitchen*'] } }), glob.plugin);
    write(core, 'sensor.kitchen', '21');
    write(core, 'sensor.hall', '19');
    write(core, 'light.kitchen_main', 'on');
    write(core, 'switch.garage', 'off');
    await registry.idle();
    expect(exact.seen).toEqual(['sensor.kitchen=21']);
    expect(domain.seen).toEqual(['sensor.kitchen=21', 'sensor.hall=19']);
    expect(glob.seen).toEqual(['sensor.kitchen=21', 'light.kitchen_main=on']);
  });

  it('delivers only what the plugin may read', async () => {
    const { registry, core } = setup();
    const narrow = recorder();
    await registry.load(
      manifest('narrow', { permissions: ['state:read:sensor.kitchen', 'event:subscribe:door_*'], subscriptions: { entities: ['sensor.*'], events: ['*'] } }),
      narrow.plugin,
    );
    write(core, 'sensor.kitchen', '21');
    write(core, 'sensor.secret', '1');
    core.fireEvent('door_opened', {}, core.createContext());
    core.fireEvent('alarm_armed', {}, core.createContext());
    await registry.idle();
    expect(narrow.seen).toEqual(['sensor.kitchen=21', 'door_opened']);
  });

  it('never delivers state_reported unless subscribed to that event type explicitly', async () => {
    const { registry, core } = setup();
    const implicit = recorder();
    const explicit = recorder();
    const perms = ['state:read:*', 'event:subscribe:*'];
    await registry.load(manifest('implicit', { permissions: perms, subscriptions: { entities: ['*'], events: ['*'] } }), implicit.plugin);
    await registry.load(manifest('explicit', { permissions: perms, subscriptions: { events: ['state_reported'] } }), explicit.plugin);
    write(core, 'sensor.a', '1');
    write(core, 'sensor.a', '1'); // no change: state_reported
    await registry.idle();
    expect(implicit.seen).toEqual(['sensor.a=1']);
    expect(explicit.seen).toEqual(['state_reported']);
  });

  it('shares one DeliveredEvent per bus event and serialises it at most once', async () => {
    const { registry, core, runtime } = setup();
    const perms = ['state:read:*'];
    for (const id of ['one', 'two', 'three']) await registry.load(manifest(id, { permissions: perms, subscriptions: { entities: ['sensor.x'] } }), { setup() {} });
    write(core, 'sensor.x', '5');
    await registry.idle();
    const [a, b, c] = runtime.instances.map((i) => i.received[0]!);
    expect(a).toBe(b);
    expect(b).toBe(c);
    const text = a!.json();
    expect(b!.json()).toBe(text); // the same string instance, computed once
    expect(a!.bytes()).toBe(c!.bytes());
    expect(JSON.parse(text)).toMatchObject({ event_type: 'state_changed', data: { entity_id: 'sensor.x' } });
    expect(Object.isFrozen(a!.event)).toBe(true);
  });

  it('createDeliveredEvent computes json and bytes lazily, once', () => {
    const event = { event_type: 'x', data: { n: 1 }, origin: 'LOCAL', time_fired: 't', context: { id: '1', parent_id: null, user_id: null } } as const;
    const delivered = createDeliveredEvent(event as unknown as BusEvent);
    expect(delivered.json()).toBe(delivered.json());
    expect(new TextDecoder().decode(delivered.bytes())).toBe(JSON.stringify(event));
  });

  it('delivers in order, one at a time, and a slow plugin does not delay the others', async () => {
    const { registry, core } = setup();
    const gate = deferred();
    const slowSeen: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const fast = recorder();
    const perms = ['state:read:*'];
    await registry.load(manifest('slow', { permissions: perms, subscriptions: { entities: ['sensor.*'] } }), {
      setup() {},
      async onStateChanged(e) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        if (slowSeen.length === 0) await gate.promise;
        slowSeen.push(e.data.new_state?.state ?? '');
        inFlight--;
      },
    });
    await registry.load(manifest('fast', { permissions: perms, subscriptions: { entities: ['sensor.*'] } }), fast.plugin);
    for (let i = 1; i <= 5; i++) write(core, 'sensor.t', String(i));
    await flush();
    expect(fast.seen).toEqual(['sensor.t=1', 'sensor.t=2', 'sensor.t=3', 'sensor.t=4', 'sensor.t=5']);
    expect(slowSeen).toEqual([]);
    expect(registry.stats().plugins.slow?.queueDepth).toBe(4);
    gate.resolve();
    await registry.idle();
    expect(slowSeen).toEqual(['1', '2', '3', '4', '5']);
    expect(maxInFlight).toBe(1);
  });

  it('drops the oldest queued event on overflow and counts it', async () => {
    const { registry, core, of } = setup({ limits: { queueCapacity: 100 } });
    const gate = deferred();
    const seen: string[] = [];
    await registry.load(
      manifest('tiny', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.q'] }, limits: { queue_capacity: 2 } }),
      {
        setup() {},
        async onStateChanged(e) {
          if (seen.length === 0) await gate.promise;
          seen.push(e.data.new_state?.state ?? '');
        },
      },
    );
    write(core, 'sensor.q', '1');
    await flush(); // '1' is in flight
    for (const v of ['2', '3', '4', '5']) write(core, 'sensor.q', v);
    expect(registry.stats().plugins.tiny).toMatchObject({ queueDepth: 2, dropped: { overflow: 2, backoff: 0, quarantined: 0 } });
    gate.resolve();
    await registry.idle();
    expect(seen).toEqual(['1', '4', '5']);
    expect(of('event_dropped').map((a) => a.reason)).toEqual(['overflow', 'overflow']);
  });

  it('a throwing handler affects only its own plugin', async () => {
    const { registry, core, of } = setup();
    const good = recorder();
    const perms = ['state:read:*'];
    await registry.load(manifest('bad', { permissions: perms, subscriptions: { entities: ['sensor.*'] } }), {
      setup() {},
      onStateChanged() {
        throw new Error('oops');
      },
    });
    await registry.load(manifest('good', { permissions: perms, subscriptions: { entities: ['sensor.*'] } }), good.plugin);
    write(core, 'sensor.a', '1');
    write(core, 'sensor.a', '2');
    await registry.idle();
    expect(good.seen).toEqual(['sensor.a=1', 'sensor.a=2']);
    const failures = of('handler_failed');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ plugin: 'bad', hook: 'onStateChanged' });
    expect(failures[0]?.error.message).toContain('oops');
    const stats = registry.stats();
    expect(stats.plugins.bad).toMatchObject({ errors: 2, delivered: 2, health: 'ok' });
    expect(stats.plugins.good).toMatchObject({ errors: 0, delivered: 2 });
    expect(stats.plugins.good?.handlerMs.samples).toBe(2);
    expect(stats.plugins.good?.runtime).toEqual({ fake_setups: 1 });
  });

  it('ctx.subscribe adds subscriptions and its remover takes them away', async () => {
    const { registry, core } = setup();
    const seen: string[] = [];
    let off: (() => void) | undefined;
    await registry.load(manifest('dyn', { permissions: ['state:read:light.*', 'event:subscribe:custom'] }), {
      setup(ctx) {
        off = ctx.subscribe({ entities: ['light.*'], events: ['custom'] });
      },
      onStateChanged: (e) => void seen.push(e.data.entity_id),
      onEvent: (e) => void seen.push(e.event_type),
    });
    write(core, 'light.a', 'on');
    core.fireEvent('custom', {}, core.createContext());
    await registry.idle();
    off?.();
    write(core, 'light.a', 'off');
    core.fireEvent('custom', {}, core.createContext());
    await registry.idle();
    expect(seen).toEqual(['light.a', 'custom']);
  });

  it('events fired while a plugin sets up are delivered once it is loaded', async () => {
    const { registry, core } = setup();
    const gate = deferred();
    const seen = recorder();
    const loading = registry.load(manifest('late', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*'] } }), {
      ...seen.plugin,
      setup: () => gate.promise,
    });
    await flush();
    write(core, 'sensor.early', '1');
    await flush();
    expect(seen.seen).toEqual([]);
    gate.resolve();
    await loading;
    await registry.idle();
    expect(seen.seen).toEqual(['sensor.early=1']);
    expect(registry.stats().events).toBeGreaterThan(0);
  });
});
