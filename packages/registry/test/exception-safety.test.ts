// A throw at any host callback the registry invokes, one at a time, must leave it consistent:
// idle() and unloadAll() finish and a witness plugin receives every event the registry heard.
import { setImmediate as realSetImmediate } from 'node:timers';
import { InMemoryCore } from '@homecore/core';
import type {
  BusEvent,
  ConfigEntry,
  DeliveredEvent,
  EntityState,
  EventContext,
  HomeCorePlugin,
  HostCore,
  JsonValue,
  PluginCode,
  PluginContext,
  PluginHooks,
  PluginInstance,
  PluginManifest,
  PluginRuntime,
  ServiceCall,
  ServiceHandler,
  StateChangedEvent,
} from '@homecore/core-traits';
import { PluginRegistry } from '@homecore/registry';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock, manifest } from './fakes.js';

/** Throws at the `at`-th call of one injection point, once; counts every call while enabled. */
class Faults {
  point: string | undefined;
  at = 0;
  kind: 'range' | 'error' = 'range';
  enabled = false;
  fired = false;
  readonly calls = new Map<string, number>();

  hit(point: string): void {
    if (!this.enabled) return;
    const n = (this.calls.get(point) ?? 0) + 1;
    this.calls.set(point, n);
    if (point !== this.point || n !== this.at) return;
    this.fired = true;
    throw this.kind === 'range' ? new RangeError('Maximum call stack size exceeded') : new Error(`injected at ${point} #${n}`);
  }
}

/** The host core the registry sees; it records every event its listener was handed. */
class FaultyCore implements HostCore {
  readonly heard: BusEvent[] = [];
  constructor(
    readonly inner: InMemoryCore,
    private readonly faults: Faults,
  ) {}
  getState(entityId: string): EntityState | undefined {
    this.faults.hit('core.getState');
    return this.inner.getState(entityId);
  }
  getStates(): EntityState[] {
    this.faults.hit('core.getStates');
    return this.inner.getStates();
  }
  setState(entityId: string, state: string, attributes: Record<string, JsonValue> | undefined, options: { context: EventContext }): EntityState {
    this.faults.hit('core.setState');
    return this.inner.setState(entityId, state, attributes, options);
  }
  removeState(entityId: string, context: EventContext): boolean {
    this.faults.hit('core.removeState');
    return this.inner.removeState(entityId, context);
  }
  fireEvent(eventType: string, data: Record<string, JsonValue>, context: EventContext): BusEvent {
    this.faults.hit('core.fireEvent');
    return this.inner.fireEvent(eventType, data, context);
  }
  registerService(domain: string, service: string, handler: ServiceHandler): () => void {
    this.faults.hit('core.registerService');
    const remove = this.inner.registerService(domain, service, handler);
    return () => {
      this.faults.hit('core.removeService');
      remove();
    };
  }
  async callService(domain: string, service: string, data: Record<string, JsonValue>, options: { context: EventContext }): Promise<unknown> {
    this.faults.hit('core.callService');
    return this.inner.callService(domain, service, data, options);
  }
  listen(listener: (event: BusEvent) => void): () => void {
    this.faults.hit('core.listen');
    const off = this.inner.listen((event) => {
      this.faults.hit('listener'); // before the registry sees it: a fault here loses the event for the registry
      this.heard.push(event);
      listener(event);
    });
    return () => {
      this.faults.hit('core.unlisten');
      off();
    };
  }
  createContext(init?: { parentId?: string | null; userId?: string | null }): EventContext {
    this.faults.hit('core.createContext');
    return this.inner.createContext(init);
  }
}

class FaultyClock extends ManualClock {
  constructor(private readonly faults: Faults) {
    super();
  }
  override now(): number {
    this.faults.hit('clock.now');
    return super.now();
  }
  override setTimeout(fn: () => void, ms: number): unknown {
    this.faults.hit('clock.setTimeout');
    return super.setTimeout(fn, ms);
  }
  override clearTimeout(handle: unknown): void {
    this.faults.hit('clock.clearTimeout');
    super.clearTimeout(handle);
  }
}

/** A plugin instance whose event hooks run synchronously, like the native runtime's. */
class SyncInstance implements PluginInstance {
  readonly kind = 'native' as const;
  readonly hooks: PluginHooks;
  constructor(private readonly plugin: HomeCorePlugin) {
    this.hooks = {
      teardown: plugin.teardown !== undefined,
      stateChanged: plugin.onStateChanged !== undefined,
      event: plugin.onEvent !== undefined,
      serviceCall: plugin.onServiceCall !== undefined,
      configUpdate: plugin.onConfigUpdate !== undefined,
    };
  }
  async setup(context: PluginContext): Promise<void> {
    await this.plugin.setup(context);
  }
  async teardown(): Promise<void> {
    await this.plugin.teardown?.();
  }
  handleEvent(delivered: DeliveredEvent): void | Promise<void> {
    const event = delivered.event;
    return event.event_type === 'state_changed' ? this.plugin.onStateChanged?.(event as unknown as StateChangedEvent) : this.plugin.onEvent?.(event);
  }
  async handleServiceCall(call: ServiceCall): Promise<unknown> {
    return this.plugin.onServiceCall?.(call);
  }
  async handleConfigUpdate(entry: ConfigEntry): Promise<boolean> {
    if (this.plugin.onConfigUpdate === undefined) return false;
    await this.plugin.onConfigUpdate(entry);
    return true;
  }
  stats() {
    return { calls: 1 };
  }
  dispose(): void {}
}

/** The same instance with a fault point in front of every call the registry makes. */
class FaultyInstance implements PluginInstance {
  readonly kind = 'native' as const;
  constructor(
    private readonly inner: SyncInstance,
    private readonly faults: Faults,
  ) {}
  get hooks(): PluginHooks {
    return this.inner.hooks;
  }
  get maxEventBytes(): number | undefined {
    this.faults.hit('instance.maxEventBytes');
    return 1024 * 1024;
  }
  setup(context: PluginContext): Promise<void> {
    this.faults.hit('instance.setup');
    return this.inner.setup(context);
  }
  teardown(): Promise<void> {
    this.faults.hit('instance.teardown');
    return this.inner.teardown();
  }
  handleEvent(delivered: DeliveredEvent): void | Promise<void> {
    this.faults.hit('instance.handleEvent');
    return this.inner.handleEvent(delivered);
  }
  handleServiceCall(call: ServiceCall): Promise<unknown> {
    this.faults.hit('instance.handleServiceCall');
    return this.inner.handleServiceCall(call);
  }
  handleConfigUpdate(entry: ConfigEntry): Promise<boolean> {
    this.faults.hit('instance.handleConfigUpdate');
    return this.inner.handleConfigUpdate(entry);
  }
  stats() {
    this.faults.hit('instance.stats');
    return this.inner.stats();
  }
  dispose(): void {
    this.faults.hit('instance.dispose');
    this.inner.dispose();
  }
}

class FaultyRuntime implements PluginRuntime {
  readonly kind = 'native' as const;
  constructor(private readonly faults: Faults) {}
  async load(code: PluginCode, m: PluginManifest): Promise<PluginInstance> {
    const instance = new SyncInstance(code as HomeCorePlugin);
    if (m.domain === 'witness') return instance; // the witness's own code never fails
    this.faults.hit('runtime.load');
    return new FaultyInstance(instance, this.faults);
  }
}

/**
 * Runs `work`, ignoring what it throws or rejects with (the injected fault may surface anywhere),
 * for at most a few thousand event-loop turns: an operation that hangs shows up in the outcome,
 * not as a test timeout.
 */
async function quietly(work: () => unknown): Promise<void> {
  try {
    await within(Promise.resolve(work()));
  } catch {
    // expected under injection
  }
}

/** Lets the event loop turn `n` times (never on a clock: nothing here is timed). */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => realSetImmediate(resolve));
}

/** True if `work` settles within `n` event-loop turns: a hang fails the check instead of timing out. */
async function within(work: Promise<unknown>, n = 3000): Promise<boolean> {
  let done = false;
  void work.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < n && !done; i++) await new Promise((resolve) => realSetImmediate(resolve));
  return done;
}

const WITNESS_EVENTS = new Set(['worker_ping', 'outside_event', 'call_service']);

/** What the witness subscribes to (and may read): every sensor change and three event types. */
function witnessWants(event: BusEvent): boolean {
  if (event.event_type === 'state_changed') return String((event.data as { entity_id: string }).entity_id).startsWith('sensor.');
  return WITNESS_EVENTS.has(event.event_type);
}

interface Outcome {
  idle: boolean;
  unloaded: boolean;
  /** Events the registry heard and the witness wants, but did not get. */
  missing: string[];
  /** The witness got them all, each once, in the order they were fired. */
  inOrder: boolean;
  received: number;
  leftover: string[];
}

/** The scenario: load two plugins, drive events, service calls, timers, a config update, a reload and unloads. */
async function scenario(faults: Faults): Promise<Outcome> {
  const inner = new InMemoryCore({ onListenerError: () => undefined });
  const core = new FaultyCore(inner, faults);
  const clock = new FaultyClock(faults);
  const registry = new PluginRegistry({ core, runtimes: [new FaultyRuntime(faults)], clock, random: () => 0.5, limits: { handlerTimeoutMs: 1000 } });
  registry.on(() => faults.hit('activity'));

  const received: string[] = [];
  await registry.load(
    manifest('witness', {
      permissions: ['state:read:*', 'event:subscribe:*'],
      subscriptions: { entities: ['sensor.*'], events: [...WITNESS_EVENTS] },
    }),
    {
      setup() {},
      onStateChanged: (e: StateChangedEvent) => void received.push(e.context.id),
      onEvent: (e: BusEvent) => void received.push(e.context.id),
    } satisfies HomeCorePlugin,
  );
  const outside = inner.createContext({ userId: 'host' });

  faults.enabled = true;
  let worker!: PluginContext;
  await quietly(() =>
    registry.load(
      manifest('worker', {
        permissions: ['state:read:sensor.in', 'state:write:sensor.*', 'event:fire:worker_ping', 'service:call:server.*'],
        subscriptions: { entities: ['sensor.in'] },
      }),
      {
        setup(c) {
          worker = c;
        },
        onStateChanged(e: StateChangedEvent) {
          const v = e.data.new_state?.state ?? 'gone';
          worker.setState('sensor.out', v);
          worker.fireEvent('worker_ping', { v });
          worker.callService('server', 'echo', { v }).catch(() => undefined);
          worker.callLater(50, () => void worker.setState('sensor.later', v));
          worker.logger.info('handled', { v });
          // Every other event is handled asynchronously: the pump waits, under the handler timeout.
          if (Number(v) % 2 === 1) return Promise.resolve();
          return undefined;
        },
        onConfigUpdate(entry: ConfigEntry) {
          worker.setState('sensor.config', String(entry.options.x ?? 'none'));
        },
      } satisfies HomeCorePlugin,
    ),
  );
  let server!: PluginContext;
  const serverCode = (): HomeCorePlugin => ({
    setup(c) {
      server = c;
      server.registerService('echo', (call) => void server.setState('sensor.echoed', String(call.data.v)));
    },
    onServiceCall: () => void server.setState('sensor.routed', 'yes'),
  });
  await quietly(() =>
    registry.load(manifest('server', { permissions: ['state:write:sensor.*'], services: [{ name: 'echo' }, { name: 'routed' }] }), serverCode()),
  );

  for (let v = 1; v <= 4; v++) {
    inner.setState('sensor.in', String(v), {}, { context: outside });
    await turns();
  }
  inner.fireEvent('outside_event', {}, outside);
  await quietly(() => inner.callService('server', 'echo', { v: 9 }, { context: outside }));
  await quietly(() => inner.callService('server', 'routed', {}, { context: outside }));
  clock.skip(100); // the workers' timers come due: a registry callback must never throw into the host's clock
  await turns();
  await quietly(() => registry.updateConfigEntry('worker', { options: { x: 1 } }));
  await quietly(() => registry.reload('server', { code: serverCode() }));
  await quietly(() => registry.stats());
  inner.setState('sensor.in', '5', {}, { context: outside });
  await turns();
  await quietly(() => registry.unload('worker'));
  const idle = await within(registry.idle());

  // The fault is spent; the registry must have recovered for what follows too.
  faults.enabled = false;
  inner.setState('sensor.final', 'a', {}, { context: outside });
  inner.fireEvent('outside_event', { last: true }, outside);
  const settled = idle && (await within(registry.idle()));
  const expected = core.heard.filter(witnessWants).map((e) => e.context.id);
  const leftover = Object.values(registry.stats().plugins)
    .filter((s) => s.queueDepth !== 0)
    .map((s) => `${s.id} has ${s.queueDepth} queued`);
  // Faults again for the last unloads (teardown, dispose, the core's unsubscribe).
  faults.enabled = true;
  const unloaded = await within(registry.unloadAll());
  if (registry.list().length > 0) leftover.push(`still listed: ${registry.list().map((p) => p.id).join(', ')}`);
  return {
    idle: settled,
    unloaded,
    missing: expected.filter((id) => !received.includes(id)),
    inOrder: JSON.stringify(received) === JSON.stringify(expected),
    received: received.length,
    leftover,
  };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Spies on the platform's scheduling functions so they can fail like any host callback. */
function spyOnScheduling(faults: Faults): void {
  const queue = globalThis.queueMicrotask;
  const immediate = globalThis.setImmediate;
  vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((callback) => {
    faults.hit('queueMicrotask');
    queue(callback);
  });
  vi.spyOn(globalThis, 'setImmediate').mockImplementation(((callback: () => void) => {
    faults.hit('setImmediate');
    return immediate(callback);
  }) as typeof setImmediate);
}

describe('exception safety: a throw at any host callback, one at a time', () => {
  it('runs the scenario cleanly without faults', async () => {
    const faults = new Faults();
    const outcome = await scenario(faults);
    expect(outcome).toMatchObject({ idle: true, unloaded: true, missing: [], inOrder: true, leftover: [] });
    expect(outcome.received).toBeGreaterThan(20);
  });

  it('never stalls delivery, unbalances idle() or loses an event the registry heard', async () => {
    const census = new Faults();
    spyOnScheduling(census);
    await scenario(census);
    vi.restoreAllMocks();
    const points = [...census.calls.entries()];
    // Every host callback of the scenario is exercised.
    expect(points.map(([p]) => p).sort()).toEqual(
      expect.arrayContaining([
        'activity',
        'clock.clearTimeout',
        'clock.now',
        'clock.setTimeout',
        'core.callService',
        'core.createContext',
        'core.fireEvent',
        'core.getState',
        'core.registerService',
        'core.setState',
        'core.unlisten',
        'core.removeService',
        'instance.dispose',
        'instance.handleConfigUpdate',
        'instance.handleEvent',
        'instance.handleServiceCall',
        'instance.maxEventBytes',
        'instance.setup',
        'instance.stats',
        'instance.teardown',
        'listener',
        'queueMicrotask',
        'runtime.load',
        'setImmediate',
      ]),
    );
    const failures: string[] = [];
    let runs = 0;
    for (const [point, count] of points) {
      for (let at = 1; at <= count; at++) {
        for (const kind of ['range', 'error'] as const) {
          const faults = new Faults();
          faults.point = point;
          faults.at = at;
          faults.kind = kind;
          spyOnScheduling(faults);
          const outcome = await scenario(faults);
          vi.restoreAllMocks();
          runs++;
          const where = `${kind} at ${point} #${at}`;
          if (!outcome.idle) failures.push(`${where}: idle() never resolved`);
          if (!outcome.unloaded) failures.push(`${where}: unloadAll() never finished`);
          if (outcome.missing.length > 0) failures.push(`${where}: the witness missed ${outcome.missing.length} event(s)`);
          else if (!outcome.inOrder) failures.push(`${where}: the witness got events twice or out of order`);
          for (const left of outcome.leftover) failures.push(`${where}: ${left}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(runs).toBeGreaterThan(200);
  });

  it('recovers when the microtask that starts pumps cannot be queued (a guest at the end of its stack calling a host import)', async () => {
    const faults = new Faults();
    faults.point = 'queueMicrotask';
    faults.at = 1;
    spyOnScheduling(faults);
    const outcome = await scenario(faults);
    expect(faults.fired).toBe(true);
    expect(outcome).toMatchObject({ idle: true, unloaded: true, missing: [], inOrder: true, leftover: [] });
  });

  it('a core that refuses the listener fails that load only; the next load listens', async () => {
    const faults = new Faults();
    faults.enabled = true;
    faults.point = 'core.listen';
    faults.at = 1;
    const inner = new InMemoryCore({ onListenerError: () => undefined });
    const core = new FaultyCore(inner, faults);
    const registry = new PluginRegistry({ core, runtimes: [new FaultyRuntime(faults)], clock: new ManualClock() });
    const seen: string[] = [];
    const plugin = (): HomeCorePlugin => ({ setup() {}, onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.new_state?.state ?? '') });
    const m = manifest('witness', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.x'] } });
    await expect(registry.load(m, plugin())).rejects.toThrow(RangeError);
    expect(registry.list()).toEqual([]);
    await registry.load(m, plugin());
    inner.setState('sensor.x', 'on', {}, { context: inner.createContext() });
    await registry.idle();
    expect(seen).toEqual(['on']);
  });
});
