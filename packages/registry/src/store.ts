import { randomUUID } from 'node:crypto';
import { lstat, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, HomecoreError, type ErrorCodeValue } from '@homecore/core-traits';

// A store the host keeps across restarts. Small on purpose: a collection of JSON records by key,
// read whole at start-up and written whole when it changes, which is all the registry needs for
// accepted grants (and a host for config entries). A database can implement the same two calls.

/** A collection of records by key that outlives the process: read whole, replaced whole. */
export interface DataStore<T> {
  /**
   * Every record by key; an empty object when nothing was stored yet. Rejects with a coded error,
   * never with empty data, when what is stored cannot be read.
   */
  load(): Promise<Record<string, T>>;
  /** Replaces everything stored with `records`; when it resolves, they survive a crash. */
  save(records: Readonly<Record<string, T>>): Promise<void>;
}

/** A DataStore in memory, for tests and hosts without persistent data; keeps deep copies. */
export class MemoryStore<T> implements DataStore<T> {
  private records: Record<string, T>;

  /** Starts with `initial` (copied), or empty. */
  constructor(initial: Readonly<Record<string, T>> = {}) {
    this.records = structuredClone({ ...initial });
  }

  /** A copy of what was saved last. */
  load(): Promise<Record<string, T>> {
    return Promise.resolve(structuredClone(this.records));
  }

  /** Keeps a copy of `records`. */
  save(records: Readonly<Record<string, T>>): Promise<void> {
    try {
      this.records = structuredClone({ ...records });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

// The host's data directory is host data, not plugin config: it has a code of its own.
const STORE_ERROR: ErrorCodeValue = ErrorCode.DATA_STORE;

/** How a JsonFileStore names, versions and checks what it keeps. */
export interface JsonFileStoreOptions<T> {
  /** The file, e.g. `<dataDir>/homecore.grants.json`; its folder is created on the first save. */
  file: string;
  /** What the file holds, written into it and checked on load, e.g. `homecore.grants`. */
  format: string;
  /** What the records are, for messages, e.g. `accepted grants`. */
  label: string;
  /** Checks one record read back; throws an Error whose message says what is wrong with it. */
  parse: (value: unknown, key: string) => T;
  /** Milliseconds since the epoch, for the name a corrupt file is moved to (default Date.now). */
  now?: () => number;
}

/** The version of the file layout: `{ "format", "version": 1, "records": { key: record } }`. */
export const JSON_FILE_STORE_VERSION = 1;

/**
 * A DataStore in one JSON file. Saves are atomic (a temporary file in the same folder, flushed,
 * renamed over the old one, then the folder flushed) and run one at a time, in order. A file that
 * cannot be read or parsed is moved aside (`<file>.corrupt-<time>`) and load rejects naming both.
 */
export class JsonFileStore<T> implements DataStore<T> {
  /** The file the records live in. */
  readonly file: string;
  private readonly options: JsonFileStoreOptions<T>;
  private queue: Promise<unknown> = Promise.resolve();

  /** A store over `options.file`; nothing is read or written until load or save. */
  constructor(options: JsonFileStoreOptions<T>) {
    this.options = options;
    this.file = options.file;
  }

  /** Reads the file; an absent one holds nothing. A corrupt one is moved aside and reported. */
  load(): Promise<Record<string, T>> {
    return this.serialise(() => this.read());
  }

  /** Writes every record atomically, after any save still running. */
  save(records: Readonly<Record<string, T>>): Promise<void> {
    return this.serialise(() => this.write(records));
  }

  private serialise<R>(work: () => Promise<R>): Promise<R> {
    const result = this.queue.then(work, work);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async read(): Promise<Record<string, T>> {
    const { file, label } = this.options;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw await this.corrupt(`cannot be read (${messageOf(error)})`, error);
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (error) {
      throw await this.corrupt(`is not valid JSON (${messageOf(error)})`, error);
    }
    if (!isObject(data) || data.format !== this.options.format) {
      throw await this.corrupt(`does not hold ${label} (expected "format": ${JSON.stringify(this.options.format)})`);
    }
    if (typeof data.version === 'number' && Number.isInteger(data.version) && data.version > JSON_FILE_STORE_VERSION) {
      // Written by a newer HOMECORE: not corrupt, so it is left where it is.
      throw new HomecoreError(
        STORE_ERROR,
        `${file} has version ${data.version}, newer than the ${JSON_FILE_STORE_VERSION} this HOMECORE reads: upgrade HOMECORE, or move the file away to start without its ${label}`,
        { details: { file, version: data.version } },
      );
    }
    if (data.version !== JSON_FILE_STORE_VERSION) throw await this.corrupt(`has no valid "version" (expected ${JSON_FILE_STORE_VERSION})`);
    if (!isObject(data.records)) throw await this.corrupt('has no "records" object');
    const records: Record<string, T> = {};
    const problems: string[] = [];
    for (const [key, value] of Object.entries(data.records)) {
      try {
        records[key] = this.options.parse(value, key);
      } catch (error) {
        problems.push(`${JSON.stringify(key)}: ${messageOf(error)}`);
      }
    }
    if (problems.length > 0) throw await this.corrupt(`has invalid records (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''})`);
    return records;
  }

  /** Moves the file aside and returns the error that says so; the records in it are not used. */
  private async corrupt(problem: string, cause?: unknown): Promise<HomecoreError> {
    return corruptFileError(this.options.file, this.options.label, problem, (this.options.now ?? Date.now)(), cause);
  }

  private async write(records: Readonly<Record<string, T>>): Promise<void> {
    const { file, label } = this.options;
    // Serialised first, so a record that cannot be written leaves the file as it was.
    let text: string;
    try {
      text = `${JSON.stringify({ format: this.options.format, version: JSON_FILE_STORE_VERSION, records }, null, 2)}\n`;
    } catch (error) {
      throw new HomecoreError(STORE_ERROR, `the ${label} cannot be written as JSON (${messageOf(error)}): ${file} is unchanged`, {
        details: { file },
        cause: error,
      });
    }
    await writeFileAtomic(file, text, label);
  }
}

/**
 * Moves a corrupt `file` aside (`<file>.corrupt-<time>`, never over an earlier copy) and returns
 * the HC_ERR_DATA_STORE error that names both and says what to do; `label` says what the file holds.
 */
export async function corruptFileError(file: string, label: string, problem: string, now: number, cause?: unknown): Promise<HomecoreError> {
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
  let movedTo: string | null = null;
  let moveError: unknown;
  for (let n = 0; n < 100 && movedTo === null; n++) {
    const target = `${file}.corrupt-${stamp}${n === 0 ? '' : `-${n}`}`;
    if (await exists(target)) continue; // rename would replace an earlier corrupt copy
    try {
      await rename(file, target);
      movedTo = target;
    } catch (error) {
      moveError = error;
      break;
    }
  }
  const where =
    movedTo !== null
      ? `it was moved to ${movedTo} and none of its ${label} are used`
      : `it could not be moved aside (${messageOf(moveError)}) and none of its ${label} are used`;
  return new HomecoreError(
    STORE_ERROR,
    `${file} ${problem}: ${where}; restore it from a backup (or repair it), or remove it to start with no ${label}`,
    { details: { file, movedTo, problem }, ...(cause !== undefined ? { cause } : {}) },
  );
}

/**
 * Replaces `file` with `text` atomically: a temporary file in the same folder (created with it),
 * flushed, renamed over the old one, then the folder flushed. A crash at any point leaves the old
 * file or the new one. Rejects with HC_ERR_DATA_STORE (the file unchanged) when it cannot.
 */
export async function writeFileAtomic(file: string, text: string, label: string): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomUUID()}.tmp`);
  try {
    await mkdir(dir, { recursive: true });
    const handle = await open(temp, 'wx', 0o644);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw new HomecoreError(
      STORE_ERROR,
      `the ${label} could not be saved to ${file} (${messageOf(error)}): the file is unchanged; check that its folder exists, is writable and has space`,
      { details: { file }, cause: error },
    );
  }
  await syncDirectory(dir);
}

/** Flushes a folder so a rename in it survives a crash. Platforms that cannot open folders (Windows) skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'EBADF') {
      throw new HomecoreError(STORE_ERROR, `${dir} could not be flushed after a save (${messageOf(error)}): check the disk`, { details: { dir }, cause: error });
    }
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
