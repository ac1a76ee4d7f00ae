// Small fakes for registry tests: a runtime that wraps plugin objects, and a manual clock.
import type {
  Clock,
  ConfigEntry,
  DeliveredEvent,
  HomeCorePlugin,
  PluginCode,
  PluginInstance,
  PluginManifest,
  PluginRuntime,
  RuntimeKind,
  ServiceCall,
  StateChangedEvent,
} from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry, type RegistryActivity, type RegistryOptions } from '@homecore/registry';

/** A plugin instance over a HomeCorePlugin object, recording what the registry did to it. */
export class FakeInstance implements PluginInstance {
  readonly kind: RuntimeKind;
  readonly hooks;
  readonly received: DeliveredEvent[] = [];
  setups = 0;
  teardowns = 0;
  disposed = 0;
  /** Present when the plugin object has migrateEntry, like the native runtime's instance. */
  readonly migrateEntry?: (entry: ConfigEntry) => Promise<unknown>;

  constructor(
    kind: RuntimeKind,
    readonly plugin: HomeCorePlugin,
    readonly manifest: PluginManifest,
  ) {
    this.kind = kind;
    this.hooks = {
      teardown: typeof plugin.teardown === 'function',
      stateChanged: typeof plugin.onStateChanged === 'function',
      event: typeof plugin.onEvent === 'function',
      serviceCall: typeof plugin.onServiceCall === 'function',
      configUpdate: typeof plugin.onConfigUpdate === 'function',
    };
    if (typeof plugin.migrateEntry === 'function') this.migrateEntry = async (entry) => plugin.migrateEntry?.(entry);
  }

  async setup(context: Parameters<HomeCorePlugin['setup']>[0]): Promise<void> {
    this.setups++;
    await this.plugin.setup(context);
  }

  async teardown(): Promise<void> {
    this.teardowns++;
    await this.plugin.teardown?.();
  }

  async handleEvent(event: DeliveredEvent): Promise<void> {
    this.received.push(event);
    if (event.event.event_type === 'state_changed') await this.plugin.onStateChanged?.(event.event as unknown as StateChangedEvent);
    else await this.plugin.onEvent?.(event.event);
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
    return { fake_setups: this.setups };
  }

  dispose(): void {
    this.disposed++;
  }
}

/** A runtime whose code is a plugin object; each load wraps it in a fresh instance. */
export class FakeRuntime implements PluginRuntime {
  readonly instances: FakeInstance[] = [];
  readonly loadedCode: PluginCode[] = [];
  failLoad: Error | undefined;

  constructor(readonly kind: RuntimeKind = 'native') {}

  async load(code: PluginCode, manifest: PluginManifest): Promise<PluginInstance> {
    this.loadedCode.push(code);
    if (this.failLoad) throw this.failLoad;
    const plugin = typeof code === 'object' && code !== null && 'setup' in code ? (code as HomeCorePlugin) : { setup() {} };
    const instance = new FakeInstance(this.kind, plugin, manifest);
    this.instances.push(instance);
    return instance;
  }
}

/** A clock that only moves when told. */
export class ManualClock implements Clock {
  private time: number;
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Pending timer delays from now, soonest first. */
  pending(): number[] {
    return this.timers.map((t) => t.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward and fires due timers synchronously, without letting promises settle (as a host's clock may). */
  skip(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
  }

  /** Moves time forward, firing due timers in order (letting promises settle between them). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
    await flush();
  }
}

/** Lets pending promise chains run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** A promise with its resolve and reject. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A manifest with defaults for tests. */
export function manifest(domain: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { domain, name: `${domain} plugin`, version: '1.0.0', ...extra };
}

/** A core, a fake native runtime, a manual clock and a registry wired together, with its activity. */
export function setup(options: Partial<RegistryOptions> = {}) {
  const clock = new ManualClock();
  const core = new InMemoryCore({ clock });
  const runtime = new FakeRuntime('native');
  const registry = new PluginRegistry({ core, runtimes: [runtime], clock, random: () => 0.5, ...options });
  const activity: RegistryActivity[] = [];
  registry.on((a) => activity.push(a));
  const of = <T extends RegistryActivity['type']>(type: T) =>
    activity.filter((a): a is Extract<RegistryActivity, { type: T }> => a.type === type);
  return { clock, core, runtime, registry, activity, of };
}

/** A context for writes made by the test itself. */
export function userContext(core: InMemoryCore) {
  return { context: core.createContext({ userId: 'test' }) };
}
