// Long-lived access tokens. The token itself is shown once, when it is created; only its sha256 is
// kept (a token is 32 random bytes, so a fast hash is enough: there is nothing to guess). The file
// store is the registry's JsonFileStore: a temporary file in the same folder, fsync, rename, fsync
// of the folder, so a crash leaves the old file or the new one, and a corrupt file is moved aside.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { JsonFileStore, type DataStore } from '@homecore/registry';

/** The file, in the data directory, that holds the hashed tokens. */
export const TOKENS_FILE = 'homecore.tokens.json';

/** What is stored for one token: never the token, only its hash. */
export interface AccessTokenRecord {
  /** A random id, for listing and revoking. */
  readonly id: string;
  /** A unique name for people, e.g. `kitchen tablet`. */
  readonly name: string;
  /** The user the token acts as; writes made with it carry `context.user_id` = this. */
  readonly user_id: string;
  /** `sha256:<hex>` of the token. */
  readonly hash: string;
  /** When it was created (ISO 8601). */
  readonly created_at: string;
}

/** A token as `list()` shows it (no hash). */
export type AccessTokenInfo = Omit<AccessTokenRecord, 'hash'>;

/** A token just created: `token` is the secret, shown this once and stored nowhere. */
export interface CreatedToken extends AccessTokenInfo {
  readonly token: string;
}

/** Who a valid token acts as. */
export interface TokenUser {
  /** The token's id. */
  readonly tokenId: string;
  /** The token's name. */
  readonly name: string;
  /** The `user_id` of contexts made with it. */
  readonly userId: string;
}

/** What the API server needs from a token store: who a presented token belongs to, if anyone. */
export interface TokenVerifier {
  /** The token's user, or undefined when it is not a valid token. */
  verify(token: string): Promise<TokenUser | undefined>;
}

/** Options for a TokenStore. */
export interface TokenStoreOptions {
  /** How long verify() trusts what it read before reading the store again on a hit (default 1000 ms); a miss always reads it again. */
  cacheMs?: number;
  /** Time source (default Date.now). */
  now?: () => number;
}

const NAME_MAX = 100;
const TOKEN_PREFIX = 'hc_';

/** The hash a token is stored under. */
export function hashToken(token: string): string {
  return `sha256:${createHash('sha256').update(token, 'utf8').digest('hex')}`;
}

/**
 * Long-lived access tokens over a DataStore (a `JsonFileStore` in the data directory, or a
 * `MemoryStore` for tests). Creates, lists, revokes and verifies them; stores hashes only.
 */
export class TokenStore implements TokenVerifier {
  private readonly store: DataStore<AccessTokenRecord>;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private byHash = new Map<string, AccessTokenRecord>();
  private readAt = -Infinity;
  private writes: Promise<unknown> = Promise.resolve();

  /** A store over `store`; nothing is read until it is used. */
  constructor(store: DataStore<AccessTokenRecord>, options: TokenStoreOptions = {}) {
    this.store = store;
    this.cacheMs = options.cacheMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Creates a token named `name` acting as `user` (default: the name); resolves to it with its secret, once. */
  create(options: { name: string; user?: string }): Promise<CreatedToken> {
    return this.serialise(async () => {
      const name = checkName(options.name, 'name');
      const user = checkName(options.user ?? name, 'user');
      const records = await this.store.load();
      if (Object.values(records).some((r) => r.name === name)) {
        throw new HomecoreError(ErrorCode.API_TOKEN, `a token named ${JSON.stringify(name)} already exists: pick another name, or revoke that one first`, {
          details: { name },
        });
      }
      const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
      const record: AccessTokenRecord = {
        id: randomBytes(8).toString('hex'),
        name,
        user_id: `user:${user}`,
        hash: hashToken(token),
        created_at: new Date(this.now()).toISOString(),
      };
      await this.store.save({ ...records, [record.id]: record });
      this.remember({ ...records, [record.id]: record });
      return { id: record.id, name, user_id: record.user_id, created_at: record.created_at, token };
    });
  }

  /** Every token, oldest first, without hashes. */
  async list(): Promise<AccessTokenInfo[]> {
    const records = await this.store.load();
    this.remember(records);
    return Object.values(records)
      .sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : 0))
      .map(({ hash: _hash, ...info }) => info);
  }

  /** Revokes the token with this id or name; rejects HC_ERR_API_TOKEN when there is none. */
  revoke(idOrName: string): Promise<AccessTokenInfo> {
    return this.serialise(async () => {
      const records = await this.store.load();
      const found = Object.values(records).find((r) => r.id === idOrName || r.name === idOrName);
      if (found === undefined) {
        throw new HomecoreError(ErrorCode.API_TOKEN, `no token has the id or name ${JSON.stringify(idOrName)}: list the tokens to see their ids and names`, {
          details: { token: idOrName },
        });
      }
      const rest = { ...records };
      delete rest[found.id];
      await this.store.save(rest);
      this.remember(rest);
      const { hash: _hash, ...info } = found;
      return info;
    });
  }

  /** The user of `token`, or undefined. Reads the store again on a miss, and on a hit older than `cacheMs`. */
  async verify(token: string): Promise<TokenUser | undefined> {
    if (typeof token !== 'string' || token.length === 0 || token.length > 512) return undefined;
    const hash = hashToken(token);
    if (this.now() - this.readAt > this.cacheMs || !this.byHash.has(hash)) this.remember(await this.store.load());
    const record = this.byHash.get(hash);
    return record === undefined ? undefined : { tokenId: record.id, name: record.name, userId: record.user_id };
  }

  private remember(records: Readonly<Record<string, AccessTokenRecord>>): void {
    this.byHash = new Map(Object.values(records).map((r) => [r.hash, r]));
    this.readAt = this.now();
  }

  private serialise<R>(work: () => Promise<R>): Promise<R> {
    const result = this.writes.then(work, work);
    this.writes = result.catch(() => undefined);
    return result;
  }
}

/** The token store of a data directory: `<dataDir>/homecore.tokens.json`, written atomically. */
export function fileTokenStore(dataDir: string, options: TokenStoreOptions = {}): TokenStore {
  const store = new JsonFileStore<AccessTokenRecord>({
    file: join(dataDir, TOKENS_FILE),
    format: 'homecore.tokens',
    label: 'access tokens',
    parse: parseRecord,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  return new TokenStore(store, options);
}

/** Creates a long-lived access token in `dataDir` (what `homecore token create` runs); the secret is in the result, once. */
export function createToken(dataDir: string, options: { name: string; user?: string }): Promise<CreatedToken> {
  return fileTokenStore(dataDir).create(options);
}

function checkName(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > NAME_MAX || [...value].some((ch) => ch.charCodeAt(0) < 0x20)) {
    throw new HomecoreError(ErrorCode.API_TOKEN, `a token's ${what} must be 1 to ${NAME_MAX} printable characters, got ${JSON.stringify(value)}`, {
      details: { [what]: value },
    });
  }
  return value.trim();
}

function parseRecord(value: unknown, key: string): AccessTokenRecord {
  const r = value as Partial<AccessTokenRecord> | null;
  if (typeof r !== 'object' || r === null) throw new Error('is not an object');
  for (const field of ['id', 'name', 'user_id', 'hash', 'created_at'] as const) {
    if (typeof r[field] !== 'string') throw new Error(`has no string "${field}"`);
  }
  if (r.id !== key) throw new Error(`has id ${JSON.stringify(r.id)} under the key ${JSON.stringify(key)}`);
  if (!/^sha256:[0-9a-f]{64}$/.test(r.hash as string)) throw new Error('has a "hash" that is not sha256:<64 hex digits>');
  return { id: r.id as string, name: r.name as string, user_id: r.user_id as string, hash: r.hash as string, created_at: r.created_at as string };
}
