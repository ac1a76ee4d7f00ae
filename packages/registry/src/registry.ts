import {
  CONFIG_ENTRY_RECOVERABLE,
  ErrorCode,
  HomecoreError,
  PermissionSet,
  toHomecoreError,
  type BusEvent,
  type Clock,
  type ConfigEntry,
  type ConfigEntryState,
  type DeliveredEvent,
  type HostCore,
  type PluginCode,
  type PluginId,
  type PluginInstance,
  type PluginRuntime,
  type ServiceCall,
  type ServiceHandler,
  type Subscription,
} from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import { Bookkeeping, statsOf, summaryOf } from './bookkeeping.js';
import { newEntry, updatedEntry } from './config-entry.js';
import { checkConfigData } from './config-schema.js';
import { createPluginContext } from './context.js';
import { subscriptionWarnings } from './coverage.js';
import {
  cycleError,
  dependencyFailedError,
  dependencyNodes,
  dependentsOf,
  duplicateError,
  loadInDependencyOrder,
  missingError,
  nodeOf,
} from './dependencies.js';
import { discoverPlugins } from './discovery.js';
import { SubscriptionIndex, createDeliveredEvent, subscriptionSelects, type IndexEntry } from './dispatch.js';
import { dependencyOrder, findCycles } from './graph.js';
import { IdleTracker } from './idle.js';
import { PluginRecord, QueuedTask, type Activation, type QueueItem } from './record.js';
import { resolveSettings, type HostLimits, type ResolvedPolicy } from './settings.js';
import type {
  ConfigEntryUpdate,
  DiscoveryReport,
  DropReason,
  LoadItem,
  LoadOptions,
  LoadReport,
  PermissionDenial,
  PluginStats,
  PluginSummary,
  RegistryActivity,
  RegistryOptions,
  RegistryStats,
  ReloadSource,
} from './types.js';
import { invoke, messageOf, withTimeout } from './util.js';
import { runtimeFor, validateManifest } from './validation.js';

/** Handler time is measured for every one of a plugin's first deliveries, then one in a stride. */
const HANDLER_TIMING_ALWAYS = 64;
const HANDLER_TIMING_STRIDE = 8;
/** Bound of an activation's memos of permission checks (cleared when full). */
const PERMISSION_MEMO_CAPACITY = 1024;

/**
 * The heart of HOMECORE: loads plugins through the runtime their manifest names, orders them by
 * dependencies, runs their config entry lifecycle, dispatches bus events to the plugins that
 * subscribed and may read them, enforces permissions, and contains failing plugins.
 */
export class PluginRegistry {
  private readonly core: HostCore;
  private readonly runtimes: ReadonlyMap<string, PluginRuntime>;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly policy: ResolvedPolicy;
  private readonly hostLimits: HostLimits;
  private readonly homecoreVersion: string;

  private readonly records = new Map<PluginId, PluginRecord>();
  private readonly index = new SubscriptionIndex<Activation>();
  private readonly book: Bookkeeping;
  private readonly idleTracker = new IdleTracker();
  /** Timeouts already counted and reported by the queue, so their caller does not count them again. */
  private readonly countedFailures = new WeakSet<object>();
  private unlisten: (() => void) | undefined;
  private eventsSeen = 0;
  private dispatchSeq = 0;
  private scheduledPumps: PluginRecord[] = [];

  constructor(options: RegistryOptions) {
    const settings = resolveSettings(options);
    this.core = settings.core;
    this.runtimes = settings.runtimes;
    this.clock = settings.clock;
    this.random = settings.random;
    this.policy = settings.policy;
    this.hostLimits = settings.limits;
    this.homecoreVersion = settings.homecoreVersion;
    this.book = new Bookkeeping(this.clock);
  }

  // ---------------------------------------------------------------- loading

  /**
   * Validates the manifest, checks dependencies and config, and sets the plugin up. Resolves to its
   * id once it is loaded or waiting in `setup_retry`; rejects with a coded error otherwise (a
   * failed setup leaves the plugin listed in `setup_error` until it is unloaded or reloaded).
   */
  async load(manifest: unknown, code: PluginCode, options: LoadOptions = {}): Promise<PluginId> {
    const resolved = this.validate(manifest);
    return this.loadValidated(resolved, code, options, true);
  }

  /**
   * Loads many plugins in dependency order; plugins that do not depend on each other are set up
   * concurrently. A plugin's failure is collected in the report and fails only its dependents.
   */
  async loadAll(items: readonly LoadItem[]): Promise<LoadReport> {
    return loadInDependencyOrder(items, this.records, {
      validate: (input) => this.validate(input),
      load: (manifest, code, options, checkCycles) => this.loadValidated(manifest, code, options, checkCycles),
    });
  }

  /** Reads every plugin folder under `dir` (manifest, entry, optional config.json); loads nothing. */
  async discover(dir: string): Promise<DiscoveryReport> {
    const report = await discoverPlugins(dir);
    for (const { manifest } of report.plugins) {
      for (const warning of subscriptionWarnings(manifest)) report.warnings.push(`${manifest.domain}: ${warning}`);
    }
    return report;
  }

  /** Discovers the plugin folders under `dir` and loads them all (`discover` + `loadAll`). */
  async loadDirectory(dir: string): Promise<LoadReport> {
    const found = await this.discover(dir);
    const report = await this.loadAll(
      found.plugins.map((p) => ({ manifest: p.manifest, code: p.code, baseDir: p.dir, ...(p.config ? { config: p.config } : {}) })),
    );
    return {
      loaded: report.loaded,
      retrying: report.retrying,
      errors: [...found.errors, ...report.errors],
      // discover() and loadAll() both report subscriptions no permission covers: once is enough.
      warnings: [...new Set([...found.warnings, ...report.warnings])],
    };
  }

  // ---------------------------------------------------------------- unloading and reloading

  /**
   * Unloads a plugin: cancels a pending retry, runs teardown (always, even after failures or
   * quarantine), aborts its signal, removes its services and subscriptions and disposes it.
   * Refused with HC_ERR_DEPENDENTS_LOADED while other plugins depend on it, unless `cascade`.
   */
  async unload(id: PluginId, options: { cascade?: boolean } = {}): Promise<void> {
    const rec = this.require(id);
    const dependents = dependentsOf(this.records, id);
    if (dependents.length > 0) {
      if (options.cascade !== true) {
        throw new HomecoreError(
          ErrorCode.DEPENDENTS_LOADED,
          `cannot unload: ${dependents.join(', ')} depend${dependents.length === 1 ? 's' : ''} on it; ` +
            `unload ${dependents.length === 1 ? 'it' : 'them'} first or pass { cascade: true }`,
          { plugin: id, details: { dependents } },
        );
      }
      for (const dependent of dependents) {
        if (this.records.has(dependent)) await this.unload(dependent, { cascade: true });
      }
    }
    await this.serialize(rec, () => this.unloadLocked(rec));
  }

  /** Unloads every plugin in reverse dependency order; every teardown runs, failures are reported as activity. */
  async unloadAll(): Promise<void> {
    const order = dependencyOrder(dependencyNodes(this.records)).reverse();
    for (const id of order) {
      const rec = this.records.get(id);
      if (rec !== undefined) await this.serialize(rec, () => this.unloadLocked(rec));
    }
  }

  /**
   * Swaps in a new version (new code and/or manifest; by default the same code) with rollback: the
   * new one is set up before the old one is torn down, events queued meanwhile go to the new one in
   * order, and if its setup fails the old one keeps running and this rejects HC_ERR_RELOAD_FAILED.
   * A reload also gives a backed-off or quarantined plugin a fresh start.
   */
  async reload(id: PluginId, next: ReloadSource = {}): Promise<void> {
    const rec = this.require(id);
    await this.idleTracker.trackSetup(this.serialize(rec, () => this.reloadLocked(rec, next)));
  }

  /**
   * Updates a config entry. A changed `data` is validated against the config schema first. When
   * options or data change, a running plugin's `onConfigUpdate` hook is called; without one the
   * plugin is reloaded (HA semantics).
   */
  async updateConfigEntry(id: PluginId, update: ConfigEntryUpdate): Promise<void> {
    const rec = this.require(id);
    await this.serialize(rec, async () => {
      if (update.data !== undefined) checkConfigData(id, rec.manifest.config_schema, update.data);
      const updated = updatedEntry(rec.entry, update, this.clock);
      if (updated === undefined) return;
      rec.entry = updated.entry;
      if (!updated.reconfigured || rec.active === undefined || rec.entry.state !== 'loaded') return;
      const entry = rec.entry;
      let handled: boolean;
      try {
        handled = (await this.runQueued(rec, 'onConfigUpdate', (instance) => instance.handleConfigUpdate(entry))) === true;
      } catch (error) {
        throw this.handlerError(rec, 'onConfigUpdate', error);
      }
      if (!handled) await this.reloadLocked(rec, {});
    });
  }

  // ---------------------------------------------------------------- queries

  /** Every plugin with its manifest, runtime kind, entry state, health and reason, sorted by id. */
  list(): PluginSummary[] {
    return [...this.records.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map(summaryOf);
  }

  /** One plugin's summary, or undefined (O(1)). */
  get(id: PluginId): PluginSummary | undefined {
    const rec = this.records.get(id);
    return rec === undefined ? undefined : summaryOf(rec);
  }

  /** A plugin's config entry, or undefined. */
  getConfig(id: PluginId): ConfigEntry | undefined {
    return this.records.get(id)?.entry;
  }

  /**
   * Per-plugin figures: deliveries, drops by reason, errors, handler time, queue depth, state,
   * denials, what the plugin did (writes, services called, events fired) and runtime stats.
   */
  stats(): RegistryStats {
    const plugins: Record<PluginId, PluginStats> = {};
    for (const rec of this.records.values()) plugins[rec.id] = statsOf(rec);
    return { events: this.eventsSeen, plugins };
  }

  /** Refused context calls, oldest first (the most recent 1000), optionally of one plugin. */
  audit(id?: PluginId): PermissionDenial[] {
    return this.book.audit(id);
  }

  /**
   * Resolves when every plugin queue that can run is drained, no handler is running and no setup
   * is in flight (a load, a setup retry a timer started, or a reload).
   */
  idle(): Promise<void> {
    return this.idleTracker.idle();
  }

  /** Subscribes to the activity stream; returns an unsubscribe. A throwing listener never breaks the registry. */
  on(listener: (activity: RegistryActivity) => void): () => void {
    return this.book.on(listener);
  }

  // ---------------------------------------------------------------- validation

  private validate(input: unknown): ResolvedManifest {
    return validateManifest(input, this.homecoreVersion);
  }

  /** Reports manifest subscriptions that no permission lets through, as `warning` activity. */
  private warnUncovered(manifest: ResolvedManifest): void {
    for (const message of subscriptionWarnings(manifest)) this.emit({ type: 'warning', plugin: manifest.domain, message });
  }

  private async loadValidated(manifest: ResolvedManifest, code: PluginCode, options: LoadOptions, checkCycles: boolean): Promise<PluginId> {
    const id = manifest.domain;
    // Everything up to reserving the id is synchronous, so two concurrent loads cannot both pass.
    if (this.records.has(id)) throw duplicateError(id);
    const runtime = runtimeFor(this.runtimes, manifest);
    PermissionSet.parse(manifest.permissions ?? [], id);
    const missing = (manifest.dependencies ?? []).filter((d) => !this.records.has(d));
    if (missing.length > 0) throw missingError(id, missing);
    if (checkCycles) {
      const nodes = dependencyNodes(this.records);
      nodes.set(id, nodeOf(manifest));
      const cycle = findCycles(nodes).find((c) => c.includes(id));
      if (cycle !== undefined) throw cycleError(id, cycle);
    }
    const config = options.config ?? {};
    checkConfigData(id, manifest.config_schema, config.data ?? {});
    const rec = new PluginRecord(id, manifest, code, options.baseDir, runtime, newEntry(manifest, config, this.clock, this.random));
    this.bindPump(rec);
    this.records.set(id, rec);
    this.listenToCore();
    this.warnUncovered(manifest);

    // Chained now, so a dependent loading concurrently waits for this setup through `rec.op`.
    await this.idleTracker.trackSetup(this.serialize(rec, async () => {
      try {
        await this.waitForDependencies(rec);
      } catch (error) {
        this.forget(rec);
        throw error;
      }
      await this.setUp(rec);
    }));
    return id;
  }

  private async waitForDependencies(rec: PluginRecord): Promise<void> {
    const deps = rec.manifest.dependencies ?? [];
    const failed: string[] = [];
    for (const d of deps) {
      const dep = this.records.get(d);
      if (dep === undefined) {
        failed.push(`${d} (unloaded)`);
        continue;
      }
      await dep.op.catch(() => undefined);
      if (dep.entry.state !== 'loaded') failed.push(`${d} (${dep.entry.state})`);
    }
    if (failed.length > 0) throw dependencyFailedError(rec.id, failed);
  }

  // ---------------------------------------------------------------- lifecycle internals

  private serialize<T>(rec: PluginRecord, work: () => Promise<T>): Promise<T> {
    const result = rec.op.then(work, work);
    rec.op = result.catch(() => undefined);
    return result;
  }

  private setEntryState(rec: PluginRecord, to: ConfigEntryState, reason: string | null): void {
    const from = rec.entry.state;
    if (from === to && rec.entry.reason === reason) return;
    rec.entry = Object.freeze({ ...rec.entry, state: to, reason });
    this.emit({ type: 'entry_state', plugin: rec.id, from, to, reason });
  }

  /** Sets a plugin up from scratch; NOT_READY schedules a retry, other failures leave `setup_error`. */
  private async setUp(rec: PluginRecord): Promise<void> {
    if (rec.removed) return;
    this.setEntryState(rec, 'setup_in_progress', null);
    let activation: Activation;
    try {
      activation = await this.activate(rec, rec.manifest, rec.code, rec.baseDir, rec.runtime);
    } catch (failure) {
      this.dropQueue(rec, undefined);
      const error = failure as HomecoreError;
      if (error.code === ErrorCode.CONFIG_ENTRY_NOT_READY) {
        // HA's ConfigEntryNotReady backoff: 5, 10, 20, 40, 80, 80... s plus up to 1 s of jitter.
        const wait = 5000 * 2 ** Math.min(rec.tries, 4) + Math.floor(this.random() * 1000);
        rec.tries++;
        this.setEntryState(rec, 'setup_retry', error.message);
        rec.retryTimer = this.clock.setTimeout(() => this.retry(rec), wait);
        this.emit({ type: 'setup_failed', plugin: rec.id, error, retryInMs: wait });
        return;
      }
      rec.tries = 0;
      this.setEntryState(rec, 'setup_error', error.message);
      this.emit({ type: 'setup_failed', plugin: rec.id, error, retryInMs: null });
      throw error;
    }
    rec.tries = 0;
    rec.active = activation;
    this.setEntryState(rec, 'loaded', null);
    this.emit({ type: 'plugin_loaded', plugin: rec.id, runtime: activation.instance.kind });
    this.schedulePump(rec);
  }

  private retry(rec: PluginRecord): void {
    rec.retryTimer = undefined;
    if (rec.removed) return;
    // Tracked from the timer's turn on, so a host that fires the timer and awaits idle() sees the outcome.
    void this.idleTracker.trackSetup(this.serialize(rec, () => this.setUp(rec))).catch(() => undefined);
  }

  /**
   * Loads and sets up one activation; on any failure everything it registered is removed and the
   * instance disposed before the (coded) error is thrown.
   */
  private async activate(
    rec: PluginRecord,
    manifest: ResolvedManifest,
    code: PluginCode,
    baseDir: string | undefined,
    runtime: PluginRuntime,
  ): Promise<Activation> {
    const id = rec.id;
    let instance;
    try {
      instance = await runtime.load(code, manifest, {
        ...(baseDir !== undefined ? { baseDir } : {}),
        warn: (message) => this.emit({ type: 'warning', plugin: id, message }),
      });
    } catch (error) {
      throw toHomecoreError(error, ErrorCode.SETUP_FAILED, { plugin: id, hook: 'load' });
    }
    const activation: Activation = {
      record: rec,
      instance,
      manifest,
      permissions: PermissionSet.parse(manifest.permissions ?? [], id),
      abort: new AbortController(),
      context: undefined,
      subscriptions: new Set(),
      services: new Map(),
      routed: new Set(),
      timers: new Set(),
      hook: null,
      parentContextId: null,
      closed: false,
      mayRead: new Map(),
      maySubscribe: new Map(),
    };
    activation.context = this.contextFor(activation);
    rec.pending = activation;
    try {
      this.addSubscriptions(activation, manifest.subscriptions ?? {});
      const ms = Math.min(manifest.limits?.setup_timeout_ms ?? Infinity, this.hostLimits.setupTimeoutMs);
      activation.hook = 'setup';
      await withTimeout(invoke(() => instance.setup(activation.context!)), ms, this.clock, () =>
        new HomecoreError(
          ErrorCode.SETUP_TIMEOUT,
          `setup did not finish within ${ms} ms: make setup resolve once the plugin is ready, move long work ` +
            'into the background, or raise limits.setup_timeout_ms',
          { plugin: id, hook: 'setup' },
        ),
      );
      activation.hook = null;
      for (const service of manifest.services ?? []) {
        if (activation.services.has(service.name)) continue;
        if (instance.hooks.serviceCall) {
          activation.routed.add(service.name);
          this.ensureCoreService(rec, service.name);
        } else {
          this.emit({
            type: 'warning',
            plugin: id,
            message: `service ${id}.${service.name} is listed in the manifest but has no handler: register it in setup or implement onServiceCall`,
          });
        }
      }
    } catch (failure) {
      activation.hook = null;
      rec.pending = undefined;
      await this.close(activation);
      this.syncCoreServices(rec);
      throw setupError(id, failure);
    }
    if (rec.pending === activation) rec.pending = undefined;
    return activation;
  }

  /** Ends an activation: aborts its signal, removes its subscriptions and disposes the instance. */
  private async close(activation: Activation): Promise<void> {
    if (activation.closed) return;
    activation.closed = true;
    activation.abort.abort();
    this.cancelTimers(activation);
    for (const entry of activation.subscriptions) this.index.remove(entry);
    activation.subscriptions.clear();
    activation.services.clear();
    activation.routed.clear();
    try {
      await activation.instance.dispose();
    } catch (error) {
      this.emit({ type: 'warning', plugin: activation.record.id, message: `dispose failed: ${messageOf(error)}` });
    }
  }

  /** Runs teardown with its timeout; reports a failure and returns it. */
  private async teardown(rec: PluginRecord, activation: Activation): Promise<HomecoreError | undefined> {
    const ms = Math.min(activation.manifest.limits?.teardown_timeout_ms ?? Infinity, this.hostLimits.teardownTimeoutMs);
    activation.abort.abort();
    this.cancelTimers(activation);
    activation.hook = 'teardown';
    try {
      await withTimeout(invoke(() => activation.instance.teardown()), ms, this.clock, () =>
        new HomecoreError(
          ErrorCode.TEARDOWN_TIMEOUT,
          `teardown did not finish within ${ms} ms: stop timers and close connections promptly ` +
            '(ctx.signal aborts when teardown starts), or raise limits.teardown_timeout_ms',
          { plugin: rec.id, hook: 'teardown' },
        ),
      );
      return undefined;
    } catch (failure) {
      const error =
        failure instanceof HomecoreError
          ? failure
          : new HomecoreError(ErrorCode.TEARDOWN_FAILED, `teardown failed: ${messageOf(failure)}: make teardown release resources without throwing`, {
              plugin: rec.id,
              hook: 'teardown',
              cause: failure,
            });
      rec.errors++;
      this.emit({ type: 'teardown_failed', plugin: rec.id, error });
      return error;
    } finally {
      activation.hook = null;
    }
  }

  private async unloadLocked(rec: PluginRecord): Promise<void> {
    if (rec.removed) return;
    this.clearTimers(rec);
    const activation = rec.active;
    let failed: HomecoreError | undefined;
    if (activation !== undefined) {
      this.setEntryState(rec, 'unload_in_progress', null);
      rec.paused = true;
      await rec.whenStopped();
      failed = await this.teardown(rec, activation);
      rec.active = undefined;
      await this.close(activation);
    }
    this.dropQueue(rec, undefined);
    if (failed !== undefined) this.setEntryState(rec, 'failed_unload', failed.message);
    else this.setEntryState(rec, 'not_loaded', null);
    this.forget(rec);
    this.emit({ type: 'plugin_unloaded', plugin: rec.id });
  }

  /** Removes a record and everything it registered with the core. */
  private forget(rec: PluginRecord): void {
    rec.removed = true;
    this.clearTimers(rec);
    // The watchdog outlives clearTimers: an unload waiting for a hung handler needs its timeout.
    if (rec.watchdog !== undefined) this.clock.clearTimeout(rec.watchdog);
    rec.watchdog = undefined;
    rec.pendingSince = -1;
    rec.active = undefined;
    rec.pending = undefined;
    this.syncCoreServices(rec);
    this.records.delete(rec.id);
    if (this.records.size === 0 && this.unlisten !== undefined) {
      this.unlisten();
      this.unlisten = undefined;
    }
  }

  private clearTimers(rec: PluginRecord): void {
    if (rec.retryTimer !== undefined) this.clock.clearTimeout(rec.retryTimer);
    if (rec.backoffTimer !== undefined) this.clock.clearTimeout(rec.backoffTimer);
    rec.retryTimer = undefined;
    rec.backoffTimer = undefined;
  }

  private async reloadLocked(rec: PluginRecord, next: ReloadSource): Promise<void> {
    const id = rec.id;
    if (rec.removed) throw notFound(id);
    if (!CONFIG_ENTRY_RECOVERABLE[rec.entry.state]) {
      throw new HomecoreError(
        ErrorCode.OPERATION_NOT_ALLOWED,
        `cannot reload while the config entry is ${rec.entry.state}: wait for the current operation to finish`,
        { plugin: id },
      );
    }
    let manifest: ResolvedManifest;
    let runtime: PluginRuntime;
    try {
      manifest = next.manifest === undefined ? rec.manifest : this.validate(next.manifest);
      if (manifest.domain !== id) {
        throw new HomecoreError(
          ErrorCode.MANIFEST_INVALID,
          `the new manifest's domain ${manifest.domain} differs from ${id}: a reload keeps the domain; unload and load instead`,
          { plugin: id },
        );
      }
      runtime = runtimeFor(this.runtimes, manifest);
      const unmet = (manifest.dependencies ?? []).filter((d) => this.records.get(d)?.entry.state !== 'loaded');
      if (unmet.length > 0) throw dependencyFailedError(id, unmet);
      checkConfigData(id, manifest.config_schema, rec.entry.data);
    } catch (error) {
      throw this.reloadFailed(rec, error);
    }
    if (next.manifest !== undefined) this.warnUncovered(manifest);
    const code = next.code ?? rec.code;
    const baseDir = next.baseDir ?? rec.baseDir;
    const old = rec.active;

    if (old === undefined) {
      // Not running (setup_error, setup_retry): a fresh setup with the new version.
      this.clearTimers(rec);
      rec.tries = 0;
      Object.assign(rec, { manifest, code, baseDir, runtime });
      this.resetHealth(rec);
      try {
        await this.setUp(rec);
      } catch (error) {
        throw this.reloadFailed(rec, error);
      }
      if (rec.entry.state === 'loaded') this.emit({ type: 'plugin_reloaded', plugin: id });
      return;
    }

    // Hot swap: pause the old one after its in-flight handler, set the new one up, then swap.
    rec.paused = true;
    await rec.whenStopped();
    let fresh: Activation;
    try {
      fresh = await this.activate(rec, manifest, code, baseDir, runtime);
    } catch (error) {
      rec.paused = false;
      this.schedulePump(rec);
      throw this.reloadFailed(rec, error);
    }
    rec.active = fresh;
    Object.assign(rec, { manifest, code, baseDir, runtime });
    this.resetHealth(rec);
    this.keepSelected(rec, fresh);
    await this.teardown(rec, old);
    await this.close(old);
    this.syncCoreServices(rec);
    rec.paused = false;
    this.emit({ type: 'plugin_reloaded', plugin: id });
    this.schedulePump(rec);
  }

  private reloadFailed(rec: PluginRecord, failure: unknown): HomecoreError {
    const cause = toHomecoreError(failure, ErrorCode.SETUP_FAILED, { plugin: rec.id });
    const error = new HomecoreError(
      ErrorCode.RELOAD_FAILED,
      `reload failed, ${rec.active !== undefined ? 'the previous version keeps running' : 'nothing is running'}: ${cause.message}`,
      { plugin: rec.id, hook: 'reload', cause, details: { code: cause.code } },
    );
    this.emit({ type: 'reload_failed', plugin: rec.id, error });
    return error;
  }

  private resetHealth(rec: PluginRecord): void {
    if (rec.backoffTimer !== undefined) this.clock.clearTimeout(rec.backoffTimer);
    rec.backoffTimer = undefined;
    rec.health = 'ok';
    rec.healthReason = null;
    rec.consecutiveFailures = 0;
    rec.backoffs = 0;
  }

  // ---------------------------------------------------------------- context, services, subscriptions

  private contextFor(activation: Activation) {
    const rec = activation.record;
    return createPluginContext({
      plugin: rec.id,
      manifest: activation.manifest,
      permissions: activation.permissions,
      core: this.core,
      clock: this.clock,
      signal: activation.abort.signal,
      entry: () => rec.entry,
      hook: () => activation.hook,
      parentContextId: () => activation.parentContextId,
      closed: () => activation.closed,
      denied: (action, target) => this.book.recordDenial(rec, action, target, activation.hook),
      emit: (activity) => this.emit(activity),
      registerService: (service, handler) => this.registerService(activation, service, handler),
      subscribe: (subscription) => this.addSubscriptions(activation, subscription),
      callLater: (ms, callback) => this.callLater(activation, ms, callback),
      acted: (action) => {
        if (action === 'write') rec.writes++;
        else if (action === 'serviceCall') rec.servicesCalled++;
        else rec.eventsFired++;
      },
    });
  }

  /** A one-shot timer on the registry clock whose callback runs in the plugin's queue. */
  private callLater(activation: Activation, ms: number, callback: () => void | Promise<void>): () => void {
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
    this.emit({ type: 'event_dropped', plugin: rec.id, event_type: 'callLater', reason });
  }

  private cancelTimers(activation: Activation): void {
    for (const handle of activation.timers) this.clock.clearTimeout(handle);
    activation.timers.clear();
  }

  private registerService(activation: Activation, service: string, handler: ServiceHandler): () => void {
    const rec = activation.record;
    const name = String(service);
    if (!(activation.manifest.services ?? []).some((s) => s.name === name)) {
      this.book.recordDenial(rec, 'service:register', `${rec.id}.${name}`, activation.hook);
      throw new HomecoreError(
        ErrorCode.PERMISSION_DENIED,
        `plugin ${rec.id} may not register service ${rec.id}.${name}: add { "name": ${JSON.stringify(name)} } to services in its manifest`,
        { plugin: rec.id, hook: activation.hook ?? undefined, details: { action: 'service:register', target: `${rec.id}.${name}` } },
      );
    }
    if (typeof handler !== 'function') {
      throw new HomecoreError(ErrorCode.SERVICE_INVALID, `the handler of service ${rec.id}.${name} must be a function`, { plugin: rec.id });
    }
    if (activation.services.has(name)) {
      throw new HomecoreError(ErrorCode.SERVICE_EXISTS, `service ${rec.id}.${name} is already registered: call the remover it returned first`, {
        plugin: rec.id,
      });
    }
    activation.services.set(name, handler);
    this.ensureCoreService(rec, name);
    this.emit({ type: 'service_registered', plugin: rec.id, domain: rec.id, service: name });
    return () => {
      if (activation.services.get(name) !== handler) return;
      activation.services.delete(name);
      this.syncCoreServices(rec);
    };
  }

  private ensureCoreService(rec: PluginRecord, name: string): void {
    if (rec.coreServices.has(name)) return;
    const remove = this.core.registerService(rec.id, name, (call) => this.serviceCalled(rec, name, call));
    rec.coreServices.set(name, remove);
  }

  /** Keeps the core's registrations equal to what the live activations provide. */
  private syncCoreServices(rec: PluginRecord): void {
    const wanted = new Set<string>();
    for (const a of [rec.active, rec.pending]) {
      if (a === undefined || a.closed || rec.removed) continue;
      for (const name of a.services.keys()) wanted.add(name);
      for (const name of a.routed) wanted.add(name);
    }
    for (const [name, remove] of rec.coreServices) {
      if (wanted.has(name)) continue;
      rec.coreServices.delete(name);
      try {
        remove();
      } catch {
        // The core already forgot it; nothing to undo.
      }
    }
  }

  private async serviceCalled(rec: PluginRecord, name: string, call: ServiceCall): Promise<unknown> {
    const id = rec.id;
    if (rec.health === 'quarantined') {
      throw new HomecoreError(
        ErrorCode.PLUGIN_QUARANTINED,
        `service ${id}.${name} is unavailable because the plugin is quarantined (${rec.healthReason ?? 'repeated failures'}): fix the plugin and reload it`,
        { plugin: id, hook: 'onServiceCall' },
      );
    }
    const activation = rec.current();
    const handler = activation?.services.get(name);
    rec.serviceCalls++;
    try {
      let result: unknown;
      if (activation !== undefined && handler !== undefined) {
        result = await handler(call);
      } else if (activation !== undefined && activation.routed.has(name)) {
        // A plugin calling its own service from a handler must not wait behind itself.
        result =
          call.context.user_id === `plugin:${id}`
            ? await activation.instance.handleServiceCall(call)
            : await this.runQueued(rec, 'onServiceCall', (instance) => instance.handleServiceCall(call));
      } else {
        throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, `service ${id}.${name} has no handler right now: the plugin is not running`, {
          plugin: id,
        });
      }
      this.emit({ type: 'service_handled', plugin: id, domain: id, service: name, ok: true });
      return result;
    } catch (error) {
      this.emit({ type: 'service_handled', plugin: id, domain: id, service: name, ok: false });
      throw this.handlerError(rec, 'onServiceCall', error);
    }
  }

  /** Counts and reports a failure of a call the caller awaits (not fed to the failure policy). */
  private handlerError(rec: PluginRecord, hook: string, failure: unknown): HomecoreError {
    const error = toHomecoreError(failure, ErrorCode.HANDLER_FAILED, { plugin: rec.id, hook });
    if (error.code === ErrorCode.PLUGIN_QUARANTINED || error.code === ErrorCode.SERVICE_NOT_FOUND) return error;
    if (this.countedFailures.has(error)) return error;
    rec.errors++;
    this.emit({ type: 'handler_failed', plugin: rec.id, hook, error });
    return error;
  }

  private addSubscriptions(activation: Activation, subscription: Subscription): () => void {
    const added: IndexEntry<Activation>[] = [];
    for (const pattern of subscription.entities ?? []) added.push({ owner: activation, kind: 'entity', pattern: String(pattern) });
    for (const pattern of subscription.events ?? []) added.push({ owner: activation, kind: 'event', pattern: String(pattern) });
    if (activation.closed) return () => undefined;
    for (const entry of added) {
      activation.subscriptions.add(entry);
      this.index.add(entry);
    }
    return () => {
      for (const entry of added) {
        if (activation.subscriptions.delete(entry)) this.index.remove(entry);
      }
    };
  }

  // ---------------------------------------------------------------- dispatch

  private listenToCore(): void {
    if (this.unlisten === undefined) this.unlisten = this.core.listen((event) => this.dispatch(event));
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
    const capacity = Math.min(rec.manifest.limits?.queue_capacity ?? Infinity, this.hostLimits.queueCapacity);
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
    this.emit({ type: 'event_dropped', plugin: rec.id, event_type: delivered.event.event_type, reason });
  }

  /** Empties the queue: events are counted as dropped for `reason` (or discarded), tasks are rejected unless kept. */
  private dropQueue(rec: PluginRecord, reason: DropReason | undefined, keepTasks = false): void {
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

  /** After a reload, keeps only queued events the new activation subscribes to and may read. */
  private keepSelected(rec: PluginRecord, activation: Activation): void {
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

  /** Runs a call on the plugin's instance in its queue, so instance calls never overlap. */
  private runQueued(rec: PluginRecord, hook: string, run: (instance: PluginInstance) => Promise<unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      rec.queue.push(new QueuedTask(hook, run, resolve, reject));
      this.schedulePump(rec);
    });
  }

  private canPump(rec: PluginRecord): boolean {
    return !rec.paused && !rec.removed && rec.active !== undefined && rec.entry.state === 'loaded';
  }

  // Invariant idle() relies on: a record that can pump and has queued work is scheduled or running.
  // Every place that queues work or makes canPump() true again calls schedulePump().
  private schedulePump(rec: PluginRecord): void {
    if (rec.running || rec.pumpScheduled || !this.canPump(rec)) return;
    rec.pumpScheduled = true;
    this.idleTracker.busyPumps++;
    // Deliver after the core's synchronous dispatch returns: a plugin never runs inside a write.
    // One microtask starts every pump scheduled meanwhile (a fan-out schedules hundreds at once).
    if (this.scheduledPumps.push(rec) === 1) queueMicrotask(this.startPumps);
  }

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
  private bindPump(rec: PluginRecord): void {
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

  private asyncEventDone(rec: PluginRecord, failed: boolean, error: unknown): void {
    rec.pendingSince = -1;
    this.eventSettled(rec, failed, error);
    this.pump(rec);
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

  /** Starts the handler timeout for the item that is now pending. */
  private watchPending(rec: PluginRecord): void {
    const limit = Math.min(rec.manifest.limits?.handler_timeout_ms ?? Infinity, this.hostLimits.handlerTimeoutMs);
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

  /**
   * The in-flight item outlived its limit: it fails with HC_ERR_HANDLER_TIMEOUT (counted and fed to
   * the failure policy), its late result will be ignored, and the queue moves on.
   */
  private handlerTimedOut(rec: PluginRecord): void {
    const limit = rec.pendingLimit;
    rec.pendingSince = -1;
    const task = rec.inFlightTask;
    const hook = task !== undefined ? task.hook : rec.inFlightHook;
    const error = new HomecoreError(
      ErrorCode.HANDLER_TIMEOUT,
      `${hook} did not finish within ${limit} ms, so the plugin's queue moved on without it: keep hooks short, ` +
        'do slow work in the background (without awaiting it in the hook), or raise limits.handler_timeout_ms',
      { plugin: rec.id, hook, details: { limitMs: limit } },
    );
    if (task !== undefined) {
      rec.inFlightTask = undefined;
      const activation = rec.active;
      if (activation !== undefined) activation.hook = null;
      this.countedFailures.add(error);
      this.eventHandlerFailed(rec, hook, error);
      task.reject(error);
    } else if (rec.inFlight !== undefined) {
      rec.asyncToken++;
      if (rec.sharedInFlight) rec.sharedAbandoned = true;
      this.eventSettled(rec, true, error);
    } else {
      return;
    }
    this.pump(rec);
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
    this.idleTracker.pumpStopped();
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

  /** The failure policy: consecutive failures lead to a backoff, repeated backoffs to quarantine. */
  private eventHandlerFailed(rec: PluginRecord, hook: string, failure: unknown): void {
    const error = toHomecoreError(failure, ErrorCode.HANDLER_FAILED, { plugin: rec.id, hook });
    rec.errors++;
    this.emit({ type: 'handler_failed', plugin: rec.id, hook, error });
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
      this.emit({ type: 'plugin_quarantined', plugin: rec.id, reason: rec.healthReason });
      return;
    }
    rec.backoffs++;
    const backoffMs = this.policy.backoffMs * 2 ** (rec.backoffs - 1);
    rec.health = 'backoff';
    rec.healthReason = `${failures} consecutive handler failures (last error: ${error.message}); events are dropped for ${backoffMs} ms`;
    this.dropQueue(rec, 'backoff', true);
    this.emit({ type: 'plugin_backoff', plugin: rec.id, failures, backoffMs });
    rec.backoffTimer = this.clock.setTimeout(() => {
      rec.backoffTimer = undefined;
      if (rec.removed || rec.health !== 'backoff') return;
      rec.health = 'ok';
      rec.healthReason = null;
      this.emit({ type: 'plugin_resumed', plugin: rec.id });
      this.schedulePump(rec);
    }, backoffMs);
  }

  // ---------------------------------------------------------------- helpers

  private emit(activity: RegistryActivity): void {
    this.book.emit(activity);
  }

  private require(id: PluginId): PluginRecord {
    const rec = this.records.get(id);
    if (rec === undefined) throw notFound(id);
    return rec;
  }


}

function noop(): void {}

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

function notFound(id: string): HomecoreError {
  return new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `no plugin ${id} is loaded: check the id with list()`, { plugin: id });
}

function setupError(id: string, failure: unknown): HomecoreError {
  if (failure instanceof HomecoreError) {
    if (failure.plugin !== undefined) return failure;
    // A coded error thrown by the plugin (ConfigEntryNotReady...): keep its code, name the plugin.
    return new HomecoreError(failure.code, failure.message, { plugin: id, hook: 'setup', details: failure.details, cause: failure });
  }
  return new HomecoreError(ErrorCode.SETUP_FAILED, `setup failed: ${messageOf(failure)}: fix the plugin's setup or its config, then reload it`, {
    plugin: id,
    hook: 'setup',
    cause: failure,
  });
}
