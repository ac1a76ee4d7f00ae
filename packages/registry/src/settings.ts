import {
  DEFAULT_LIMITS,
  ErrorCode,
  HOMECORE_VERSION,
  HomecoreError,
  systemClock,
  type Clock,
  type HostCore,
  type PluginRuntime,
} from '@homecore/core-traits';
import type { RegistryLimits, RegistryOptions } from './types.js';

/** The defaults of the host caps in `RegistryOptions.limits`; a manifest's `limits` may lower each, never raise it. */
export const REGISTRY_LIMIT_DEFAULTS = Object.freeze({
  setupTimeoutMs: DEFAULT_LIMITS.setupTimeoutMs,
  teardownTimeoutMs: DEFAULT_LIMITS.teardownTimeoutMs,
  queueCapacity: DEFAULT_LIMITS.queueCapacity,
  handlerTimeoutMs: 30_000,
  loopDepth: 32,
  loopActions: 1_000,
  writesPerSecond: 500,
  eventsPerSecond: 200,
  serviceCallsPerSecond: 100,
  // Home Assistant's recorder keeps at most 16 KiB of attributes per state.
  stateBytes: 16 * 1024,
  entities: 1_000,
  subscriptions: 256,
  subscriptionBytes: 16 * 1024,
  timers: 256,
  pendingServiceCalls: 64,
});

/** The failure policy with its defaults applied. */
export interface ResolvedPolicy {
  readonly maxConsecutiveFailures: number;
  readonly backoffMs: number;
  readonly quarantineAfterBackoffs: number;
}

/** The host caps with their defaults applied. */
export type HostLimits = { readonly [K in keyof typeof REGISTRY_LIMIT_DEFAULTS]: number };

/** Where the registry's collaborators report a failure of their own bookkeeping (it repairs itself). */
export interface InternalFailures {
  failed: (error: unknown) => void;
}

/** The registry's options with defaults applied, shared read-only by its collaborators. */
export interface RegistrySettings {
  readonly core: HostCore;
  readonly runtimes: ReadonlyMap<string, PluginRuntime>;
  /** The host's clock behind a guard: callbacks never throw into the host, `now()` never throws. */
  readonly clock: Clock;
  readonly random: () => number;
  readonly policy: ResolvedPolicy;
  readonly limits: HostLimits;
  readonly homecoreVersion: string;
  readonly internal: InternalFailures;
}

// Caps that were always clamped to at least 1 (kept for compatibility); the newer ones are checked.
const CLAMPED = new Set<keyof HostLimits>(['setupTimeoutMs', 'teardownTimeoutMs', 'queueCapacity', 'handlerTimeoutMs']);

/** Applies the defaults to `new PluginRegistry()` options. */
export function resolveSettings(options: RegistryOptions): RegistrySettings {
  const policy = options.failurePolicy ?? {};
  const given: RegistryLimits = options.limits ?? {};
  const limits = {} as Record<keyof HostLimits, number>;
  for (const key of Object.keys(REGISTRY_LIMIT_DEFAULTS) as (keyof HostLimits)[]) {
    const value = given[key];
    if (value === undefined) limits[key] = REGISTRY_LIMIT_DEFAULTS[key];
    else if (CLAMPED.has(key)) limits[key] = key === 'setupTimeoutMs' || key === 'teardownTimeoutMs' ? value : Math.max(1, value);
    else if (typeof value === 'number' && value > 0) limits[key] = value; // NaN fails the comparison
    else {
      throw new HomecoreError(
        ErrorCode.CONFIG_INVALID,
        `limits.${key} must be a positive number (or Infinity for no limit), got ${String(value)}; leave it out for the default ${REGISTRY_LIMIT_DEFAULTS[key]}`,
      );
    }
  }
  const internal: InternalFailures = { failed: () => undefined };
  return {
    core: options.core,
    runtimes: new Map(options.runtimes.map((r) => [r.kind, r])),
    clock: guardClock(options.clock ?? systemClock, internal),
    random: options.random ?? Math.random,
    policy: {
      maxConsecutiveFailures: Math.max(1, policy.maxConsecutiveFailures ?? 3),
      backoffMs: Math.max(0, policy.backoffMs ?? 1000),
      quarantineAfterBackoffs: Math.max(0, policy.quarantineAfterBackoffs ?? 3),
    },
    limits: Object.freeze(limits),
    homecoreVersion: options.homecoreVersion ?? HOMECORE_VERSION,
    internal,
  };
}

/**
 * The host's clock, made safe to call from anywhere: `now()` falls back to the last time it gave
 * when it throws, `clearTimeout` swallows failures, and a timer callback that throws is reported
 * to `internal` instead of reaching the host's timer loop. `setTimeout` still throws when the
 * host cannot arm a timer: each caller knows what doing without it means.
 */
function guardClock(clock: Clock, internal: InternalFailures): Clock {
  let last = 0;
  return {
    now() {
      try {
        last = clock.now();
      } catch {
        // keep the last time seen
      }
      return last;
    },
    setTimeout(fn, ms) {
      return clock.setTimeout(() => {
        try {
          fn();
        } catch (error) {
          internal.failed(error);
        }
      }, ms);
    },
    clearTimeout(handle) {
      try {
        clock.clearTimeout(handle);
      } catch {
        // A timer that cannot be cleared still finds its work gone when it fires.
      }
    },
  };
}
