import { ErrorCode, HomecoreError, toHomecoreError, type BusEvent, type Clock, type DeliveredEvent, type HostCore, type PluginInstance } from '@homecore/core-traits';
import type { Bookkeeping } from './bookkeeping.js';
import { serviceParent } from './causality.js';
import { createDeliveredEvent, subscriptionSelects, type SubscriptionIndex } from './dispatch.js';
import type { EntityOwners, LoopGuard } from './guard.js';
import type { IdleTracker } from './idle.js';
import { QueuedTask, type Activation, type PluginRecord, type QueueItem } from './record.js';
import type { HostLimits, RegistrySettings, ResolvedPolicy } from './settings.js';
import type { DropReason } from './types.js';
import { invoke, messageOf } from './util.js';

/** Handler time is measured for every one of a plugin's first deliveries, then one in a stride. */
const HANDLER_TIMING_ALWAYS = 64;
const HANDLER_TIMING_STRIDE = 8;
/** Bound of an activation's memos of permission checks (cleared when full). */
const PERMISSION_MEMO_CAPACITY = 1024;
/**
 * Items all pumps together deliver in one macrotask turn before they yield (setImmediate), so a
 * chain of synchronous handlers never starves timers and I/O, whatever the loop bounds. They also
 * yield once the turn has run TURN_SLICE_MS (slow handlers, wasm calls near their fuel budget);
 * the clock is read every TURN_CHECK-th item only, as a read costs about half a small handler.
 */
const TURN_BUDGET = 1024;
const TURN_SLICE_MS = 20;
const TURN_CHECK = 4;
/** Sources kept apart in `overflowBySource`; more are summed under `other`. */
const SOURCE_STATS_CAPACITY = 64;
/** Failed repair attempts before the event at the head of the backlog is given up. */
const REPAIR_ATTEMPTS = 3;

/**
 * Gets work to each plugin, one item at a time and in order: bus events from the core, queued
 * calls (service calls, config updates) and `ctx.callLater` timers. Owns the per-plugin queue and
 * its pump, the overflow policy, the handler timeout, and the failure policy that backs off or
 * quarantines a plugin.
 *
 * Exception safety: every entry point (the core listener, pump starts, handler continuations,
 * timers) catches what the registry's own bookkeeping throws (a host callback failing, a stack
 * overflow when a plugin recursed deep before acting) and arms a repair from a shallow stack:
 * events whose dispatch was cut short are dispatched again (to the plugins that missed them, in
 * order) and every plugin with queued work gets its pump. Flags are set only after the work that
 * can throw, so nothing is ever marked scheduled without a pump on its way.
 */
export class Delivery {
  /** Bus events seen, for stats(). */
  eventsSeen = 0;
  private readonly core: HostCore;
  private readonly clock: Clock;
  private readonly policy: ResolvedPolicy;
  private readonly limits: HostLimits;
  /** Timeouts already counted and reported by the queue, so their caller does not count them again. */
  private readonly countedFailures = new WeakSet<object>();
  private unlisten: (() => void) | undefined;
  private dispatchSeq = 0;
  private scheduledPumps: PluginRecord[] = [];
  /** Items delivered in this macrotask turn (reset by a setImmediate), and when its first one started. */
  private turnItems = 0;
  private turnStarted = 0;
  /** Events whose dispatch failed, and those that arrived after them, in order. */
  private readonly backlog: { event: BusEvent; seq: number }[] = [];
  private needsRepair = false;
  private repairArmed = false;
  private repairFailures = 0;

  constructor(
    settings: RegistrySettings,
    private readonly index: SubscriptionIndex<Activation>,
    private readonly book: Bookkeeping,
    private readonly idle: IdleTracker,
    private readonly records: ReadonlyMap<string, PluginRecord>,
    private readonly owners: EntityOwners,
    private readonly loops: LoopGuard,
  ) {
    this.core = settings.core;
    this.clock = settings.clock;
    this.policy = settings.policy;
    this.limits = settings.limits;
    settings.internal.failed = () => this.repairSoon();
  }

  // ---------------------------------------------------------------- from the bus to the queues

  /** Starts receiving the core's bus events (once, with the first plugin); throws if the core refuses. */
  listenToCore(): void {
    if (this.unlisten === undefined) this.unlisten = this.core.listen(this.onBusEvent);
  }

  /** Stops receiving them (when the last plugin is gone); a core that fails to unsubscribe keeps us listening, never twice. */
  stopListening(): void {
    const unlisten = this.unlisten;
    if (unlisten === undefined) return;
    try {
      unlisten();
    } catch {
      return;
    }
    this.unlisten = undefined;
  }

  private readonly onBusEvent = (event: BusEvent): void => {
    this.eventsSeen++;
    const seq = ++this.dispatchSeq;
    // Behind a failed dispatch, events wait their turn so every plugin sees them in order.
    if (this.backlog.length === 0 && !this.needsRepair) {
      try {
        this.dispatch(event, seq);
        return;
      } catch {
        // cut short (an exhausted stack, a failing host callback): completed by the repair
      }
    }
    // No call until the event is kept: the writer may have left no stack for one. The flag makes
    // the next dispatch, pump start or pump stop arm the repair if arming below fails too.
    this.needsRepair = true;
    this.backlog[this.backlog.length] = { event, seq };
    try {
      this.repairSoon();
    } catch {
      // armed later
    }
  };

  /** Queues the event for every plugin that subscribed and may read it; re-entrant for one `seq` (plugins already served are skipped). */
  private dispatch(event: BusEvent, seq: number): void {
    const type = event.event_type;
    const data = event.data as { entity_id?: unknown; new_state?: unknown };
    const entityId = (type === 'state_changed' || type === 'state_reported') && typeof data.entity_id === 'string' ? data.entity_id : undefined;
    // A removed entity no longer counts against the plugin that created it, whoever removed it.
    if (entityId !== undefined && type === 'state_changed' && data.new_state === null) this.owners.release(entityId);
    // A runaway chain is cut for the plugins that closed a loop of it: its events could only feed that loop.
    const cut = event.context.user_id?.startsWith('plugin:') === true ? this.loops.rootOf(event.context.id)?.reported : undefined;
    let delivered: DeliveredEvent | undefined;
    this.index.match(type, entityId, (entry) => {
      const activation = entry.owner;
      const rec = activation.record;
      if (rec.stamp === seq || activation.closed) return;
      if (!mayReceive(activation, type, entityId)) return;
      delivered ??= createDeliveredEvent(event);
      if (cut?.has(rec.id) === true) {
        rec.stamp = seq;
        this.countDrop(rec, delivered, 'feedback_loop');
        return;
      }
      this.accept(rec, activation, delivered, seq);
    });
  }

  /** One receiver's share of a dispatch; `rec.stamp = seq` marks it done before anything that could throw after it. */
  private accept(rec: PluginRecord, activation: Activation, delivered: DeliveredEvent, seq: number): void {
    if (rec.health !== 'ok') {
      rec.stamp = seq;
      this.countDrop(rec, delivered, rec.health === 'backoff' ? 'backoff' : 'quarantined');
      return;
    }
    if (tooLarge(activation, delivered)) {
      rec.stamp = seq;
      this.countDrop(rec, delivered, 'too_large');
      return;
    }
    const capacity = Math.min(rec.manifest.limits?.queue_capacity ?? Infinity, this.limits.queueCapacity);
    if (rec.queuedEvents >= capacity) {
      const victim = this.overflowVictim(rec, delivered);
      if (victim === delivered) {
        rec.stamp = seq;
        this.overflowDrop(rec, delivered);
        return;
      }
      this.enqueue(rec, delivered, seq);
      if (victim !== undefined) this.overflowDrop(rec, victim);
    } else {
      this.enqueue(rec, delivered, seq);
    }
    this.schedulePump(rec);
  }

  /**
   * The overflow policy: a full queue gives up the oldest queued event of the source with the most
   * events in it (counting the one arriving), so a plugin flooding a receiver costs itself, never
   * the receiver's other input. Events from the host (no plugin source) are kept unless nothing
   * else is queued: then the oldest goes, and the plugin catches up with the newest state.
   * Returns the event taken out of the queue, `incoming` when it is the one to drop.
   */
  private overflowVictim(rec: PluginRecord, incoming: DeliveredEvent): DeliveredEvent | undefined {
    const arriving = sourceOf(incoming);
    let victim: string | null = arriving;
    let most = arriving === null ? 0 : (rec.queuedBySource.get(arriving) ?? 0) + 1;
    for (const [source, count] of rec.queuedBySource) {
      if (count > most) {
        most = count;
        victim = source;
      }
    }
    if (victim === null) {
      const oldest = rec.queue.removeFirst(isEvent);
      if (oldest === undefined || !isEvent(oldest)) return undefined;
      this.countOut(rec, oldest);
      return oldest;
    }
    if (victim === arriving && !rec.queuedBySource.has(arriving)) return incoming;
    const dropped = rec.queue.removeFirst((item) => isEvent(item) && sourceOf(item) === victim);
    if (dropped === undefined || !isEvent(dropped)) return undefined;
    this.countOut(rec, dropped);
    return dropped;
  }

  private overflowDrop(rec: PluginRecord, delivered: DeliveredEvent): void {
    const source = sourceOf(delivered);
    const key = source ?? 'external';
    const byKey = rec.overflowBySource;
    const slot = byKey.has(key) || byKey.size < SOURCE_STATS_CAPACITY ? key : 'other';
    byKey.set(slot, (byKey.get(slot) ?? 0) + 1);
    if (source !== null) {
      const cause = this.records.get(source.slice('plugin:'.length));
      if (cause !== undefined) cause.overflowCaused++;
    }
    this.countDrop(rec, delivered, 'overflow', key);
  }

  /** Queues one event, stamped as delivered with no call in between (a retried dispatch never queues it twice). */
  private enqueue(rec: PluginRecord, delivered: DeliveredEvent, seq: number): void {
    rec.queue.push(delivered);
    rec.queuedEvents++;
    rec.stamp = seq;
    const source = sourceOf(delivered);
    if (source !== null) rec.queuedBySource.set(source, (rec.queuedBySource.get(source) ?? 0) + 1);
  }

  private countOut(rec: PluginRecord, delivered: DeliveredEvent): void {
    rec.queuedEvents--;
    const source = sourceOf(delivered);
    if (source === null) return;
    const left = (rec.queuedBySource.get(source) ?? 1) - 1;
    if (left > 0) rec.queuedBySource.set(source, left);
    else rec.queuedBySource.delete(source);
  }

  private countDrop(rec: PluginRecord, delivered: DeliveredEvent, reason: DropReason, source?: string): void {
    rec.dropped[reason]++;
    this.book.emit({
      type: 'event_dropped',
      plugin: rec.id,
      event_type: delivered.event.event_type,
      reason,
      ...(source !== undefined ? { source } : {}),
    });
  }

  /** Runs a call on the plugin's instance in its queue, so instance calls never overlap. */
  runQueued(rec: PluginRecord, hook: string, run: (instance: PluginInstance) => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      rec.queue.push(new QueuedTask(hook, run, resolve, reject));
      this.schedulePump(rec);
    });
  }

  /** Empties the queue: events are counted as dropped for `reason` (or discarded), tasks are rejected unless kept. */
  dropQueue(rec: PluginRecord, reason: DropReason | undefined, keepTasks = false): void {
    for (const item of rec.queue.drain()) {
      try {
        if (isEvent(item)) {
          this.countOut(rec, item);
          if (reason !== undefined) this.countDrop(rec, item, reason);
        } else if (item.timer) {
          item.onLeave?.();
          if (reason !== undefined) this.countTimerDrop(rec, reason);
        } else if (keepTasks) {
          rec.queue.push(item);
        } else {
          item.reject(
            new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `the plugin stopped before it could run ${item.hook}: load it again`, {
              plugin: rec.id,
              hook: item.hook,
            }),
          );
        }
      } catch {
        // One item's bookkeeping failed; the rest are still handled, and a repair reschedules the pump.
        this.repairSoon();
      }
    }
  }

  /** After a reload (or its rollback), keeps only queued events the activation now running subscribes to and may read. */
  keepSelected(rec: PluginRecord, activation: Activation): void {
    for (const item of rec.queue.drain()) {
      if (!isEvent(item)) {
        rec.queue.push(item);
        continue;
      }
      const event = item.event;
      const raw = (event.data as { entity_id?: unknown }).entity_id;
      const entityId = typeof raw === 'string' ? raw : undefined;
      if (subscriptionSelects(activation.subscriptions, event.event_type, entityId) && mayReceive(activation, event.event_type, entityId)) {
        rec.queue.push(item);
      } else {
        this.countOut(rec, item);
      }
    }
  }

  // ---------------------------------------------------------------- the pump

  private canPump(rec: PluginRecord): boolean {
    return !rec.paused && !rec.removed && rec.active !== undefined && rec.entry.state === 'loaded';
  }

  // Invariant idle() relies on: a record that can pump and has queued work is scheduled or running
  // (or a repair is armed that will schedule it). Every place that queues work or makes canPump()
  // true again calls schedulePump(), which never throws.
  schedulePump(rec: PluginRecord): void {
    try {
      if (rec.running || rec.pumpScheduled || !this.canPump(rec)) return;
      // Deliver after the core's synchronous dispatch returns: a plugin never runs inside a write.
      // One microtask starts every pump scheduled meanwhile (a fan-out schedules hundreds at once).
      if (this.scheduledPumps.length === 0) this.armStart();
      this.scheduledPumps.push(rec);
    } catch {
      this.needsRepair = true; // before any call: see onBusEvent
      try {
        this.repairSoon();
      } catch {
        // armed later
      }
      return;
    }
    // Only now, when a start is on its way: a stack overflow above leaves nothing marked.
    rec.pumpScheduled = true;
    this.idle.busyPumps++;
  }

  private armStart(): void {
    if (this.turnOver()) setImmediate(this.startPumps);
    else queueMicrotask(this.startPumps);
  }

  private readonly startPumps = (): void => {
    const batch = this.scheduledPumps;
    this.scheduledPumps = [];
    for (const rec of batch) {
      rec.pumpScheduled = false;
      rec.running = true;
      this.pump(rec);
    }
    if (this.needsRepair) this.repairSoon();
  };

  /** Makes the continuations a record's async handlers resume its pump with (once per record). */
  bindPump(rec: PluginRecord): void {
    rec.onHandled = () => {
      if (rec.sharedAbandoned) {
        rec.sharedAbandoned = false; // the late result of a timed-out handler: ignored
        return;
      }
      this.asyncEventDone(rec, false, undefined);
    };
    rec.onHandlerFailed = (error) => {
      if (rec.sharedAbandoned) {
        rec.sharedAbandoned = false; // a timed-out handler's late rejection: swallowed
        return;
      }
      this.asyncEventDone(rec, true, error);
    };
    rec.onWatchdog = () => {
      rec.watchdog = undefined;
      rec.watchdogAt = Infinity;
      if (rec.pendingSince < 0 || rec.removed) return;
      const wait = rec.pendingSince + rec.pendingLimit - this.clock.now();
      if (wait > 0) this.armWatchdog(rec, wait);
      else this.handlerTimedOut(rec);
    };
  }

  /**
   * Drains the queue in a loop while handlers complete synchronously; at the first pending one it
   * returns and the handler's settlement resumes it. Only called with `rec.running` set; never throws.
   */
  private pump(rec: PluginRecord): void {
    let waiting = false;
    try {
      waiting = this.drain(rec);
    } catch {
      this.repairSoon();
    } finally {
      if (!waiting) this.pumpStopped(rec);
    }
  }

  /** Delivers queued items; true when a continuation (a handler's settlement, a yield) will resume the pump. */
  private drain(rec: PluginRecord): boolean {
    while (this.canPump(rec)) {
      if (this.turnSpent() && this.yieldTurn(rec)) return true;
      const item = rec.queue.shift();
      if (item === undefined) return false;
      this.countTurnItem();
      const activation = rec.active!;
      if (!isEvent(item)) {
        this.runTask(rec, activation, item);
        return true;
      }
      this.countOut(rec, item);
      const pending = this.deliver(rec, activation, item);
      if (pending !== undefined) {
        this.awaitEvent(rec, pending);
        return true;
      }
    }
    return false;
  }

  /** Checked before each item: true (on every TURN_CHECK-th) once the turn's budget or time slice is spent. */
  private turnSpent(): boolean {
    const n = this.turnItems;
    if (n === 0 || n % TURN_CHECK !== 0) return false;
    return n >= TURN_BUDGET || performance.now() - this.turnStarted >= TURN_SLICE_MS;
  }

  private turnOver(): boolean {
    return this.turnItems >= TURN_BUDGET || (this.turnItems > 0 && performance.now() - this.turnStarted >= TURN_SLICE_MS);
  }

  private countTurnItem(): void {
    if (this.turnItems++ > 0) return;
    this.turnStarted = performance.now();
    try {
      setImmediate(this.endTurn);
    } catch {
      this.turnItems = 0;
    }
  }

  private readonly endTurn = (): void => {
    this.turnItems = 0;
  };

  /** The turn's budget is spent: resume on a later macrotask, after timers and I/O. */
  private yieldTurn(rec: PluginRecord): boolean {
    try {
      setImmediate(() => this.pump(rec));
    } catch {
      return false; // deliver on, rather than stop
    }
    return true;
  }

  /** Never throws: idle() and unload waiters depend on every stop being counted. */
  private pumpStopped(rec: PluginRecord): void {
    rec.running = false;
    if (this.needsRepair) this.repairSoon(); // before the count drops, so idle() waits for the repair
    this.idle.pumpStopped();
    // Nothing is pending once the pump stops: a watchdog left armed would only keep the process alive.
    const watchdog = rec.watchdog;
    rec.watchdog = undefined;
    rec.watchdogAt = Infinity;
    if (watchdog !== undefined) this.clock.clearTimeout(watchdog);
    rec.notifyStopped();
  }

  /** Starts one event's handler; returns its promise when it did not complete synchronously. */
  private deliver(rec: PluginRecord, activation: Activation, delivered: DeliveredEvent): PromiseLike<void> | undefined {
    // A reload may have swapped in an instance with a smaller cap since the event was queued.
    if (tooLarge(activation, delivered)) {
      this.countDrop(rec, delivered, 'too_large');
      return undefined;
    }
    // Its chain may have been cut for this plugin since it was queued.
    if (sourceOf(delivered) !== null && this.loops.rootOf(delivered.event.context.id)?.reported?.has(rec.id) === true) {
      this.countDrop(rec, delivered, 'feedback_loop');
      return undefined;
    }
    const hook = delivered.event.event_type === 'state_changed' ? 'onStateChanged' : 'onEvent';
    activation.hook = hook;
    activation.parentContextId = delivered.event.context.id;
    rec.delivered++;
    rec.inFlight = activation;
    rec.inFlightHook = hook;
    // A clock read costs about half of a small handler, so after the first deliveries only every
    // HANDLER_TIMING_STRIDE-th one is timed (documented on PluginStats.handlerMs).
    rec.handlerStarted = rec.delivered <= HANDLER_TIMING_ALWAYS || rec.delivered % HANDLER_TIMING_STRIDE === 0 ? performance.now() : -1;
    try {
      const result: unknown = activation.instance.handleEvent(delivered);
      // Inside the try: reading `then` of a hostile result may throw too.
      if (isPromiseLike(result)) return result as PromiseLike<void>;
    } catch (error) {
      this.eventSettled(rec, true, error);
      return undefined;
    }
    this.eventSettled(rec, false, undefined);
    return undefined;
  }

  /** Waits for an event handler's promise, under the handler timeout. The continuation is attached first. */
  private awaitEvent(rec: PluginRecord, pending: PromiseLike<void>): void {
    // Promise.resolve is the identity for native promises and tames foreign thenables.
    if (!rec.sharedAbandoned) {
      rec.sharedInFlight = true;
      Promise.resolve(pending).then(rec.onHandled, rec.onHandlerFailed);
    } else {
      // Rare: a timed-out handler still holds the shared continuations, so this one gets its own.
      rec.sharedInFlight = false;
      const token = ++rec.asyncToken;
      Promise.resolve(pending).then(
        () => {
          if (rec.asyncToken === token) this.asyncEventDone(rec, false, undefined);
        },
        (error: unknown) => {
          if (rec.asyncToken === token) this.asyncEventDone(rec, true, error);
        },
      );
    }
    this.watchPending(rec);
  }

  private asyncEventDone(rec: PluginRecord, failed: boolean, error: unknown): void {
    rec.pendingSince = -1;
    try {
      this.eventSettled(rec, failed, error);
    } catch {
      this.repairSoon();
    }
    this.pump(rec);
  }

  /** Books the end of the in-flight event handler: context reset first, then handler time and failure policy. */
  private eventSettled(rec: PluginRecord, failed: boolean, error: unknown): void {
    const activation = rec.inFlight!;
    rec.inFlight = undefined;
    activation.hook = null;
    activation.parentContextId = null;
    if (rec.handlerStarted >= 0) rec.durations.add(performance.now() - rec.handlerStarted);
    if (failed) {
      this.eventHandlerFailed(rec, rec.inFlightHook, error);
    } else {
      rec.consecutiveFailures = 0;
      rec.backoffs = 0;
    }
  }

  private runTask(rec: PluginRecord, activation: Activation, task: QueuedTask): void {
    activation.hook = task.hook;
    rec.inFlightTask = task;
    // After a timeout the task is no longer in flight: its late result is ignored, a late rejection swallowed.
    const finish = (): boolean => {
      if (rec.inFlightTask !== task) return false;
      rec.inFlightTask = undefined;
      rec.pendingSince = -1;
      activation.hook = null;
      activation.parentContextId = null;
      return true;
    };
    // First, so a timer's callback does not count against the timers cap while it runs.
    task.onLeave?.();
    invoke(() => task.run(activation.instance)).then(
      (value) => {
        if (!finish()) return;
        if (task.timer) {
          rec.consecutiveFailures = 0;
          rec.backoffs = 0;
        }
        task.resolve(value);
        this.pump(rec);
      },
      (error: unknown) => {
        if (!finish()) return;
        try {
          if (task.timer) this.eventHandlerFailed(rec, task.hook, error);
        } catch {
          this.repairSoon();
        }
        task.reject(error);
        this.pump(rec);
      },
    );
    // The continuation is attached: from here a throw costs at most this item's timeout.
    try {
      this.watchPending(rec);
    } catch {
      this.repairSoon();
    }
  }

  // ---------------------------------------------------------------- repair

  /**
   * Arms a repair of delivery from a shallow stack (a microtask, or a macrotask after a failed
   * repair). Never throws: if even arming fails (the stack is exhausted), `needsRepair` stays set
   * and the next dispatch, pump start or pump stop arms it.
   */
  private repairSoon(): void {
    this.needsRepair = true;
    if (this.repairArmed) return;
    try {
      if (this.repairFailures > 0) setImmediate(this.repair);
      else queueMicrotask(this.repair);
    } catch {
      return;
    }
    this.repairArmed = true;
    this.idle.busyRepairs++;
  }

  private readonly repair = (): void => {
    this.repairArmed = false;
    this.needsRepair = false;
    try {
      while (this.backlog.length > 0) {
        const { event, seq } = this.backlog[0]!;
        this.dispatch(event, seq);
        this.backlog.shift();
        this.repairFailures = 0;
      }
      for (const rec of this.records.values()) if (rec.queue.length > 0) this.schedulePump(rec);
      this.repairFailures = 0;
    } catch {
      // A host callback failing on every try must not stall delivery for good: give the event up.
      if (++this.repairFailures >= REPAIR_ATTEMPTS) {
        this.backlog.shift();
        this.repairFailures = 1;
      }
      this.repairSoon();
    } finally {
      this.idle.repaired();
    }
  };

  // ---------------------------------------------------------------- handler timeout

  /** Starts the handler timeout for the item that is now pending (none if the host cannot arm a timer). */
  private watchPending(rec: PluginRecord): void {
    const limit = Math.min(rec.manifest.limits?.handler_timeout_ms ?? Infinity, this.limits.handlerTimeoutMs);
    if (!Number.isFinite(limit)) return;
    rec.pendingSince = this.clock.now();
    rec.pendingLimit = limit;
    const due = rec.pendingSince + limit;
    if (rec.watchdog !== undefined && rec.watchdogAt <= due) return; // it fires first and re-arms for the rest
    if (rec.watchdog !== undefined) this.clock.clearTimeout(rec.watchdog);
    rec.watchdog = undefined;
    this.armWatchdog(rec, limit);
  }

  private armWatchdog(rec: PluginRecord, ms: number): void {
    let handle: unknown;
    try {
      handle = this.clock.setTimeout(rec.onWatchdog, ms);
    } catch {
      return; // this item runs without a timeout
    }
    rec.watchdogAt = this.clock.now() + ms;
    rec.watchdog = handle;
  }

  /** Stops watching a removed plugin (it outlives the pump so an unload waiting on a hung handler gets its timeout). */
  stopWatchdog(rec: PluginRecord): void {
    if (rec.watchdog !== undefined) this.clock.clearTimeout(rec.watchdog);
    rec.watchdog = undefined;
    rec.pendingSince = -1;
  }

  /**
   * The in-flight item outlived its limit: it fails with HC_ERR_HANDLER_TIMEOUT (counted and fed to
   * the failure policy), its late result will be ignored, and the queue moves on.
   */
  private handlerTimedOut(rec: PluginRecord): void {
    const limit = rec.pendingLimit;
    const hook = rec.inFlightTask !== undefined ? rec.inFlightTask.hook : rec.inFlightHook;
    const error = new HomecoreError(
      ErrorCode.HANDLER_TIMEOUT,
      `${hook} did not finish within ${limit} ms, so the plugin's queue moved on without it: keep hooks short, ` +
        'do slow work in the background (without awaiting it in the hook), or raise limits.handler_timeout_ms',
      { plugin: rec.id, hook, details: { limitMs: limit } },
    );
    this.abandonInFlight(rec, error, true);
  }

  /**
   * An unload gave up waiting for the in-flight item: it fails with HC_ERR_HANDLER_TIMEOUT (counted
   * and reported, not fed to the failure policy), its late result is ignored, and the paused pump stops.
   */
  abandonForUnload(rec: PluginRecord, waitedMs: number): void {
    const hook = rec.inFlightTask !== undefined ? rec.inFlightTask.hook : rec.inFlightHook;
    const error = new HomecoreError(
      ErrorCode.HANDLER_TIMEOUT,
      `${hook} was still running ${waitedMs} ms after the plugin's unload began, so it was abandoned and teardown ran: ` +
        'end hooks when ctx.signal aborts (it aborts when the unload begins)',
      { plugin: rec.id, hook, details: { limitMs: waitedMs } },
    );
    this.abandonInFlight(rec, error, false);
  }

  /** Abandons the in-flight item (its continuation is disarmed first), reports it, and resumes the pump whatever the report does. */
  private abandonInFlight(rec: PluginRecord, error: HomecoreError, feedPolicy: boolean): void {
    rec.pendingSince = -1;
    // An isolated instance stops the code still running (its worker or process); others ignore this.
    const instance = (rec.inFlightTask !== undefined ? rec.active : rec.inFlight)?.instance;
    try {
      instance?.preempt?.(error);
    } catch (failure) {
      this.book.emit({ type: 'warning', plugin: rec.id, message: `preempting the timed-out hook failed: ${messageOf(failure)}` });
    }
    const task = rec.inFlightTask;
    const hook = error.hook ?? '';
    if (task !== undefined) {
      rec.inFlightTask = undefined;
      const activation = rec.active;
      if (activation !== undefined) {
        activation.hook = null;
        activation.parentContextId = null;
      }
      try {
        this.countedFailures.add(error);
        if (feedPolicy) this.eventHandlerFailed(rec, hook, error);
        else this.countFailure(rec, hook, error);
        task.reject(error);
      } finally {
        this.pump(rec);
      }
    } else if (rec.inFlight !== undefined) {
      rec.asyncToken++;
      if (rec.sharedInFlight) rec.sharedAbandoned = true;
      try {
        if (feedPolicy) this.eventSettled(rec, true, error);
        else {
          const activation = rec.inFlight;
          rec.inFlight = undefined;
          activation.hook = null;
          activation.parentContextId = null;
          this.countFailure(rec, hook, error);
        }
      } finally {
        this.pump(rec);
      }
    }
  }

  /** Counts a handler failure and reports it. */
  private countFailure(rec: PluginRecord, hook: string, error: HomecoreError): void {
    rec.errors++;
    rec.noteFailure(error, hook, this.clock.now());
    this.book.emit({ type: 'handler_failed', plugin: rec.id, hook, error });
  }

  // ---------------------------------------------------------------- failure policy

  /** The failure policy: consecutive failures lead to a backoff, repeated backoffs to quarantine. */
  private eventHandlerFailed(rec: PluginRecord, hook: string, failure: unknown): void {
    const error = toHomecoreError(failure, ErrorCode.HANDLER_FAILED, { plugin: rec.id, hook });
    this.countFailure(rec, hook, error);
    rec.consecutiveFailures++;
    const failures = rec.consecutiveFailures;
    if (failures < this.policy.maxConsecutiveFailures) return;
    rec.consecutiveFailures = 0;
    if (rec.backoffs >= this.policy.quarantineAfterBackoffs) {
      rec.health = 'quarantined';
      rec.healthReason =
        `quarantined after ${rec.backoffs} backoff${rec.backoffs === 1 ? '' : 's'} without a successful event ` +
        `(last error: ${error.message}); fix the plugin and reload it`;
      this.dropQueue(rec, 'quarantined', true);
      this.book.emit({ type: 'plugin_quarantined', plugin: rec.id, reason: rec.healthReason });
      return;
    }
    const backoffMs = this.policy.backoffMs * 2 ** rec.backoffs;
    // The timer first: a backoff the host cannot end is no backoff at all (the plugin keeps receiving).
    let timer: unknown;
    try {
      timer = this.clock.setTimeout(() => {
        if (rec.backoffTimer !== timer) return;
        rec.backoffTimer = undefined;
        if (rec.removed || rec.health !== 'backoff') return;
        rec.health = 'ok';
        rec.healthReason = null;
        this.book.emit({ type: 'plugin_resumed', plugin: rec.id });
        this.schedulePump(rec);
      }, backoffMs);
    } catch {
      return;
    }
    rec.backoffTimer = timer;
    rec.backoffs++;
    rec.health = 'backoff';
    rec.healthReason = `${failures} consecutive handler failures (last error: ${error.message}); events are dropped for ${backoffMs} ms`;
    this.dropQueue(rec, 'backoff', true);
    this.book.emit({ type: 'plugin_backoff', plugin: rec.id, failures, backoffMs });
  }

  /** Counts and reports a failure of a call the caller awaits (not fed to the failure policy). */
  handlerError(rec: PluginRecord, hook: string, failure: unknown): HomecoreError {
    const error = toHomecoreError(failure, ErrorCode.HANDLER_FAILED, { plugin: rec.id, hook });
    if (error.code === ErrorCode.PLUGIN_QUARANTINED || error.code === ErrorCode.SERVICE_NOT_FOUND) return error;
    if (this.countedFailures.has(error)) return error;
    this.countFailure(rec, hook, error);
    return error;
  }

  /** A fresh start under the failure policy (after a reload). */
  resetHealth(rec: PluginRecord): void {
    if (rec.backoffTimer !== undefined) this.clock.clearTimeout(rec.backoffTimer);
    rec.backoffTimer = undefined;
    rec.health = 'ok';
    rec.healthReason = null;
    rec.consecutiveFailures = 0;
    rec.backoffs = 0;
  }

  // ---------------------------------------------------------------- ctx.callLater timers

  /**
   * A one-shot timer on the registry clock whose callback runs in the plugin's queue. A timer set
   * while handling an event or a service call carries it as the parent of what the callback does,
   * so a loop through timers is bounded like any other; one set by a timer callback starts afresh,
   * so a polling loop is not one endless chain. Throws when the host cannot arm a timer.
   */
  callLater(activation: Activation, ms: number, callback: () => void | Promise<void>): () => void {
    const parent = activation.hook === 'callLater' ? null : (serviceParent() ?? activation.parentContextId);
    const handle: unknown = this.clock.setTimeout(() => {
      if (activation.timers.delete(handle)) this.timerFired(activation, callback, parent);
    }, ms);
    activation.timers.add(handle);
    return () => {
      if (activation.timers.delete(handle)) this.clock.clearTimeout(handle);
    };
  }

  private timerFired(activation: Activation, callback: () => void | Promise<void>, parent: string | null): void {
    const rec = activation.record;
    if (activation.closed || rec.removed) return;
    if (rec.health !== 'ok') {
      this.countTimerDrop(rec, rec.health === 'backoff' ? 'backoff' : 'quarantined');
      return;
    }
    // The callback runs only if its activation is still alive when its turn comes (a reload may intervene).
    const run = (): unknown => {
      if (activation.closed) return undefined;
      activation.parentContextId = parent;
      return callback();
    };
    const leave = (): void => {
      if (!activation.closed) activation.dueTimers--;
    };
    rec.queue.push(new QueuedTask('callLater', run as () => Promise<unknown>, noop, noop, true, leave));
    activation.dueTimers++;
    this.schedulePump(rec);
  }

  private countTimerDrop(rec: PluginRecord, reason: DropReason): void {
    rec.dropped[reason]++;
    this.book.emit({ type: 'event_dropped', plugin: rec.id, event_type: 'callLater', reason });
  }

  /** Cancels an activation's pending ctx.callLater timers (teardown and close). */
  cancelTimers(activation: Activation): void {
    for (const handle of activation.timers) this.clock.clearTimeout(handle);
    activation.timers.clear();
  }
}

function noop(): void {}

/** `plugin:<domain>` for an event a plugin caused (its context's user), else null (the host's). */
function sourceOf(delivered: DeliveredEvent): string | null {
  const user = delivered.event.context.user_id;
  return typeof user === 'string' && user.startsWith('plugin:') ? user : null;
}

/** The instance caps events and this one is larger (its bytes are computed only then). */
function tooLarge(activation: Activation, delivered: DeliveredEvent): boolean {
  const max = activation.maxEventBytes;
  return max !== undefined && delivered.bytes().byteLength > max;
}

/** The activation may read what the event is about (memoised: permissions are fixed per activation). */
function mayReceive(activation: Activation, eventType: string, entityId: string | undefined): boolean {
  if (eventType === 'state_changed' || eventType === 'state_reported') {
    return entityId !== undefined && memoAllows(activation, activation.mayRead, 'state:read', entityId);
  }
  return memoAllows(activation, activation.maySubscribe, 'event:subscribe', eventType);
}

function memoAllows(activation: Activation, memo: Map<string, boolean>, action: 'state:read' | 'event:subscribe', target: string): boolean {
  let allowed = memo.get(target);
  if (allowed === undefined) {
    allowed = activation.permissions.allows(action, target);
    if (memo.size >= PERMISSION_MEMO_CAPACITY) memo.clear();
    memo.set(target, allowed);
  }
  return allowed;
}

function isEvent(item: QueueItem): item is DeliveredEvent {
  return !(item instanceof QueuedTask);
}

function isPromiseLike(value: unknown): boolean {
  if (value instanceof Promise) return true;
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}
