import { mkdir, realpath } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import { ErrorCode, HomecoreError, toHomecoreError, type PluginRuntime } from '@homecore/core-traits';
import { fileConfigEntryStore, fileGrantStore, type LoadItem, type PluginRegistry, type RegistryActivity } from '@homecore/registry';
import { NativeRuntime, createHomecore, type Homecore, type IsolationPolicy } from '@homecore/runtime-native';
import { mountApi, requireApi, type ApiListen, type MountedApi } from './api.js';
import { requireDirectory } from './house.js';
import type { RunOutput } from './output.js';
import { STATUS_REFRESH_MS, StatusWriter, entryStatuses, pluginStatuses, type ServeStatus } from './status.js';
import { createWasmRuntime } from './wasm.js';
import { FolderWatcher, loadItem } from './watch.js';

/** The data directory `homecore serve` uses without `--data-dir` or `$HOMECORE_DATA_DIR`: `.homecore` next to the plugins directory. */
export function defaultDataDir(pluginsDir: string): string {
  return join(dirname(resolve(pluginsDir)), '.homecore');
}

/** Options of `homecore serve`. */
export interface ServeOptions {
  /** The plugins directory: every sub-folder holding a manifest.json is a plugin. */
  dir: string;
  /** Builds the live log; `elapsed` is seconds since serve started. */
  output: (elapsed: () => number) => RunOutput;
  trustedKeys: string[];
  allowUnsigned: boolean;
  /** The host's isolation policy for native plugins (`--isolation`, `--trusted`). */
  isolation?: IsolationPolicy;
  /** Where the grants file, the config entries (`.storage/core.config_entries`) and the status file live (default: `.homecore` next to `dir`). */
  dataDir?: string;
  /** Hot reload: watch the plugins directory and reload, load and unload plugins as their folders change. */
  watch?: boolean;
  /** Milliseconds of quiet after a change before the watcher acts on a burst (default 300). */
  debounceMs?: number;
  /** How long shutdown waits for every plugin to unload before giving up on the rest (default 20000 ms). */
  shutdownTimeoutMs?: number;
  /** How often the status file is rewritten when nothing changed (default 2000 ms). */
  statusRefreshMs?: number;
  /** Serve Home Assistant's WebSocket and REST API here (`--port`, `--host`); needs @homecore/api. Tokens come from the data directory. */
  api?: ApiListen;
}

/** A running hub. */
export interface ServeHandle {
  /** The registry running the plugins. */
  readonly registry: PluginRegistry;
  /** The reference core the plugins act on. */
  readonly core: InMemoryCore;
  /** The data directory in use. */
  readonly dataDir: string;
  /** The status file serve keeps up to date. */
  readonly statusFile: string;
  /** The API's address (`http://host:port`), or null without `api`. */
  readonly apiUrl: string | null;
  /**
   * Stops accepting work (the watcher and the ticks stop), flushes the status, unloads every
   * plugin in reverse dependency order, and resolves with the exit code: 0, or 1 when the
   * shutdown deadline passed with plugins still unloading (they are named, HC_ERR_SHUTDOWN_TIMEOUT).
   * Calling it again returns the same promise.
   */
  close(): Promise<number>;
  /** Resolves once the watcher has acted on every change seen so far (for tests and scripts). */
  settled(): Promise<void>;
}

const LIFECYCLE: ReadonlySet<RegistryActivity['type']> = new Set([
  'plugin_loaded',
  'plugin_unloaded',
  'plugin_reloaded',
  'setup_failed',
  'reload_failed',
  'entry_state',
  'plugin_quarantined',
  'plugin_backoff',
  'plugin_resumed',
  'teardown_failed',
  'upgrade_refused',
  'handler_failed',
  'store_failed',
]);

/**
 * `homecore serve`: starts the reference core and the registry on the real clock with every
 * installed runtime, loads every plugin folder in `options.dir`, fires `time_changed` every
 * second, keeps a status file in the data directory and, with `watch`, hot-reloads plugin folders
 * as they change. Runs until `close()`.
 */
export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const dir = resolve(options.dir);
  await requireDirectory(dir);
  const root = await realpath(dir);
  // A missing API package is a usage error before anything starts.
  const apiModule = options.api === undefined ? undefined : await requireApi(`--port ${options.api.port}`);
  const dataDir = resolve(options.dataDir ?? defaultDataDir(dir));
  try {
    await mkdir(dataDir, { recursive: true });
  } catch (error) {
    throw new HomecoreError(ErrorCode.DATA_STORE, `the data directory ${dataDir} cannot be created (${(error as Error).message}): check the path and its permissions, or pass another --data-dir`, { details: { dir: dataDir }, cause: error });
  }
  const started = Date.now();
  const out = options.output(() => (Date.now() - started) / 1000);
  const warn = (message: string) => out.note(`warning: ${message}`);

  const core = new InMemoryCore();
  const native = new NativeRuntime({ core, ...(options.isolation !== undefined ? { isolation: options.isolation } : {}) });
  const runtimes: PluginRuntime[] = [native];
  const wasm = await createWasmRuntime({ trustedKeys: options.trustedKeys, allowUnsigned: options.allowUnsigned, warn });
  if (wasm !== undefined) runtimes.push(wasm);
  // createHomecore fires HA's time_changed every second on the system clock. Accepted grants and
  // config entries (HA's .storage/core.config_entries) live in the data directory.
  const home: Homecore = createHomecore({ core, runtimes, grants: fileGrantStore(dataDir), entries: fileConfigEntryStore(dataDir) });
  const registry = home.registry;

  let state: ServeStatus['state'] = 'starting';
  let api: MountedApi | undefined;
  const status = new StatusWriter(
    dataDir,
    async () => ({
      state,
      pid: process.pid,
      startedAt: new Date(started).toISOString(),
      updatedAt: new Date().toISOString(),
      refreshMs: options.statusRefreshMs ?? STATUS_REFRESH_MS,
      pluginsDir: root,
      dataDir,
      watch: options.watch === true,
      api: api?.url ?? null,
      events: registry.stats().events,
      plugins: pluginStatuses(registry, native),
      // A store that cannot be read is reported by the registry; the status still shows the plugins.
      entries: await entryStatuses(registry).catch(() => []),
    }),
    (error) => out.error(toHomecoreError(error, ErrorCode.DATA_STORE), 'status file'),
  );
  // Lifecycle changes rewrite the status file soon; counters are picked up by the refresh.
  let statusSoon: ReturnType<typeof setTimeout> | undefined;
  const warned = new Set<string>();
  registry.on((activity) => {
    if (activity.type === 'warning') warned.add(`${activity.plugin}: ${activity.message}`);
    out.activity(activity);
    if (LIFECYCLE.has(activity.type) && statusSoon === undefined && state !== 'stopped') {
      statusSoon = setTimeout(() => {
        statusSoon = undefined;
        void status.write();
      }, 100);
    }
  });
  // The refresh timer is what keeps the process alive while serve runs.
  const refresh = setInterval(() => void status.write(), options.statusRefreshMs ?? STATUS_REFRESH_MS);
  await status.write();

  out.note(`serving ${root} (data directory ${dataDir})`);
  const { report, found } = await loadWithProgress(registry, root, out);
  // Warnings the registry already reported as activity are not repeated.
  for (const warning of report.warnings) if (!warned.has(warning)) out.note(`warning: ${warning}`);
  const failedSetups = new Set(registry.list().filter((p) => p.state === 'setup_error').map((p) => p.id));
  for (const error of report.errors) {
    if (error.plugin !== undefined && failedSetups.has(error.plugin)) continue;
    out.error(error, error.plugin === undefined ? root : undefined);
  }
  const unisolated = registry.list().filter((p) => p.runtime === 'native' && native.levelOf(p.manifest) === 'none').map((p) => p.id);
  if (unisolated.length > 0) {
    out.note(`running in the host process (an endless loop in one stops them all; --isolation worker runs them apart): ${unisolated.join(', ')}`);
  }

  if (apiModule !== undefined && options.api !== undefined) {
    try {
      api = await mountApi(apiModule, { core, registry, dataDir }, options.api, (line) => out.note(line));
    } catch (error) {
      // Nothing is served without the API that was asked for: unload what was loaded and say why.
      clearInterval(refresh);
      await home.close();
      state = 'stopped';
      await status.write();
      throw error;
    }
    out.note(`Home Assistant API at ${api.url}/api/ (WebSocket ${api.url.replace(/^http/, 'ws')}/api/websocket); create a token with "homecore token create --data-dir ${dataDir} --name <name>"`);
  }

  let watcher: FolderWatcher | undefined;
  if (options.watch === true) {
    watcher = new FolderWatcher({ root, registry, out, debounceMs: options.debounceMs ?? 300, known: found });
    await watcher.start();
    out.note(`watching ${root} for changes (manifest, code, wasm): a change reloads its plugin, a new folder loads, a removed one unloads`);
  }
  state = 'running';
  await status.write();
  out.note(`running ${registry.list().filter((p) => p.state === 'loaded').length} of ${registry.list().length} plugin(s); stop with Ctrl-C or SIGTERM`);

  let closing: Promise<number> | undefined;
  const close = (): Promise<number> =>
    (closing ??= (async () => {
      state = 'stopping';
      out.note('stopping: no more changes are taken; unloading every plugin');
      clearInterval(refresh);
      if (statusSoon !== undefined) clearTimeout(statusSoon);
      statusSoon = undefined;
      await watcher?.close();
      try {
        await api?.close();
      } catch (error) {
        out.error(toHomecoreError(error, ErrorCode.INTERNAL), 'API server');
      }
      await status.write();
      // Config entry changes still waiting for their debounced save are written first.
      try {
        await registry.flush();
      } catch (error) {
        out.error(toHomecoreError(error, ErrorCode.DATA_STORE), 'config entries');
      }
      const deadlineMs = options.shutdownTimeoutMs ?? 20_000;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<'late'>((done) => (timer = setTimeout(() => done('late'), deadlineMs)));
      const outcome = await Promise.race([home.close().then(() => 'done' as const), late]);
      clearTimeout(timer);
      let code = 0;
      if (outcome === 'late') {
        const left = registry.list().map((p) => p.id);
        code = 1;
        out.error(
          new HomecoreError(
            ErrorCode.SHUTDOWN_TIMEOUT,
            `shutdown deadline of ${deadlineMs} ms passed with ${left.length} plugin(s) still unloading (${left.join(', ')}): exiting without them; make their teardowns finish promptly`,
            { details: { plugins: left, deadlineMs } },
          ),
        );
      }
      state = 'stopped';
      await status.write();
      out.note(code === 0 ? 'stopped: every plugin unloaded' : 'stopped by the deadline');
      return code;
    })());

  return {
    registry,
    core,
    dataDir,
    statusFile: status.file,
    apiUrl: api?.url ?? null,
    close,
    settled: () => watcher?.settled() ?? Promise.resolve(),
  };
}

/**
 * Runs `homecore serve` until `signal` aborts, then shuts down; resolves with the exit code (a
 * start-up failure rejects, as the other commands do).
 */
export async function serveUntil(options: ServeOptions, signal: AbortSignal): Promise<number> {
  // Listening from the start, so a signal while plugins load still ends in a clean shutdown.
  const stopped = new Promise<void>((done) => (signal.aborted ? done() : signal.addEventListener('abort', () => done(), { once: true })));
  const hub = await startServe(options);
  await stopped;
  return hub.close();
}

/** Discovers and loads every plugin folder, noting progress every two seconds while setups run. */
async function loadWithProgress(registry: PluginRegistry, root: string, out: RunOutput) {
  const found = await registry.discover(root);
  const total = found.plugins.length;
  out.note(`loading ${total} plugin folder(s)${found.errors.length > 0 ? ` (${found.errors.length} refused)` : ''}`);
  let done = 0;
  const stop = registry.on((a) => {
    if (a.type === 'plugin_loaded' || a.type === 'setup_failed') done++;
  });
  const progress = setInterval(() => out.note(`still loading: ${Math.min(done, total)} of ${total} set up`), 2000);
  try {
    const items: LoadItem[] = found.plugins.map((p) => loadItem(p));
    const report = await registry.loadAll(items);
    return {
      found: found.plugins,
      report: { ...report, errors: [...found.errors, ...report.errors], warnings: [...new Set([...found.warnings, ...report.warnings])] },
    };
  } finally {
    clearInterval(progress);
    stop();
  }
}
