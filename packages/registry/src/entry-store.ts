import { readFile, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, HomecoreError, type ConfigEntry, type JsonValue } from '@homecore/core-traits';
import { corruptFileError, writeFileAtomic } from './store.js';

// Config entries outlive the process in Home Assistant's own layout: `<dataDir>/.storage/core.config_entries`
// holds `{"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [...]}}`
// with each entry as HA's `ConfigEntry.as_dict()` writes it (state and reason are not stored, as in HA).
// Quarantine is HOMECORE's own and lives next to it, in `.storage/homecore.quarantine`, same layout.

/** A config entry as it is stored: HA's `as_dict` fields (no `state`, no `reason`). */
export interface StoredConfigEntry {
  readonly created_at: string;
  readonly data: Readonly<Record<string, JsonValue>>;
  /** HA's discovery keys by domain; kept as read, `{}` for entries HOMECORE created. */
  readonly discovery_keys: Readonly<Record<string, JsonValue>>;
  readonly disabled_by: string | null;
  readonly domain: string;
  readonly entry_id: string;
  readonly minor_version: number;
  readonly modified_at: string;
  readonly options: Readonly<Record<string, JsonValue>>;
  readonly pref_disable_new_entities: boolean;
  readonly pref_disable_polling: boolean;
  readonly source: string;
  /** HA's subentries; kept as read, `[]` for entries HOMECORE created. */
  readonly subentries: readonly JsonValue[];
  readonly title: string;
  readonly unique_id: string | null;
  readonly version: number;
}

/** A config entry whose plugin was quarantined, kept so it stays quarantined after a restart until cleared. */
export interface StoredQuarantine {
  readonly entry_id: string;
  readonly domain: string;
  /** Why it was quarantined (the failure policy's reason). */
  readonly reason: string;
  /** When, ISO 8601. */
  readonly quarantined_at: string;
}

/** Everything a ConfigEntryStore keeps. */
export interface ConfigEntriesSnapshot {
  /** Every config entry, loaded or not, in the order they were created. */
  readonly entries: readonly StoredConfigEntry[];
  /** Entries quarantined and not cleared since. */
  readonly quarantined: readonly StoredQuarantine[];
}

/**
 * Where a registry keeps config entries across restarts (`RegistryOptions.entries`). The registry
 * loads it once and saves the whole snapshot, debounced, whenever an entry or a quarantine changes.
 */
export interface ConfigEntryStore {
  /** What was saved last; empty lists on a first start. Rejects with a coded error, never with empty data, when what is stored cannot be read. */
  load(): Promise<ConfigEntriesSnapshot>;
  /** Replaces what is stored; when it resolves, it survives a crash. */
  save(snapshot: ConfigEntriesSnapshot): Promise<void>;
}

/** The folder under the data directory that holds HA-layout storage files. */
export const STORAGE_DIR = '.storage';
/** HA's storage key (and file name) for config entries. */
export const CONFIG_ENTRIES_KEY = 'core.config_entries';
/** The storage key (and file name) for quarantined entries. */
export const QUARANTINE_KEY = 'homecore.quarantine';
/** The major version of `core.config_entries` written and read (HA's `STORAGE_VERSION`). */
export const CONFIG_ENTRIES_VERSION = 1;
/** The minor version written (HA's `STORAGE_VERSION_MINOR`, 5 since subentries); newer minors are read, as HA does. */
export const CONFIG_ENTRIES_MINOR_VERSION = 5;

/** A ConfigEntryStore in memory, for tests and hosts without a data directory; keeps deep copies. */
export class MemoryConfigEntryStore implements ConfigEntryStore {
  private snapshot: ConfigEntriesSnapshot;
  /** Number of saves so far. */
  saves = 0;

  /** Starts with `initial` (copied), or empty. */
  constructor(initial: ConfigEntriesSnapshot = { entries: [], quarantined: [] }) {
    this.snapshot = structuredClone(initial);
  }

  /** A copy of what was saved last. */
  load(): Promise<ConfigEntriesSnapshot> {
    return Promise.resolve(structuredClone(this.snapshot));
  }

  /** Keeps a copy of `snapshot`. */
  save(snapshot: ConfigEntriesSnapshot): Promise<void> {
    this.snapshot = structuredClone(snapshot);
    this.saves++;
    return Promise.resolve();
  }
}

/** Options for fileConfigEntryStore. */
export interface FileConfigEntryStoreOptions {
  /** Milliseconds since the epoch, for the name a corrupt file is moved to (default Date.now). */
  now?: () => number;
}

/**
 * A ConfigEntryStore under `<dataDir>/.storage/` in Home Assistant's layout: `core.config_entries`
 * and `homecore.quarantine`. Each file is written atomically (temporary file in the same folder,
 * fsync, rename, fsync of the folder) and only when its content changed; saves run one at a time.
 * A file that cannot be read or parsed is moved aside (`<file>.corrupt-<time>`) and load rejects
 * with HC_ERR_DATA_STORE naming both; a file of a newer major version is left alone and refused.
 */
export class FileConfigEntryStore implements ConfigEntryStore {
  /** `<dataDir>/.storage/core.config_entries`. */
  readonly entriesFile: string;
  /** `<dataDir>/.storage/homecore.quarantine`. */
  readonly quarantineFile: string;
  private readonly now: () => number;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly written = new Map<string, string>();

  /** A store under `dataDir`; nothing is read or written until load or save. */
  constructor(dataDir: string, options: FileConfigEntryStoreOptions = {}) {
    this.entriesFile = join(dataDir, STORAGE_DIR, CONFIG_ENTRIES_KEY);
    this.quarantineFile = join(dataDir, STORAGE_DIR, QUARANTINE_KEY);
    this.now = options.now ?? Date.now;
  }

  /** Reads both files; absent ones hold nothing. Temporary files a crashed save left behind are removed. */
  load(): Promise<ConfigEntriesSnapshot> {
    return this.serialise(async () => {
      await this.removeStaleTemporaries();
      const entries = await this.readFile(this.entriesFile, CONFIG_ENTRIES_KEY, 'config entries', parseStoredEntry);
      const quarantined = await this.readFile(this.quarantineFile, QUARANTINE_KEY, 'quarantined entries', parseQuarantine);
      return { entries, quarantined };
    });
  }

  /** Writes what changed, entries first, after any save still running. */
  save(snapshot: ConfigEntriesSnapshot): Promise<void> {
    return this.serialise(async () => {
      await this.writeFile(this.entriesFile, CONFIG_ENTRIES_KEY, 'config entries', snapshot.entries.map((e) => storedEntryOf(e)));
      await this.writeFile(this.quarantineFile, QUARANTINE_KEY, 'quarantined entries', snapshot.quarantined.map(quarantineOf));
    });
  }

  private async removeStaleTemporaries(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(dirname(this.entriesFile));
    } catch {
      return;
    }
    const prefixes = [this.entriesFile, this.quarantineFile].map((f) => `.${basename(f)}.`);
    const ours = `.${process.pid}.`;
    for (const name of names) {
      if (!name.endsWith('.tmp') || !prefixes.some((p) => name.startsWith(p)) || name.includes(ours)) continue;
      await rm(join(dirname(this.entriesFile), name), { force: true }).catch(() => undefined);
    }
  }

  private serialise<R>(work: () => Promise<R>): Promise<R> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async readFile<T>(file: string, key: string, label: string, parse: (value: unknown) => T): Promise<T[]> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw await corruptFileError(file, label, `cannot be read (${messageOf(error)})`, this.now(), error);
    }
    const corrupt = (problem: string, cause?: unknown) => corruptFileError(file, label, problem, this.now(), cause);
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (error) {
      throw await corrupt(`is not valid JSON (${messageOf(error)})`, error);
    }
    if (!isObject(doc) || doc.key !== key) throw await corrupt(`does not hold ${label} (expected "key": ${JSON.stringify(key)})`);
    if (typeof doc.version !== 'number' || !Number.isInteger(doc.version) || doc.version < 1) throw await corrupt('has no valid "version"');
    if (doc.version > CONFIG_ENTRIES_VERSION) {
      // Written by a newer Home Assistant or HOMECORE: not corrupt, so it is left where it is.
      throw new HomecoreError(
        ErrorCode.DATA_STORE,
        `${file} has version ${doc.version}, newer than the ${CONFIG_ENTRIES_VERSION} this HOMECORE reads: upgrade HOMECORE, or move the file away to start without its ${label}`,
        { details: { file, version: doc.version } },
      );
    }
    if (!isObject(doc.data) || !Array.isArray(doc.data.entries)) throw await corrupt('has no "data": {"entries": [...]}');
    const out: T[] = [];
    const problems: string[] = [];
    doc.data.entries.forEach((value, i) => {
      try {
        out.push(parse(value));
      } catch (error) {
        problems.push(`entry ${i}: ${messageOf(error)}`);
      }
    });
    if (problems.length > 0) throw await corrupt(`has invalid entries (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''})`);
    this.written.set(file, text);
    return out;
  }

  private async writeFile(file: string, key: string, label: string, entries: readonly unknown[]): Promise<void> {
    let text: string;
    try {
      const minor = key === CONFIG_ENTRIES_KEY ? CONFIG_ENTRIES_MINOR_VERSION : 1;
      text = `${JSON.stringify({ version: CONFIG_ENTRIES_VERSION, minor_version: minor, key, data: { entries } }, null, 2)}\n`;
    } catch (error) {
      throw new HomecoreError(ErrorCode.DATA_STORE, `the ${label} cannot be written as JSON (${messageOf(error)}): ${file} is unchanged`, { details: { file }, cause: error });
    }
    if (this.written.get(file) === text) return;
    // The quarantine file is written only once something was quarantined.
    if (!this.written.has(file) && entries.length === 0 && key === QUARANTINE_KEY) return;
    await writeFileAtomic(file, text, label);
    this.written.set(file, text);
  }
}

/** A FileConfigEntryStore under `dataDir` (files in `<dataDir>/.storage/`). */
export function fileConfigEntryStore(dataDir: string, options: FileConfigEntryStoreOptions = {}): FileConfigEntryStore {
  return new FileConfigEntryStore(dataDir, options);
}

/** The stored form of a live entry: HA's fields in HA's order; `extra` carries discovery keys and subentries read from the file. */
export function storedEntryOf(entry: ConfigEntry | StoredConfigEntry, extra?: Pick<StoredConfigEntry, 'discovery_keys' | 'subentries'>): StoredConfigEntry {
  const e = entry as Partial<StoredConfigEntry> & ConfigEntry;
  return {
    created_at: e.created_at,
    data: e.data,
    discovery_keys: extra?.discovery_keys ?? e.discovery_keys ?? {},
    disabled_by: e.disabled_by,
    domain: e.domain,
    entry_id: e.entry_id,
    minor_version: e.minor_version,
    modified_at: e.modified_at,
    options: e.options,
    pref_disable_new_entities: e.pref_disable_new_entities,
    pref_disable_polling: e.pref_disable_polling,
    source: e.source,
    subentries: extra?.subentries ?? e.subentries ?? [],
    title: e.title,
    unique_id: e.unique_id,
    version: e.version,
  };
}

function quarantineOf(q: StoredQuarantine): StoredQuarantine {
  return { entry_id: q.entry_id, domain: q.domain, reason: q.reason, quarantined_at: q.quarantined_at };
}

/** Checks one stored entry; throws an Error saying which field is wrong. */
export function parseStoredEntry(value: unknown): StoredConfigEntry {
  if (!isObject(value)) throw new Error('not an object');
  const str = (k: string) => {
    if (typeof value[k] !== 'string' || value[k] === '') throw new Error(`"${k}" must be a non-empty string`);
    return value[k];
  };
  const strOrNull = (k: string) => {
    const v = value[k] ?? null;
    if (v !== null && typeof v !== 'string') throw new Error(`"${k}" must be a string or null`);
    return v;
  };
  const int = (k: string) => {
    const v = value[k] ?? 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`"${k}" must be a positive integer`);
    return v;
  };
  const bool = (k: string) => {
    const v = value[k] ?? false;
    if (typeof v !== 'boolean') throw new Error(`"${k}" must be true or false`);
    return v;
  };
  const obj = (k: string) => {
    const v = value[k] ?? {};
    if (!isObject(v)) throw new Error(`"${k}" must be an object`);
    return v as Record<string, JsonValue>;
  };
  const title = value.title;
  if (typeof title !== 'string') throw new Error('"title" must be a string');
  const subentries = value.subentries ?? [];
  if (!Array.isArray(subentries)) throw new Error('"subentries" must be a list');
  const entryId = str('entry_id');
  const created = str('created_at');
  return {
    created_at: created,
    data: obj('data'),
    discovery_keys: obj('discovery_keys'),
    disabled_by: strOrNull('disabled_by'),
    domain: str('domain'),
    entry_id: entryId,
    minor_version: int('minor_version'),
    modified_at: typeof value.modified_at === 'string' ? value.modified_at : created,
    options: obj('options'),
    pref_disable_new_entities: bool('pref_disable_new_entities'),
    pref_disable_polling: bool('pref_disable_polling'),
    source: typeof value.source === 'string' ? value.source : 'user',
    subentries: subentries as JsonValue[],
    title,
    unique_id: strOrNull('unique_id'),
    version: int('version'),
  };
}

function parseQuarantine(value: unknown): StoredQuarantine {
  if (!isObject(value)) throw new Error('not an object');
  for (const k of ['entry_id', 'domain', 'reason', 'quarantined_at'] as const) {
    if (typeof value[k] !== 'string') throw new Error(`"${k}" must be a string`);
  }
  return quarantineOf(value as unknown as StoredQuarantine);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
