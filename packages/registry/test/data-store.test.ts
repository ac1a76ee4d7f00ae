import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type HomecoreError } from '@homecore/core-traits';
import { GRANTS_FILE, JsonFileStore, MemoryStore, fileGrantStore, type AcceptedGrant } from '@homecore/registry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const grant = (plugin: string, version = '1.0.0'): AcceptedGrant => ({
  plugin,
  version,
  manifest: { permissions: ['state:read:sensor.*'], limits: { timers: 3 } },
  acceptedAt: 1_700_000_000_000,
  reason: 'first_install',
});

const NOW = Date.UTC(2026, 4, 17, 8, 30, 15, 250);
const STAMP = '2026-05-17T08-30-15-250Z';
const file = () => join(dir, 'data', GRANTS_FILE);
const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (e: unknown) => e as HomecoreError);

describe('fileGrantStore', () => {
  it('holds nothing before the first save, and creates the data directory on it', async () => {
    const store = fileGrantStore(join(dir, 'data'));
    await expect(store.load()).resolves.toEqual({});
    expect(existsSync(join(dir, 'data'))).toBe(false);
    await store.save({ lamp: grant('lamp') });
    expect(JSON.parse(readFileSync(file(), 'utf8'))).toEqual({ format: 'homecore.grants', version: 1, records: { lamp: grant('lamp') } });
    await expect(fileGrantStore(join(dir, 'data')).load()).resolves.toEqual({ lamp: grant('lamp') });
  });

  it('writes through a temporary file in the same folder and leaves none behind', async () => {
    const store = fileGrantStore(join(dir, 'data'));
    await store.save({ lamp: grant('lamp') });
    await store.save({ lamp: grant('lamp', '2.0.0'), fan: grant('fan') });
    expect(readdirSync(join(dir, 'data'))).toEqual([GRANTS_FILE]);
    await expect(store.load()).resolves.toEqual({ lamp: grant('lamp', '2.0.0'), fan: grant('fan') });
  });

  it('runs concurrent saves one at a time, in order: the last one wins and the file is always whole', async () => {
    const store = fileGrantStore(join(dir, 'data'));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.save({ lamp: grant('lamp', `1.0.${i}`) })));
    await expect(store.load()).resolves.toEqual({ lamp: grant('lamp', '1.0.19') });
    expect(readdirSync(join(dir, 'data'))).toEqual([GRANTS_FILE]);
  });

  it('leaves the file as it was when a save fails before the rename, and removes its temporary file', async () => {
    const store = fileGrantStore(join(dir, 'data'));
    await store.save({ lamp: grant('lamp') });
    const before = readFileSync(file(), 'utf8');
    // A value JSON cannot hold fails before anything is written.
    const unserialisable = { lamp: { ...grant('lamp'), acceptedAt: 1n as unknown as number } };
    expect(await failure(store.save(unserialisable))).toMatchObject({ code: ErrorCode.DATA_STORE, message: expect.stringContaining('is unchanged') });
    expect(readFileSync(file(), 'utf8')).toBe(before);

    // A rename that fails (the target became a non-empty folder) removes the temporary file.
    const blocked = new JsonFileStore<AcceptedGrant>({ file: join(dir, 'blocked'), format: 'homecore.grants', label: 'accepted grants', parse: (v) => v as AcceptedGrant });
    mkdirSync(join(dir, 'blocked', 'inside'), { recursive: true });
    const error = await failure(blocked.save({ lamp: grant('lamp') }));
    expect(error).toMatchObject({ code: ErrorCode.DATA_STORE, message: expect.stringContaining(`could not be saved to ${join(dir, 'blocked')}`) });
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // The store still works after a failed save.
    await store.save({ fan: grant('fan') });
    await expect(store.load()).resolves.toEqual({ fan: grant('fan') });
  });

  it.each([
    ['invalid JSON', '{"format": "homecore.grants", "version": 1, "records": {', 'is not valid JSON'],
    ['another format', JSON.stringify({ format: 'something.else', version: 1, records: {} }), 'does not hold accepted grants'],
    ['no version', JSON.stringify({ format: 'homecore.grants', records: {} }), 'has no valid "version"'],
    ['no records', JSON.stringify({ format: 'homecore.grants', version: 1 }), 'has no "records" object'],
    ['a record under another key', JSON.stringify({ format: 'homecore.grants', version: 1, records: { lamp: grant('fan') } }), '"plugin" must be "lamp"'],
    ['a record of the wrong shape', JSON.stringify({ format: 'homecore.grants', version: 1, records: { lamp: { ...grant('lamp'), manifest: { permissions: 'all' } } } }), '"manifest.permissions" must be a list of strings'],
    ['an empty file', '', 'is not valid JSON'],
  ])('moves a file with %s aside with a timestamp and reports it, never returning empty data', async (_, content, problem) => {
    mkdirSync(join(dir, 'data'));
    writeFileSync(file(), content);
    const store = fileGrantStore(join(dir, 'data'), { now: () => NOW });
    const error = await failure(store.load());
    const movedTo = `${file()}.corrupt-${STAMP}`;
    expect(error).toMatchObject({ code: ErrorCode.DATA_STORE, details: { file: file(), movedTo } });
    expect(error.message).toContain(problem);
    expect(error.message).toContain(`it was moved to ${movedTo} and none of its accepted grants are used`);
    expect(readFileSync(movedTo, 'utf8')).toBe(content);
    expect(existsSync(file())).toBe(false);
  });

  it('never overwrites an earlier corrupt copy', async () => {
    mkdirSync(join(dir, 'data'));
    const store = fileGrantStore(join(dir, 'data'), { now: () => NOW });
    writeFileSync(file(), 'first');
    await failure(store.load());
    writeFileSync(file(), 'second');
    const error = await failure(store.load());
    expect(error.details?.movedTo).toBe(`${file()}.corrupt-${STAMP}-1`);
    expect(readFileSync(`${file()}.corrupt-${STAMP}`, 'utf8')).toBe('first');
    expect(readFileSync(`${file()}.corrupt-${STAMP}-1`, 'utf8')).toBe('second');
  });

  it('moves aside a path that cannot be read as a file (a folder in its place)', async () => {
    mkdirSync(file(), { recursive: true });
    const error = await failure(fileGrantStore(join(dir, 'data'), { now: () => NOW }).load());
    expect(error.message).toContain('cannot be read');
    expect(error.details?.movedTo).toBe(`${file()}.corrupt-${STAMP}`);
  });

  it('leaves a file written by a newer version where it is', async () => {
    mkdirSync(join(dir, 'data'));
    const content = JSON.stringify({ format: 'homecore.grants', version: 2, records: {} });
    writeFileSync(file(), content);
    const error = await failure(fileGrantStore(join(dir, 'data')).load());
    expect(error).toMatchObject({ code: ErrorCode.DATA_STORE, message: expect.stringContaining('newer than the 1 this HOMECORE reads') });
    expect(readFileSync(file(), 'utf8')).toBe(content);
  });
});

describe('MemoryStore', () => {
  it('keeps copies: changing what was saved or loaded changes nothing stored', async () => {
    const records = { lamp: grant('lamp') };
    const store = new MemoryStore<AcceptedGrant>(records);
    (records.lamp.manifest.permissions as string[]).push('state:write:*');
    const loaded = await store.load();
    expect(loaded.lamp?.manifest.permissions).toEqual(['state:read:sensor.*']);
    (loaded.lamp!.manifest.permissions as string[]).push('state:write:*');
    expect((await store.load()).lamp?.manifest.permissions).toEqual(['state:read:sensor.*']);
  });
});
