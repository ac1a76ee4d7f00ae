import {
  CONFIG_ENTRY_RECOVERABLE,
  ErrorCode,
  HomecoreError,
  isHomecoreError,
  PermissionSet,
  toHomecoreError,
  type Clock,
  type ConfigEntry,
  type ConfigEntryState,
  type PluginCode,
  type PluginId,
  type PluginInstance,
  type PluginRuntime,
} from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import type { Bookkeeping } from './bookkeeping.js';
import { entryVersionOf, newEntry, updatedEntry } from './config-entry.js';
import { checkConfigData, prepareSchemas } from './config-schema.js';
import { subscriptionWarnings } from './coverage.js';
import type { Delivery } from './delivery.js';
import { cycleError, dependencyFailedError, dependencyNodes, dependentsOf, duplicateError, missingError, nodeOf } from './dependencies.js';
import { readPluginFolder } from './discovery.js';
import { dependencyOrder, findCycles } from './graph.js';
import { isUpgradeRefusal, type Admission, type Grants } from './grants.js';
import { pluginLimits, type EntityOwners } from './guard.js';
import type { IdleTracker } from './idle.js';
import type { StoredConfigEntry } from './entry-store.js';
import type { EntryPersistence } from './persistence.js';
import { PluginRecord, type Activation, type FolderSource } from './record.js';
import type { RegistrySettings } from './settings.js';
import type { ConfigEntryInit, ConfigEntryUpdate, DiscoveredPlugin, LoadOptions, ReloadSource } from './types.js';
import { invoke, isoTime, messageOf, ulid, withTimeout } from './util.js';
import { runtimeFor, validateManifest } from './validation.js';
import type { Wiring } from './wiring.js';

/**
 * A plugin's life from load to unload: validation, set up (with HA's retry backoff for
 * ConfigEntryNotReady), teardown, hot reload with rollback, config updates, and the config entry
 * state each step moves to. Operations on one plugin are serialised through `rec.op`.
 */
export class Lifecycle {
  private readonly clock: Clock;

  constructor(
    private readonly settings: RegistrySettings,
    private readonly records: Map<PluginId, PluginRecord>,
    private readonly folders: ReadonlyMap<string, FolderSource>,
    private readonly book: Bookkeeping,
    private readonly idle: IdleTracker,
    private readonly delivery: Delivery,
    private readonly wiring: Wiring,
    private readonly owners: EntityOwners,
    private readonly grants: Grants,
    private readonly persistence: EntryPersistence,
  ) {
    this.clock = settings.clock;
  }

  /** The record of a loaded plugin, or HC_ERR_PLUGIN_NOT_FOUND. */
  require(id: PluginId): PluginRecord {
    const rec = this.records.get(id);
    if (rec === undefined) throw notFound(id);
    return rec;
  }

  /** Parses a manifest and checks it may load on this host. */
  validate(input: unknown): ResolvedManifest {
    return validateManifest(input, this.settings.homecoreVersion);
  }

  /** Reports manifest subscriptions that no permission lets through, as `warning` activity. */
  private warnUncovered(manifest: ResolvedManifest): void {
    for (const message of subscriptionWarnings(manifest)) this.book.emit({ type: 'warning', plugin: manifest.domain, message });
  }

  // ---------------------------------------------------------------- load and set up

  /** Loads a validated manifest: reserves the id, checks dependencies and config, then sets it up. */
  async load(manifest: ResolvedManifest, code: PluginCode, options: LoadOptions, checkCycles: boolean): Promise<PluginId> {
    const id = manifest.domain;
    // Awaited only when there is something to load: without schemas, everything up to reserving the
    // id stays synchronous from the call, and with them from here on; two concurrent loads cannot both pass.
    const schemas = prepareSchemas(manifest);
    if (schemas !== undefined) await schemas;
    if (this.records.has(id)) throw duplicateError(id);
    const runtime = runtimeFor(this.settings.runtimes, manifest);
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
    const rec = new PluginRecord(id, manifest, code, options.baseDir, runtime, newEntry(manifest, config, this.clock, this.settings.random));
    const folder = options.baseDir !== undefined ? this.folders.get(options.baseDir) : undefined;
    if (folder !== undefined && folder.entry === code) rec.folder = folder;
    this.delivery.bindPump(rec);
    // Before the id is reserved: a core that refuses the listener fails this load and leaves nothing behind.
    this.delivery.listenToCore();
    this.records.set(id, rec);
    this.warnUncovered(manifest);

    // Chained now, so a dependent loading concurrently waits for this setup through `rec.op`.
    await this.idle.trackSetup(this.serialize(rec, async () => {
      try {
        // The upgrade rule, once the id is reserved: a version seen before must not ask for more than was accepted.
        await this.grants.commit(await this.grants.check(manifest, 'it is not loaded'));
        await this.waitForDependencies(rec);
        await this.adoptStoredEntry(rec);
      } catch (error) {
        this.forget(rec);
        throw error;
      }
      await this.setUp(rec);
      this.restoreQuarantine(rec);
    }));
    await this.restoreFurtherEntries(rec);
    return id;
  }

  /** With an entry store: every further stored entry of the domain is set up as its own instance (failures stay in their entry). */
  private async restoreFurtherEntries(primary: PluginRecord): Promise<void> {
    if (!this.persistence.enabled || primary.removed) return;
    const further = this.persistence.entriesOf(primary.id).filter((e) => e.entry_id !== primary.entry.entry_id);
    await Promise.all(
      further.map(async (stored) => {
        const sibling = this.addSibling(primary, liveEntryOf(stored));
        await this.idle.trackSetup(this.serialize(sibling, () => this.setUp(sibling))).catch(() => undefined);
        this.restoreQuarantine(sibling);
      }),
    );
  }

  /** Reserves the record of a further entry of `primary`'s plugin (synchronously). */
  private addSibling(primary: PluginRecord, entry: ConfigEntry): PluginRecord {
    const key = `${primary.domain}/${entry.entry_id}`;
    const rec = new PluginRecord(key, primary.manifest, primary.code, primary.baseDir, primary.runtime, entry, primary);
    rec.folder = primary.folder;
    this.delivery.bindPump(rec);
    this.records.set(key, rec);
    primary.siblings.push(rec);
    primary.summary = undefined;
    if (this.persistence.enabled) {
      rec.onEntry = (next) => this.persistence.put(next);
      this.persistence.put(rec.entry);
    }
    return rec;
  }

  /** The record of a config entry (by entry id), or of a plugin (by id); HC_ERR_CONFIG_ENTRY_NOT_FOUND otherwise. */
  entryRecord(idOrEntryId: string): PluginRecord {
    const direct = this.records.get(idOrEntryId);
    if (direct !== undefined) return direct;
    for (const rec of this.records.values()) if (rec.entry.entry_id === idOrEntryId) return rec;
    throw entryNotFound(idOrEntryId);
  }

  /**
   * Adds a config entry to a loaded plugin and sets it up as its own instance (HA's
   * `async_add` + `async_setup_entry`). Refused with HC_ERR_SINGLE_CONFIG_ENTRY when the manifest
   * says `single_config_entry`, HC_ERR_ALREADY_CONFIGURED when another entry of the domain has its
   * `unique_id`. A failed setup keeps the entry (in `setup_error`) and rejects like load.
   */
  async addEntry(domain: PluginId, init: ConfigEntryInit): Promise<ConfigEntry> {
    const primary = this.require(domain);
    if (primary.primary !== undefined) throw notFound(domain);
    await this.persistence.ready(domain);
    // Synchronous from here to the reservation: two concurrent adds cannot both pass the checks.
    if (primary.removed) throw notFound(domain);
    const existing = this.domainEntries(primary);
    if ((primary.manifest as { single_config_entry?: boolean }).single_config_entry === true && existing.length > 0) {
      throw new HomecoreError(
        ErrorCode.SINGLE_CONFIG_ENTRY,
        `${domain} allows a single config entry (single_config_entry in its manifest) and has one (${existing[0]!.entry_id}): update it, or remove it first`,
        { plugin: domain, details: { entry_id: existing[0]!.entry_id } },
      );
    }
    const uniqueId = init.unique_id ?? null;
    const clash = uniqueId === null ? undefined : existing.find((e) => e.unique_id === uniqueId);
    if (clash !== undefined) {
      throw new HomecoreError(
        ErrorCode.ALREADY_CONFIGURED,
        `${domain} already has a config entry with unique_id ${JSON.stringify(uniqueId)} (${clash.entry_id}): update that entry instead`,
        { plugin: domain, details: { entry_id: clash.entry_id, unique_id: uniqueId } },
      );
    }
    checkConfigData(domain, primary.manifest.config_schema, init.data ?? {});
    let entry = newEntry(primary.manifest, init, this.clock, this.settings.random);
    // Entry ids are unique across every entry (a host with a fixed clock and random source would repeat them).
    const taken = new Set([...this.records.values()].map((r) => r.entry.entry_id).concat(this.persistence.all().map((e) => e.entry_id)));
    for (let n = 1; taken.has(entry.entry_id); n++) entry = Object.freeze({ ...entry, entry_id: ulid(this.clock.now() + n, this.settings.random) });
    const rec = this.addSibling(primary, entry);
    await this.idle.trackSetup(this.serialize(rec, () => this.setUp(rec)));
    return rec.entry;
  }

  /** Every entry of a domain: the live ones and, with a store, the stored ones of it not running now. */
  private domainEntries(primary: PluginRecord): ConfigEntry[] {
    const live = [primary, ...primary.siblings].map((r) => r.entry);
    const ids = new Set(live.map((e) => e.entry_id));
    const stored = this.persistence.entriesOf(primary.domain).filter((e) => !ids.has(e.entry_id)).map(liveEntryOf);
    return [...live, ...stored];
  }

  /**
   * Removes a config entry: its instance is unloaded (teardown always runs) and the entry is
   * forgotten, in the store too. The only entry of a plugin is removed by unloading the plugin; a
   * first entry with further entries is refused (remove those first). An entry stored for a plugin
   * not loaded now is just forgotten.
   */
  async removeEntry(entryId: string): Promise<void> {
    await this.persistence.ready();
    let rec: PluginRecord;
    try {
      rec = this.entryRecord(entryId);
    } catch (error) {
      if (this.persistence.all().some((e) => e.entry_id === entryId)) {
        this.persistence.remove(entryId);
        return;
      }
      throw error;
    }
    const id = rec.entry.entry_id;
    if (rec.primary === undefined) {
      if (rec.siblings.length > 0) {
        throw new HomecoreError(
          ErrorCode.OPERATION_NOT_ALLOWED,
          `${id} is the first config entry of ${rec.id}, which has ${rec.siblings.length} more: remove those first (the first entry is what the plugin's id addresses)`,
          { plugin: rec.id, details: { entries: rec.siblings.map((s) => s.entry.entry_id) } },
        );
      }
      await this.unload(rec.id, {});
    } else {
      await this.serialize(rec, () => this.unloadLocked(rec));
    }
    this.persistence.remove(id);
  }

  /** A further entry's reload from its domain's first entry's (new) version; failures are reported and keep the entry as it was. */
  private async reloadSiblings(primary: PluginRecord): Promise<void> {
    await Promise.all(
      primary.siblings.map((sibling) =>
        this.idle
          .trackSetup(this.serialize(sibling, () => this.reloadLocked(sibling, { code: primary.code, ...(primary.baseDir !== undefined ? { baseDir: primary.baseDir } : {}) }, undefined, primary.manifest)))
          .catch(() => undefined),
      ),
    );
  }

  /**
   * With an entry store: the domain's stored entry replaces the new one (whose config is used only
   * when none is stored, on the first start), and every change to the entry is stored from now on.
   */
  private async adoptStoredEntry(rec: PluginRecord): Promise<void> {
    if (!this.persistence.enabled) return;
    await this.persistence.ready(rec.id);
    const stored = this.persistence.entriesOf(rec.id)[0];
    if (stored !== undefined) {
      checkConfigData(rec.id, rec.manifest.config_schema, stored.data);
      rec.entry = liveEntryOf(stored);
    }
    rec.onEntry = (entry) => this.persistence.put(entry);
    this.persistence.put(rec.entry);
  }

  /** A plugin quarantined before the restart comes back quarantined (its events dropped) until cleared. */
  private restoreQuarantine(rec: PluginRecord): void {
    const stored = this.persistence.quarantineOf(rec.entry.entry_id);
    if (stored === undefined || rec.active === undefined || rec.removed) return;
    rec.health = 'quarantined';
    rec.healthReason = `${stored.reason} (quarantined since ${stored.quarantined_at}, kept across restarts: clearQuarantine or reload it to give it a fresh start)`;
    this.book.emit({ type: 'plugin_quarantined', plugin: rec.id, reason: rec.healthReason });
  }

  /**
   * Gives a quarantined plugin a fresh start without reloading it (its failure counters reset, its
   * events delivered again) and forgets a stored quarantine of its entries; true when there was one.
   */
  async clearQuarantine(id: PluginId): Promise<boolean> {
    await this.persistence.ready(id);
    let cleared = false;
    for (const entryId of this.persistence.quarantinedOf(id)) cleared = this.persistence.clearQuarantine(entryId) || cleared;
    const rec = this.records.get(id);
    if (rec === undefined) {
      if (!cleared) throw notFound(id);
      return cleared;
    }
    if (rec.health !== 'ok') {
      cleared = true;
      this.delivery.resetHealth(rec);
      this.book.emit({ type: 'plugin_resumed', plugin: id });
      this.delivery.schedulePump(rec);
    }
    return cleared;
  }

  /**
   * Disables (`'user'`) or enables (`null`) a plugin's config entry, HA's `async_set_disabled_by`:
   * a disabled entry is torn down and stays `not_loaded` (and listed) until enabled, which sets it
   * up again. With an entry store the disabled state survives restarts.
   */
  async setDisabled(id: PluginId, disabledBy: string | null): Promise<void> {
    const rec = this.require(id);
    await this.idle.trackSetup(
      this.serialize(rec, async () => {
        if (rec.removed) throw notFound(id);
        if (rec.entry.disabled_by === disabledBy) return;
        if (!CONFIG_ENTRY_RECOVERABLE[rec.entry.state]) {
          throw new HomecoreError(
            ErrorCode.OPERATION_NOT_ALLOWED,
            `cannot ${disabledBy === null ? 'enable' : 'disable'} while the config entry is ${rec.entry.state}: wait for the current operation to finish`,
            { plugin: id },
          );
        }
        rec.entry = Object.freeze({ ...rec.entry, disabled_by: disabledBy, modified_at: isoTime(this.clock.now()) });
        if (disabledBy === null) return this.setUp(rec);
        try {
          await this.stopLocked(rec);
        } finally {
          rec.paused = false;
          this.owners.releaseAll(rec);
          this.wiring.syncCoreServices(rec);
        }
      }),
    );
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

  private serialize<T>(rec: PluginRecord, work: () => Promise<T>): Promise<T> {
    const result = rec.op.then(work, work);
    rec.op = result.catch(() => undefined);
    return result;
  }

  private setEntryState(rec: PluginRecord, to: ConfigEntryState, reason: string | null): void {
    const from = rec.entry.state;
    if (from === to && rec.entry.reason === reason) return;
    rec.entry = Object.freeze({ ...rec.entry, state: to, reason });
    this.book.emit({ type: 'entry_state', plugin: rec.id, from, to, reason });
  }

  /** Sets a plugin up from scratch; NOT_READY schedules a retry, other failures leave `setup_error`. */
  private async setUp(rec: PluginRecord): Promise<void> {
    if (rec.removed) return;
    if (rec.entry.disabled_by !== null) {
      // HA skips disabled entries: listed, not set up, until enabled.
      this.clearTimers(rec);
      this.setEntryState(rec, 'not_loaded', null);
      return;
    }
    this.setEntryState(rec, 'setup_in_progress', null);
    let activation: Activation;
    try {
      activation = await this.activate(rec, rec.manifest, rec.code, rec.baseDir, rec.runtime);
    } catch (failure) {
      this.delivery.dropQueue(rec, undefined);
      const error = failure as HomecoreError;
      rec.noteFailure(error, 'setup', this.clock.now());
      if (error.code === ErrorCode.MIGRATION_FAILED) {
        // HA's MIGRATION_ERROR: not retried; a reload with a version that migrates it tries again.
        rec.tries = 0;
        this.setEntryState(rec, 'migration_error', error.message);
        this.book.emit({ type: 'setup_failed', plugin: rec.id, error, retryInMs: null });
        throw error;
      }
      if (error.code === ErrorCode.CONFIG_ENTRY_NOT_READY) {
        // HA's ConfigEntryNotReady backoff: 5, 10, 20, 40, 80, 80... s plus up to 1 s of jitter.
        const wait = 5000 * 2 ** Math.min(rec.tries, 4) + Math.floor(this.settings.random() * 1000);
        let timer: unknown;
        try {
          timer = this.clock.setTimeout(() => {
            if (rec.retryTimer === timer) this.retry(rec);
          }, wait);
        } catch {
          timer = undefined; // no retry can be scheduled: setup_error below, reload to try again
        }
        if (timer !== undefined) {
          rec.tries++;
          rec.retryTimer = timer;
          this.setEntryState(rec, 'setup_retry', error.message);
          this.book.emit({ type: 'setup_failed', plugin: rec.id, error, retryInMs: wait });
          return;
        }
      }
      rec.tries = 0;
      this.setEntryState(rec, 'setup_error', error.message);
      this.book.emit({ type: 'setup_failed', plugin: rec.id, error, retryInMs: null });
      throw error;
    }
    rec.tries = 0;
    rec.active = activation;
    rec.loadedAt = this.clock.now();
    this.setEntryState(rec, 'loaded', null);
    this.book.emit({ type: 'plugin_loaded', plugin: rec.id, runtime: activation.instance.kind });
    this.delivery.schedulePump(rec);
  }

  private retry(rec: PluginRecord): void {
    rec.retryTimer = undefined;
    if (rec.removed) return;
    // Tracked from the timer's turn on, so a host that fires the timer and awaits idle() sees the outcome.
    void this.idle.trackSetup(this.serialize(rec, () => this.setUp(rec))).catch(() => undefined);
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
        warn: (message) => this.book.emit({ type: 'warning', plugin: id, message }),
      });
    } catch (error) {
      throw toHomecoreError(error, ErrorCode.SETUP_FAILED, { plugin: id, hook: 'load' });
    }
    let beforeMigration: ConfigEntry | undefined;
    try {
      beforeMigration = await this.migrate(rec, manifest, instance);
    } catch (error) {
      try {
        await instance.dispose();
      } catch {
        // Disposing a refused instance is best effort.
      }
      throw error;
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
      dueTimers: 0,
      runtimeSubscriptions: 0,
      subscriptionBytes: 0,
      limits: pluginLimits(manifest, this.settings.limits),
      maxEventBytes: maxEventBytesOf(instance),
      hook: null,
      parentContextId: null,
      closed: false,
      mayRead: new Map(),
      maySubscribe: new Map(),
    };
    activation.context = this.wiring.contextFor(activation);
    rec.pending = activation;
    try {
      this.wiring.addSubscriptions(activation, manifest.subscriptions ?? {});
      const ms = Math.min(manifest.limits?.setup_timeout_ms ?? Infinity, this.settings.limits.setupTimeoutMs);
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
      this.wiring.routeManifestServices(activation);
    } catch (failure) {
      activation.hook = null;
      rec.pending = undefined;
      // A migrated entry whose setup failed goes back to what is stored: the migration runs again next time.
      if (beforeMigration !== undefined) rec.entry = Object.freeze({ ...beforeMigration, state: rec.entry.state, reason: rec.entry.reason });
      await this.close(activation);
      this.wiring.syncCoreServices(rec);
      throw setupError(id, failure);
    }
    if (rec.pending === activation) rec.pending = undefined;
    return activation;
  }

  /**
   * HA's `ConfigEntry.async_migrate`: when the entry's version differs from the plugin's, the
   * instance's `migrateEntry` runs before setup and its result becomes the entry (stored with the
   * next save). Without the hook a minor difference is fine and a major one fails. A failure throws
   * HC_ERR_MIGRATION_FAILED and leaves the entry as stored. Returns the entry before a migration.
   */
  private async migrate(rec: PluginRecord, manifest: ResolvedManifest, instance: PluginInstance): Promise<ConfigEntry | undefined> {
    const target = entryVersionOf(manifest);
    const entry = rec.entry;
    if (entry.version === target.version && entry.minor_version === target.minor_version) return undefined;
    const from = `${entry.version}.${entry.minor_version}`;
    const to = `${target.version}.${target.minor_version}`;
    const fail = (why: string, cause?: unknown) =>
      new HomecoreError(
        ErrorCode.MIGRATION_FAILED,
        `config entry ${entry.entry_id} is at version ${from} and the plugin writes ${to}: ${why}; the entry keeps its stored data in migration_error`,
        { plugin: rec.id, hook: 'migrateEntry', details: { entry_id: entry.entry_id, from: { version: entry.version, minor_version: entry.minor_version }, to: target }, ...(cause !== undefined ? { cause } : {}) },
      );
    const hook = instance.migrateEntry;
    if (typeof hook !== 'function') {
      if (entry.version === target.version) return undefined; // minor versions are backward compatible (HA)
      throw fail('the plugin has no migration (migrateEntry, or the wasm export hc_migrate_entry)');
    }
    const ms = Math.min(manifest.limits?.setup_timeout_ms ?? Infinity, this.settings.limits.setupTimeoutMs);
    let result: unknown;
    try {
      result = await withTimeout(invoke(() => hook.call(instance, entry)), ms, this.clock, () => fail(`the migration did not finish within ${ms} ms`));
    } catch (error) {
      if (isHomecoreError(error) && error.code === ErrorCode.MIGRATION_FAILED) throw error;
      throw fail(`the migration failed: ${messageOf(error)}`, error);
    }
    if (result === false) throw fail('the migration returned false');
    if (result !== true && (typeof result !== 'object' || result === null || Array.isArray(result))) {
      throw fail('the migration returned neither true, false nor the migrated fields');
    }
    const fields = (result === true ? {} : result) as Record<string, unknown>;
    const object = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
    const positive = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 1;
    if (fields.data !== undefined && !object(fields.data)) throw fail('the migrated "data" is not an object');
    if (fields.options !== undefined && !object(fields.options)) throw fail('the migrated "options" is not an object');
    if (fields.title !== undefined && typeof fields.title !== 'string') throw fail('the migrated "title" is not a string');
    if (fields.version !== undefined && !positive(fields.version)) throw fail('the migrated "version" is not a positive integer');
    if (fields.minor_version !== undefined && !positive(fields.minor_version)) throw fail('the migrated "minor_version" is not a positive integer');
    let copy: Record<string, unknown>;
    try {
      copy = JSON.parse(JSON.stringify(fields)) as Record<string, unknown>;
      if (copy.data !== undefined) checkConfigData(rec.id, manifest.config_schema, copy.data as Record<string, never>);
    } catch (error) {
      throw fail(`the migrated entry is not valid: ${messageOf(error)}`, error);
    }
    rec.entry = Object.freeze({
      ...entry,
      ...(copy.title !== undefined ? { title: copy.title as string } : {}),
      ...(copy.data !== undefined ? { data: deepFreeze(copy.data as ConfigEntry['data']) } : {}),
      ...(copy.options !== undefined ? { options: deepFreeze(copy.options as ConfigEntry['options']) } : {}),
      version: (copy.version as number | undefined) ?? target.version,
      minor_version: (copy.minor_version as number | undefined) ?? target.minor_version,
      modified_at: isoTime(this.clock.now()),
    });
    return entry;
  }

  // ---------------------------------------------------------------- tear down and unload

  /** Ends an activation: aborts its signal, removes its subscriptions and disposes the instance. */
  private async close(activation: Activation): Promise<void> {
    if (activation.closed) return;
    activation.closed = true;
    activation.abort.abort();
    this.delivery.cancelTimers(activation);
    activation.dueTimers = 0;
    this.wiring.unwire(activation);
    try {
      await activation.instance.dispose();
    } catch (error) {
      this.book.emit({ type: 'warning', plugin: activation.record.id, message: `dispose failed: ${messageOf(error)}` });
    }
  }

  private teardownMs(activation: Activation): number {
    return Math.min(activation.manifest.limits?.teardown_timeout_ms ?? Infinity, this.settings.limits.teardownTimeoutMs);
  }

  /** Waits for the paused pump to stop, at most `ms`; then abandons the in-flight hook. */
  private async stopWithin(rec: PluginRecord, ms: number): Promise<void> {
    const stopped = rec.whenStopped();
    if (!Number.isFinite(ms)) return stopped;
    let timer: unknown;
    let fire!: (late: boolean) => void;
    const late = new Promise<boolean>((resolve) => (fire = resolve));
    try {
      timer = this.clock.setTimeout(() => fire(true), ms);
    } catch {
      return stopped; // the host cannot arm a timer: wait without a timeout
    }
    const timedOut = await Promise.race([stopped.then(() => false), late]);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    if (!timedOut) return;
    this.delivery.abandonForUnload(rec, ms);
    await rec.whenStopped();
  }

  /** Runs teardown with its timeout; reports a failure and returns it. */
  private async teardown(rec: PluginRecord, activation: Activation): Promise<HomecoreError | undefined> {
    const ms = this.teardownMs(activation);
    activation.abort.abort();
    this.delivery.cancelTimers(activation);
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
        isHomecoreError(failure)
          ? failure
          : new HomecoreError(ErrorCode.TEARDOWN_FAILED, `teardown failed: ${messageOf(failure)}: make teardown release resources without throwing`, {
              plugin: rec.id,
              hook: 'teardown',
              cause: failure,
            });
      rec.errors++;
      rec.noteFailure(error, 'teardown', this.clock.now());
      this.book.emit({ type: 'teardown_failed', plugin: rec.id, error });
      return error;
    } finally {
      activation.hook = null;
    }
  }

  /** Unloads one plugin (see PluginRegistry.unload); with `cascade`, its dependents first. */
  async unload(id: PluginId, options: { cascade?: boolean }): Promise<void> {
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
    for (const sibling of [...rec.siblings]) await this.serialize(sibling, () => this.unloadLocked(sibling));
    await this.serialize(rec, () => this.unloadLocked(rec));
  }

  /**
   * Unloads every plugin, each after the plugins that (after-)depend on it; plugins that do not
   * depend on each other are unloaded concurrently, so one slow teardown does not hold up the rest.
   */
  async unloadAll(): Promise<void> {
    const nodes = dependencyNodes(this.records);
    const dependents = new Map<string, string[]>();
    for (const [id, node] of nodes) {
      for (const d of new Set([...node.dependencies, ...node.after])) dependents.set(d, [...(dependents.get(d) ?? []), id]);
    }
    // Dependents come first in this order; waiting only on plugins started earlier cannot deadlock.
    const order = dependencyOrder(nodes).reverse();
    const done = new Map<string, Promise<void>>();
    for (const id of order) {
      const rec = this.records.get(id);
      if (rec === undefined) continue;
      const before = (dependents.get(id) ?? []).map((d) => done.get(d)).filter((p) => p !== undefined);
      const unloaded = Promise.all(before).then(() => this.serialize(rec, () => this.unloadLocked(rec)));
      done.set(id, unloaded.catch(() => undefined));
      unloaded.catch(() => undefined);
    }
    await Promise.all(done.values());
    await this.persistence.flush();
  }

  private async unloadLocked(rec: PluginRecord): Promise<void> {
    if (rec.removed) return;
    // Whatever fails on the way (a host callback, the host's clock), the plugin ends up removed.
    try {
      await this.stopLocked(rec);
    } finally {
      this.forget(rec);
      this.book.emit({ type: 'plugin_unloaded', plugin: rec.id });
    }
  }

  /** Tears the running activation down (if any) and leaves the record `not_loaded` (or `failed_unload`). */
  private async stopLocked(rec: PluginRecord): Promise<void> {
    this.clearTimers(rec);
    const activation = rec.active;
    let failed: HomecoreError | undefined;
    try {
      if (activation !== undefined) {
        this.setEntryState(rec, 'unload_in_progress', null);
        rec.paused = true;
        // ctx.signal first, so an in-flight hook listening to it can end before teardown.
        activation.abort.abort();
        await this.stopWithin(rec, this.teardownMs(activation));
        failed = await this.teardown(rec, activation);
      }
    } finally {
      rec.active = undefined;
      if (activation !== undefined) await this.close(activation);
      this.delivery.dropQueue(rec, undefined);
      if (failed !== undefined) this.setEntryState(rec, 'failed_unload', failed.message);
      else this.setEntryState(rec, 'not_loaded', null);
    }
  }

  /** Removes a record and everything it registered with the core. */
  private forget(rec: PluginRecord): void {
    rec.removed = true;
    this.owners.releaseAll(rec);
    this.clearTimers(rec);
    // The watchdog outlives clearTimers: an unload waiting for a hung handler needs its timeout.
    this.delivery.stopWatchdog(rec);
    rec.active = undefined;
    rec.pending = undefined;
    this.wiring.syncCoreServices(rec);
    this.records.delete(rec.id);
    if (rec.primary !== undefined) {
      const at = rec.primary.siblings.indexOf(rec);
      if (at >= 0) rec.primary.siblings.splice(at, 1);
      rec.primary.summary = undefined;
    }
    if (this.records.size === 0) this.delivery.stopListening();
  }

  private clearTimers(rec: PluginRecord): void {
    if (rec.retryTimer !== undefined) this.clock.clearTimeout(rec.retryTimer);
    if (rec.backoffTimer !== undefined) this.clock.clearTimeout(rec.backoffTimer);
    rec.retryTimer = undefined;
    rec.backoffTimer = undefined;
  }

  // ---------------------------------------------------------------- reload and config updates

  /** Swaps in a new version with rollback (see PluginRegistry.reload). */
  async reload(id: PluginId, next: ReloadSource, cascade = true): Promise<void> {
    const rec = this.require(id);
    const fromDisk = next.manifest === undefined && next.code === undefined && next.baseDir === undefined;
    await this.idle.trackSetup(
      this.serialize(rec, async () => {
        if (!fromDisk || rec.folder === undefined || rec.removed) return this.reloadLocked(rec, next);
        let found: DiscoveredPlugin;
        try {
          found = await readPluginFolder(rec.folder.root, rec.folder.dir);
        } catch (error) {
          throw this.reloadFailed(rec, error);
        }
        // With an entry store the stored entry is the truth; config.json seeded it on the first start only.
        const config = this.persistence.enabled || rec.primary !== undefined ? undefined : found.config;
        return this.reloadLocked(rec, { manifest: found.manifest, code: found.code, baseDir: found.dir }, config);
      }),
    );
    // A plugin's reload reloads every entry of it, with the version its first entry now runs.
    if (cascade && rec.primary === undefined && rec.siblings.length > 0) await this.reloadSiblings(rec);
  }

  /** Reloads with `next`; `config` (a re-read config.json) replaces the entry's title, data and options if the reload succeeds. */
  private async reloadLocked(rec: PluginRecord, next: ReloadSource, config?: ConfigEntryInit, resolved?: ResolvedManifest): Promise<void> {
    const id = rec.id;
    if (rec.removed) throw notFound(id);
    // migration_error is not recoverable in HA (a restart retries it); here a reload, with a version that migrates it, does.
    if (!CONFIG_ENTRY_RECOVERABLE[rec.entry.state] && rec.entry.state !== 'migration_error') {
      throw new HomecoreError(
        ErrorCode.OPERATION_NOT_ALLOWED,
        `cannot reload while the config entry is ${rec.entry.state}: wait for the current operation to finish`,
        { plugin: id },
      );
    }
    let manifest: ResolvedManifest;
    let runtime: PluginRuntime;
    try {
      manifest = resolved ?? (next.manifest === undefined ? rec.manifest : this.validate(next.manifest));
      if (manifest.domain !== rec.domain) {
        throw new HomecoreError(
          ErrorCode.MANIFEST_INVALID,
          `the new manifest's domain ${manifest.domain} differs from ${id}: a reload keeps the domain; unload and load instead`,
          { plugin: id },
        );
      }
      runtime = runtimeFor(this.settings.runtimes, manifest);
      const unmet = (manifest.dependencies ?? []).filter((d) => this.records.get(d)?.entry.state !== 'loaded');
      if (unmet.length > 0) throw dependencyFailedError(id, unmet);
      const schemas = prepareSchemas(manifest);
      if (schemas !== undefined) await schemas;
      checkConfigData(id, manifest.config_schema, config !== undefined ? (config.data ?? {}) : rec.entry.data);
    } catch (error) {
      throw this.reloadFailed(rec, error);
    }
    // The upgrade rule: a new manifest asking for more than was accepted is refused before anything changes.
    let admission: Admission | undefined;
    if (next.manifest !== undefined) {
      try {
        admission = await this.grants.check(manifest, rec.active !== undefined ? 'the previous version keeps running' : `the previous version stays ${rec.entry.state}`);
      } catch (error) {
        if (isUpgradeRefusal(error)) throw error;
        throw this.reloadFailed(rec, error);
      }
    }
    const previous = rec.entry;
    if (config !== undefined) {
      const title = config.title !== undefined ? { title: config.title } : {};
      const updated = updatedEntry(rec.entry, { ...title, data: config.data ?? {}, options: config.options ?? {} }, this.clock);
      if (updated !== undefined) rec.entry = updated.entry;
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
      this.delivery.resetHealth(rec);
      try {
        await this.setUp(rec);
      } catch (error) {
        this.restoreEntry(rec, previous);
        throw this.reloadFailed(rec, error);
      }
      await this.commitGrant(admission);
      if (rec.entry.state === 'loaded') this.book.emit({ type: 'plugin_reloaded', plugin: id });
      return;
    }

    // Hot swap: pause the old one after its in-flight handler, set the new one up, then swap.
    rec.paused = true;
    await rec.whenStopped();
    let fresh: Activation;
    try {
      fresh = await this.activate(rec, manifest, code, baseDir, runtime);
    } catch (error) {
      // Events queued during the swap were selected by either version: keep the old one's share.
      this.delivery.keepSelected(rec, old);
      this.restoreEntry(rec, previous);
      rec.paused = false;
      this.delivery.schedulePump(rec);
      throw this.reloadFailed(rec, error);
    }
    rec.active = fresh;
    rec.loadedAt = this.clock.now();
    Object.assign(rec, { manifest, code, baseDir, runtime });
    this.delivery.resetHealth(rec);
    this.delivery.keepSelected(rec, fresh);
    await this.teardown(rec, old);
    await this.close(old);
    this.wiring.syncCoreServices(rec);
    rec.paused = false;
    await this.commitGrant(admission);
    this.book.emit({ type: 'plugin_reloaded', plugin: id });
    this.delivery.schedulePump(rec);
  }

  /** Stores the grant of a version now in place; the swap is done, so a failure only warns. */
  private async commitGrant(admission: Admission | undefined): Promise<void> {
    try {
      await this.grants.commit(admission);
    } catch (error) {
      if (admission !== undefined) this.book.emit({ type: 'warning', plugin: admission.plugin, message: `the grant of the new version could not be stored: ${messageOf(error)}` });
    }
  }

  private reloadFailed(rec: PluginRecord, failure: unknown): HomecoreError {
    const cause = toHomecoreError(failure, ErrorCode.SETUP_FAILED, { plugin: rec.id });
    const error = new HomecoreError(
      ErrorCode.RELOAD_FAILED,
      `reload failed, ${rec.active !== undefined ? 'the previous version keeps running' : 'nothing is running'}: ${cause.message}`,
      { plugin: rec.id, hook: 'reload', cause, details: { code: cause.code } },
    );
    rec.noteFailure(cause, 'reload', this.clock.now());
    this.book.emit({ type: 'reload_failed', plugin: rec.id, error });
    return error;
  }

  /** Updates a config entry; a running plugin gets `onConfigUpdate`, or is reloaded without one. */
  async updateConfigEntry(id: PluginId, update: ConfigEntryUpdate): Promise<void> {
    const rec = this.require(id);
    await this.serialize(rec, async () => {
      if (update.data !== undefined) checkConfigData(id, rec.manifest.config_schema, update.data);
      const updated = updatedEntry(rec.entry, update, this.clock);
      if (updated === undefined) return;
      const previous = rec.entry;
      rec.entry = updated.entry;
      if (!updated.reconfigured || rec.active === undefined || rec.entry.state !== 'loaded') return;
      const entry = rec.entry;
      let handled: boolean;
      try {
        handled = (await this.delivery.runQueued(rec, 'onConfigUpdate', (instance) => instance.handleConfigUpdate(entry))) === true;
      } catch (error) {
        throw this.updateRejected(rec, previous, this.delivery.handlerError(rec, 'onConfigUpdate', error));
      }
      if (handled) return;
      try {
        await this.reloadLocked(rec, {});
      } catch (error) {
        throw this.updateRejected(rec, previous, error as HomecoreError);
      }
    });
  }

  /** Puts back the title, data, options and modified_at of `previous` (the entry's state stays as it is now). */
  private restoreEntry(rec: PluginRecord, previous: ConfigEntry): void {
    rec.entry = restoreEntryFields(rec.entry, previous);
  }

  /**
   * The running version refused the update (or its reload failed): the entry gets its previous
   * title, data, options and modified_at back, so getConfig() and ctx.configEntry show what runs.
   */
  private updateRejected(rec: PluginRecord, previous: ConfigEntry, cause: HomecoreError): HomecoreError {
    this.restoreEntry(rec, previous);
    return new HomecoreError(
      cause.code,
      `config entry update rejected, the previous config entry is kept: ${cause.message.replace(/^\[[^\]]*\] /, '')}`,
      { plugin: rec.id, hook: cause.hook ?? 'onConfigUpdate', cause, ...(cause.details !== undefined ? { details: cause.details } : {}) },
    );
  }
}

/** A stored entry as the live entry a plugin sees, `not_loaded` until set up. */
function liveEntryOf(stored: StoredConfigEntry): ConfigEntry {
  return Object.freeze({
    entry_id: stored.entry_id,
    domain: stored.domain,
    title: stored.title,
    data: deepFreeze(structuredClone(stored.data)),
    options: deepFreeze(structuredClone(stored.options)),
    source: stored.source,
    unique_id: stored.unique_id,
    version: stored.version,
    minor_version: stored.minor_version,
    disabled_by: stored.disabled_by,
    pref_disable_new_entities: stored.pref_disable_new_entities,
    pref_disable_polling: stored.pref_disable_polling,
    created_at: stored.created_at,
    modified_at: stored.modified_at,
    state: 'not_loaded',
    reason: null,
  });
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function restoreEntryFields(current: ConfigEntry, previous: ConfigEntry): ConfigEntry {
  if (current === previous) return current;
  return Object.freeze({ ...current, title: previous.title, data: previous.data, options: previous.options, modified_at: previous.modified_at });
}

/** The instance's event cap, read once; anything but a positive number means none. */
function maxEventBytesOf(instance: PluginInstance): number | undefined {
  try {
    const max: unknown = instance.maxEventBytes;
    return typeof max === 'number' && max > 0 ? max : undefined;
  } catch {
    return undefined;
  }
}

function entryNotFound(id: string): HomecoreError {
  return new HomecoreError(ErrorCode.CONFIG_ENTRY_NOT_FOUND, `no config entry ${id} exists: list the entries with entries(domain)`, { details: { entry_id: id } });
}

function notFound(id: string): HomecoreError {
  return new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `no plugin ${id} is loaded: check the id with list()`, { plugin: id });
}

function setupError(id: string, failure: unknown): HomecoreError {
  if (isHomecoreError(failure)) {
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
