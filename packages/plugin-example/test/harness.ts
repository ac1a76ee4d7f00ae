// A small house for the plugin tests: the reference core and registry with a manual clock,
// virtual_light loaded, and a log of the actions plugins take (state writes and service calls).
import type { Clock, JsonValue, PluginManifest, PluginRuntime } from '@homecore/core-traits';
import { createHomecore, type Homecore } from '@homecore/runtime-native';
import { virtualLight, virtualLightManifest } from '@homecore/plugin-example';

/** A clock that moves only when told; timers fire as it passes them. */
export class ManualClock implements Clock {
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    this.time += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.at <= this.time) {
        this.timers.delete(id);
        timer.fn();
      }
    }
  }
}

/** The start of every test day: 2025-01-01T08:00:00Z. */
export const START = Date.UTC(2025, 0, 1, 8, 0, 0);

/** A running house and helpers that drive it one step at a time. */
export interface House {
  readonly home: Homecore;
  readonly clock: ManualClock;
  /** What plugins did, in order: `set <entity>=<state> <attributes>` and `call <domain>.<service> <data>`. */
  readonly actions: string[];
  set(entityId: string, state: string, attributes?: Record<string, JsonValue>): Promise<void>;
  /** Lets `seconds` pass, firing `time_changed` at each whole second. */
  tick(seconds: number): Promise<void>;
  call(domain: string, service: string, data: Record<string, JsonValue>): Promise<void>;
  options(plugin: string, value: Record<string, JsonValue>): Promise<void>;
  settle(): Promise<void>;
  close(): Promise<void>;
}

/** Builds a house with virtual_light and the given plugins loaded. */
export async function buildHouse(
  plugins: { manifest: PluginManifest; code: Parameters<Homecore['registry']['load']>[1]; data?: Record<string, JsonValue> }[],
  runtimes: readonly PluginRuntime[] = [],
): Promise<House> {
  const clock = new ManualClock(START);
  const home = createHomecore({ clock, runtimes, random: () => 0.5 });
  const actions: string[] = [];
  home.core.listen((event) => {
    const data = event.data as Record<string, JsonValue>;
    const user = event.context.user_id ?? '';
    if (event.event_type === 'state_changed' && user.startsWith('plugin:')) {
      const next = data.new_state as { state: string; attributes: Record<string, JsonValue> } | null;
      actions.push(`set ${String(data.entity_id)}=${next?.state ?? '<removed>'} ${JSON.stringify(next?.attributes ?? {})}`);
    } else if (event.event_type === 'call_service' && user.startsWith('plugin:')) {
      actions.push(`call ${String(data.domain)}.${String(data.service)} ${JSON.stringify(data.service_data)}`);
    }
  });
  const settle = async (): Promise<void> => {
    // Wasm service calls run after the hook returns; let them and what they cause finish.
    for (let i = 0; i < 5; i++) {
      await home.registry.idle();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await home.registry.load(virtualLightManifest(), virtualLight());
  for (const plugin of plugins) {
    await home.registry.load(plugin.manifest, plugin.code, plugin.data === undefined ? {} : { config: { data: plugin.data } });
  }
  await settle();
  return {
    home,
    clock,
    actions,
    settle,
    async set(entityId, state, attributes = {}) {
      home.core.setState(entityId, state, attributes, { context: home.core.createContext() });
      await settle();
    },
    async tick(seconds) {
      for (let i = 0; i < seconds; i++) {
        clock.advance(1000);
        home.core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, home.core.createContext());
        await settle();
      }
    },
    async call(domain, service, data) {
      await home.core.callService(domain, service, data, { context: home.core.createContext() });
      await settle();
    },
    async options(plugin, value) {
      await home.registry.updateConfigEntry(plugin, { options: value });
      await settle();
    },
    async close() {
      await home.registry.unloadAll();
    },
  };
}
