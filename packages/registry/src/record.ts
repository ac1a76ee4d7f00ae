import type {
  ConfigEntry,
  HomecoreError,
  DeliveredEvent,
  PermissionSet,
  PluginCode,
  PluginContext,
  PluginInstance,
  PluginRuntime,
  ServiceHandler,
} from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import { Fifo, type IndexEntry } from './dispatch.js';
import type { ActionKind, PluginLimits, TokenBucket } from './guard.js';
import { DurationWindow } from './util.js';
import type { DropReason, PluginFailure, PluginHealth, PluginSummary } from './types.js';

/** A plugin folder found by discovery: its real path, its plugin directory and its entry file. */
export interface FolderSource {
  readonly root: string;
  readonly dir: string;
  readonly entry: string;
}

/** One running instance of a plugin with everything it registered; a reload swaps activations. */
export interface Activation {
  readonly record: PluginRecord;
  readonly instance: PluginInstance;
  readonly manifest: ResolvedManifest;
  readonly permissions: PermissionSet;
  readonly abort: AbortController;
  context: PluginContext | undefined;
  /** Its subscriptions in the index (manifest ones plus ctx.subscribe). */
  readonly subscriptions: Set<IndexEntry<Activation>>;
  /** Services it registered with ctx.registerService. */
  readonly services: Map<string, ServiceHandler>;
  /** Manifest services routed to instance.handleServiceCall. */
  readonly routed: Set<string>;
  /** Pending ctx.callLater timers (clock handles), cancelled at teardown. */
  readonly timers: Set<unknown>;
  /** ctx.callLater timers that came due and wait in the queue for their turn. */
  dueTimers: number;
  /** Subscription patterns added at run time (ctx.subscribe), and their bytes. */
  runtimeSubscriptions: number;
  subscriptionBytes: number;
  /** Its host-side limits: the manifest's, capped by the host's. */
  readonly limits: PluginLimits;
  /** Largest event the instance accepts (`PluginInstance.maxEventBytes`, read once), if capped. */
  readonly maxEventBytes: number | undefined;
  /** The hook running now, for audit records and error messages. */
  hook: string | null;
  /** The context id of the event being handled, the parent of the plugin's writes. */
  parentContextId: string | null;
  closed: boolean;
  /** Memos of the read and subscribe checks dispatch makes per event (permissions are fixed per activation). */
  readonly mayRead: Map<string, boolean>;
  readonly maySubscribe: Map<string, boolean>;
}

/** A call on the plugin's instance that waits its turn in the queue behind earlier events. */
export class QueuedTask {
  constructor(
    readonly hook: string,
    readonly run: (instance: PluginInstance) => Promise<unknown>,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
    /** A ctx.callLater callback: it feeds the failure policy and is dropped like an event in backoff or quarantine. */
    readonly timer = false,
    /** Called once when the task leaves the queue, to run or dropped. */
    readonly onLeave?: () => void,
  ) {}
}

/** Work for one plugin, delivered in order, one at a time: an event (queued as is, no wrapper) or a task. */
export type QueueItem = DeliveredEvent | QueuedTask;

/**
 * Everything the registry keeps about one config entry of a plugin; lives from load (or addEntry) to
 * unload (or removeEntry). A domain's first entry has the domain as its id and is what the
 * domain-keyed API addresses; each further entry is a record of its own (`<domain>/<entry_id>`) with
 * its own instance, queue, subscriptions, stats and failure state, listed under the first (`siblings`).
 */
export class PluginRecord {
  readonly id: string;
  /** The plugin's domain (the id of its first entry's record). */
  readonly domain: string;
  /** For a further entry: the record of the domain's first entry. */
  readonly primary: PluginRecord | undefined;
  /** For a first entry: the records of the domain's further entries, oldest first. */
  readonly siblings: PluginRecord[] = [];
  code: PluginCode;
  baseDir: string | undefined;
  /** The folder the plugin was discovered in (and its plugin directory): a reload without a new version re-reads it. */
  folder: FolderSource | undefined = undefined;
  #manifest: ResolvedManifest;
  #runtime: PluginRuntime;
  #entry: ConfigEntry;
  #health: PluginHealth = 'ok';
  #healthReason: string | null = null;
  /** The summary get() and list() hand out; cleared by the setters of what it shows, rebuilt on demand. */
  summary: PluginSummary | undefined = undefined;

  /** The activation receiving events; undefined unless loaded. */
  active: Activation | undefined;
  /** An activation being set up (first setup or the new side of a reload). */
  pending: Activation | undefined;

  consecutiveFailures = 0;
  backoffs = 0;
  backoffTimer: unknown = undefined;
  retryTimer: unknown = undefined;
  tries = 0;
  removed = false;

  readonly queue = new Fifo<QueueItem>();
  queuedEvents = 0;
  /** A pump is draining the queue (possibly waiting for a handler). */
  running = false;
  /** A pump will start in the registry's next pump microtask. */
  pumpScheduled = false;
  paused = false;
  /** The activation whose event handler runs now, its hook, and its start time (-1: not timed). */
  inFlight: Activation | undefined = undefined;
  inFlightHook = '';
  handlerStarted = -1;
  /** Continuations of an async handler, made once per record so a delivery allocates no closure. */
  onHandled: () => void = noop;
  onHandlerFailed: (error: unknown) => void = noop;
  /** The in-flight event handler was attached to the shared continuations above. */
  sharedInFlight = false;
  /** A timed-out handler still holds the shared continuations: their next call is its late result. */
  sharedAbandoned = false;
  /** Identifies the in-flight event for continuations made per delivery (while sharedAbandoned). */
  asyncToken = 0;
  /** The queued task (service call, config update, timer) running now. */
  inFlightTask: QueuedTask | undefined = undefined;
  /** Handler timeout: when the in-flight item started waiting on the registry clock (-1: nothing pending), and its limit. */
  pendingSince = -1;
  pendingLimit = Infinity;
  /** One timer per record watches pending handlers while its pump runs (re-arming itself, not set per event). */
  watchdog: unknown = undefined;
  watchdogAt = Infinity;
  onWatchdog: () => void = noop;
  /** The bus event sequence this record last accepted, to receive each event once. */
  stamp = 0;
  /** Waiters for the pump to stop. */
  stopWaiters: (() => void)[] = [];

  /** Serialises lifecycle operations (setup, retry, unload, reload, config updates). */
  op: Promise<unknown> = Promise.resolve();

  /** Core registrations of `<id>.<service>`, shared by activations across reloads. */
  readonly coreServices = new Map<string, () => void>();

  delivered = 0;
  readonly dropped: Record<DropReason, number> = { overflow: 0, backoff: 0, quarantined: 0, too_large: 0, feedback_loop: 0 };
  /** Queued events caused by plugins, by source (`plugin:<domain>`): the overflow policy drops from the largest. */
  readonly queuedBySource = new Map<string, number>();
  /** Overflow drops by the dropped event's source (`external` for the host's). */
  readonly overflowBySource = new Map<string, number>();
  /** This plugin's events dropped from full queues. */
  overflowCaused = 0;
  /** Host-side limits: refusals, per-second budgets, entities created, calls in flight. */
  readonly refused = { feedbackLoop: 0, rateLimited: 0, resourceLimit: 0 };
  readonly buckets: Partial<Record<ActionKind, TokenBucket>> = {};
  /** Budgets and caps refusing right now: reported once per run of refusals, then refused cheaply. */
  readonly limitedNow = new Set<string>();
  /** The errors those cheap repeats throw. */
  readonly repeatRefusals = new Map<string, HomecoreError>();
  readonly owned = new Set<string>();
  pendingServiceCalls = 0;
  errors = 0;
  serviceCalls = 0;
  denials = 0;
  /** What the plugin did through its context: state writes and removes, services called, events fired. */
  writes = 0;
  servicesCalled = 0;
  eventsFired = 0;
  readonly durations = new DurationWindow();
  /** The most recent failure of the plugin's code, and when the running version was set up. */
  lastError: PluginFailure | null = null;
  loadedAt: number | null = null;

  constructor(
    id: string,
    manifest: ResolvedManifest,
    code: PluginCode,
    baseDir: string | undefined,
    runtime: PluginRuntime,
    entry: ConfigEntry,
    primary?: PluginRecord,
  ) {
    this.id = id;
    this.domain = primary?.domain ?? id;
    this.primary = primary;
    this.#manifest = manifest;
    this.code = code;
    this.baseDir = baseDir;
    this.#runtime = runtime;
    this.#entry = entry;
  }

  get manifest(): ResolvedManifest {
    return this.#manifest;
  }
  set manifest(value: ResolvedManifest) {
    this.#manifest = value;
    this.summary = undefined;
  }

  get runtime(): PluginRuntime {
    return this.#runtime;
  }
  set runtime(value: PluginRuntime) {
    this.#runtime = value;
    this.summary = undefined;
  }

  get entry(): ConfigEntry {
    return this.#entry;
  }
  set entry(value: ConfigEntry) {
    this.#entry = value;
    this.summary = undefined;
    if (this.primary !== undefined) this.primary.summary = undefined;
    this.onEntry?.(value);
  }

  /** Called with every new entry (the entry store keeps its stored fields); unset without a store. */
  onEntry: ((entry: ConfigEntry) => void) | undefined = undefined;

  get health(): PluginHealth {
    return this.#health;
  }
  set health(value: PluginHealth) {
    this.#health = value;
    this.summary = undefined;
    if (this.primary !== undefined) this.primary.summary = undefined;
  }

  get healthReason(): string | null {
    return this.#healthReason;
  }
  set healthReason(value: string | null) {
    this.#healthReason = value;
    this.summary = undefined;
    if (this.primary !== undefined) this.primary.summary = undefined;
  }

  /** Remembers a failure of the plugin's code for stats(). */
  noteFailure(error: HomecoreError, hook: string | null, time: number): void {
    this.lastError = Object.freeze({ code: error.code, message: error.message, hook: error.hook ?? hook, time });
  }

  /** The activation service calls and context callbacks should reach now. */
  current(): Activation | undefined {
    return this.active ?? this.pending;
  }

  /** Resolves once no handler of this plugin runs. */
  whenStopped(): Promise<void> {
    if (!this.running && !this.pumpScheduled) return Promise.resolve();
    return new Promise((resolve) => this.stopWaiters.push(resolve));
  }

  notifyStopped(): void {
    if (this.stopWaiters.length === 0) return;
    const waiters = this.stopWaiters;
    this.stopWaiters = [];
    for (const w of waiters) w();
  }
}

function noop(): void {}
