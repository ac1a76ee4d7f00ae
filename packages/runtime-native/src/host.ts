import { InMemoryCore } from '@homecore/core';
import { systemClock, type Clock, type HostCore, type PluginRuntime } from '@homecore/core-traits';
import { PluginRegistry, type RegistryOptions } from '@homecore/registry';
import { InProcessRuntime } from './runtime.js';

/** Options for `createHomecore`: the registry's options, with the core and runtimes optional. */
export interface HomecoreOptions extends Partial<Omit<RegistryOptions, 'runtimes'>> {
  /** Runtimes beside the built-in native one, for example a `WasmRuntime`; a native one replaces the default. */
  runtimes?: readonly PluginRuntime[];
}

/** A ready host: the core plugins act on and the registry that runs them. */
export interface Homecore {
  /** The core (the reference `InMemoryCore` unless one was given). */
  readonly core: HostCore;
  /** The plugin registry, with the native runtime and any others given. */
  readonly registry: PluginRegistry;
  /** The clock both use (the system clock unless one was given). */
  readonly clock: Clock;
}

/**
 * Wires a complete host for native plugins: the reference core (or yours), an `InProcessRuntime`,
 * and a `PluginRegistry`. Pass `runtimes: [new WasmRuntime(...)]` to run wasm plugins too.
 */
export function createHomecore(options: HomecoreOptions = {}): Homecore {
  const { core: givenCore, runtimes = [], clock = systemClock, ...rest } = options;
  const core = givenCore ?? new InMemoryCore({ clock });
  const registry = new PluginRegistry({
    ...rest,
    core,
    // A native runtime passed in replaces the default one.
    runtimes: runtimes.some((r) => r.kind === 'native') ? runtimes : [new InProcessRuntime(), ...runtimes],
    clock,
  });
  return { core, registry, clock };
}
