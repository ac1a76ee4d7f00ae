// A persistent cache of metered module bytes for development trust (test runs, dev loops): the
// second process to load a module skips the rewriter. Entries are checked before use, never
// trusted: a corrupt or foreign entry is ignored and rewritten.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Options of the on-disk metered-module cache (`WasmRuntimeOptions.meteredCache`). */
export interface MeteredCacheOptions {
  /** Folder of the entries (created on the first write), e.g. `node_modules/.cache/homecore`. */
  readonly dir: string;
}

/** Bumped when the entry layout changes, so old entries are never read as new ones. */
const ENTRY_FORMAT = 'homecore-metered-v1';
const HASH_BYTES = 32;

/** What one lookup found. */
export type DiskLookup = { readonly bytes: Uint8Array } | { readonly rejected: boolean };

/**
 * Metered bytes on disk, one file per key: the sha256 of the metered bytes, then the bytes. An
 * entry is used only if its hash matches and it validates as WebAssembly.
 */
export class MeteredDiskCache {
  constructor(
    private readonly dir: string,
    private readonly maxEntryBytes: number,
  ) {}

  /** The entry's path for a key made by `entryKey`. */
  path(key: string): string {
    return join(this.dir, `${key}.wasm-metered`);
  }

  /** The verified metered bytes under `key`; `rejected` when an entry existed but failed a check. */
  async get(key: string): Promise<DiskLookup> {
    let entry: Buffer;
    try {
      const file = await open(this.path(key), 'r');
      try {
        // Refuse an oversized entry unread.
        if ((await file.stat()).size > this.maxEntryBytes + HASH_BYTES) return { rejected: true };
        entry = await file.readFile();
      } finally {
        await file.close();
      }
    } catch {
      return { rejected: false };
    }
    if (entry.length <= HASH_BYTES) return { rejected: true };
    const bytes = new Uint8Array(entry.buffer, entry.byteOffset + HASH_BYTES, entry.length - HASH_BYTES);
    const digest = createHash('sha256').update(bytes).digest();
    if (!digest.equals(entry.subarray(0, HASH_BYTES)) || !WebAssembly.validate(bytes)) return { rejected: true };
    return { bytes };
  }

  /** Stores metered bytes; best effort (a read-only or full disk only costs the next run a metering). */
  async set(key: string, bytes: Uint8Array): Promise<void> {
    if (bytes.length > this.maxEntryBytes) return;
    const target = this.path(key);
    // Written aside and renamed, so a concurrent reader (another test worker) never sees half an entry.
    const temporary = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      const file = await open(temporary, 'w');
      try {
        await file.writeFile(createHash('sha256').update(bytes).digest());
        await file.writeFile(bytes);
      } finally {
        await file.close();
      }
      await rename(temporary, target);
    } catch {
      await unlink(temporary).catch(() => undefined);
    }
  }
}

/**
 * The cache key: sha256 over the entry format, the runtime's own code, the bytes to meter and
 * every metering parameter, so a different rewriter or different parameters never share an entry.
 */
export function entryKey(runtimeFingerprint: string, originalSha256: string, parameters: unknown): string {
  return createHash('sha256').update(JSON.stringify([ENTRY_FORMAT, runtimeFingerprint, originalSha256, parameters])).digest('hex');
}

let fingerprint: Promise<string> | undefined;

/**
 * sha256 of the code that meters: the bundle this module is part of, or every source file beside
 * it when it runs from TypeScript sources. A rebuilt rewriter gets new keys even at the same version.
 */
export function runtimeFingerprint(): Promise<string> {
  fingerprint ??= (async () => {
    const here = fileURLToPath(import.meta.url);
    const files = here.endsWith('.ts')
      ? (await readdir(dirname(here))).filter((f) => f.endsWith('.ts')).sort().map((f) => join(dirname(here), f))
      : [here];
    const hash = createHash('sha256');
    for (const file of files) hash.update(file.slice(dirname(here).length)).update(await readFile(file));
    return hash.digest('hex');
  })();
  return fingerprint;
}
