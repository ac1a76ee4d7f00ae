import type { PluginManifest } from '@homecore/core-traits';

/** Where a native plugin runs: in the host process, in a worker thread, or in a child Node process. */
export type IsolationLevel = 'none' | 'worker' | 'process';

/** The isolation levels, weakest first. */
export const ISOLATION_LEVELS: readonly IsolationLevel[] = Object.freeze(['none', 'worker', 'process']);

/**
 * The host's isolation policy for native plugins. A plugin runs at the stronger of what its
 * manifest asks (`isolation`) and the host's `minimum`, unless it is on the `trusted` list (then its
 * manifest decides). The host can raise a plugin's isolation, never lower it.
 */
export interface IsolationPolicy {
  /** The weakest isolation a plugin not on `trusted` gets. Default `none`. */
  readonly minimum?: IsolationLevel;
  /** Domains whose manifest alone decides their isolation. */
  readonly trusted?: readonly string[];
}

/** The level a plugin runs at under `policy`: the stronger of its manifest's and the host's minimum. */
export function isolationFor(manifest: PluginManifest, policy: IsolationPolicy = {}): IsolationLevel {
  const asked = ISOLATION_LEVELS.includes(manifest.isolation as IsolationLevel) ? (manifest.isolation as IsolationLevel) : 'none';
  if (policy.trusted?.includes(manifest.domain) === true) return asked;
  const minimum = policy.minimum ?? 'none';
  return ISOLATION_LEVELS.indexOf(minimum) > ISOLATION_LEVELS.indexOf(asked) ? minimum : asked;
}
