// The long-lived access token store, on real files in temp dirs.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '@homecore/registry';
import { TOKENS_FILE, TokenStore, createToken, fileTokenStore, hashToken } from '@homecore/api';
import { RawClient, startHub } from './helpers.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homecore-tokens-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('token store', () => {
  it('creates a token, shows it once and stores only its sha256, atomically', async () => {
    const created = await createToken(dir, { name: 'kitchen tablet' });
    expect(created.token).toMatch(/^hc_[A-Za-z0-9_-]{43}$/);
    expect(created).toMatchObject({ name: 'kitchen tablet', user_id: 'user:kitchen tablet' });
    const text = await readFile(join(dir, TOKENS_FILE), 'utf8');
    expect(text).not.toContain(created.token);
    const file = JSON.parse(text) as { format: string; version: number; records: Record<string, { hash: string }> };
    expect(file.format).toBe('homecore.tokens');
    expect(file.version).toBe(1);
    expect(file.records[created.id]?.hash).toBe(hashToken(created.token));
    expect(hashToken(created.token)).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The temporary file of the atomic write is gone: only the store is left.
    expect(await readdir(dir)).toEqual([TOKENS_FILE]);
  });

  it('verifies tokens, lists them without hashes, refuses a duplicate name, revokes by id or name', async () => {
    const store = fileTokenStore(dir);
    const a = await store.create({ name: 'a', user: 'alice' });
    const b = await store.create({ name: 'b' });
    expect(await store.verify(a.token)).toEqual({ tokenId: a.id, name: 'a', userId: 'user:alice' });
    expect(await store.verify('hc_nope')).toBeUndefined();
    expect(await store.verify('')).toBeUndefined();
    const listed = await store.list();
    expect(listed.map((t) => t.name)).toEqual(['a', 'b']);
    expect(listed.every((t) => !('hash' in t))).toBe(true);
    await expect(store.create({ name: 'a' })).rejects.toMatchObject({ code: 'HC_ERR_API_TOKEN' });
    await expect(store.create({ name: '  ' })).rejects.toMatchObject({ code: 'HC_ERR_API_TOKEN' });
    await expect(store.create({ name: 'x'.repeat(101) })).rejects.toMatchObject({ code: 'HC_ERR_API_TOKEN' });
    expect(await store.revoke('a')).toMatchObject({ id: a.id });
    expect(await store.verify(a.token)).toBeUndefined();
    await store.revoke(b.id);
    await expect(store.revoke(b.id)).rejects.toMatchObject({ code: 'HC_ERR_API_TOKEN' });
    expect(await store.list()).toEqual([]);
  });

  it('sees a token created by another process (another store on the same file) on the next attempt', async () => {
    const serving = fileTokenStore(dir);
    expect(await serving.verify('hc_x')).toBeUndefined();
    const created = await createToken(dir, { name: 'later' }); // as `homecore token create` would, while serving
    expect(await serving.verify(created.token)).toMatchObject({ name: 'later' });
  });

  it('stops accepting a token revoked by another process once its cache is older than cacheMs', async () => {
    let time = 1_000_000;
    const serving = fileTokenStore(dir, { cacheMs: 1000, now: () => time });
    const created = await createToken(dir, { name: 'soon revoked' });
    expect(await serving.verify(created.token)).toMatchObject({ name: 'soon revoked' });
    await fileTokenStore(dir).revoke('soon revoked');
    time += 500;
    expect(await serving.verify(created.token)).toMatchObject({ name: 'soon revoked' }); // still cached
    time += 600;
    expect(await serving.verify(created.token)).toBeUndefined();
  });

  it('moves a corrupt file aside and reports it, never treating it as empty', async () => {
    await writeFile(join(dir, TOKENS_FILE), '{ not json');
    const store = fileTokenStore(dir);
    await expect(store.list()).rejects.toMatchObject({ code: 'HC_ERR_DATA_STORE' });
    const files = await readdir(dir);
    expect(files.some((f) => f.startsWith(`${TOKENS_FILE}.corrupt-`))).toBe(true);
    // A record with a bad hash is refused the same way.
    await writeFile(join(dir, TOKENS_FILE), JSON.stringify({ format: 'homecore.tokens', version: 1, records: { x: { id: 'x', name: 'n', user_id: 'u', hash: 'plain', created_at: 'now' } } }));
    await expect(fileTokenStore(dir).verify('hc_any')).rejects.toMatchObject({ code: 'HC_ERR_DATA_STORE' });
  });

  it('works over any DataStore (MemoryStore here) with concurrent creates', async () => {
    const store = new TokenStore(new MemoryStore());
    const created = await Promise.all(Array.from({ length: 10 }, (_, i) => store.create({ name: `t${i}` })));
    expect((await store.list()).length).toBe(10);
    for (const t of created) expect(await store.verify(t.token)).toMatchObject({ name: t.name });
  });

  it('a WebSocket client whose token store cannot be read is refused with auth_invalid', async () => {
    const hub = await startHub();
    try {
      await writeFile(join(hub.dataDir, TOKENS_FILE), 'garbage');
      const client = new RawClient(hub.wsUrl);
      await client.next(() => true);
      client.sendJson({ type: 'auth', access_token: 'hc_unknown' });
      expect(await client.next(() => true)).toMatchObject({ type: 'auth_invalid' });
      await client.waitClosed();
      expect(hub.logs.some((l) => l.event === 'auth_failed' && /token store cannot be read/.test(l.message))).toBe(true);
    } finally {
      await hub.stop();
    }
  });
});
