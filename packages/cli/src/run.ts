import type { BusEvent } from '@homecore/core-traits';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileGrantStore, type LoadReport, type PluginRegistry, type RegistryActivity } from '@homecore/registry';
import type { IsolationPolicy } from '@homecore/runtime-native';
import { describeStep, pluginCounters, type DenialLine, type PluginSummaryLine, type RunOutput } from './output.js';
import { ScenarioClock } from './clock.js';
import { openHouse, readScenario, replay, requireDirectory } from './house.js';
import type { ScenarioStep } from './scenario.js';

/** Options of `homecore run`. */
export interface RunOptions {
  dir: string;
  /** Builds the output; `elapsed` is scenario time in seconds (real time plus skipped waits). */
  output: (elapsed: () => number) => RunOutput;
  scenario?: string;
  trustedKeys: string[];
  allowUnsigned: boolean;
  /** The host's isolation policy for native plugins (`--isolation`, `--trusted`). */
  isolation?: IsolationPolicy;
  /** The data directory (`--data-dir`): accepted grants are kept there and upgrades checked against them; none keeps nothing. */
  dataDir?: string;
}

/** `homecore run`: loads a plugin directory into the reference core and replays a scenario. Returns the exit code. */
export async function runPlugins(options: RunOptions): Promise<number> {
  const dir = options.dir;
  await requireDirectory(dir);
  const scenario: { name: string; steps: ScenarioStep[] } = options.scenario === undefined ? { name: 'scenario', steps: [] } : await readScenario(options.scenario);
  const { steps } = scenario;
  const clock = new ScenarioClock();
  const start = clock.now();
  const out = options.output(() => (clock.now() - start) / 1000);
  const grants = options.dataDir === undefined ? {} : { grants: fileGrantStore(options.dataDir) };
  const house = await openHouse({ ...options, ...grants, clock, warn: (message) => out.note(`warning: ${message}`) });
  const { core, registry } = house;

  const eventCounts: Record<string, number> = {};
  core.listen((event: BusEvent) => {
    eventCounts[event.event_type] = (eventCounts[event.event_type] ?? 0) + 1;
  });
  let errors = 0;
  const failedSetups = new Set<string>();
  const unlisten = registry.on((activity: RegistryActivity) => {
    if (activity.type === 'setup_failed') failedSetups.add(activity.plugin);
    if (activity.type === 'handler_failed' || activity.type === 'setup_failed' || activity.type === 'teardown_failed') errors++;
    out.activity(activity);
  });

  const report = await loadTarget(registry, dir);
  for (const warning of report.warnings) out.note(`warning: ${warning}`);
  // A failed setup was already reported and counted through its activity line.
  for (const error of report.errors) {
    if (error.plugin !== undefined && failedSetups.has(error.plugin)) continue;
    errors++;
    out.error(error, error.plugin === undefined ? dir : undefined);
  }
  const nothing = report.loaded.length === 0 && report.retrying.length === 0;
  if (nothing) {
    out.note(
      report.errors.length > 0
        ? `no plugin is running from ${dir}: every plugin found was refused (see above)`
        : `no plugin is running from ${dir}: it has no plugin folders (sub-folders with a manifest.json) and is not one itself`,
    );
  }
  const unisolated = registry.list().filter((p) => p.runtime === 'native' && house.native.levelOf(p.manifest) === 'none').map((p) => p.id);
  if (unisolated.length > 0) {
    out.note(`running in the host process (an endless loop in one stops them all; --isolation worker runs them apart): ${unisolated.join(', ')}`);
  }

  await replay(
    house,
    steps,
    (step) => out.step(step, scenario.name),
    (step, error) => {
      errors++;
      out.error(error, `${scenario.name}:${step.line} (${describeStep(step)})`);
    },
  );

  const stats = registry.stats();
  const plugins: PluginSummaryLine[] = registry.list().map((p) => {
    const s = stats.plugins[p.id];
    return {
      plugin: p.id,
      runtime: p.runtime,
      state: p.state,
      health: p.health,
      reason: p.reason,
      ...pluginCounters(s),
      handlerP50Ms: s?.handlerMs.p50 ?? 0,
      handlerP99Ms: s?.handlerMs.p99 ?? 0,
      // 0 pages means no live instance (discarded after a trap, re-created on the next call).
      memoryKiB:
        typeof s?.runtime.memoryPages === 'number' && s.runtime.memoryPages > 0
          ? s.runtime.memoryPages * 64
          : typeof s?.runtime.heapUsedBytes === 'number' && s.runtime.heapUsedBytes > 0
            ? Math.round(s.runtime.heapUsedBytes / 1024)
            : null,
      isolation: p.runtime === 'native' ? house.native.levelOf(p.manifest) : null,
    };
  });
  const denials = new Map<string, DenialLine>();
  for (const d of registry.audit()) {
    const key = `${d.plugin}\0${d.action}\0${d.target}\0${d.hook ?? ''}`;
    const line = denials.get(key);
    if (line) line.count++;
    else denials.set(key, { plugin: d.plugin, action: d.action, target: d.target, hook: d.hook, count: 1 });
  }
  out.summary({ events: eventCounts, steps: steps.length, errors, plugins, denials: [...denials.values()] });
  // Teardown after the summary, so the summary shows the house as the scenario left it;
  // only teardown failures are worth a line now.
  unlisten();
  registry.on((activity) => {
    if (activity.type !== 'teardown_failed') return;
    errors++;
    out.activity(activity);
  });
  await registry.unloadAll();
  return errors > 0 || report.errors.length > 0 || nothing ? 1 : 0;
}

/**
 * Loads a plugins directory, or a single plugin's own folder (one holding a manifest.json) as a
 * directory of one: `homecore run .` works from inside a plugin project.
 */
async function loadTarget(registry: PluginRegistry, dir: string): Promise<LoadReport> {
  const ownManifest = await stat(join(dir, 'manifest.json')).then((s) => s.isFile(), () => false);
  if (!ownManifest) return registry.loadDirectory(dir);
  const found = await registry.discoverFolder(dir);
  const report = await registry.loadAll(found.plugins.map((p) => ({ manifest: p.manifest, code: p.code, baseDir: p.dir, ...(p.config ? { config: p.config } : {}) })));
  return { ...report, errors: [...found.errors, ...report.errors] };
}

