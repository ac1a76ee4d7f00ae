import { join } from 'node:path';
import { ErrorCode, HomecoreError, isHomecoreError, toHomecoreError, type Clock, type PluginId } from '@homecore/core-traits';
import { compareManifests, grantOf, type ManifestComparison, type ManifestDifference, type ManifestGrant, type ResolvedManifest } from '@homecore/manifest';
import type { Bookkeeping } from './bookkeeping.js';
import { JsonFileStore, type DataStore } from './store.js';

/** Why a grant was stored: trust on first install, a narrower version, or the operator's acceptance. */
export type GrantReason = 'first_install' | 'narrower' | 'accepted';

/** What the operator accepted for one plugin: the manifest fields the upgrade rule compares, and when. */
export interface AcceptedGrant {
  /** The plugin's domain. */
  readonly plugin: PluginId;
  /** The manifest version accepted. */
  readonly version: string;
  /** The accepted permissions, subscriptions, services, host imports, limits, isolation, publisher key and runtime. */
  readonly manifest: ManifestGrant;
  /** When it was stored (ms since the epoch, registry clock). */
  readonly acceptedAt: number;
  /** How it came to be accepted. */
  readonly reason: GrantReason;
}

/** Where a registry keeps accepted grants, by plugin id (`RegistryOptions.grants`). */
export type GrantStore = DataStore<AcceptedGrant>;

/** What acceptManifest stored, what it replaced and how the two compare (null when nothing was stored before). */
export interface GrantAcceptance {
  /** The grant now stored. */
  readonly grant: AcceptedGrant;
  /** The grant it replaced, or null. */
  readonly previous: AcceptedGrant | null;
  /** The previous grant compared with the new one, or null. */
  readonly comparison: ManifestComparison | null;
}

/** The grants file in a host's data directory. */
export const GRANTS_FILE = 'homecore.grants.json';

/** A GrantStore in `<dataDir>/homecore.grants.json` (see JsonFileStore: atomic saves, a corrupt file moved aside). */
export function fileGrantStore(dataDir: string, options: { now?: () => number } = {}): JsonFileStore<AcceptedGrant> {
  return new JsonFileStore<AcceptedGrant>({
    file: join(dataDir, GRANTS_FILE),
    format: 'homecore.grants',
    label: 'accepted grants',
    parse: parseGrant,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
}

const REASONS: ReadonlySet<string> = new Set<GrantReason>(['first_install', 'narrower', 'accepted']);

/** Checks one grant read back from a store; throws an Error saying what is wrong. */
export function parseGrant(value: unknown, key: string): AcceptedGrant {
  if (!isObject(value)) throw new Error('not an object');
  const { plugin, version, manifest, acceptedAt, reason } = value;
  if (plugin !== key) throw new Error(`"plugin" must be ${JSON.stringify(key)}, the record's key`);
  if (typeof version !== 'string') throw new Error('"version" must be a string');
  if (typeof acceptedAt !== 'number' || !Number.isFinite(acceptedAt)) throw new Error('"acceptedAt" must be a number');
  if (typeof reason !== 'string' || !REASONS.has(reason)) throw new Error(`"reason" must be one of ${[...REASONS].join(', ')}`);
  if (!isObject(manifest)) throw new Error('"manifest" must be an object');
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string');
  for (const field of ['runtime', 'isolation', 'publisher_key'] as const) {
    if (manifest[field] !== undefined && typeof manifest[field] !== 'string') throw new Error(`"manifest.${field}" must be a string`);
  }
  for (const field of ['permissions', 'host_imports_required'] as const) {
    if (manifest[field] !== undefined && !strings(manifest[field])) throw new Error(`"manifest.${field}" must be a list of strings`);
  }
  const subscriptions = manifest.subscriptions;
  if (subscriptions !== undefined && (!isObject(subscriptions) || !['entities', 'events'].every((k) => subscriptions[k] === undefined || strings(subscriptions[k])))) {
    throw new Error('"manifest.subscriptions" must hold lists of strings');
  }
  const services = manifest.services;
  if (services !== undefined && (!Array.isArray(services) || !services.every((s) => isObject(s) && typeof s.name === 'string'))) {
    throw new Error('"manifest.services" must be a list of { "name" }');
  }
  const limits = manifest.limits;
  if (limits !== undefined && (!isObject(limits) || !Object.values(limits).every((n) => typeof n === 'number'))) {
    throw new Error('"manifest.limits" must map names to numbers');
  }
  return { plugin, version, manifest: grantOf(manifest as ManifestGrant), acceptedAt, reason: reason as GrantReason };
}

/** The outcome of checking a new version against its grant, to be committed once the version is in place. */
export interface Admission {
  readonly plugin: PluginId;
  readonly manifest: ResolvedManifest;
  /** `same`: nothing to store; otherwise what commit stores. */
  readonly kind: 'same' | 'first_install' | 'narrower';
  readonly narrowings: readonly ManifestDifference[];
}

/**
 * The upgrade rule: keeps what the operator accepted per plugin in a GrantStore (read once, on first
 * use) and checks every new version against it. A registry without a store has no rule.
 */
export class Grants {
  private loaded: Promise<Map<PluginId, AcceptedGrant>> | undefined;
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | undefined;
  /** The last refused manifest per plugin, for acceptUpgrade. */
  private readonly refused = new Map<PluginId, ResolvedManifest>();

  constructor(
    private readonly store: GrantStore | undefined,
    private readonly clock: Clock,
    private readonly book: Bookkeeping,
  ) {}

  /** True when the registry was given a store, so upgrades are checked. */
  get enabled(): boolean {
    return this.store !== undefined;
  }

  private ready(plugin: PluginId | undefined): Promise<Map<PluginId, AcceptedGrant>> {
    const store = this.requireStore(plugin);
    this.loaded ??= store.load().then((records) => new Map(Object.entries(records)));
    // A store that failed to load stays failed: nothing is checked against empty data.
    return this.loaded.catch((error: unknown) => {
      const cause = toHomecoreError(error, ErrorCode.DATA_STORE);
      throw new HomecoreError(cause.code, `the accepted grants cannot be read, so no version can be checked against them: ${cause.message.replace(/^\[[^\]]*\] /, '')}`, {
        ...(plugin !== undefined ? { plugin } : {}),
        cause,
        ...(cause.details !== undefined ? { details: cause.details } : {}),
      });
    });
  }

  private requireStore(plugin: PluginId | undefined): GrantStore {
    if (this.store !== undefined) return this.store;
    throw new HomecoreError(
      ErrorCode.OPERATION_NOT_ALLOWED,
      'this registry keeps no accepted grants: pass options.grants (a MemoryStore, or fileGrantStore(dataDir)) to new PluginRegistry()',
      plugin !== undefined ? { plugin } : {},
    );
  }

  /** The stored grant of `plugin`, or undefined (also without a store). */
  async get(plugin: PluginId): Promise<AcceptedGrant | undefined> {
    if (this.store === undefined) return undefined;
    return (await this.ready(plugin)).get(plugin);
  }

  /**
   * Checks a new version of a plugin against its grant. Without a store, or with nothing stored yet,
   * it is admitted (the latter as a first install). Anything wider is refused with
   * HC_ERR_UPGRADE_NOT_ACCEPTED, reported as `upgrade_refused`; `kept` says what becomes of the
   * plugin then, for the message (`it is not loaded`, `the previous version keeps running`).
   */
  async check(manifest: ResolvedManifest, kept: string): Promise<Admission | undefined> {
    if (this.store === undefined) return undefined;
    const plugin = manifest.domain;
    const grants = await this.ready(plugin);
    const stored = grants.get(plugin);
    if (stored === undefined) return { plugin, manifest, kind: 'first_install', narrowings: [] };
    const { widenings, narrowings } = compareManifests(stored.manifest, manifest);
    if (widenings.length === 0) {
      this.refused.delete(plugin);
      return { plugin, manifest, kind: narrowings.length > 0 ? 'narrower' : 'same', narrowings };
    }
    this.refused.set(plugin, manifest);
    const error = new HomecoreError(
      ErrorCode.UPGRADE_NOT_ACCEPTED,
      `version ${manifest.version} asks for more than was accepted (version ${stored.version}), so it is refused and ` +
        `${kept}: ${widenings.map((w) => w.message).join('; ')}. ` +
        'Review the differences (homecore diff) and accept them (homecore accept, or registry.acceptUpgrade), or ship a version that asks for no more',
      { plugin, details: { version: manifest.version, acceptedVersion: stored.version, differences: widenings } },
    );
    this.book.emit({ type: 'upgrade_refused', plugin, version: manifest.version, differences: widenings, error });
    throw error;
  }

  /**
   * Stores what `check` admitted. A first install whose grant cannot be saved rejects (and stores
   * nothing), since the next start would trust whatever it finds; a narrower grant that cannot be
   * saved only warns: the grant kept covers the new version anyway.
   */
  async commit(admission: Admission | undefined): Promise<void> {
    if (admission === undefined || admission.kind === 'same') return;
    const grants = await this.ready(admission.plugin);
    const { plugin, manifest } = admission;
    const reason: GrantReason = admission.kind;
    const previous = grants.get(plugin);
    const grant = grantFor(manifest, this.clock.now(), reason);
    grants.set(plugin, grant);
    try {
      await this.persist(grants);
    } catch (error) {
      if (grants.get(plugin) === grant) {
        if (previous === undefined) grants.delete(plugin);
        else grants.set(plugin, previous);
      }
      const cause = toHomecoreError(error, ErrorCode.DATA_STORE);
      if (reason === 'first_install') {
        throw new HomecoreError(cause.code, `its first grant could not be stored, so it is not loaded: ${cause.message}`, { plugin, cause, ...(cause.details ? { details: cause.details } : {}) });
      }
      this.book.emit({ type: 'warning', plugin, message: `the narrower grant of version ${manifest.version} could not be stored, the wider one is kept: ${cause.message}` });
      return;
    }
    this.book.emit({
      type: 'grant_stored',
      plugin,
      version: manifest.version,
      reason,
      narrowings: admission.narrowings,
      message:
        reason === 'first_install'
          ? `first install of version ${manifest.version}: its manifest is accepted as it is`
          : `version ${manifest.version} asks for less than was accepted, its grant is stored: ${admission.narrowings.map((n) => n.message).join('; ')}`,
    });
  }

  /** Stores `manifest` as accepted by the operator; the next load or reload of that version passes. */
  async accept(manifest: ResolvedManifest): Promise<GrantAcceptance> {
    const plugin = manifest.domain;
    const grants = await this.ready(plugin);
    const previous = grants.get(plugin) ?? null;
    const grant = grantFor(manifest, this.clock.now(), 'accepted');
    grants.set(plugin, grant);
    try {
      await this.persist(grants);
    } catch (error) {
      if (grants.get(plugin) === grant) {
        if (previous === null) grants.delete(plugin);
        else grants.set(plugin, previous);
      }
      const cause = toHomecoreError(error, ErrorCode.DATA_STORE);
      throw new HomecoreError(cause.code, `the accepted grant could not be stored: ${cause.message}`, { plugin, cause, ...(cause.details ? { details: cause.details } : {}) });
    }
    this.refused.delete(plugin);
    const comparison = previous === null ? null : compareManifests(previous.manifest, grant.manifest);
    const widened = comparison?.widenings.length ?? 0;
    this.book.emit({
      type: 'grant_stored',
      plugin,
      version: manifest.version,
      reason: 'accepted',
      narrowings: comparison?.narrowings ?? [],
      message:
        previous === null
          ? `version ${manifest.version} accepted`
          : `version ${manifest.version} accepted${widened > 0 ? `, with ${widened} widening(s): ${comparison!.widenings.map((w) => w.message).join('; ')}` : ''}`,
    });
    return { grant, previous, comparison };
  }

  /** The manifest of the last refused upgrade of `plugin`, or undefined. */
  refusedManifest(plugin: PluginId): ResolvedManifest | undefined {
    return this.refused.get(plugin);
  }

  /** Saves the current grants; saves run one at a time, and calls made while one waits share it. */
  private persist(grants: ReadonlyMap<PluginId, AcceptedGrant>): Promise<void> {
    if (this.queued !== undefined) return this.queued;
    const store = this.requireStore(undefined);
    const run = this.saving.then(() => {
      this.queued = undefined;
      return store.save(Object.fromEntries(grants));
    });
    this.queued = run;
    this.saving = run.catch(() => undefined);
    return run;
  }
}

function grantFor(manifest: ResolvedManifest, now: number, reason: GrantReason): AcceptedGrant {
  return Object.freeze({ plugin: manifest.domain, version: manifest.version, manifest: grantOf(manifest), acceptedAt: now, reason });
}

/** True when `error` is the refusal of a widened upgrade. */
export function isUpgradeRefusal(error: unknown): boolean {
  return isHomecoreError(error, ErrorCode.UPGRADE_NOT_ACCEPTED);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
