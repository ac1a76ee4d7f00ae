import { ErrorCode, type Clock } from '@homecore/core-traits';
import type { PluginRecord } from './record.js';
import type { EntrySummary, PermissionDenial, PluginStats, PluginSummary, RegistryActivity } from './types.js';

const AUDIT_CAPACITY = 1000;

/** The activity stream, the audit trail of denials, and the summaries and stats read from records. */
export class Bookkeeping {
  private readonly listeners = new Set<(activity: RegistryActivity) => void>();
  private readonly denials: PermissionDenial[] = [];

  constructor(private readonly clock: Clock) {}

  /** Tells every activity listener; a throwing one is ignored. */
  emit(activity: RegistryActivity): void {
    for (const listener of this.listeners) {
      try {
        listener(activity);
      } catch {
        // An activity listener is a log sink: its failure must never break the registry.
      }
    }
  }

  /** Adds an activity listener; returns its remover. */
  on(listener: (activity: RegistryActivity) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /**
   * Keeps a refused context call in the audit trail. A permission denial (or a core-owned event
   * type) is counted in `permissionDenials` and reported as `permission_denied`; a feedback loop is
   * counted and reported by its guard.
   */
  recordDenial(rec: PluginRecord, action: string, target: string, hook: string | null, code: string = ErrorCode.PERMISSION_DENIED): void {
    const denial: PermissionDenial = Object.freeze({ time: this.clock.now(), plugin: rec.id, code, action, target, hook });
    this.denials.push(denial);
    if (this.denials.length > AUDIT_CAPACITY) this.denials.shift();
    if (code === ErrorCode.FEEDBACK_LOOP) return;
    rec.denials++;
    this.emit({ type: 'permission_denied', plugin: rec.id, action, target, hook, code });
  }

  /** The audit trail, oldest first, optionally of one plugin. */
  audit(id?: string): PermissionDenial[] {
    return id === undefined ? [...this.denials] : this.denials.filter((d) => d.plugin === id);
  }
}

/** A frozen summary, shared by callers until the entry, manifest, runtime or health changes. */
export function summaryOf(rec: PluginRecord): PluginSummary {
  if (rec.summary !== undefined) return rec.summary;
  rec.summary = Object.freeze({
    id: rec.id,
    manifest: rec.manifest,
    runtime: rec.runtime.kind,
    state: rec.entry.state,
    health: rec.health,
    reason: rec.health !== 'ok' ? rec.healthReason : rec.entry.reason,
    entryId: rec.entry.entry_id,
    entries: Object.freeze([rec, ...rec.siblings].map(entrySummaryOf)),
  });
  return rec.summary;
}

/** A snapshot of one plugin's figures, including its runtime's (empty if that throws). */
export function statsOf(rec: PluginRecord): PluginStats {
  let runtime = {};
  const instance = rec.active?.instance;
  if (instance !== undefined) {
    try {
      runtime = { ...instance.stats() };
    } catch {
      runtime = {};
    }
  }
  return {
    id: rec.id,
    state: rec.entry.state,
    health: rec.health,
    reason: rec.health !== 'ok' ? rec.healthReason : rec.entry.reason,
    delivered: rec.delivered,
    dropped: { ...rec.dropped },
    overflowBySource: Object.fromEntries(rec.overflowBySource),
    overflowCaused: rec.overflowCaused,
    errors: rec.errors,
    serviceCalls: rec.serviceCalls,
    writes: rec.writes,
    servicesCalled: rec.servicesCalled,
    eventsFired: rec.eventsFired,
    handlerMs: rec.durations.summary(),
    queueDepth: rec.queuedEvents,
    permissionDenials: rec.denials,
    refused: { ...rec.refused },
    held: {
      subscriptions: rec.active?.runtimeSubscriptions ?? 0,
      subscriptionBytes: rec.active?.subscriptionBytes ?? 0,
      entities: rec.owned.size,
      timers: rec.active === undefined ? 0 : rec.active.timers.size + rec.active.dueTimers,
      pendingServiceCalls: rec.pendingServiceCalls,
    },
    runtime,
    lastError: rec.lastError,
    loadedAt: rec.loadedAt,
    entryId: rec.entry.entry_id,
    entries: {},
  };
}

/** One plugin's figures with every entry's under `entries`. */
export function pluginStatsOf(rec: PluginRecord): PluginStats {
  const own = statsOf(rec);
  const entries: Record<string, PluginStats> = { [own.entryId]: own };
  for (const sibling of rec.siblings) entries[sibling.entry.entry_id] = statsOf(sibling);
  return { ...own, entries };
}

function entrySummaryOf(rec: PluginRecord): EntrySummary {
  return Object.freeze({
    entryId: rec.entry.entry_id,
    uniqueId: rec.entry.unique_id,
    state: rec.entry.state,
    health: rec.health,
    reason: rec.health !== 'ok' ? rec.healthReason : rec.entry.reason,
    disabledBy: rec.entry.disabled_by,
  });
}
