import { errorLocation, type HomecoreError } from '@homecore/core-traits';
import type { PluginStats, RegistryActivity } from '@homecore/registry';
import type { ScenarioStep } from './scenario.js';

/** A sink for what `homecore run` reports: text for people or JSON lines for programs. */
export interface RunOutput {
  /** Something a plugin or the registry did. */
  activity(activity: RegistryActivity): void;
  /** A scenario step about to run. */
  step(step: ScenarioStep, source: string): void;
  /** A note from the command itself. */
  note(message: string): void;
  /** An error, with where it happened (a folder, a scenario line). */
  error(error: HomecoreError, where?: string): void;
  /** The end-of-run summary. */
  summary(summary: RunSummary): void;
}

/** The counters of one plugin's stats that the run summary and the status file both show. */
export function pluginCounters(s: PluginStats | undefined) {
  return {
    delivered: s?.delivered ?? 0,
    dropped: s ? Object.values(s.dropped).reduce((sum, n) => sum + n, 0) : 0,
    errors: s?.errors ?? 0,
    denials: s?.permissionDenials ?? 0,
    servicesHandled: s?.serviceCalls ?? 0,
    writes: s?.writes ?? 0,
    serviceCalls: s?.servicesCalled ?? 0,
    eventsFired: s?.eventsFired ?? 0,
    restarts: typeof s?.runtime.restarts === 'number' ? s.runtime.restarts : 0,
  };
}

/** Per-plugin line of the summary. */
export interface PluginSummaryLine {
  plugin: string;
  runtime: string;
  state: string;
  health: string;
  reason: string | null;
  delivered: number;
  dropped: number;
  errors: number;
  denials: number;
  /** Calls to services the plugin registered. */
  servicesHandled: number;
  writes: number;
  serviceCalls: number;
  eventsFired: number;
  handlerP50Ms: number;
  handlerP99Ms: number;
  /** Linear memory in use (wasm plugins), or heap in use (isolated native plugins). */
  memoryKiB: number | null;
  /** Where a native plugin runs: none (in the host process), worker or process; null for wasm. */
  isolation: string | null;
  /** Times an isolated plugin was restarted after a crash or a preemption. */
  restarts: number;
}

/** Refused calls of one kind, from the registry's audit trail. */
export interface DenialLine {
  plugin: string;
  action: string;
  target: string;
  hook: string | null;
  count: number;
}

/** What `homecore run` ends with. */
export interface RunSummary {
  events: Record<string, number>;
  steps: number;
  errors: number;
  plugins: PluginSummaryLine[];
  /** The audit trail, grouped. */
  denials: DenialLine[];
}

type Write = (text: string) => void;

const UNUSUAL_ENTRY_STATES: ReadonlySet<string> = new Set(['setup_retry', 'migration_error', 'failed_unload']);

/** JSON lines: one object per activity, step, note, error, and the summary last. */
export function jsonOutput(write: Write, elapsed: () => number): RunOutput {
  const emit = (record: Record<string, unknown>) => write(`${JSON.stringify({ t: round(elapsed()), ...record })}\n`);
  return {
    activity: (a) => emit({ kind: 'activity', ...serialiseActivity(a) }),
    step: (step, source) => {
      const { kind: action, ...fields } = step;
      emit({ kind: 'step', source: `${source}:${step.line}`, action, ...fields });
    },
    note: (message) => emit({ kind: 'note', message }),
    error: (error, where) => emit({ kind: 'error', where: where ?? null, ...error.toJSON() }),
    summary: (summary) => emit({ kind: 'summary', ...summary }),
  };
}

function serialiseActivity(a: RegistryActivity): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  if ('error' in a) out.error = a.error.toJSON();
  return out;
}

/** Aligned, optionally coloured text for a terminal. */
export function textOutput(write: Write, elapsed: () => number, color: boolean): RunOutput {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const dim = (t: string) => paint('2', t);
  const red = (t: string) => paint('31', t);
  const yellow = (t: string) => paint('33', t);
  const green = (t: string) => paint('32', t);
  const cyan = (t: string) => paint('36', t);
  const line = (who: string, text: string) => write(`${dim(`${elapsed().toFixed(3).padStart(8)}s`)}  ${who.padEnd(24)} ${text}\n`);
  // Where plugin code threw (file:line:column), under the failure; the whole stack is in --json.
  const at = (error: HomecoreError) => {
    const location = errorLocation(error);
    if (location !== undefined && !error.message.includes(location)) line(' '.repeat(24), dim(`at ${location}`));
  };

  return {
    activity(a) {
      const who = cyan(a.plugin.padEnd(24));
      switch (a.type) {
        case 'plugin_loaded': return line(who, green(`loaded (${a.runtime})`));
        case 'plugin_unloaded': return line(who, dim('unloaded'));
        case 'plugin_reloaded': return line(who, green('reloaded'));
        case 'setup_failed': {
          // An entry that cannot be imported never reached setup: say which it was.
          const what = a.error.code === 'HC_ERR_ENTRY_IMPORT_FAILED' ? 'entry import failed' : 'setup failed';
          line(who, red(`${what}: ${a.error.message}${a.retryInMs === null ? '' : ` (retry in ${(a.retryInMs / 1000).toFixed(1)} s)`}`));
          at(a.error);
          const hint = cliHint(a.error.code);
          return hint === undefined ? undefined : line(' '.repeat(24), dim(hint));
        }
        case 'entry_state':
          // The ordinary path (not_loaded -> setup_in_progress -> loaded -> ...) is implied by other lines.
          // A move to setup_error is reported by its setup_failed line.
          if (!UNUSUAL_ENTRY_STATES.has(a.to)) return;
          return line(who, yellow(`config entry ${a.from} -> ${a.to}${a.reason ? ` (${a.reason})` : ''}`));
        case 'state_written': return line(who, `wrote ${a.entity_id} = ${JSON.stringify(a.state)}`);
        case 'state_removed': return line(who, `removed ${a.entity_id}`);
        case 'service_called': return line(who, `called ${a.domain}.${a.service}`);
        case 'service_handled': return line(who, a.ok ? `handled ${a.domain}.${a.service}` : red(`failed ${a.domain}.${a.service}`));
        case 'service_registered': return line(who, dim(`registered service ${a.domain}.${a.service}`));
        case 'event_fired': return line(who, `fired ${a.event_type}`);
        case 'log': {
          const text = `${a.level}: ${a.message}`;
          return line(who, a.level === 'error' ? red(text) : a.level === 'warn' ? yellow(text) : dim(text));
        }
        case 'warning': return line(who, yellow(`warning: ${a.message}`));
        case 'permission_denied': return line(who, yellow(`denied ${a.action} ${a.target}${a.hook ? ` in ${a.hook}` : ''}`));
        case 'handler_failed':
          line(who, red(`${a.hook} failed: ${a.error.message}`));
          return at(a.error);
        case 'event_dropped': return line(who, yellow(`dropped ${a.event_type} (${a.reason})`));
        case 'plugin_backoff': return line(who, yellow(`backing off ${a.backoffMs} ms after ${a.failures} failures`));
        case 'plugin_resumed': return line(who, green('resumed'));
        case 'plugin_quarantined': return line(who, red(`quarantined: ${a.reason}`));
        case 'reload_failed': return line(who, red(`reload failed, old version kept: ${a.error.message}`));
        case 'teardown_failed':
          line(who, red(`teardown failed: ${a.error.message}`));
          return at(a.error);
        case 'grant_stored': return line(who, dim(a.message));
        case 'store_failed': return line(who, red(`saving config entries failed: ${a.message}`));
        case 'upgrade_refused': {
          line(who, red(`upgrade to ${a.version} refused: it asks for more than was accepted (${a.differences.length} widening${a.differences.length === 1 ? '' : 's'})`));
          const hint = cliHint(a.error.code);
          return hint === undefined ? undefined : line(' '.repeat(24), dim(hint));
        }
        default: {
          const unknown = a as { type: string };
          return line(who, unknown.type);
        }
      }
    },
    step(step, source) {
      line(dim(`${source}:${step.line}`.padEnd(24)), describeStep(step));
    },
    note(message) {
      write(`${message}\n`);
    },
    error(error, where) {
      write(`${red('error')} ${where ? `${where}: ` : ''}${error.message} ${dim(`[${error.code}]`)}\n`);
      const hint = cliHint(error.code);
      if (hint !== undefined) write(`      ${dim(hint)}\n`);
    },
    summary(s) {
      write(`\nSummary: ${s.steps} scenario steps, ${Object.values(s.events).reduce((a, b) => a + b, 0)} events, ${s.errors === 0 ? green('no errors') : red(`${s.errors} error(s)`)}\n`);
      const events = Object.entries(s.events).sort((a, b) => b[1] - a[1]);
      if (events.length > 0) write(`  events: ${events.map(([type, n]) => `${type} ${n}`).join(', ')}\n`);
      const header = ['plugin', 'runtime', 'state', 'health', 'delivered', 'dropped', 'errors', 'denied', 'served', 'writes', 'calls', 'fired', 'p50 ms', 'p99 ms', 'memory'];
      // Health describes event handling, which only a loaded plugin does.
      const rows = s.plugins.map((p) => [p.plugin, p.isolation !== null && p.isolation !== 'none' ? `${p.runtime} (${p.isolation}${p.restarts > 0 ? `, ${p.restarts} restart${p.restarts === 1 ? '' : 's'}` : ''})` : p.runtime, p.state, p.state === 'loaded' ? p.health : '-', p.delivered, p.dropped, p.errors, p.denials, p.servicesHandled, p.writes, p.serviceCalls, p.eventsFired, p.handlerP50Ms.toFixed(3), p.handlerP99Ms.toFixed(3), p.memoryKiB === null ? '-' : `${p.memoryKiB} KiB`].map(String));
      const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
      const fmt = (cells: string[]) => `  ${cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}\n`;
      write(dim(fmt(header)));
      for (const r of rows) write(fmt(r));
      for (const p of s.plugins) if (p.reason) write(`  ${yellow(p.plugin)}: ${p.reason}\n`);
      if (s.denials.length > 0) {
        write(`\nPermission denials (audit trail):\n`);
        for (const d of s.denials) write(`  ${yellow(d.plugin)} ${d.action} ${d.target}${d.hook ? ` in ${d.hook}` : ''}${d.count > 1 ? ` (${d.count} times)` : ''}\n`);
      }
    },
  };
}

/** What a command-line user can do about an error, where the message speaks of the API. */
export function cliHint(code: string): string | undefined {
  switch (code) {
    case 'HC_ERR_WASM_UNTRUSTED_KEY':
    case 'HC_ERR_WASM_UNSIGNED':
      return 'homecore: trust the publisher with --trust-key <publisher.pub>, or pass --allow-unsigned on a development machine';
    case 'HC_ERR_UPGRADE_NOT_ACCEPTED':
      return 'homecore: review it with "homecore diff <old-dir> <new-dir>", then "homecore accept <plugin-dir> --data-dir <dir>"';
    case 'HC_ERR_RUNTIME_UNAVAILABLE':
      return 'homecore: install @homecore/runtime-wasm next to @homecore/cli to run wasm plugins';
    default:
      return undefined;
  }
}

/** One line describing a scenario step. */
export function describeStep(step: ScenarioStep): string {
  switch (step.kind) {
    case 'set': return `set ${step.entityId} = ${JSON.stringify(step.state)}${step.attributes ? ` ${JSON.stringify(step.attributes)}` : ''}`;
    case 'call': return `call ${step.domain}.${step.service} ${JSON.stringify(step.data)}`;
    case 'fire': return `fire ${step.eventType} ${JSON.stringify(step.data)}`;
    case 'wait': return `wait ${step.ms} ms`;
    case 'options': return `options of ${step.plugin} = ${JSON.stringify(step.value)}`;
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
