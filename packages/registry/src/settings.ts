import { DEFAULT_LIMITS, HOMECORE_VERSION, systemClock, type Clock, type HostCore, type PluginRuntime } from '@homecore/core-traits';
import type { RegistryOptions } from './types.js';

/** Default host cap on a handler's duration. */
const DEFAULT_HANDLER_TIMEOUT_MS = 30_000;

/** The failure policy with its defaults applied. */
export interface ResolvedPolicy {
  readonly maxConsecutiveFailures: number;
  readonly backoffMs: number;
  readonly quarantineAfterBackoffs: number;
}

/** The host caps with their defaults applied. */
export interface HostLimits {
  readonly setupTimeoutMs: number;
  readonly teardownTimeoutMs: number;
  readonly queueCapacity: number;
  readonly handlerTimeoutMs: number;
}

/** The registry's options with defaults applied, shared read-only by its collaborators. */
export interface RegistrySettings {
  readonly core: HostCore;
  readonly runtimes: ReadonlyMap<string, PluginRuntime>;
  readonly clock: Clock;
  readonly random: () => number;
  readonly policy: ResolvedPolicy;
  readonly limits: HostLimits;
  readonly homecoreVersion: string;
}

/** Applies the defaults to `new PluginRegistry()` options. */
export function resolveSettings(options: RegistryOptions): RegistrySettings {
  const policy = options.failurePolicy ?? {};
  const limits = options.limits ?? {};
  return {
    core: options.core,
    runtimes: new Map(options.runtimes.map((r) => [r.kind, r])),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    policy: {
      maxConsecutiveFailures: Math.max(1, policy.maxConsecutiveFailures ?? 3),
      backoffMs: Math.max(0, policy.backoffMs ?? 1000),
      quarantineAfterBackoffs: Math.max(0, policy.quarantineAfterBackoffs ?? 3),
    },
    limits: {
      setupTimeoutMs: limits.setupTimeoutMs ?? DEFAULT_LIMITS.setupTimeoutMs,
      teardownTimeoutMs: limits.teardownTimeoutMs ?? DEFAULT_LIMITS.teardownTimeoutMs,
      queueCapacity: Math.max(1, limits.queueCapacity ?? DEFAULT_LIMITS.queueCapacity),
      handlerTimeoutMs: Math.max(1, limits.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS),
    },
    homecoreVersion: options.homecoreVersion ?? HOMECORE_VERSION,
  };
}
