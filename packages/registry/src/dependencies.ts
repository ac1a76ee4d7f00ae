import { ErrorCode, HomecoreError, toHomecoreError, type PluginCode, type PluginId } from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import { subscriptionWarnings } from './coverage.js';
import { findCycles, type DependencyNode } from './graph.js';
import type { PluginRecord } from './record.js';
import type { LoadItem, LoadOptions, LoadReport } from './types.js';

/** What loading in order needs: the lifecycle's validation and its load of a validated manifest. */
export interface Loader {
  validate(input: unknown): ResolvedManifest;
  load(manifest: ResolvedManifest, code: PluginCode, options: LoadOptions, checkCycles: boolean): Promise<PluginId>;
}

/**
 * Loads many plugins in dependency order; plugins that do not depend on each other are set up
 * concurrently. A plugin's failure is collected in the report and fails only its dependents.
 */
export async function loadInDependencyOrder(
  items: readonly LoadItem[],
  records: ReadonlyMap<PluginId, PluginRecord>,
  loader: Loader,
): Promise<LoadReport> {
  const report: LoadReport = { loaded: [], retrying: [], errors: [], warnings: [] };
  const batch = new Map<string, { manifest: ResolvedManifest; item: LoadItem; error?: HomecoreError }>();
  for (const item of items) {
    let manifest: ResolvedManifest;
    try {
      manifest = loader.validate(item.manifest);
    } catch (error) {
      report.errors.push(toHomecoreError(error, ErrorCode.MANIFEST_INVALID));
      continue;
    }
    const id = manifest.domain;
    if (batch.has(id) || records.has(id)) {
      report.errors.push(duplicateError(id));
      continue;
    }
    batch.set(id, { manifest, item });
    for (const warning of subscriptionWarnings(manifest)) report.warnings.push(`${id}: ${warning}`);
  }

  const nodes = dependencyNodes(records);
  for (const [id, { manifest }] of batch) nodes.set(id, nodeOf(manifest));
  for (const [id, entry] of batch) {
    const missing = (entry.manifest.dependencies ?? []).filter((d) => !nodes.has(d));
    if (missing.length > 0) entry.error = missingError(id, missing);
  }
  for (const cycle of findCycles(nodes)) {
    for (const id of new Set(cycle)) {
      const entry = batch.get(id);
      if (entry !== undefined && entry.error === undefined) entry.error = cycleError(id, cycle);
    }
  }

  // One promise per plugin, created before any runs, so a plugin can wait for its dependencies.
  const outcome = new Map<string, { promise: Promise<boolean>; settle: (ok: boolean) => void }>();
  for (const id of batch.keys()) {
    let settle!: (ok: boolean) => void;
    const promise = new Promise<boolean>((resolve) => (settle = resolve));
    outcome.set(id, { promise, settle });
  }
  const run = async (id: string): Promise<void> => {
    const { manifest, item, error } = batch.get(id)!;
    const own = outcome.get(id)!;
    try {
      if (error !== undefined) throw error;
      const waitFor = [...(manifest.dependencies ?? []), ...(manifest.after_dependencies ?? [])].filter((d) => outcome.has(d));
      const results = await Promise.all(waitFor.map((d) => outcome.get(d)!.promise));
      const failed = waitFor.filter((d, i) => !results[i] && (manifest.dependencies ?? []).includes(d));
      if (failed.length > 0) throw dependencyFailedError(id, failed.map((d) => `${d} (${records.get(d)?.entry.state ?? 'not loaded'})`));
      await loader.load(manifest, item.code, item, false);
      const state = records.get(id)?.entry.state;
      if (state === 'loaded') report.loaded.push(id);
      else if ((records.get(id)?.entry.disabled_by ?? null) === null) report.retrying.push(id); // a disabled entry is neither
      own.settle(state === 'loaded');
    } catch (failure) {
      report.errors.push(toHomecoreError(failure, ErrorCode.SETUP_FAILED, { plugin: id }));
      own.settle(false);
    }
  };
  await Promise.all([...batch.keys()].map(run));
  return report;
}

/** The loaded plugins (sorted) that list `id` in their dependencies. */
export function dependentsOf(records: ReadonlyMap<PluginId, PluginRecord>, id: PluginId): PluginId[] {
  const out: PluginId[] = [];
  for (const rec of records.values()) if (rec.id !== id && (rec.manifest.dependencies ?? []).includes(id)) out.push(rec.id);
  return out.sort();
}

/** The dependency graph of the loaded plugins. */
export function dependencyNodes(records: ReadonlyMap<PluginId, PluginRecord>): Map<string, DependencyNode> {
  const nodes = new Map<string, DependencyNode>();
  for (const rec of records.values()) {
    const node = nodeOf(rec.manifest);
    // A further entry is unloaded before its domain's first entry.
    nodes.set(rec.id, rec.primary === undefined ? node : { ...node, dependencies: [...node.dependencies, rec.domain] });
  }
  return nodes;
}

/** A manifest's edges in the dependency graph. */
export function nodeOf(manifest: ResolvedManifest): DependencyNode {
  return { dependencies: manifest.dependencies ?? [], after: manifest.after_dependencies ?? [] };
}

/** HC_ERR_DUPLICATE_PLUGIN: the domain is taken. */
export function duplicateError(id: string): HomecoreError {
  return new HomecoreError(
    ErrorCode.DUPLICATE_PLUGIN,
    `a plugin with domain ${id} is already loaded or loading: unload it first, or use reload() to replace it`,
    { plugin: id },
  );
}

/** HC_ERR_DEPENDENCY_MISSING: hard dependencies that are not loaded. */
export function missingError(id: string, missing: string[]): HomecoreError {
  return new HomecoreError(
    ErrorCode.DEPENDENCY_MISSING,
    `depends on ${missing.join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not loaded: load ${missing.length === 1 ? 'it' : 'them'} first ` +
      '(or together with loadAll), or remove the entry from dependencies',
    { plugin: id, details: { missing } },
  );
}

/** HC_ERR_DEPENDENCY_FAILED: hard dependencies that did not reach `loaded`. */
export function dependencyFailedError(id: string, failed: string[]): HomecoreError {
  return new HomecoreError(
    ErrorCode.DEPENDENCY_FAILED,
    `dependencies ${failed.join(', ')} did not load: fix ${failed.length === 1 ? 'that plugin' : 'those plugins'} first`,
    { plugin: id, details: { failed } },
  );
}

/** HC_ERR_DEPENDENCY_CYCLE, naming the whole cycle. */
export function cycleError(id: string, cycle: string[]): HomecoreError {
  return new HomecoreError(
    ErrorCode.DEPENDENCY_CYCLE,
    `dependency cycle ${cycle.join(' -> ')} (after_dependencies count too): remove one of these dependencies`,
    { plugin: id, details: { cycle } },
  );
}
