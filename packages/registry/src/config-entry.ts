import type { Clock, ConfigEntry } from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import type { ConfigEntryInit, ConfigEntryUpdate } from './types.js';
import { isoTime, ulid } from './util.js';

/** A new plugin's config entry, in HA's shape, `not_loaded`; frozen with its data and options. */
export function newEntry(manifest: ResolvedManifest, config: ConfigEntryInit, clock: Clock, random: () => number): ConfigEntry {
  const now = isoTime(clock.now());
  return Object.freeze({
    entry_id: ulid(clock.now(), random),
    domain: manifest.domain,
    title: config.title ?? manifest.name,
    data: freezeCopy(config.data ?? {}),
    options: freezeCopy(config.options ?? {}),
    source: config.source ?? 'user',
    unique_id: config.unique_id ?? null,
    ...entryVersionOf(manifest),
    disabled_by: null,
    pref_disable_new_entities: false,
    pref_disable_polling: false,
    created_at: now,
    modified_at: now,
    state: 'not_loaded',
    reason: null,
  });
}

/**
 * The entry with `update` applied, or undefined when it changes nothing. `reconfigured` is true
 * when data or options changed (the plugin must hear of it), false for a title alone.
 */
export function updatedEntry(before: ConfigEntry, update: ConfigEntryUpdate, clock: Clock): { entry: ConfigEntry; reconfigured: boolean } | undefined {
  const reconfigured = (update.data !== undefined && !sameJson(update.data, before.data)) ||
    (update.options !== undefined && !sameJson(update.options, before.options));
  if (!reconfigured && (update.title === undefined || update.title === before.title)) return undefined;
  const entry = Object.freeze({
    ...before,
    ...(update.title !== undefined ? { title: update.title } : {}),
    ...(update.data !== undefined ? { data: freezeCopy(update.data) } : {}),
    ...(update.options !== undefined ? { options: freezeCopy(update.options) } : {}),
    modified_at: isoTime(clock.now()),
  });
  return { entry, reconfigured };
}

/**
 * The config entry version a plugin writes (HA's `ConfigFlow.VERSION` / `MINOR_VERSION`): the
 * manifest's optional `config_entry_version` and `config_entry_minor_version`, positive integers, default 1.
 */
export function entryVersionOf(manifest: ResolvedManifest): { version: number; minor_version: number } {
  const read = (key: string): number => {
    const value: unknown = (manifest as unknown as Record<string, unknown>)[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : 1;
  };
  return { version: read('config_entry_version'), minor_version: read('config_entry_minor_version') };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function freezeCopy<T>(value: T): T {
  const copy = JSON.parse(JSON.stringify(value ?? {})) as T;
  const freeze = (v: unknown): void => {
    if (v === null || typeof v !== 'object') return;
    Object.freeze(v);
    for (const child of Object.values(v)) freeze(child);
  };
  freeze(copy);
  return copy;
}
