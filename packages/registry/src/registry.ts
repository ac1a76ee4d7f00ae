import { ErrorCode, HomecoreError, type ConfigEntry, type PluginCode, type PluginId } from '@homecore/core-traits';
import { parseManifest } from '@homecore/manifest';
import { Bookkeeping, pluginStatsOf, summaryOf } from './bookkeeping.js';
import { subscriptionWarnings } from './coverage.js';
import { Delivery } from './delivery.js';
import { loadInDependencyOrder } from './dependencies.js';
import { discoverPluginFolder, discoverPlugins } from './discovery.js';
import { Grants, type AcceptedGrant, type GrantAcceptance } from './grants.js';
import { SubscriptionIndex } from './dispatch.js';
import { IdleTracker } from './idle.js';
import { EntityOwners, LoopGuard } from './guard.js';
import { Lifecycle } from './lifecycle.js';
import { ENTRY_SAVE_DELAY_MS, EntryPersistence } from './persistence.js';
import type { Activation, FolderSource, PluginRecord } from './record.js';
import { resolveSettings } from './settings.js';
import type {
  ConfigEntryInit,
  ConfigEntryUpdate,
  DiscoveryReport,
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
import { Wiring } from './wiring.js';
import type { StoredConfigEntry } from './entry-store.js';

function entryFieldsOf(stored: StoredConfigEntry): Omit<ConfigEntry, 'state' | 'reason'> {
  const { discovery_keys: _keys, subentries: _subentries, ...fields } = stored;
  return fields;
}

/**
 * The heart of HOMECORE: loads plugins through the runtime their manifest names, orders them by
 * dependencies, runs their config entry lifecycle, dispatches bus events to the plugins that
 * subscribed and may read them, enforces permissions, and contains failing plugins.
 */
export class PluginRegistry {
  // The work is done by collaborators sharing the plugin records: Lifecycle (load to unload),
  // Delivery (queues, pumps, timeouts, failure policy), Wiring (context, services, subscriptions)
  // and Bookkeeping (activity, audit, summaries).
  private readonly records = new Map<PluginId, PluginRecord>();
  private readonly book: Bookkeeping;
  private readonly idleTracker = new IdleTracker();
  private readonly delivery: Delivery;
  private readonly lifecycle: Lifecycle;
  private readonly grants: Grants;
  private readonly persistence: EntryPersistence;
  /** Plugin folders discover() found, by real path: a plugin loaded from one reloads from disk. */
  private readonly folders = new Map<string, FolderSource>();

  constructor(options: RegistryOptions) {
    const settings = resolveSettings(options);
    const index = new SubscriptionIndex<Activation>();
    this.book = new Bookkeeping(settings.clock);
    const owners = new EntityOwners();
    const loops = new LoopGuard(settings.limits.loopDepth, settings.limits.loopActions);
    this.delivery = new Delivery(settings, index, this.book, this.idleTracker, this.records, owners, loops);
    const wiring = new Wiring(settings, index, this.book, this.delivery, {
      core: settings.core,
      clock: settings.clock,
      book: this.book,
      loops,
      owners,
    });
    this.grants = new Grants(options.grants, settings.clock, this.book);
    const delay = options.entrySaveDelayMs;
    this.persistence = new EntryPersistence(options.entries, settings.clock, typeof delay === 'number' && delay >= 0 ? delay : ENTRY_SAVE_DELAY_MS, this.book);
    this.lifecycle = new Lifecycle(settings, this.records, this.folders, this.book, this.idleTracker, this.delivery, wiring, owners, this.grants, this.persistence);
    if (this.persistence.enabled) {
      // A quarantine is stored when it happens and forgotten when a reload gives the plugin a fresh start.
      this.book.on((activity) => {
        const rec = this.records.get(activity.plugin);
        if (rec === undefined) return;
        if (activity.type === 'plugin_quarantined') this.persistence.quarantine(rec.entry.entry_id, rec.id, activity.reason);
        else if (activity.type === 'plugin_reloaded') this.persistence.clearQuarantine(rec.entry.entry_id);
      });
    }
  }

  // ---------------------------------------------------------------- loading

  /**
   * Validates the manifest, checks dependencies and config, and sets the plugin up. Resolves to its
   * id once it is loaded or waiting in `setup_retry`; rejects with a coded error otherwise (a
   * failed setup leaves the plugin listed in `setup_error` until it is unloaded or reloaded). With a
   * grant store, a plugin seen before whose manifest asks for more than was accepted is refused
   * with HC_ERR_UPGRADE_NOT_ACCEPTED; one seen for the first time is accepted as it is.
   */
  async load(manifest: unknown, code: PluginCode, options: LoadOptions = {}): Promise<PluginId> {
    const resolved = this.lifecycle.validate(manifest);
    return this.lifecycle.load(resolved, code, options, true);
  }

  /**
   * Loads many plugins in dependency order; plugins that do not depend on each other are set up
   * concurrently. A plugin's failure is collected in the report and fails only its dependents.
   */
  loadAll(items: readonly LoadItem[]): Promise<LoadReport> {
    return loadInDependencyOrder(items, this.records, this.lifecycle);
  }

  /** Reads every plugin folder under `dir` (manifest, entry, optional config.json); loads nothing. */
  async discover(dir: string): Promise<DiscoveryReport> {
    let root = '';
    const report = await discoverPlugins(dir, (real) => (root = real));
    return this.#noteDiscovered(report, root);
  }

  /** Reads one plugin's own folder (holding manifest.json) as a directory of one; its siblings are not read. Loads nothing. */
  async discoverFolder(folder: string): Promise<DiscoveryReport> {
    let root = '';
    const report = await discoverPluginFolder(folder, (real) => (root = real));
    return this.#noteDiscovered(report, root);
  }

  /** Remembers where each discovered plugin came from (a reload reads it again) and adds subscription warnings. */
  #noteDiscovered(report: DiscoveryReport, root: string): DiscoveryReport {
    for (const plugin of report.plugins) this.folders.set(plugin.dir, { root, dir: plugin.dir, entry: plugin.code });
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
   * Unloads a plugin: cancels a pending retry, aborts its signal, waits for a running hook at most
   * the teardown timeout (then abandons it, counted as HC_ERR_HANDLER_TIMEOUT), runs teardown
   * (always, even after failures or quarantine), removes its services and subscriptions and disposes it.
   * Refused with HC_ERR_DEPENDENTS_LOADED while other plugins depend on it, unless `cascade`.
   */
  unload(id: PluginId, options: { cascade?: boolean } = {}): Promise<void> {
    return this.lifecycle.unload(id, options);
  }

  /**
   * Unloads every plugin, dependents before their dependencies and independent plugins concurrently;
   * every teardown runs, failures are reported as activity. Then saves the config entries at once
   * (with an entry store; a failed save rejects, after every plugin was unloaded).
   */
  unloadAll(): Promise<void> {
    return this.lifecycle.unloadAll();
  }

  /**
   * Swaps in a new version (new code and/or manifest; by default the same code) with rollback: the
   * new one is set up before the old one is torn down, events queued meanwhile go to the new one in
   * order, and if its setup fails the old one keeps running and this rejects HC_ERR_RELOAD_FAILED.
   * A reload also gives a backed-off or quarantined plugin a fresh start. Without `next`, a plugin
   * loaded from a folder `discover()`/`loadDirectory()` found (with that folder as `baseDir` and its
   * entry as code) is read from disk again: manifest.json, the entry and config.json (when present,
   * its title, data and options replace the entry's); a changed domain or a now-invalid folder
   * rejects HC_ERR_RELOAD_FAILED and the old version keeps running. With a grant store, a new
   * manifest asking for more than was accepted rejects HC_ERR_UPGRADE_NOT_ACCEPTED (its
   * `details.differences` are the widenings) before anything changes, until it is accepted; a
   * narrower one is stored as the plugin's grant once the swap succeeded.
   */
  reload(id: PluginId, next: ReloadSource = {}): Promise<void> {
    return this.lifecycle.reload(id, next);
  }

  /**
   * Updates a config entry. A changed `data` is validated against the config schema first. When
   * options or data change, a running plugin's `onConfigUpdate` hook is called; without one the
   * plugin is reloaded (HA semantics). If the hook or the reload fails, the previous title, data
   * and options are put back (the running version keeps them) and this rejects with the failure.
   */
  updateConfigEntry(id: PluginId, update: ConfigEntryUpdate): Promise<void> {
    return this.lifecycle.updateConfigEntry(id, update);
  }

  // ---------------------------------------------------------------- stored entries

  /**
   * Writes pending config entry changes to the entry store now instead of after the save delay;
   * resolves once they are stored (at once without a store or changes). Call it before exiting;
   * `unloadAll()` does. A failed save rejects with HC_ERR_DATA_STORE and is tried again on the next change.
   */
  flush(): Promise<void> {
    return this.persistence.flush();
  }

  /**
   * Every config entry of `domain` (or of every domain), oldest first: the live entry of a loaded
   * plugin, and, with an entry store, the stored entries of plugins not loaded now (`not_loaded`).
   */
  async entries(domain?: string): Promise<ConfigEntry[]> {
    if (this.persistence.enabled) await this.persistence.ready(domain);
    const live = new Map<string, ConfigEntry>();
    for (const rec of this.records.values()) live.set(rec.entry.entry_id, rec.entry);
    const out: ConfigEntry[] = [];
    const seen = new Set<string>();
    for (const stored of this.persistence.all()) {
      if (domain !== undefined && stored.domain !== domain) continue;
      seen.add(stored.entry_id);
      out.push(live.get(stored.entry_id) ?? Object.freeze({ ...entryFieldsOf(stored), state: 'not_loaded', reason: null }));
    }
    for (const [id, entry] of live) if (!seen.has(id) && (domain === undefined || entry.domain === domain)) out.push(entry);
    return out;
  }

  /**
   * Disables a config entry (by entry id, or a plugin id for its first entry; HA's `disabled_by:
   * "user"`): its instance is torn down and it stays listed, `not_loaded`, and is not set up again
   * (not on a reload, nor, with an entry store, after a restart) until `enableEntry`.
   * HC_ERR_OPERATION_NOT_ALLOWED while the entry is in a state that cannot be unloaded.
   */
  async disableEntry(entryId: string, disabledBy = 'user'): Promise<void> {
    return this.lifecycle.setDisabled(this.lifecycle.entryRecord(entryId).id, disabledBy);
  }

  /** Enables a disabled config entry (by entry id, or a plugin id for its first entry) and sets it up again (rejects like load when setup fails). */
  async enableEntry(entryId: string): Promise<void> {
    return this.lifecycle.setDisabled(this.lifecycle.entryRecord(entryId).id, null);
  }

  /**
   * Adds a config entry to the loaded plugin `domain` and sets it up as its own instance (own
   * context, queue, subscriptions, stats and failure state; for wasm its own instance and memory:
   * the runtime's `load` runs per entry); resolves to the entry. Its writes carry `user_id:
   * "plugin:<domain>/<entry_id>"`. The domain's services stay served by its first entry. Refused
   * with HC_ERR_SINGLE_CONFIG_ENTRY (manifest `single_config_entry: true`) or
   * HC_ERR_ALREADY_CONFIGURED (a `unique_id` another entry of the domain has). A failed setup keeps
   * the entry in `setup_error` (listed, stored) and rejects with the failure.
   */
  addEntry(domain: PluginId, init: ConfigEntryInit = {}): Promise<ConfigEntry> {
    return this.lifecycle.addEntry(domain, init);
  }

  /**
   * Removes a config entry: unloads its instance (teardown always runs) and forgets it, in the
   * entry store too. The first entry of a plugin with further entries is refused
   * (HC_ERR_OPERATION_NOT_ALLOWED: remove those first); removing a plugin's only entry unloads the
   * plugin. HC_ERR_CONFIG_ENTRY_NOT_FOUND for an unknown id.
   */
  removeEntry(entryId: string): Promise<void> {
    return this.lifecycle.removeEntry(entryId);
  }

  /** updateConfigEntry for one entry (by entry id, or a plugin id for its first entry). */
  async updateEntry(entryId: string, update: ConfigEntryUpdate): Promise<void> {
    return this.lifecycle.updateConfigEntry(this.lifecycle.entryRecord(entryId).id, update);
  }

  /** Reloads one entry's instance (a fresh start with the version its plugin runs); rejects HC_ERR_RELOAD_FAILED and keeps the running one if its setup fails. */
  async reloadEntry(entryId: string): Promise<void> {
    const rec = this.lifecycle.entryRecord(entryId);
    return this.lifecycle.reload(rec.id, { code: rec.code }, false);
  }

  /** One config entry by entry id (live, or stored for a plugin not loaded now), or undefined. */
  async getEntry(entryId: string): Promise<ConfigEntry | undefined> {
    return (await this.entries()).find((e) => e.entry_id === entryId);
  }

  /**
   * Gives a quarantined plugin a fresh start (failure counters reset, its events delivered again)
   * without reloading it, and forgets its stored quarantine, so it is not quarantined after a restart
   * either. Resolves true when there was a quarantine (or backoff) to clear; works for a domain not
   * loaded now whose quarantine is stored. HC_ERR_PLUGIN_NOT_FOUND when neither.
   */
  clearQuarantine(id: PluginId): Promise<boolean> {
    return this.lifecycle.clearQuarantine(id);
  }

  // ---------------------------------------------------------------- accepted grants

  /**
   * Stores `manifest` (validated) as what the operator accepted for its plugin, replacing the grant
   * before, so a load or reload of that version passes the upgrade rule. Needs a grant store
   * (`options.grants`; HC_ERR_OPERATION_NOT_ALLOWED without one). Reported as `grant_stored`.
   */
  async acceptManifest(manifest: unknown): Promise<GrantAcceptance> {
    return this.grants.accept(parseManifest(manifest).manifest);
  }

  /**
   * Accepts the version of `id` that was refused last (by load, loadAll, loadDirectory or reload);
   * HC_ERR_OPERATION_NOT_ALLOWED when none is waiting. Reload (or load) it afterwards.
   */
  async acceptUpgrade(id: PluginId): Promise<GrantAcceptance> {
    const refused = this.grants.refusedManifest(id);
    if (refused === undefined) {
      throw new HomecoreError(
        ErrorCode.OPERATION_NOT_ALLOWED,
        `no refused upgrade of ${id} is waiting to be accepted: call acceptManifest(manifest) with the manifest to accept`,
        { plugin: id },
      );
    }
    return this.grants.accept(refused);
  }

  /** What the operator accepted for `id` (or was trusted on its first install), or undefined; always undefined without a grant store. */
  acceptedGrant(id: PluginId): Promise<AcceptedGrant | undefined> {
    return this.grants.get(id);
  }

  // ---------------------------------------------------------------- queries

  /** Every plugin with its manifest, runtime kind, entry state, health and reason, sorted by id. */
  list(): PluginSummary[] {
    return [...this.records.values()].filter((r) => r.primary === undefined).sort((a, b) => (a.id < b.id ? -1 : 1)).map(summaryOf);
  }

  /** One plugin's summary (its first entry's figures, every entry under `entries`), or undefined (O(1)). */
  get(id: PluginId): PluginSummary | undefined {
    const rec = this.records.get(id);
    return rec === undefined || rec.primary !== undefined ? undefined : summaryOf(rec);
  }

  /** A plugin's config entry, or undefined. */
  getConfig(id: PluginId): ConfigEntry | undefined {
    return this.records.get(id)?.entry;
  }

  /**
   * Per-plugin figures: deliveries, drops by reason (and overflow drops by source), errors, handler
   * time, queue depth, state, denials, what the plugin did (writes, services called, events fired),
   * what the host-side limits refused (`refused`) and what it holds (`held`), runtime stats, the
   * most recent failure (`lastError`) and when the running version was set up (`loadedAt`).
   */
  stats(): RegistryStats {
    const plugins: Record<PluginId, PluginStats> = {};
    for (const rec of this.records.values()) if (rec.primary === undefined) plugins[rec.id] = pluginStatsOf(rec);
    return { events: this.delivery.eventsSeen, plugins };
  }

  /**
   * Refused context calls, oldest first (the most recent 1000), optionally of one plugin: permission
   * denials, core-owned event types and feedback loops, each with its `code`.
   */
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
}
