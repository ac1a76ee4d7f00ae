import { join } from 'node:path';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { JsonFileStore, type PluginRegistry } from '@homecore/registry';
import type { NativeRuntime } from '@homecore/runtime-native';
import { pluginCounters } from './output.js';

/** The status file `homecore serve` keeps in its data directory. */
export const STATUS_FILE = 'homecore.status.json';

/** How often `homecore serve` rewrites the status file when nothing changed, in ms. */
export const STATUS_REFRESH_MS = 2000;

/** One plugin as the status file shows it. */
export interface PluginStatus {
  plugin: string;
  version: string;
  runtime: string;
  /** Where a native plugin runs (none, worker, process); null for wasm. */
  isolation: string | null;
  /** The config entry's state (HA's: loaded, setup_error, setup_retry, ...). */
  state: string;
  health: string;
  reason: string | null;
  entryId: string;
  /** When the running version was set up (ISO time), or null. */
  loadedAt: string | null;
  lastError: { code: string; message: string; hook: string | null; time: string } | null;
  delivered: number;
  dropped: number;
  errors: number;
  denials: number;
  writes: number;
  servicesHandled: number;
  serviceCalls: number;
  eventsFired: number;
  queueDepth: number;
  restarts: number;
}

/** One config entry as the status file shows it. */
export interface EntryStatus {
  entryId: string;
  domain: string;
  title: string;
  /** HA's entry state; `not_loaded` for a stored entry of a plugin not loaded now. */
  state: string;
  reason: string | null;
  /** Why it is disabled (`user`...), or null. */
  disabledBy: string | null;
}

/** What `homecore serve` writes to `homecore.status.json`. */
export interface ServeStatus {
  /** starting (loading plugins), running, stopping (signalled) or stopped (exited cleanly or by the deadline). */
  state: 'starting' | 'running' | 'stopping' | 'stopped';
  pid: number;
  startedAt: string;
  updatedAt: string;
  /** How often the file is rewritten while serve runs, in ms. */
  refreshMs: number;
  pluginsDir: string;
  dataDir: string;
  watch: boolean;
  /** The HA API's address, or null when none is served. */
  api: string | null;
  /** Bus events the registry has seen. */
  events: number;
  plugins: PluginStatus[];
  /** Every config entry, live and stored (oldest first). */
  entries: EntryStatus[];
}

function statusStore(dataDir: string): JsonFileStore<ServeStatus> {
  return new JsonFileStore<ServeStatus>({
    file: join(dataDir, STATUS_FILE),
    format: 'homecore.status',
    label: 'serve status',
    parse: (value) => {
      if (typeof value !== 'object' || value === null || !Array.isArray((value as { plugins?: unknown }).plugins)) throw new Error('not a serve status record');
      return value as ServeStatus;
    },
  });
}

/** The plugins of a running registry, as the status file shows them. */
export function pluginStatuses(registry: PluginRegistry, native: NativeRuntime): PluginStatus[] {
  const stats = registry.stats().plugins;
  return registry.list().map((p) => {
    const s = stats[p.id];
    const last = s?.lastError ?? null;
    return {
      plugin: p.id,
      version: p.manifest.version ?? '',
      runtime: p.runtime,
      isolation: p.runtime === 'native' ? native.levelOf(p.manifest) : null,
      state: p.state,
      health: p.health,
      reason: p.reason,
      entryId: p.entryId,
      loadedAt: s?.loadedAt == null ? null : new Date(s.loadedAt).toISOString(),
      lastError: last === null ? null : { code: last.code, message: last.message, hook: last.hook, time: new Date(last.time).toISOString() },
      ...pluginCounters(s),
      queueDepth: s?.queueDepth ?? 0,
    };
  });
}

/** The config entries of a registry, as the status file shows them. */
export async function entryStatuses(registry: PluginRegistry): Promise<EntryStatus[]> {
  return (await registry.entries()).map((e) => ({ entryId: e.entry_id, domain: e.domain, title: e.title, state: e.state, reason: e.reason, disabledBy: e.disabled_by }));
}

/**
 * Writes the status file atomically; writes run one at a time and a write asked for while one
 * runs is folded into the next, so a burst of changes costs at most two writes.
 */
export class StatusWriter {
  private readonly store: JsonFileStore<ServeStatus>;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    dataDir: string,
    private readonly snapshot: () => Promise<ServeStatus>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.store = statusStore(dataDir);
  }

  /** The file written. */
  get file(): string {
    return this.store.file;
  }

  /** Writes the current status soon; resolves once a write that includes it is done. */
  write(): Promise<void> {
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.store.save({ serve: await this.snapshot() });
        } catch (error) {
          this.onError(error);
        }
      } while (this.again);
      this.running = undefined;
    })();
    return this.running;
  }
}

/** What `homecore status` found. */
export interface StatusReport {
  kind: 'status';
  file: string;
  /** True when serve runs and refreshed the file recently. */
  running: boolean;
  /** Why it is not running or not trusted to be current, else null. */
  problem: string | null;
  /** Seconds since the file was written. */
  ageSeconds: number;
  status: ServeStatus;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads the status file of the data directory; HC_ERR_SERVE_NOT_RUNNING when there is none. */
export async function readStatus(dataDir: string, now = Date.now()): Promise<StatusReport> {
  const store = statusStore(dataDir);
  const status = (await store.load()).serve;
  if (status === undefined) {
    throw new HomecoreError(
      ErrorCode.SERVE_NOT_RUNNING,
      `no status file ${store.file}: "homecore serve" has not run with this data directory; start it (homecore serve <dir> --data-dir ${dataDir}) or give the data directory it uses`,
      { details: { file: store.file } },
    );
  }
  const ageSeconds = Math.max(0, (now - Date.parse(status.updatedAt)) / 1000);
  let problem: string | null = null;
  if (status.state === 'stopped') problem = `serve is not running: it stopped at ${status.updatedAt}`;
  else if (!alive(status.pid)) problem = `serve is not running: process ${status.pid} is gone without stopping cleanly (last status at ${status.updatedAt})`;
  else if (ageSeconds * 1000 > status.refreshMs * 3 + 5000) problem = `the status is stale: process ${status.pid} last refreshed it ${ageSeconds.toFixed(0)} s ago (it refreshes every ${status.refreshMs / 1000} s; is it stuck?)`;
  return { kind: 'status', file: store.file, running: problem === null, problem, ageSeconds: Math.round(ageSeconds * 10) / 10, status };
}

/** Formats a status report for people: the hub, then one row per plugin, then reasons and last errors. */
export function formatStatus(report: StatusReport): string {
  const s = report.status;
  const lines: string[] = [];
  lines.push(
    report.running
      ? `serve is ${s.state} (pid ${s.pid}, since ${s.startedAt}${s.watch ? ', watching for changes' : ''}${s.api ? `, API at ${s.api}` : ''})`
      : `${report.problem}`,
  );
  lines.push(`  plugins ${s.pluginsDir}, data ${s.dataDir}, status written ${report.ageSeconds} s ago, ${s.events} events`);
  if (s.plugins.length === 0) lines.push('', 'no plugin is loaded');
  else {
    const header = ['plugin', 'version', 'runtime', 'state', 'health', 'delivered', 'dropped', 'errors', 'denied', 'writes', 'calls', 'fired', 'queue'];
    const rows = s.plugins.map((p) =>
      [p.plugin, p.version, p.isolation !== null && p.isolation !== 'none' ? `${p.runtime} (${p.isolation})` : p.runtime, p.state, p.state === 'loaded' ? p.health : '-', p.delivered, p.dropped, p.errors, p.denials, p.writes, p.serviceCalls, p.eventsFired, p.queueDepth].map(String),
    );
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (cells: string[]) => `  ${cells.map((c, i) => (i < 5 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd()}`;
    lines.push('', fmt(header), ...rows.map(fmt));
    for (const p of s.plugins) {
      const entries = (s.entries ?? []).filter((e) => e.domain === p.plugin);
      // One entry per plugin is the common case, shown by the row; several (or a disabled one) are listed.
      if (entries.length > 1 || entries.some((e) => e.disabledBy !== null)) {
        for (const e of entries) lines.push(`  ${p.plugin}: entry ${e.entryId} "${e.title}" ${e.state}${e.disabledBy ? ` (disabled by ${e.disabledBy})` : ''}${e.reason ? `: ${e.reason}` : ''}`);
      }
      if (p.reason) lines.push(`  ${p.plugin}: ${p.reason}`);
      if (p.lastError) lines.push(`  ${p.plugin}: last error ${p.lastError.time}${p.lastError.hook ? ` in ${p.lastError.hook}` : ''}: ${p.lastError.message} [${p.lastError.code}]`);
    }
  }
  const loaded = new Set(s.plugins.map((p) => p.plugin));
  const stored = (s.entries ?? []).filter((e) => !loaded.has(e.domain));
  if (stored.length > 0) lines.push('', `stored entries of plugins not loaded (${stored.length}):`, ...stored.map((e) => `  ${e.domain}: entry ${e.entryId} "${e.title}"${e.disabledBy ? ` (disabled by ${e.disabledBy})` : ''}`));
  return `${lines.join('\n')}\n`;
}
