import { ErrorCode, HomecoreError, toHomecoreError, type BusEvent, type Clock, type DeliveredEvent, type HostCore, type PluginInstance } from '@homecore/core-traits';
import type { Bookkeeping } from './bookkeeping.js';
import { outsideServiceCall } from './causality.js';
import { createDeliveredEvent, subscriptionSelects, type SubscriptionIndex } from './dispatch.js';
import type { IdleTracker } from './idle.js';
import { QueuedTask, type Activation, type PluginRecord, type QueueItem } from './record.js';
import type { HostLimits, RegistrySettings, ResolvedPolicy } from './settings.js';
import type { DropReason } from './types.js';
import { invoke } from './util.js';

/** Handler time is measured for every one of a plugin's first deliveries, then one in a stride. */
const HANDLER_TIMING_ALWAYS = 64;
const HANDLER_TIMING_STRIDE = 8;
/** Bound of an activation's memos of permission checks (cleared when full). */
const PERMISSION_MEMO_CAPACITY = 1024;

/**
 * Gets work to each plugin, one item at a time and in order: bus events from the core, queued
 * calls (service calls, config updates) and `ctx.callLater` timers. Owns the per-plugin queue and
 * its pump, the handler timeout, and the failure policy that backs off or quarantines a plugin.
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

  constructor(
    settings: RegistrySettings,
    private readonly index: SubscriptionIndex<Activation>,
    private readonly book: Bookkeeping,
    private readonly idle: IdleTracker,
  ) {
    this.core = settings.core;
    this.clock = settings.clock;
    this.policy = settings.policy;
    this.limits = settings.limits;
  }

  // ---------------------------------------------------------------- from the bus to the queues

  /** Starts receiving the core's bus events (once, with the first plugin). */
  listenToCore(): void {
    if (this.unlisten === undefined) this.unlisten = this.core.listen((event) => this.dispatch(event));
  }

  /** Stops receiving them (when the last plugin is gone). */
  stopListening(): void {
    if (this.unlisten === undefined) return;
    this.unlisten();
    this.unlisten = undefined;
  }

  private dispatch(event: BusEvent): void {
    this.eventsSeen++;
    const seq = ++this.dispatchSeq;
    const type = event.event_type;
    const raw = (event.data as { entity_id?: unknown }).entity_id;
    const entityId = (type === 'state_changed' || type === 'state_reported') && typeof raw === 'string' ? raw : undefined;
    let delivered: DeliveredEvent | undefined;
    this.index.match(type, entityId, (entry) => {
      const activation = entry.owner;
      const rec = activation.record;
      if (rec.stamp === seq || activation.closed) return;
      if (!mayReceive(activation, type, entityId)) return;
      rec.stamp = seq;
      delivered ??= createDeliveredEvent(event);
      this.enqueue(rec, delivered);
    });
  }

  private enqueue(rec: PluginRecord, delivered: DeliveredEvent): void {
    if (rec.health !== 'ok') {
      this.countDrop(rec, delivered, rec.health === 'backoff' ? 'backoff' : 'quarantined');
      return;
    }
    const capacity = Math.min(rec.manifest.limits?.queue_capacity ?? Infinity, this.limits.queueCapacity);
    if (rec.queuedEvents >= capacity) {
      // Overflow policy: drop the oldest queued event so the plugin catches up with the newest state.
      const oldest = rec.queue.removeFirst(isEvent);
      if (oldest !== undefined && isEvent(oldest)) {
        rec.queuedEvents--;
        this.countDrop(rec, oldest, 'overflow');
      }
    }
    rec.queue.push(delivered);
    rec.queuedEvents++;
    this.schedulePump(rec);
  }

  private countDrop(rec: PluginRecord, delivered: DeliveredEvent, reason: DropReason): void {
    rec.dropped[reason]++;
    this.book.emit({ type: 'event_dropped', plugin: rec.id, event_type: delivered.event.event_type, reason });
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
      if (isEvent(item)) {
        rec.queuedEvents--;
        if (reason !== undefined) this.countDrop(rec, item, reason);
      } else if (item.timer) {
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
        rec.queuedEvents--;
      }
    }
  }

  // ---------------------------------------------------------------- the pump

  private canPump(rec: PluginRecord): boolean {
    return !rec.paused && !rec.removed && rec.active !== undefined && rec.entry.state === 'loaded';
  }

  // Invariant idle() relies on: a record that can pump and has queued work is scheduled or running.
  // Every place that queues work or makes canPump() true again calls schedulePump().
  schedulePump(rec: PluginRecord): void {
    if (rec.running || rec.pumpScheduled || !this.canPump(rec)) return;
    rec.pumpScheduled = true;
    this.idle.busyPumps++;
    // Deliver after the core's synchronous dispatch returns: a plugin never runs inside a write.
    // One microtask starts every pump scheduled meanwhile (a fan-out schedules hundreds at once).
    // Started outside any service call that queued the work, so handlers do not inherit its causality.
    if (this.scheduledPumps.push(rec) === 1) outsideServiceCall(this.queueStartPumps);
  }

  private readonly queueStartPumps = (): void => queueMicrotask(this.startPumps);

  private readonly startPumps = (): void => {
    const batch = this.scheduledPumps;
    this.scheduledPumps = [];
    for (const rec of batch) {
      rec.pumpScheduled = false;
      rec.running = true;
      this.pump(rec);
    }
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
   * returns and the handler's settlement resumes it. Only called with `rec.running` set.
   */
  private pump(rec: PluginRecord): void {
    let waiting = false;
    try {
      while (this.canPump(rec)) {
        const item = rec.queue.shift();
        if (item === undefined) break;
        const activation = rec.active!;
        if (!isEvent(item)) {
          waiting = true;
          this.runTask(rec, activation, item);
          return;
        }
        rec.queuedEvents--;
        const pending = this.deliver(rec, activation, item);
        if (pending !== undefined) {
          waiting = true;
          this.awaitEvent(rec, pending);
          return;
        }
      }
    } finally {
      if (!waiting) this.pumpStopped(rec);
    }
  }

  private pumpStopped(rec: PluginRecord): void {
    rec.running = false;
    // Nothing is pending once the pump stops: a watchdog left armed would only keep the process alive.
    if (rec.watchdog !== undefined) {
      this.clock.clearTimeout(rec.watchdog);
      rec.watchdog = undefined;
      rec.watchdogAt = Infinity;
    }
    rec.notifyStopped();
    this.idle.pumpStopped();
  }

  /** Starts one event's handler; returns its promise when it did not complete synchronously. */
  private deliver(rec: PluginRecord, activation: Activation, delivered: DeliveredEvent): PromiseLike<void> | undefined {
    const hook = delivered.event.event_type === 'state_changed' ? 'onStateChanged' : 'onEvent';
    activation.hook = hook;
    activation.parentContextId = delivered.event.context.id;
    rec.delivered++;
    rec.inFlight = activation;
    rec.inFlightHook = hook;
    // A clock read costs about half of a small handler, so after the first deliveries only every
    // HANDLER_TIMING_STRIDE-th one is timed (documented on PluginStats.handlerMs).
    rec.handlerStarted = rec.delivered <= HANDLER_TIMING_ALWAYS || rec.delivered % HANDLER_TIMING_STRIDE === 0 ? performance.now() : -1;
    let result: unknown;
    try {
      result = activation.instance.handleEvent(delivered);
    } catch (error) {
      this.eventSettled(rec, true, error);
      return undefined;
    }
    if (isPromiseLike(result)) return result as PromiseLike<void>;
    this.eventSettled(rec, false, undefined);
    return undefined;
  }

  /** Waits for an event handler's promise, under the handler timeout. */
  private awaitEvent(rec: PluginRecord, pending: PromiseLike<void>): void {
    this.watchPending(rec);
    // Promise.resolve is the identity for native promises and tames foreign thenables.
    if (!rec.sharedAbandoned) {
      rec.sharedInFlight = true;
      Promise.resolve(pending).then(rec.onHandled, rec.onHandlerFailed);
      return;
    }
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

  private asyncEventDone(rec: PluginRecord, failed: boolean, error: unknown): void {
    rec.pendingSince = -1;
    this.eventSettled(rec, failed, error);
    this.pump(rec);
  }

  /** Books the end of the in-flight event handler: failure policy, handler time, context reset. */
  private eventSettled(rec: PluginRecord, failed: boolean, error: unknown): void {
    const activation = rec.inFlight!;
    rec.inFlight = undefined;
    if (failed) {
      this.eventHandlerFailed(rec, rec.inFlightHook, error);
    } else {
      rec.consecutiveFailures = 0;
      rec.backoffs = 0;
    }
    if (rec.handlerStarted >= 0) rec.durations.add(performance.now() - rec.handlerStarted);
    activation.hook = null;
    activation.parentContextId = null;
  }

  private runTask(rec: PluginRecord, activation: Activation, task: QueuedTask): void {
    activation.hook = task.hook;
    rec.inFlightTask = task;
    this.watchPending(rec);
    // After a timeout the task is no longer in flight: its late result is ignored, a late rejection swallowed.
    invoke(() => task.run(activation.instance)).then(
      (value) => {
        if (rec.inFlightTask !== task) return;
        rec.inFlightTask = undefined;
        rec.pendingSince = -1;
        activation.hook = null;
        if (task.timer) {
          rec.consecutiveFailures = 0;
          rec.backoffs = 0;
        }
        task.resolve(value);
        this.pump(rec);
      },
      (error: unknown) => {
        if (rec.inFlightTask !== task) return;
        rec.inFlightTask = undefined;
        rec.pendingSince = -1;
        activation.hook = null;
        if (task.timer) this.eventHandlerFailed(rec, task.hook, error);
        task.reject(error);
        this.pump(rec);
      },
    );
  }

  // ---------------------------------------------------------------- handler timeout

  /** Starts the handler timeout for the item that is now pending. */
  private watchPending(rec: PluginRecord): void {
    const limit = Math.min(rec.manifest.limits?.handler_timeout_ms ?? Infinity, this.limits.handlerTimeoutMs);
    if (!Number.isFinite(limit)) return;
    rec.pendingSince = this.clock.now();
    rec.pendingLimit = limit;
    const due = rec.pendingSince + limit;
    if (rec.watchdog !== undefined && rec.watchdogAt <= due) return; // it fires first and re-arms for the rest
    if (rec.watchdog !== undefined) this.clock.clearTimeout(rec.watchdog);
    this.armWatchdog(rec, limit);
  }

  private armWatchdog(rec: PluginRecord, ms: number): void {
    rec.watchdogAt = this.clock.now() + ms;
    rec.watchdog = this.clock.setTimeout(rec.onWatchdog, ms);
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

  private abandonInFlight(rec: PluginRecord, error: HomecoreError, feedPolicy: boolean): void {
    rec.pendingSince = -1;
    const task = rec.inFlightTask;
    const hook = error.hook ?? '';
    if (task !== undefined) {
      rec.inFlightTask = undefined;
      const activation = rec.active;
      if (activation !== undefined) activation.hook = null;
      this.countedFailures.add(error);
      if (feedPolicy) this.eventHandlerFailed(rec, hook, error);
      else this.countFailure(rec, hook, error);
      task.reject(error);
    } else if (rec.inFlight !== undefined) {
      rec.asyncToken++;
      if (rec.sharedInFlight) rec.sharedAbandoned = true;
      if (feedPolicy) this.eventSettled(rec, true, error);
      else {
        this.countFailure(rec, hook, error);
        const activation = rec.inFlight;
        rec.inFlight = undefined;
        activation.hook = null;
        activation.parentContextId = null;
      }
    } else {
      return;
    }
    this.pump(rec);
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
    rec.backoffs++;
    const backoffMs = this.policy.backoffMs * 2 ** (rec.backoffs - 1);
    rec.health = 'backoff';
    rec.healthReason = `${failures} consecutive handler failures (last error: ${error.message}); events are dropped for ${backoffMs} ms`;
    this.dropQueue(rec, 'backoff', true);
    this.book.emit({ type: 'plugin_backoff', plugin: rec.id, failures, backoffMs });
    rec.backoffTimer = this.clock.setTimeout(() => {
      rec.backoffTimer = undefined;
      if (rec.removed || rec.health !== 'backoff') return;
      rec.health = 'ok';
      rec.healthReason = null;
      this.book.emit({ type: 'plugin_resumed', plugin: rec.id });
      this.schedulePump(rec);
    }, backoffMs);
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

  /** A one-shot timer on the registry clock whose callback runs in the plugin's queue. */
  callLater(activation: Activation, ms: number, callback: () => void | Promise<void>): () => void {
    const handle: unknown = this.clock.setTimeout(() => {
      if (activation.timers.delete(handle)) this.timerFired(activation, callback);
    }, ms);
    activation.timers.add(handle);
    return () => {
      if (activation.timers.delete(handle)) this.clock.clearTimeout(handle);
    };
  }

  private timerFired(activation: Activation, callback: () => void | Promise<void>): void {
    const rec = activation.record;
    if (activation.closed || rec.removed) return;
    if (rec.health !== 'ok') {
      this.countTimerDrop(rec, rec.health === 'backoff' ? 'backoff' : 'quarantined');
      return;
    }
    // The callback runs only if its activation is still alive when its turn comes (a reload may intervene).
    const run = (): unknown => (activation.closed ? undefined : callback());
    rec.queue.push(new QueuedTask('callLater', run as () => Promise<unknown>, noop, noop, true));
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
