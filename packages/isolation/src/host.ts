import {
  ErrorCode,
  EventType,
  HomecoreError,
  PermissionSet,
  isHomecoreError,
  type BusEvent,
  type ConfigEntry,
  type DeliveredEvent,
  type JsonValue,
  type PermissionAction,
  type PluginContext,
  type PluginHooks,
  type PluginInstance,
  type PluginManifest,
  type RuntimeStats,
  type ServiceCall,
} from '@homecore/core-traits';
import { startProcess, startWorker, type Link, type LinkExit } from './link.js';
import { fromWire, guestMessageProblem, type CallOp, type Effect, type GuestMessage, type HostMessage, type MirrorChange, type WireError } from './protocol.js';

/** Where an isolated plugin runs. */
export type IsolatedLevel = 'worker' | 'process';

/** How to start an isolated plugin. */
export interface IsolatedOptions {
  /** `worker` (a worker thread) or `process` (a child Node process under the permission model). */
  readonly level: IsolatedLevel;
  /** The guest module: a file that calls `serveGuest` with the runtime's loader. */
  readonly guest: URL;
  /** The plugin's entry file (absolute path), or (worker level only) a module's bytes, handed to the guest's loader. */
  readonly code: string | Uint8Array;
  readonly manifest: PluginManifest;
  /** The plugin's folder: the guest's working directory, and readable at `process` level. */
  readonly baseDir?: string;
  /** JSON options for the guest's loader (for example a wasm runtime's policy). */
  readonly guestOptions?: JsonValue;
  /** The core's event feed, to keep the guest's mirror of readable states current. */
  readonly listen?: (listener: (event: BusEvent) => void) => () => void;
  /** Heap limit of the guest in MiB. */
  readonly memoryMb: number;
  /** Largest message a process guest may send, in bytes (default 8 MiB). */
  readonly maxFrameBytes?: number;
  /** A wall-clock bound on every call (the backstop): a call still running then is preempted. */
  readonly callTimeoutMs?: number;
  /** More paths a process guest may read (shared libraries of the plugin outside its folder). */
  readonly allowRead?: readonly string[];
  /** Consecutive restarts that may fail before the plugin stays stopped (default 5). */
  readonly maxRestarts?: number;
  /** Wait before the second restart in a row, doubling up to 30 s (default 250 ms). */
  readonly restartBackoffMs?: number;
  /** How long a guest may take to load the plugin, in ms (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Receives the host's warnings about this plugin (refused actions, restarts). */
  readonly warn?: (message: string) => void;
}

const DEFAULT_FRAME_BYTES = 8 * 1024 * 1024;
const RESTART_SETUP_MS = 30_000;
const MAX_RESTART_BACKOFF_MS = 30_000;
const OUTPUT_LINES_PER_MINUTE = 600;
const TAIL_LINES = 10;
const LOG_LEVELS = new Set(['debug', 'info', 'warn', 'error']);

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void; timer?: ReturnType<typeof setTimeout> };

/**
 * Loads a plugin in a worker thread or a child process and returns it as a PluginInstance the
 * registry drives like any other. Resolves once the guest has loaded the plugin (load errors are
 * the runtime's own coded errors); setup has not run yet.
 */
export async function startIsolated(options: IsolatedOptions): Promise<PluginInstance> {
  const instance = new IsolatedInstance(options);
  await instance.start();
  return instance;
}

class IsolatedInstance implements PluginInstance {
  readonly kind: 'native' | 'wasm';
  hooks: PluginHooks = { teardown: false, stateChanged: false, event: false, serviceCall: false, configUpdate: false };
  maxEventBytes: number | undefined;
  /** Present when the guest's plugin migrates config entries (native migrateEntry, wasm hc_migrate_entry). */
  migrateEntry?: (entry: ConfigEntry) => Promise<unknown>;
  readonly #options: IsolatedOptions;
  readonly #plugin: string;
  readonly #permissions: PermissionSet;
  #link: Link | undefined;
  #state: 'starting' | 'ready' | 'dead' | 'failed' | 'disposed' = 'starting';
  #ready: { resolve: () => void; reject: (error: unknown) => void } | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextCall = 1;
  #context: PluginContext | undefined;
  #setUp = false;
  #unlisten: (() => void) | undefined;
  #mirrorQueue: MirrorChange[] = [];
  #mirrorArmed = false;
  readonly #subs = new Map<number, () => void>();
  readonly #services = new Map<number, () => void>();
  readonly #timers = new Map<number, () => void>();
  #restarting: Promise<void> | undefined;
  #restartFailures = 0;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #lastDeath: HomecoreError | undefined;
  #outputBudget = OUTPUT_LINES_PER_MINUTE;
  #outputWindow = 0;
  readonly #tail: string[] = [];
  #fatal: string | undefined;
  /** Counts preempt() calls, so a call waiting for a restart knows it was given up meanwhile. */
  #preemptions = 0;
  #lastPreempt: HomecoreError | undefined;
  readonly #stats = { calls: 0, crashes: 0, preemptions: 0, restarts: 0, effectsApplied: 0, effectsRefused: 0, outputDropped: 0, heapUsedBytes: 0 };

  constructor(options: IsolatedOptions) {
    this.#options = options;
    this.#plugin = options.manifest.domain;
    this.kind = options.manifest.runtime === 'wasm' ? 'wasm' : 'native';
    this.#permissions = PermissionSet.parse(options.manifest.permissions ?? [], this.#plugin);
  }

  // ---------------------------------------------------------------- the guest's life

  /** Starts a guest and has it load the plugin. */
  async start(): Promise<void> {
    const options = this.#options;
    const limit = options.startTimeoutMs ?? 30_000;
    const loaded = new Promise<void>((resolve, reject) => (this.#ready = { resolve, reject }));
    const events = {
      message: (message: unknown) => this.#receive(link, message),
      output: (stream: 'stdout' | 'stderr', line: string) => this.#output(stream, line),
      exit: (exit: LinkExit) => this.#exited(link, exit),
    };
    const linkOptions = {
      guest: options.guest,
      memoryMb: options.memoryMb,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_FRAME_BYTES,
      allowRead: options.baseDir !== undefined ? [options.baseDir, ...(options.allowRead ?? [])] : [...(options.allowRead ?? [])],
      ...(options.baseDir !== undefined ? { cwd: options.baseDir } : {}),
    };
    if (options.level === 'process' && typeof options.code !== 'string') {
      throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, 'process isolation loads the plugin from its entry file; pass its path, not bytes', { plugin: this.#plugin });
    }
    let link: Link;
    try {
      link = options.level === 'worker' ? startWorker(linkOptions, events) : startProcess(linkOptions, events);
    } catch (error) {
      throw new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `the ${options.level} for the plugin could not start: ${(error as Error).message}`, { plugin: this.#plugin, cause: error });
    }
    this.#link = link;
    this.#state = 'starting';
    link.send({ t: 'init', kind: this.kind, code: options.code, manifest: options.manifest, ...(options.baseDir !== undefined ? { baseDir: options.baseDir } : {}), ...(options.guestOptions !== undefined ? { options: options.guestOptions } : {}) });
    const timer = setTimeout(() => {
      this.#ready?.reject(new HomecoreError(ErrorCode.ISOLATION_UNAVAILABLE, `the ${options.level} did not load the plugin within ${limit} ms`, { plugin: this.#plugin }));
    }, limit);
    try {
      await loaded;
    } catch (error) {
      if (this.#link === link) this.#link = undefined;
      link.kill();
      throw error;
    } finally {
      clearTimeout(timer);
      this.#ready = undefined;
    }
    this.#state = 'ready';
  }

  #receive(link: Link, raw: unknown): void {
    if (link !== this.#link) return;
    const problem = guestMessageProblem(raw);
    if (problem !== undefined) {
      this.#violation(link, problem);
      return;
    }
    const message = raw as GuestMessage;
    switch (message.t) {
      case 'ready': {
        const h = message.hooks as Record<string, unknown>;
        this.hooks = Object.freeze({ teardown: h.teardown === true, stateChanged: h.stateChanged === true, event: h.event === true, serviceCall: h.serviceCall === true, configUpdate: h.configUpdate === true });
        if (typeof message.maxEventBytes === 'number' && message.maxEventBytes > 0) this.maxEventBytes = message.maxEventBytes;
        if (h.migrate === true) this.migrateEntry ??= (entry) => this.#live().then(() => this.#call('migrate', entry));
        this.#ready?.resolve();
        return;
      }
      case 'fail':
        this.#ready?.reject(fromWire(message.error, this.#plugin));
        return;
      case 'done':
      case 'error': {
        if (message.ops !== undefined) this.#apply(message.ops);
        if (typeof message.heap === 'number') this.#stats.heapUsedBytes = message.heap;
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        this.#pending.delete(message.id);
        if (pending.timer !== undefined) clearTimeout(pending.timer);
        if (message.t === 'done') {
          this.#restartFailures = 0;
          pending.resolve(message.value);
        } else pending.reject(fromWire(message.error as WireError, this.#plugin));
        return;
      }
      case 'fx':
        this.#apply(message.ops);
        return;
    }
  }

  #violation(link: Link, problem: string): void {
    this.#death(
      new HomecoreError(ErrorCode.IPC_INVALID, `the plugin's ${this.#options.level} broke the host protocol (${problem}), so it was stopped; nothing it sent after that was applied`, {
        plugin: this.#plugin,
        details: { problem },
      }),
    );
    link.kill();
  }

  #exited(link: Link, exit: LinkExit): void {
    if (link !== this.#link) return;
    const fatal = this.#fatal;
    this.#fatal = undefined;
    const kind = fatal !== undefined && /heap out of memory|heap limit/i.test(fatal) ? 'memory' : exit.kind;
    const tail = fatal !== undefined ? `; ${fatal}` : this.#tail.length > 0 ? `; last output: ${this.#tail.slice(-3).join(' | ')}` : '';
    const code = exit.kind === 'protocol' ? ErrorCode.IPC_INVALID : ErrorCode.PLUGIN_CRASHED;
    const advice =
      kind === 'memory'
        ? 'reduce its memory use or raise limits.memory_mb (the host caps it)'
        : 'fix the crash (an uncaught exception, process.exit or a fault); the plugin is restarted until the failure policy quarantines it';
    const error = new HomecoreError(code, `the plugin's ${this.#options.level} ended: ${exit.reason}${tail}; ${advice}`, {
      plugin: this.#plugin,
      details: { reason: kind, level: this.#options.level },
    });
    if (this.#state === 'starting') {
      this.#ready?.reject(error);
      return;
    }
    this.#death(error);
  }

  /** The guest is gone: fail what was in flight, drop what it had registered, and restart it if it was set up. */
  #death(error: HomecoreError): void {
    if (this.#state === 'disposed') return;
    const preempted = error.code === ErrorCode.PLUGIN_PREEMPTED;
    if (preempted) this.#stats.preemptions++;
    else this.#stats.crashes++;
    this.#link = undefined;
    this.#lastDeath = error;
    this.#state = 'dead';
    this.#mirrorQueue = [];
    for (const pending of this.#pending.values()) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(error);
    }
    const inFlight = this.#pending.size > 0;
    this.#pending.clear();
    this.#dropRegistrations();
    // With a call in flight the registry reports the failure; a guest that dies idle is reported here.
    if (!inFlight) this.#options.warn?.(error.message);
    // A restart that dies schedules the next one itself.
    if (this.#setUp && this.#restarting === undefined) this.#scheduleRestart();
  }

  #dropRegistrations(): void {
    for (const remove of [...this.#subs.values(), ...this.#services.values(), ...this.#timers.values()]) {
      try {
        remove();
      } catch {
        // the registry already dropped it
      }
    }
    this.#subs.clear();
    this.#services.clear();
    this.#timers.clear();
  }

  #scheduleRestart(): void {
    const maxRestarts = this.#options.maxRestarts ?? 5;
    if (this.#restartFailures >= maxRestarts) {
      this.#state = 'failed';
      this.#options.warn?.(`gave up restarting after ${this.#restartFailures} failed restarts in a row; reload the plugin once it is fixed`);
      return;
    }
    const base = this.#options.restartBackoffMs ?? 250;
    if (this.#restartFailures === 0) {
      // At once: the next call waits for the fresh guest instead of failing.
      void this.#restart().catch(ignore);
      return;
    }
    const delay = Math.min(MAX_RESTART_BACKOFF_MS, base * 2 ** (this.#restartFailures - 1));
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      void this.#restart().catch(ignore);
    }, delay);
    this.#restartTimer.unref();
  }

  /** A fresh guest, set up again with the same context (the same config entry; host state is kept). */
  #restart(): Promise<void> {
    if (this.#restarting !== undefined) return this.#restarting;
    const attempt = (async () => {
      try {
        await this.start();
        this.#state = 'ready';
        await this.#setupGuest(true);
        this.#stats.restarts++;
      } catch (error) {
        this.#restartFailures++;
        const failure = isHomecoreError(error) ? (error as HomecoreError) : new HomecoreError(ErrorCode.PLUGIN_CRASHED, String(error), { plugin: this.#plugin });
        this.#link?.kill();
        this.#link = undefined;
        this.#dropRegistrations();
        this.#lastDeath = failure;
        this.#state = 'dead';
        this.#options.warn?.(`restart failed: ${failure.message}`);
        this.#scheduleRestart();
        throw failure;
      } finally {
        this.#restarting = undefined;
      }
    })();
    this.#restarting = attempt;
    attempt.catch(() => undefined);
    return attempt;
  }

  /** Waits for a live guest: a restart in progress is awaited; a stopped plugin fails the call. */
  async #live(): Promise<void> {
    if (this.#state === 'ready') return;
    if (this.#restarting !== undefined) {
      // A call that timed out while it waited for the restart is not sent afterwards.
      const generation = this.#preemptions;
      await this.#restarting;
      if (this.#preemptions !== generation) throw this.#lastPreempt!;
      return;
    }
    if (this.#state === 'disposed') {
      throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'the isolated plugin was disposed; load it again', { plugin: this.#plugin });
    }
    const last = this.#lastDeath?.message ?? 'it stopped';
    const why = this.#state === 'failed' ? 'the host gave up restarting it' : 'it is waiting to be restarted';
    throw new HomecoreError(ErrorCode.PLUGIN_CRASHED, `the plugin is not running (${why}); last failure: ${last}`, {
      plugin: this.#plugin,
      details: { reason: this.#lastDeath?.details?.reason ?? 'exit', level: this.#options.level },
    });
  }

  // ---------------------------------------------------------------- calls into the guest

  #call(op: CallOp, arg?: unknown, raw?: string, boundMs = this.#options.callTimeoutMs): Promise<unknown> {
    const link = this.#link!;
    const id = this.#nextCall++;
    this.#stats.calls++;
    const result = new Promise<unknown>((resolve, reject) => {
      const pending: Pending = { resolve, reject };
      const bound = boundMs;
      if (bound !== undefined && Number.isFinite(bound)) {
        pending.timer = setTimeout(() => {
          if (this.#link !== link) return;
          this.preempt(
            new HomecoreError(ErrorCode.PLUGIN_PREEMPTED, `${op} was still running after its ${bound} ms wall-clock bound, so the ${this.#options.level} was stopped: keep hooks short, or raise the bound`, {
              plugin: this.#plugin,
              hook: op,
              details: { limitMs: bound },
            }),
          );
        }, bound);
      }
      this.#pending.set(id, pending);
    });
    const s = this.#takeMirror();
    const message: HostMessage = { t: 'call', id, op, now: this.#now(), live: this.#clockIsLive(), ...(arg !== undefined ? { arg } : {}), ...(s !== undefined ? { s } : {}) };
    link.send(message, raw);
    return result;
  }

  async setup(context: PluginContext): Promise<void> {
    await this.#live();
    this.#context = context;
    if (this.#unlisten === undefined && this.#options.listen !== undefined) this.#unlisten = this.#options.listen((event) => this.#observe(event));
    context.signal.addEventListener('abort', () => this.#link?.send({ t: 'abort' }), { once: true });
    await this.#setupGuest();
  }

  /**
   * Runs setup in the guest. A restart's setup has no registry timeout around it (the registry
   * knows nothing of restarts), so it gets the plugin's setup timeout as its bound here.
   */
  async #setupGuest(restart = false): Promise<void> {
    const context = this.#context!;
    // The mirror starts from every state the plugin may read; changes follow with each call.
    this.#mirrorQueue = context.getStates().map((s) => [s.entity_id, s] as const);
    const bound = restart ? Math.min(this.#options.manifest.limits?.setup_timeout_ms ?? RESTART_SETUP_MS, RESTART_SETUP_MS) : this.#options.callTimeoutMs;
    await this.#call('setup', context.configEntry, undefined, bound);
    this.#setUp = true;
  }

  async teardown(): Promise<void> {
    this.#setUp = false;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    if (this.#state !== 'ready') return; // a stopped guest has nothing to tear down
    await this.#call('teardown');
  }

  handleEvent(delivered: DeliveredEvent): Promise<void> {
    if (this.#state === 'ready') return this.#call('event', undefined, delivered.json()).then(ignore);
    return this.#live().then(() => this.#call('event', undefined, delivered.json()).then(ignore));
  }

  async handleServiceCall(call: ServiceCall): Promise<unknown> {
    await this.#live();
    return this.#call('service', call);
  }

  async handleConfigUpdate(entry: ConfigEntry): Promise<boolean> {
    await this.#live();
    return (await this.#call('config', entry)) === true;
  }

  preempt(error: HomecoreError): void {
    this.#preemptions++;
    this.#lastPreempt = new HomecoreError(ErrorCode.PLUGIN_PREEMPTED, `${error.message.replace(/^\[[^\]]*\] /, '')} while the plugin was restarting`, {
      plugin: this.#plugin,
      ...(error.hook !== undefined ? { hook: error.hook } : {}),
      details: { cause_code: error.code, reason: 'preempted', level: this.#options.level },
    });
    const link = this.#link;
    if (link === undefined || this.#pending.size === 0) return;
    // Dead at once: calls the registry makes next wait for the restart instead of the dying guest.
    this.#death(
      new HomecoreError(ErrorCode.PLUGIN_PREEMPTED, `${error.message.replace(/^\[[^\]]*\] /, '')}; the ${this.#options.level} running it was stopped`, {
        plugin: this.#plugin,
        ...(error.hook !== undefined ? { hook: error.hook } : {}),
        details: { ...(error.details ?? {}), cause_code: error.code, reason: 'preempted', level: this.#options.level },
      }),
    );
    link.kill();
  }

  stats(): RuntimeStats {
    const rss = this.#link?.rss();
    return {
      isolationLevel: this.#options.level === 'worker' ? 1 : 2,
      heapUsedBytes: this.#stats.heapUsedBytes,
      heapLimitBytes: this.#options.memoryMb * 1024 * 1024,
      ...(rss !== undefined ? { rssBytes: rss } : {}),
      hookCalls: this.#stats.calls,
      crashes: this.#stats.crashes,
      preemptions: this.#stats.preemptions,
      restarts: this.#stats.restarts,
      effectsApplied: this.#stats.effectsApplied,
      effectsRefused: this.#stats.effectsRefused,
      outputDropped: this.#stats.outputDropped,
    };
  }

  dispose(): void {
    this.#state = 'disposed';
    this.#setUp = false;
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    this.#unlisten?.();
    this.#unlisten = undefined;
    const link = this.#link;
    this.#link = undefined;
    for (const pending of this.#pending.values()) {
      if (pending.timer !== undefined) clearTimeout(pending.timer);
      pending.reject(new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'the plugin was unloaded while the call ran', { plugin: this.#plugin }));
    }
    this.#pending.clear();
    this.#dropRegistrations();
    link?.kill();
  }

  // ---------------------------------------------------------------- the state mirror

  #observe(event: BusEvent): void {
    if (event.event_type !== EventType.STATE_CHANGED || this.#state === 'disposed' || this.#link === undefined) return;
    const data = event.data as { entity_id?: unknown; new_state?: unknown };
    if (typeof data.entity_id !== 'string' || !this.#permissions.allows('state:read', data.entity_id)) return;
    this.#mirrorQueue.push([data.entity_id, data.new_state ?? null]);
    if (this.#mirrorArmed) return;
    this.#mirrorArmed = true;
    // After the current turn: a call sent meanwhile carries the changes (one message, not two).
    setImmediate(() => {
      this.#mirrorArmed = false;
      const s = this.#takeMirror();
      if (s !== undefined) this.#link?.send({ t: 'states', s, now: this.#now(), live: this.#clockIsLive() });
    });
  }

  #takeMirror(): MirrorChange[] | undefined {
    if (this.#mirrorQueue.length === 0) return undefined;
    const s = this.#mirrorQueue;
    this.#mirrorQueue = [];
    return s;
  }

  #now(): number {
    return this.#context?.now() ?? Date.now();
  }

  /** A host clock that follows the wall clock lets the guest's now() advance between messages. */
  #clockIsLive(): boolean {
    return Math.abs(this.#now() - Date.now()) < 2000;
  }

  // ---------------------------------------------------------------- effects from the guest

  #apply(ops: readonly Effect[]): void {
    const context = this.#context;
    if (context === undefined) return; // nothing may act before setup
    const refused = new Set<string>();
    for (const op of ops) {
      try {
        this.#applyOne(context, op);
        this.#stats.effectsApplied++;
      } catch (error) {
        this.#stats.effectsRefused++;
        const code = isHomecoreError(error) ? (error as HomecoreError).code : 'error';
        if (op[0] !== 'denied' && !refused.has(code)) {
          refused.add(code);
          this.#options.warn?.(`${op[0]} refused: ${(error as Error).message}`);
        }
      }
    }
  }

  #applyOne(context: PluginContext, op: Effect): void {
    switch (op[0]) {
      case 'set':
        context.setState(op[1], op[2], (op[3] ?? undefined) as Record<string, JsonValue> | undefined, { forceUpdate: op[4] });
        return;
      case 'remove':
        context.removeState(op[1]);
        return;
      case 'fire':
        context.fireEvent(op[1], (op[2] ?? {}) as Record<string, JsonValue>);
        return;
      case 'log': {
        const level = LOG_LEVELS.has(op[1]) ? (op[1] as 'info') : 'info';
        context.logger[level](op[2].slice(0, 4096), (op[3] ?? undefined) as Record<string, unknown> | undefined);
        return;
      }
      case 'denied':
        this.#audit(context, op[1], op[2]);
        return;
      case 'sub':
        this.#subs.get(op[1])?.();
        this.#subs.set(op[1], context.subscribe({ entities: op[2], events: op[3] }));
        return;
      case 'unsub':
        this.#subs.get(op[1])?.();
        this.#subs.delete(op[1]);
        return;
      case 'register': {
        const regId = op[1];
        this.#services.get(regId)?.();
        this.#services.set(regId, context.registerService(op[2], (call) => this.#handler(regId, call)));
        return;
      }
      case 'unregister':
        this.#services.get(op[1])?.();
        this.#services.delete(op[1]);
        return;
      case 'later': {
        const timerId = op[1];
        this.#timers.get(timerId)?.();
        this.#timers.set(
          timerId,
          context.callLater(op[2], () => {
            this.#timers.delete(timerId);
            return this.#live().then(() => this.#call('timer', { timerId })).then(ignore);
          }),
        );
        return;
      }
      case 'cancel':
        this.#timers.get(op[1])?.();
        this.#timers.delete(op[1]);
        return;
      case 'call': {
        const [, requestId, domain, service, data, returnResponse] = op;
        const link = this.#link;
        const reply = (message: HostMessage) => {
          if (this.#link === link) link?.send(message);
        };
        context.callService(domain, service, (data ?? {}) as Record<string, JsonValue>, { returnResponse }).then(
          (value) => reply({ t: 'reply', id: requestId, ok: true, value: value === undefined ? null : value }),
          (error: unknown) => reply({ t: 'reply', id: requestId, ok: false, error: { code: isHomecoreError(error) ? (error as HomecoreError).code : ErrorCode.INTERNAL, message: (error as Error)?.message ?? String(error) } }),
        );
        return;
      }
    }
  }

  /**
   * Records a denial the guest reported, through the registry's own check: only when the host's
   * permissions deny it too, so a hostile guest cannot make the host act by calling it a denial.
   */
  #audit(context: PluginContext, action: string, target: string): void {
    if (action === 'service:register') {
      const name = target.startsWith(`${this.#plugin}.`) ? target.slice(this.#plugin.length + 1) : target;
      if ((this.#options.manifest.services ?? []).some((s) => s.name === name)) return;
      context.registerService(name, () => undefined);
      return;
    }
    const permission = action as PermissionAction;
    if (this.#permissions.allows(permission, target)) return;
    switch (permission) {
      case 'state:read':
        context.getState(target);
        return;
      case 'state:write':
        context.removeState(target);
        return;
      case 'event:fire':
        context.fireEvent(target);
        return;
      case 'event:subscribe':
        context.subscribe({ events: [target] });
        return;
      case 'service:call': {
        const dot = target.indexOf('.');
        void context.callService(target.slice(0, dot), target.slice(dot + 1)).catch(ignore);
        return;
      }
    }
  }

  #handler(regId: number, call: ServiceCall): Promise<unknown> {
    return this.#live().then(() => this.#call('handler', { regId, call }));
  }

  #output(stream: 'stdout' | 'stderr', line: string): void {
    // V8's fatal errors (out of memory) name the cause better than the stack dump after them.
    if (stream === 'stderr' && this.#fatal === undefined && /^(FATAL ERROR|\S*Error[:\s])/.test(line)) this.#fatal = line.trim();
    this.#tail.push(line);
    if (this.#tail.length > TAIL_LINES) this.#tail.shift();
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.#outputWindow) {
      this.#outputWindow = minute;
      this.#outputBudget = OUTPUT_LINES_PER_MINUTE;
    }
    if (this.#outputBudget <= 0 || this.#context === undefined) {
      this.#stats.outputDropped++;
      return;
    }
    this.#outputBudget--;
    this.#context.logger[stream === 'stderr' ? 'warn' : 'info'](line, { stream });
  }
}

function ignore(): undefined {
  return undefined;
}
