// The on-disk cache of metered modules, so a restarted host does not pay for binaryen again.
//
// It holds only the output of metering bytes that already passed the load gate, looked up by the
// hash of those gated bytes: the gate and the signature check run on every load whatever is cached.
// An entry is `MAGIC | key (32 bytes) | sha256 of the payload (32 bytes) | payload`; one that does
// not verify is deleted and the module is metered again. Writes go to a temporary file that is
// renamed into place, so a reader sees a whole entry or none.
//
// The file calls are synchronous on purpose: for a few hundred ms after a binaryen run (V8 is then
// busy in the background, presumably compiling binaryen), an async write of a 50 KB entry through
// Node's thread pool was measured at 350-770 ms, the same synchronous write at under 15 ms.
// Entries are small (one metered module) and metering itself blocks the loop far longer.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from './signing.js';

const MAGIC = new TextEncoder().encode('hc-meter'); // 8 bytes
const DIGEST_BYTES = 32;
const HEADER_BYTES = MAGIC.length + 2 * DIGEST_BYTES;

/** What a disk cache lookup found: the accepted value, or why there is none. */
export type DiskLookup<T> = { readonly kind: 'hit'; readonly value: T } | { readonly kind: 'miss' } | { readonly kind: 'rejected' };

/** Metered modules on disk, one file per key; every failure degrades to "not cached". */
export class MeteredDiskCache {
  /** Lookups that found a valid entry. */
  hits = 0;
  /** Lookups that found no entry, or one that was refused. */
  misses = 0;
  /** Entries found but refused (corrupt, truncated, tampered) and deleted. */
  rejected = 0;
  private ready: boolean | undefined;
  private warned = false;

  /** `maxEntryBytes` bounds what a lookup reads: a larger file is refused unread. */
  constructor(
    private readonly dir: string,
    private readonly maxEntryBytes: number,
    private readonly warn: (message: string) => void,
  ) {}

  /** The cache key of `gatedHashHex` metered with these parameters (64 hex characters). */
  static key(gatedHashHex: string, startFuel: number, formatVersion: number, binaryenVersion: string): string {
    return sha256Hex(
      new TextEncoder().encode(`homecore-metered-module\nformat ${formatVersion}\nbinaryen ${binaryenVersion}\nstart_fuel ${startFuel}\nmodule ${gatedHashHex}\n`),
    );
  }

  /**
   * The entry for `key` if it exists, verifies and `accept` turns it into a value (undefined
   * refuses it); a refused entry is deleted and reported as `rejected`.
   */
  async read<T>(key: string, accept: (bytes: Uint8Array) => Promise<T | undefined>): Promise<DiskLookup<T>> {
    if (!this.usable()) return { kind: 'miss' };
    let file: Uint8Array;
    try {
      const size = statSync(this.path(key)).size;
      file = size > this.maxEntryBytes ? new Uint8Array(0) : new Uint8Array(readFileSync(this.path(key)));
    } catch {
      this.misses++;
      return { kind: 'miss' };
    }
    const payload = file.subarray(HEADER_BYTES);
    const intact =
      file.length > HEADER_BYTES &&
      equalBytes(file.subarray(0, MAGIC.length), MAGIC) &&
      toHex(file.subarray(MAGIC.length, MAGIC.length + DIGEST_BYTES)) === key &&
      toHex(file.subarray(MAGIC.length + DIGEST_BYTES, HEADER_BYTES)) === sha256Hex(payload);
    const value = intact ? await accept(payload).catch(() => undefined) : undefined;
    if (value === undefined) {
      this.rejected++;
      this.misses++;
      removeQuietly(this.path(key));
      return { kind: 'rejected' };
    }
    this.hits++;
    return { kind: 'hit', value };
  }

  /** Stores `bytes` under `key` atomically; a failure warns once and turns the cache off. */
  write(key: string, bytes: Uint8Array): void {
    if (!this.usable()) return;
    const header = new Uint8Array(HEADER_BYTES);
    header.set(MAGIC, 0);
    header.set(fromHex(key), MAGIC.length);
    header.set(fromHex(sha256Hex(bytes)), MAGIC.length + DIGEST_BYTES);
    const target = this.path(key);
    const temp = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      writeFileSync(temp, Buffer.concat([header, bytes]), { mode: 0o600 });
      renameSync(temp, target);
    } catch (err) {
      removeQuietly(temp);
      this.disable(`cannot write to it (${(err as Error).message})`);
    }
  }

  private path(key: string): string {
    return join(this.dir, `${key}.hcmeter`);
  }

  /** Creates the directory once and checks who may write to it. */
  private usable(): boolean {
    this.ready ??= this.prepare();
    return this.ready;
  }

  private prepare(): boolean {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      const info = statSync(this.dir);
      if (!info.isDirectory()) return this.disable('it is not a directory');
      const uid = process.getuid?.();
      if (uid !== undefined && (info.uid !== uid || (info.mode & 0o022) !== 0)) {
        // Whoever can write here chooses the code that runs in place of signed modules.
        return this.disable(`it must be owned by this user and writable by no one else (chmod 700 ${this.dir})`);
      }
      return true;
    } catch (err) {
      return this.disable(`cannot create it (${(err as Error).message})`);
    }
  }

  private disable(reason: string): false {
    this.ready = false;
    if (!this.warned) {
      this.warned = true;
      this.warn(`wasm runtime: metered-module cacheDir ${this.dir} is not used: ${reason}; modules are metered in memory only`);
    }
    return false;
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or the directory became unwritable: the next write reports it
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

function fromHex(hex: string): Uint8Array {
  return new Uint8Array(Buffer.from(hex, 'hex'));
}
