import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import type { BusEvent, PluginRuntime } from '@homecore/core-traits';
import { ErrorCode, HomecoreError, toHomecoreError } from '@homecore/core-traits';
import { PluginRegistry, type RegistryActivity } from '@homecore/registry';
import { InProcessRuntime } from '@homecore/runtime-native';
import { ScenarioClock } from './clock.js';
import type { PluginSummaryLine, RunOutput } from './output.js';
import { describeStep } from './output.js';
import { parseScenario, type ScenarioStep } from './scenario.js';
import { usageError } from './usage.js';
import { createWasmRuntime } from './wasm.js';

/** Options of `homecore run`. */
export interface RunOptions {
  dir: string;
  scenario?: string;
  trustedKeys: string[];
  allowUnsigned: boolean;
}

const TICK_MS = 1000;

/** `homecore run`: loads a plugin directory into the reference core and replays a scenario. Returns the exit code. */
export async function runPlugins(options: RunOptions, out: RunOutput): Promise<number> {
  const dir = options.dir;
  if (!(await isDirectory(dir))) throw usageError(`plugin directory ${dir} does not exist or is not a directory`);
  let steps: ScenarioStep[] = [];
  let scenarioName = 'scenario';
  if (options.scenario !== undefined) {
    const file = resolve(options.scenario);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw usageError(`scenario file ${options.scenario} cannot be read`);
    }
    scenarioName = basename(options.scenario);
    steps = parseScenario(text, scenarioName);
  }

  const clock = new ScenarioClock();
  const core = new InMemoryCore({ clock });
  const runtimes: PluginRuntime[] = [new InProcessRuntime()];
  const wasm = await createWasmRuntime(options.trustedKeys, options.allowUnsigned, (message) => out.note(`warning: ${message}`));
  if (wasm !== undefined) runtimes.push(wasm);
  const registry = new PluginRegistry({ core, runtimes, clock });

  const eventCounts: Record<string, number> = {};
  core.listen((event: BusEvent) => {
    eventCounts[event.event_type] = (eventCounts[event.event_type] ?? 0) + 1;
  });
  const actions = new Map<string, { writes: number; serviceCalls: number; eventsFired: number }>();
  const actionsOf = (plugin: string) => {
    let a = actions.get(plugin);
    if (a === undefined) actions.set(plugin, (a = { writes: 0, serviceCalls: 0, eventsFired: 0 }));
    return a;
  };
  let errors = 0;
  const failedSetups = new Set<string>();
  registry.on((activity: RegistryActivity) => {
    if (activity.type === 'setup_failed') failedSetups.add(activity.plugin);
    if (activity.type === 'state_written' || activity.type === 'state_removed') actionsOf(activity.plugin).writes++;
    else if (activity.type === 'service_called') actionsOf(activity.plugin).serviceCalls++;
    else if (activity.type === 'event_fired') actionsOf(activity.plugin).eventsFired++;
    else if (activity.type === 'handler_failed' || activity.type === 'setup_failed' || activity.type === 'teardown_failed') errors++;
    out.activity(activity);
  });

  const report = await registry.loadDirectory(dir);
  for (const warning of report.warnings) out.note(`warning: ${warning}`);
  // A failed setup was already reported and counted through its activity line.
  for (const error of report.errors) {
    if (error.plugin !== undefined && failedSetups.has(error.plugin)) continue;
    errors++;
    out.error(error, error.plugin === undefined ? dir : undefined);
  }
  if (report.loaded.length === 0 && report.retrying.length === 0) out.note(`no plugin is running from ${dir}`);

  let virtualMs = 0;
  for (const step of steps) {
    out.step(step, scenarioName);
    try {
      if (step.kind === 'wait') {
        virtualMs = await advance(step.ms, virtualMs, clock, core, registry);
      } else {
        await runStep(step, core, registry);
      }
    } catch (err) {
      errors++;
      out.error(toHomecoreError(err, ErrorCode.INTERNAL), `${scenarioName}:${step.line} (${describeStep(step)})`);
    }
    await registry.idle();
  }
  await registry.idle();

  const stats = registry.stats();
  const plugins: PluginSummaryLine[] = registry.list().map((p) => {
    const s = stats.plugins[p.id];
    const a = actions.get(p.id) ?? { writes: 0, serviceCalls: 0, eventsFired: 0 };
    return {
      plugin: p.id,
      runtime: p.runtime,
      state: p.state,
      health: p.health,
      reason: p.reason,
      delivered: s?.delivered ?? 0,
      dropped: s ? s.dropped.overflow + s.dropped.backoff + s.dropped.quarantined : 0,
      errors: s?.errors ?? 0,
      denials: s?.permissionDenials ?? 0,
      ...a,
      handlerP50Ms: s?.handlerMs.p50 ?? 0,
      handlerP99Ms: s?.handlerMs.p99 ?? 0,
    };
  });
  await registry.unloadAll();
  out.summary({ events: eventCounts, steps: steps.length, errors, plugins });
  return errors > 0 || report.errors.length > 0 ? 1 : 0;
}

async function runStep(step: Exclude<ScenarioStep, { kind: 'wait' }>, core: InMemoryCore, registry: PluginRegistry): Promise<void> {
  const context = core.createContext({ userId: null });
  switch (step.kind) {
    case 'set':
      core.setState(step.entityId, step.state, step.attributes, { context });
      return;
    case 'call':
      await core.callService(step.domain, step.service, step.data, { context });
      return;
    case 'fire':
      core.fireEvent(step.eventType, step.data, context);
      return;
    case 'options':
      if (registry.get(step.plugin) === undefined) {
        throw new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `no plugin ${JSON.stringify(step.plugin)} is loaded; "options" names a plugin domain`);
      }
      await registry.updateConfigEntry(step.plugin, { options: step.value });
      return;
  }
}

/** Skips `ms` of scenario time, firing HA's `time_changed` at each whole second it crosses. */
async function advance(ms: number, startMs: number, clock: ScenarioClock, core: InMemoryCore, registry: PluginRegistry): Promise<number> {
  const endMs = startMs + ms;
  let at = startMs;
  let nextTick = (Math.floor(startMs / TICK_MS) + 1) * TICK_MS;
  while (nextTick <= endMs) {
    clock.skip(nextTick - at);
    at = nextTick;
    core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, core.createContext());
    await registry.idle();
    nextTick += TICK_MS;
  }
  clock.skip(endMs - at);
  return endMs;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
