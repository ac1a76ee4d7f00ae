import { InMemoryCore } from '@homecore/core';
import { ErrorCode, HomecoreError, systemClock, type Clock, type HostCore, type PluginRuntime } from '@homecore/core-traits';
import { PluginRegistry, type RegistryOptions } from '@homecore/registry';
import { NativeRuntime } from './native-runtime.js';
import type { IsolationPolicy } from './policy.js';

/** Options for `createHomecore`: the registry's options, with the core and runtimes optional. */
export interface HomecoreOptions extends Partial<Omit<RegistryOptions, 'runtimes'>> {
  /** Runtimes beside the built-in native one, for example a `WasmRuntime`; a native one replaces the default. */
  runtimes?: readonly PluginRuntime[];
  /**
   * Fire Home Assistant's `time_changed` event (`{now}`) this often, in ms; 0 turns it off. Default:
   * every 1000 ms with the system clock, off with an injected clock (the caller drives time then).
   */
  timeChangedMs?: number;
  /** The isolation policy of the built-in native runtime (ignored when you pass a native runtime). */
  isolation?: IsolationPolicy;
}

/** A ready host: the core plugins act on and the registry that runs them. */
export interface Homecore {
  /** The core (the reference `InMemoryCore` unless one was given). */
  readonly core: HostCore;
  /** The plugin registry, with the native runtime and any others given. */
  readonly registry: PluginRegistry;
  /** The clock both use (the system clock unless one was given). */
  readonly clock: Clock;
  /** Stops the `time_changed` ticks and unloads every plugin (teardowns in reverse dependency order). */
  close(): Promise<void>;
}

/**
 * Wires a complete host for native plugins: the reference core (or yours), a `NativeRuntime`,
 * and a `PluginRegistry`. Pass `runtimes: [new WasmRuntime(...)]` to run wasm plugins too.
 */
export function createHomecore(options: HomecoreOptions = {}): Homecore {
  const { core: givenCore, runtimes = [], clock = systemClock, timeChangedMs, isolation, ...rest } = options;
  const core = givenCore ?? new InMemoryCore({ clock });
  const registry = new PluginRegistry({
    ...rest,
    core,
    // A native runtime passed in replaces the default one.
    runtimes: runtimes.some((r) => r.kind === 'native') ? runtimes : [new NativeRuntime({ core, ...(isolation !== undefined ? { isolation } : {}) }), ...runtimes],
    clock,
  });
  const tickMs = timeChangedMs ?? (clock === systemClock ? 1000 : 0);
  if (!(Number.isFinite(tickMs) && tickMs >= 0)) {
    throw new HomecoreError(ErrorCode.CONFIG_INVALID, `timeChangedMs must be a number of milliseconds, or 0 for no ticks; got ${String(timeChangedMs)}`);
  }
  // Wasm plugins have no timers: time-based behaviour (an off delay) runs on these ticks, as in HA.
  // The interval does not keep the process alive on its own.
  const ticker =
    tickMs > 0
      ? setInterval(() => core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, core.createContext()), tickMs).unref()
      : undefined;
  return {
    core,
    registry,
    clock,
    async close() {
      clearInterval(ticker);
      await registry.unloadAll();
    },
  };
}
