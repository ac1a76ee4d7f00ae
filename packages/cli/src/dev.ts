import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { watch, type FSWatcher } from 'chokidar';
import { ErrorCode, HomecoreError, toHomecoreError } from '@homecore/core-traits';
import type { DiscoveredPlugin, PluginSummary, RegistryActivity } from '@homecore/registry';
import type { IsolationPolicy } from '@homecore/runtime-native';
import { ScenarioClock } from './clock.js';
import { WarmAsc, plainAscArgs } from './dev-asc.js';
import { buildScript, repinModule, runBuild, type RunningBuild } from './dev-build.js';
import { openHouse, readScenario, replay, requireDirectory, type House } from './house.js';
import { describeStep, jsonOutput, textOutput, type RunOutput } from './output.js';
import type { ScenarioStep } from './scenario.js';
import { loadItem } from './watch.js';

/** Options of `homecore dev`. */
export interface DevOptions {
  /** A plugin project (a folder with manifest.json) or a plugins directory of them. */
  target: string;
  write: (text: string) => void;
  json: boolean;
  color: boolean;
  /** The scenario to replay after each change (default: scenario.jsonl of the folder, when present). */
  scenario?: string;
  trustedKeys: string[];
  allowUnsigned: boolean;
  isolation?: IsolationPolicy;
  /** Run the project's build:dev (else build) script before loading and after each change (default true). */
  build?: boolean;
  /** Quiet time after the last change of a burst before acting on it (default 100 ms). */
  debounceMs?: number;
}

/** The file a plugin project's scenario is in, by the project contract. */
export const SCENARIO_FILE = 'scenario.jsonl';

/** What a plugin writes, calls, fires, logs and is refused: what dev counts and shows after a change. */
const ACTIONS: ReadonlySet<RegistryActivity['type']> = new Set(['state_written', 'state_removed', 'service_called', 'event_fired', 'log', 'permission_denied', 'handler_failed', 'setup_failed']);

interface Project {
  /** Real path of the plugin folder. */
  dir: string;
  name: string;
  script: 'build:dev' | 'build' | undefined;
  /** The manifest's entry, relative to the folder (a build output when the project builds). */
  entry: string | undefined;
  /** The domain it was loaded as. */
  domain?: string;
  /** The last build failed: its output on disk is not this source's. */
  broken?: boolean;
}

interface Records {
  out: RunOutput;
  /** A dev-only JSON record (build, repin, cycle); text mode prints `text` instead. */
  record(kind: string, fields: Record<string, unknown>, text: string | undefined): void;
}

/**
 * `homecore dev`: the author's loop. Builds each plugin project, loads it into a home (the
 * reference core and registry on a scenario clock: real time plus the scenario's skipped waits,
 * as `homecore run` has, and no background time_changed ticks, so what is printed after a change
 * is the replay's doing), replays the scenario, then watches the sources. After each burst of
 * changes it rebuilds, re-pins module_hash (development policy only), empties the home's states,
 * reloads every plugin through the registry (a refused version keeps the previous one running),
 * replays the scenario and prints the actions with the time from the change to them.
 */
export class DevSession {
  private house: House | undefined;
  private records!: Records;
  private watcher: FSWatcher | undefined;
  private readonly projects = new Map<string, Project>();
  private root = '';
  private single = false;
  private strict = false;
  private muted = false;
  private actions = 0;
  private cycleClockStart = 0;
  private changeNumber = 0;
  private closed = false;
  private closing: Promise<number> | undefined;
  private startup: Promise<number | undefined> | undefined;
  private build: RunningBuild | undefined;
  private readonly asc = new WarmAsc();
  private work: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly dirty = new Set<string>();
  /** The files of the burst being collected, for the change record. */
  private readonly files = new Set<string>();
  private scenarioDirty = false;
  private firstChangeAt: number | undefined;
  /**
   * The content each changed file had when dev last acted on it: a second event for the same
   * content (a slow duplicate from the watcher under load, dev's own re-pin of manifest.json) is
   * not a change.
   */
  private readonly seen = new Map<string, string>();
  private readonly catchUps: ReturnType<typeof setTimeout>[] = [];

  constructor(private readonly options: DevOptions) {}

  /** Builds, loads and replays once, then watches. Resolves with an exit code when nothing could be loaded (1), else undefined. */
  start(): Promise<number | undefined> {
    return (this.startup ??= this.startOnce());
  }

  private async startOnce(): Promise<number | undefined> {
    const options = this.options;
    const target = resolve(options.target);
    await requireDirectory(target);
    const real = await realpath(target);
    this.single = existsSync(join(real, 'manifest.json'));
    this.root = this.single ? dirname(real) : real;
    // An explicit --scenario is checked before anything runs, as `homecore run` does.
    if (options.scenario !== undefined) await readScenario(options.scenario);
    this.strict = options.trustedKeys.length > 0 && !options.allowUnsigned;

    const clock = new ScenarioClock();
    const elapsed = () => (clock.now() - this.cycleClockStart) / 1000;
    this.cycleClockStart = clock.now();
    const out = options.json ? jsonOutput(options.write, elapsed) : textOutput(options.write, elapsed, options.color);
    this.records = {
      out,
      record: (kind, fields, text) => {
        if (options.json) options.write(`${JSON.stringify({ t: Math.round(elapsed() * 1000) / 1000, kind, ...fields })}\n`);
        else if (text !== undefined) options.write(`${text}\n`);
      },
    };
    const house = await openHouse({ trustedKeys: options.trustedKeys, allowUnsigned: !this.strict, clock, ...(options.isolation ? { isolation: options.isolation } : {}), warn: (message) => out.note(`warning: ${message}`) });
    this.house = house;
    house.registry.on((activity) => {
      if (this.muted) return;
      if (ACTIONS.has(activity.type)) this.actions++;
      out.activity(activity);
    });

    const dirs = this.single ? [real] : await pluginFolders(real);
    for (const dir of dirs) this.projects.set(dir, await describeProject(dir));
    // What the first build sees, so a save before the watcher is in place is still a change.
    for (const [path, content] of this.sources()) this.seen.set(path, content);
    out.note(
      this.strict
        ? 'trust policy: strict (--trust-key without --allow-unsigned): only signed modules load, and dev does not re-pin module_hash after a build'
        : 'trust policy: development: unsigned modules load with a warning, and module_hash is re-pinned to each new build',
    );
    const started = performance.now();
    let buildMs = 0;
    for (const project of this.projects.values()) {
      if (this.closed) return 0;
      buildMs += await this.buildProject(project, true);
    }
    if (this.closed) return 0;
    const loadStarted = performance.now();
    const loaded = await this.loadProjects([...this.projects.values()]);
    if (loaded === 0) {
      const reason =
        this.projects.size === 0
          ? `it has no plugin folders (sub-folders with a manifest.json) and is not one itself`
          : `every plugin found was refused (see above)`;
      out.note(`no plugin is running from ${target}: ${reason}`);
      await house.registry.unloadAll();
      return 1;
    }
    const loadMs = performance.now() - loadStarted;
    const replayStarted = performance.now();
    await this.replayScenarios();
    const replayMs = performance.now() - replayStarted;
    this.report({ change: 0, plugins: [...this.projects.values()].map((p) => p.name), startedAt: started, buildMs, reloadMs: loadMs, replayMs, refused: [] });
    if (this.closed) return 0;
    await this.startWatching();
    return undefined;
  }

  /**
   * Stops watching and building, waits for the change in progress, unloads every plugin and
   * resolves with 0. Calling it again returns the same promise.
   */
  close(): Promise<number> {
    return (this.closing ??= (async () => {
      this.closed = true;
      if (this.timer !== undefined) clearTimeout(this.timer);
      this.timer = undefined;
      for (const timer of this.catchUps) clearTimeout(timer);
      this.build?.stop();
      this.asc.close();
      // A start still under way finishes first (it stops at its next step), so nothing is left watching.
      await this.startup?.catch(() => undefined);
      await this.watcher?.close();
      await this.work;
      if (this.house !== undefined) {
        this.muted = true;
        await this.house.registry.unloadAll();
        this.records.out.note('stopped: every plugin unloaded');
      }
      return 0;
    })());
  }

  /** Resolves once every change seen so far has been built, reloaded and replayed (for tests and scripts). */
  async settled(): Promise<void> {
    while (this.timer !== undefined || this.dirty.size > 0 || this.scenarioDirty) {
      await new Promise((r) => setTimeout(r, 25));
      await this.work;
    }
    await this.work;
  }

  private async startWatching(): Promise<void> {
    const paths = this.single ? [...this.projects.keys()] : [this.root];
    const scenario = this.options.scenario === undefined ? undefined : resolve(this.options.scenario);
    if (scenario !== undefined && !paths.some((p) => inside(p, scenario))) paths.push(scenario);
    const watcher = watch(paths, { ignoreInitial: true, ignored: (path: string) => this.ignored(path) });
    this.watcher = watcher;
    watcher.on('all', (event, path) => {
      if (event === 'unlink') this.seen.delete(path);
      if (event === 'add' || event === 'change' || event === 'unlink') this.changed(path);
    });
    watcher.on('error', (error) => this.records.out.note(`warning: watching failed: ${(error as Error).message}`));
    await new Promise<void>((ready) => watcher.once('ready', () => ready()));
    // chokidar's ready can come before every file's watch is in place, and the first build ran
    // before the watcher started: a few rescans catch a save made in between.
    for (const delay of CATCH_UP_MS) {
      const timer = setTimeout(() => this.catchUp(), delay);
      timer.unref();
      this.catchUps.push(timer);
    }
    this.records.record(
      'watching',
      { paths },
      `watching ${paths.join(', ')} (node_modules, dot-files and build outputs ignored): save a change to rebuild, reload and replay; stop with Ctrl-C`,
    );
  }

  /** Every file dev watches (not ignored) with a digest of its content. */
  private sources(): Map<string, string> {
    const found = new Map<string, string>();
    const walk = (dir: string) => {
      let entries;
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (this.ignored(path)) continue;
        if (entry.isDirectory()) walk(path);
        else if (entry.isFile()) {
          const content = digestIfThere(path);
          if (content !== undefined) found.set(path, content);
        }
      }
    };
    for (const dir of this.projects.keys()) walk(dir);
    const scenario = this.options.scenario === undefined ? undefined : resolve(this.options.scenario);
    for (const file of [scenario, this.single ? undefined : join(this.root, SCENARIO_FILE)]) {
      const content = file === undefined ? undefined : digestIfThere(file);
      if (file !== undefined && content !== undefined) found.set(file, content);
    }
    return found;
  }

  /** A change the watcher did not report: any watched file whose content is not what dev last saw. */
  private catchUp(): void {
    if (this.closed) return;
    for (const [path, content] of this.sources()) if (this.seen.get(path) !== content) this.changed(path);
  }

  /** The project a path belongs to (its folder), or undefined for a path at the plugins directory's top. */
  private projectDirOf(path: string): string | undefined {
    if (this.single) {
      const dir = this.projects.keys().next().value as string;
      return inside(dir, path) ? dir : undefined;
    }
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || !rel.includes(sep)) return undefined;
    return join(this.root, rel.split(sep)[0]!);
  }

  private ignored(path: string): boolean {
    const dir = this.projectDirOf(path);
    if (dir === undefined || dir === path) return false;
    const parts = relative(dir, path).split(sep);
    if (parts.some((part) => part.startsWith('.') || part === 'node_modules' || part.endsWith('~'))) return true;
    const project = this.projects.get(dir);
    // What the project's own build writes must not start another build.
    if (project?.script === undefined || this.options.build === false) return false;
    return parts[0] === 'build' || parts[0] === 'dist' || parts[0] === 'target' || (project.entry !== undefined && relative(dir, path) === project.entry);
  }

  private changed(path: string): void {
    if (this.closed) return;
    const scenario = this.options.scenario === undefined ? undefined : resolve(this.options.scenario);
    const dir = this.projectDirOf(path);
    if (path !== scenario && dir === undefined && basename(path) !== SCENARIO_FILE) return;
    const content = digestIfThere(path);
    if (content !== undefined) {
      if (this.seen.get(path) === content) return;
      this.seen.set(path, content);
    }
    if (path === scenario || basename(path) === SCENARIO_FILE) this.scenarioDirty = true;
    else this.dirty.add(dir!);
    this.files.add(path);
    this.firstChangeAt ??= performance.now();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const dirs = [...this.dirty].sort();
      const scenarioOnly = dirs.length === 0;
      const at = this.firstChangeAt ?? performance.now();
      const files = [...this.files].sort();
      this.files.clear();
      this.dirty.clear();
      this.scenarioDirty = false;
      this.firstChangeAt = undefined;
      this.work = this.work
        .then(() => this.onChange(dirs, files, scenarioOnly, at))
        .catch((error: unknown) => this.records.out.error(toHomecoreError(error, ErrorCode.INTERNAL), 'dev'));
    }, this.options.debounceMs ?? 100);
  }

  /** One burst of changes: build what changed, re-pin, reset the home, reload, replay, report. */
  private async onChange(dirs: readonly string[], files: readonly string[], scenarioOnly: boolean, at: number): Promise<void> {
    if (this.closed) return;
    const { out } = this.records;
    const change = ++this.changeNumber;
    for (const dir of dirs) if (!this.projects.has(dir) && existsSync(join(dir, 'manifest.json'))) this.projects.set(dir, await describeProject(dir));
    const touched = dirs.map((d) => this.projects.get(d)).filter((p): p is Project => p !== undefined);
    const names = scenarioOnly ? ['scenario'] : touched.map((p) => p.name);
    this.records.record('change', { change, plugins: names, files }, `\n── change ${change}: ${names.join(', ')} ${'─'.repeat(Math.max(4, 60 - names.join(', ').length))}`);
    let buildMs = 0;
    for (const project of touched) {
      Object.assign(project, await describeProject(project.dir), { domain: project.domain });
      buildMs += await this.buildProject(project, false);
      if (this.closed) return;
    }
    if (!scenarioOnly && touched.every((p) => p.broken)) {
      out.note('nothing reloaded: the previous version keeps running; fix the error and save again');
      return;
    }
    const house = this.house!;
    const reloadStarted = performance.now();
    await this.resetStates(house);
    this.cycleClockStart = house.clock.now();
    const refused: string[] = [];
    for (const plugin of inDependencyOrder(house.registry.list())) {
      const project = [...this.projects.values()].find((p) => p.domain === plugin.id);
      // A plugin whose build just failed keeps running as it is; reading its folder now would load stale output.
      if (project?.broken) continue;
      try {
        await house.registry.reload(plugin.id);
      } catch {
        // Printed as reload_failed (or upgrade_refused) activity; the previous version keeps running.
        refused.push(plugin.id);
      }
    }
    const waiting = touched.filter((p) => !p.broken && (p.domain === undefined || house.registry.get(p.domain) === undefined));
    if (waiting.length > 0) await this.loadProjects(waiting);
    const reloadMs = performance.now() - reloadStarted;
    for (const id of refused) out.note(`${id}: the new version was refused (see above); the previous version keeps running and replays below`);
    const replayStarted = performance.now();
    await this.replayScenarios();
    this.report({ change, plugins: names, startedAt: at, buildMs, reloadMs, replayMs: performance.now() - replayStarted, refused });
  }

  /** Runs the project's build script (unless --no-build) and re-pins its module; returns the build's milliseconds. */
  private async buildProject(project: Project, initial: boolean): Promise<number> {
    const { out, record } = this.records;
    project.broken = false;
    let buildMs = 0;
    if (project.script !== undefined && this.options.build !== false) {
      const ascArgs = await plainAscArgs(project.dir, project.script);
      const build = ascArgs === undefined ? runBuild(project.dir, project.script) : this.asc.run(project.dir, ascArgs);
      this.build = build;
      const result = await build.done;
      this.build = undefined;
      buildMs = result.ms;
      if (this.closed) return buildMs;
      const ms = Math.round(result.ms);
      // Compilers colour their errors even into a pipe; the terminal's own colours are ours to choose.
      const output = this.options.color ? result.output : stripVTControlCharacters(result.output);
      if (!result.ok) {
        project.broken = true;
        const error = new HomecoreError(
          ErrorCode.DEV_BUILD_FAILED,
          `${project.name}: the ${project.script} script exited ${result.code ?? 'on a signal'} after ${ms} ms; ${initial ? 'loading what an earlier build left, if anything' : 'the previous version keeps running'}`,
          { ...(project.domain ? { plugin: project.domain } : {}), hook: 'build', details: { dir: project.dir, script: project.script, exitCode: result.code, output } },
        );
        out.error(error);
        if (!this.options.json) this.options.write(indent(output));
        return buildMs;
      }
      const how = ascArgs === undefined ? project.script : `${project.script}, in a warm asc process`;
      record('build', { plugin: project.name, script: project.script, warm: ascArgs !== undefined, ok: true, ms }, `${project.name}: built (${how}) in ${ms} ms`);
    }
    const repin = await repinModule(project.dir, this.strict, (text) => this.seen.set(join(project.dir, 'manifest.json'), digest(text)));
    if (repin.kind === 'repinned') {
      record(
        'repin',
        { plugin: project.name, from: repin.from, to: repin.to, droppedSignature: repin.droppedSignature },
        `${project.name}: module_hash re-pinned to ${repin.to.slice(0, 19)}… in manifest.json${repin.droppedSignature ? ' (the stale module_signature and publisher_key were removed: sign again before publishing)' : ''}`,
      );
    } else if (repin.kind === 'refused') {
      out.error(
        new HomecoreError(
          ErrorCode.DEV_REPIN_REFUSED,
          `${project.name}: the new module is ${repin.to} but manifest.json pins ${repin.from}, and the trust policy is strict (--trust-key without --allow-unsigned), so dev does not re-pin it: sign it in the build script (homecore sign <file.wasm> --key <key.pem> --manifest manifest.json) or run dev with --allow-unsigned`,
          { ...(project.domain ? { plugin: project.domain } : {}), hook: 'build', details: { dir: project.dir, pinned: repin.from, built: repin.to } },
        ),
      );
    }
    return buildMs;
  }

  /** Loads projects (not loaded yet) from their folders through discovery and the load gate; returns how many run. */
  private async loadProjects(projects: readonly Project[]): Promise<number> {
    const { out } = this.records;
    const registry = this.house!.registry;
    // A plugin's own folder is read on its own: a sibling copy of the project (same domain) must not shadow it.
    const found = this.single ? await registry.discoverFolder([...this.projects.keys()][0]!) : await registry.discover(this.root);
    const wanted = new Set(projects.map((p) => p.dir));
    const mine: DiscoveredPlugin[] = found.plugins.filter((p) => wanted.has(p.dir) && registry.get(p.manifest.domain) === undefined);
    for (const error of found.errors) {
      const folder = (error.details as { folder?: unknown } | undefined)?.folder;
      if (typeof folder === 'string' ? wanted.has(folder) : projects.some((p) => error.message.includes(p.dir))) out.error(error);
    }
    const report = await registry.loadAll(mine.map(loadItem));
    for (const warning of report.warnings) out.note(`warning: ${warning}`);
    for (const error of report.errors) {
      if (error.plugin !== undefined && registry.get(error.plugin)?.state === 'setup_error') continue; // its setup_failed line said so
      out.error(error);
    }
    for (const p of mine) {
      const project = this.projects.get(p.dir);
      if (project !== undefined && registry.get(p.manifest.domain) !== undefined) project.domain = p.manifest.domain;
    }
    return [...this.projects.values()].filter((p) => p.domain !== undefined && registry.get(p.domain) !== undefined).length;
  }

  /** Removes every state, quietly: the replay after a change starts from an empty home, as a first run does. */
  private async resetStates(house: House): Promise<void> {
    this.muted = true;
    try {
      // A plugin reacting to a removal may write again; a few rounds empty the home.
      for (let round = 0; round < 5 && house.core.getStates().length > 0; round++) {
        const context = house.core.createContext();
        for (const state of house.core.getStates()) house.core.removeState(state.entity_id, context);
        await house.registry.idle();
      }
    } finally {
      this.muted = false;
    }
  }

  /** The scenarios to replay: --scenario, else scenario.jsonl of the plugin folder (of the plugins directory, else of each plugin folder). */
  private scenarioFiles(): string[] {
    if (this.options.scenario !== undefined) return [resolve(this.options.scenario)];
    const own = join(this.single ? [...this.projects.keys()][0]! : this.root, SCENARIO_FILE);
    if (existsSync(own)) return [own];
    if (this.single) return [];
    return [...this.projects.keys()].sort().map((dir) => join(dir, SCENARIO_FILE)).filter((file) => existsSync(file));
  }

  private async replayScenarios(): Promise<void> {
    const { out } = this.records;
    const house = this.house!;
    for (const file of this.scenarioFiles()) {
      let scenario: { name: string; steps: ScenarioStep[] };
      try {
        scenario = await readScenario(file);
      } catch (error) {
        out.error(toHomecoreError(error, ErrorCode.SCENARIO_INVALID), file);
        continue;
      }
      const name = this.single || dirname(file) === this.root ? scenario.name : `${basename(dirname(file))}/${scenario.name}`;
      await replay(
        house,
        scenario.steps,
        (step) => out.step(step, name),
        (step, error) => out.error(error, `${name}:${step.line} (${describeStep(step)})`),
      );
    }
  }

  private report(cycle: { change: number; plugins: string[]; startedAt: number; buildMs: number; reloadMs: number; replayMs: number; refused: string[] }): void {
    const totalMs = Math.round(performance.now() - cycle.startedAt);
    const actions = this.actions;
    this.actions = 0;
    const what = cycle.change === 0 ? 'start → actions' : 'change → actions';
    this.records.record(
      'cycle',
      { change: cycle.change, plugins: cycle.plugins, actions, refused: cycle.refused, ms: { total: totalMs, build: Math.round(cycle.buildMs), reload: Math.round(cycle.reloadMs), replay: Math.round(cycle.replayMs) } },
      `── ${actions} action(s); ${what} ${totalMs} ms (build ${Math.round(cycle.buildMs)} ms, ${cycle.change === 0 ? 'load' : 'reload'} ${Math.round(cycle.reloadMs)} ms, replay ${Math.round(cycle.replayMs)} ms)`,
    );
  }
}

/** Runs `homecore dev` until `signal` aborts; resolves with the exit code (1 when nothing could be loaded). */
export async function devUntil(options: DevOptions, signal: AbortSignal): Promise<number> {
  const session = new DevSession(options);
  // Listening from the start, so a signal during the first build still ends cleanly.
  const stopped = new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener('abort', () => done(), { once: true })));
  void stopped.then(() => session.close());
  const early = await session.start();
  if (signal.aborted) return session.close();
  if (early !== undefined) return early;
  await stopped;
  return session.close();
}

async function pluginFolders(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  const dirs: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const dir = join(root, entry.name);
    if (await stat(join(dir, 'manifest.json')).then((s) => s.isFile(), () => false)) dirs.push(await realpath(dir));
  }
  return dirs.sort();
}

async function describeProject(dir: string): Promise<Project> {
  let entry: string | undefined;
  try {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { entry?: unknown };
    if (typeof manifest.entry === 'string') entry = relative(dir, resolve(dir, manifest.entry));
  } catch {
    // the load reports it
  }
  return { dir, name: basename(dir), script: await buildScript(dir), entry };
}

/** Dependencies before their dependents, so each reload finds what it needs set up. */
function inDependencyOrder(plugins: readonly PluginSummary[]): PluginSummary[] {
  const ordered: PluginSummary[] = [];
  const placed = new Set<string>();
  const visit = (p: PluginSummary, path: Set<string>) => {
    if (placed.has(p.id) || path.has(p.id)) return;
    path.add(p.id);
    for (const dep of p.manifest.dependencies ?? []) {
      const d = plugins.find((q) => q.id === dep);
      if (d !== undefined) visit(d, path);
    }
    placed.add(p.id);
    ordered.push(p);
  };
  for (const p of plugins) visit(p, new Set());
  return ordered;
}

function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep));
}

const MAX_DIGESTED_BYTES = 8 * 1024 * 1024;
/** When, after the watcher is ready, dev rescans for changes it may have missed. */
const CATCH_UP_MS = [0, 1000, 3000];

function digest(content: string | Buffer): string {
  return createHash('sha1').update(content).digest('hex');
}

/** A digest of a file's content, or undefined when it is gone, unreadable or too large to bother. */
function digestIfThere(path: string): string | undefined {
  try {
    if (statSync(path).size > MAX_DIGESTED_BYTES) return undefined;
    return digest(readFileSync(path));
  } catch {
    return undefined;
  }
}

function indent(text: string): string {
  const trimmed = text.trimEnd();
  return trimmed === '' ? '      (the script printed nothing)\n' : `${trimmed.split('\n').map((l) => `      ${l}`).join('\n')}\n`;
}
