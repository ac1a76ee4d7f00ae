import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type HomecoreError } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import {
  CONFIG_ENTRIES_KEY,
  MemoryConfigEntryStore,
  PluginRegistry,
  STORAGE_DIR,
  fileConfigEntryStore,
  type ConfigEntryStore,
  type RegistryActivity,
  type StoredConfigEntry,
} from '@homecore/registry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRuntime, ManualClock, manifest, userContext } from './fakes.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hc-entries-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entriesFile = () => join(dir, STORAGE_DIR, CONFIG_ENTRIES_KEY);
const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (e: unknown) => e as HomecoreError);

const stored = (over: Partial<StoredConfigEntry> = {}): StoredConfigEntry => ({
  created_at: '2025-01-02T03:04:05.678000+00:00',
  data: { host: '10.0.0.2' },
  discovery_keys: {},
  disabled_by: null,
  domain: 'lamp',
  entry_id: '01JGZ0000000000000000000AA',
  minor_version: 1,
  modified_at: '2025-01-02T03:04:05.678000+00:00',
  options: { interval: 30 },
  pref_disable_new_entities: false,
  pref_disable_polling: false,
  source: 'user',
  subentries: [],
  title: 'Lamp',
  unique_id: null,
  version: 1,
  ...over,
});

/** One boot of a host: a fresh core and registry over the same entry store (a restart). */
function boot(store: ConfigEntryStore, options: { clock?: ManualClock; failurePolicy?: object } = {}) {
  const clock = options.clock ?? new ManualClock();
  const core = new InMemoryCore({ clock });
  const runtime = new FakeRuntime('native');
  const registry = new PluginRegistry({ core, runtimes: [runtime], clock, random: Math.random, entries: store, ...(options.failurePolicy ? { failurePolicy: options.failurePolicy } : {}) });
  const activity: RegistryActivity[] = [];
  registry.on((a) => activity.push(a));
  return { clock, core, runtime, registry, activity };
}

describe('fileConfigEntryStore', () => {
  it("writes Home Assistant's .storage/core.config_entries layout with HA's stored fields", async () => {
    const store = fileConfigEntryStore(dir);
    await expect(store.load()).resolves.toEqual({ entries: [], quarantined: [] });
    expect(existsSync(join(dir, STORAGE_DIR))).toBe(false);
    await store.save({ entries: [stored()], quarantined: [] });
    const doc = JSON.parse(readFileSync(entriesFile(), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['version', 'minor_version', 'key', 'data']);
    expect(doc).toMatchObject({ version: 1, minor_version: 5, key: 'core.config_entries' });
    const entry = (doc.data as { entries: Record<string, unknown>[] }).entries[0]!;
    // HA's ConfigEntry.as_dict(): these keys, in this order; state and reason are not stored.
    expect(Object.keys(entry)).toEqual([
      'created_at', 'data', 'discovery_keys', 'disabled_by', 'domain', 'entry_id', 'minor_version', 'modified_at',
      'options', 'pref_disable_new_entities', 'pref_disable_polling', 'source', 'subentries', 'title', 'unique_id', 'version',
    ]);
    // Nothing was quarantined: no quarantine file, and no temporary file left behind.
    expect(readdirSync(join(dir, STORAGE_DIR))).toEqual([CONFIG_ENTRIES_KEY]);
    await expect(fileConfigEntryStore(dir).load()).resolves.toEqual({ entries: [stored()], quarantined: [] });
  });

  it('reads a file Home Assistant wrote (newer minor version, discovery keys and subentries kept)', async () => {
    mkdirSync(join(dir, STORAGE_DIR), { recursive: true });
    const ha = stored({ discovery_keys: { zeroconf: [{ domain: 'zeroconf', key: ['_hue._tcp.local.', 'x'], version: 1 }] }, subentries: [{ subentry_id: 's1' }] });
    writeFileSync(entriesFile(), JSON.stringify({ version: 1, minor_version: 9, key: 'core.config_entries', data: { entries: [ha] } }));
    const store = fileConfigEntryStore(dir);
    const loaded = await store.load();
    expect(loaded.entries).toEqual([ha]);
    await store.save(loaded);
    expect(JSON.parse(readFileSync(entriesFile(), 'utf8')).data.entries).toEqual([ha]);
  });

  it('moves a corrupt file aside with a timestamp and rejects, never loading it as empty', async () => {
    mkdirSync(join(dir, STORAGE_DIR), { recursive: true });
    writeFileSync(entriesFile(), '{"version": 1, "key": "core.config_entries", "data": {"entr');
    const now = Date.UTC(2026, 4, 17, 8, 30, 15, 250);
    const error = await failure(fileConfigEntryStore(dir, { now: () => now }).load());
    expect(error.code).toBe(ErrorCode.DATA_STORE);
    const movedTo = `${entriesFile()}.corrupt-2026-05-17T08-30-15-250Z`;
    expect(error.details).toMatchObject({ file: entriesFile(), movedTo });
    expect(error.message).toContain('is not valid JSON');
    expect(existsSync(entriesFile())).toBe(false);
    expect(readFileSync(movedTo, 'utf8')).toContain('"entr');
  });

  it('refuses an entry with a wrong field, naming it, and leaves a newer major version in place', async () => {
    mkdirSync(join(dir, STORAGE_DIR), { recursive: true });
    writeFileSync(entriesFile(), JSON.stringify({ version: 1, minor_version: 5, key: 'core.config_entries', data: { entries: [{ ...stored(), version: 'two' }] } }));
    const bad = await failure(fileConfigEntryStore(dir).load());
    expect(bad.message).toContain('entry 0: "version" must be a positive integer');
    writeFileSync(entriesFile(), JSON.stringify({ version: 2, minor_version: 1, key: 'core.config_entries', data: { entries: [] } }));
    const newer = await failure(fileConfigEntryStore(dir).load());
    expect(newer.code).toBe(ErrorCode.DATA_STORE);
    expect(newer.message).toContain('newer than the 1 this HOMECORE reads');
    expect(existsSync(entriesFile())).toBe(true);
  });
});

describe('entries across restarts (RegistryOptions.entries)', () => {
  it('brings back the same entry id, title, data, options and versions; config.json seeds only the first start', async () => {
    const store = fileConfigEntryStore(dir);
    const first = boot(store);
    await first.registry.load(manifest('lamp'), { setup() {} }, { config: { title: 'Hall lamp', data: { host: 'a' }, options: { n: 1 } } });
    const created = first.registry.getConfig('lamp')!;
    await first.registry.updateConfigEntry('lamp', { title: 'Porch lamp', options: { n: 2 } });
    await first.registry.unloadAll(); // flushes

    const second = boot(fileConfigEntryStore(dir));
    // A different config.json on the second start is not used: the stored entry is.
    await second.registry.load(manifest('lamp'), { setup() {} }, { config: { title: 'ignored', data: { host: 'b' } } });
    const back = second.registry.getConfig('lamp')!;
    expect(back).toMatchObject({ entry_id: created.entry_id, title: 'Porch lamp', data: { host: 'a' }, options: { n: 2 }, version: 1, minor_version: 1, created_at: created.created_at, state: 'loaded' });
    expect(second.runtime.instances[0]!.plugin).toBeDefined();
    await second.registry.unloadAll();
  });

  it('keeps the version and minor_version an entry was stored with', async () => {
    const store = new MemoryConfigEntryStore({ entries: [stored({ version: 2, minor_version: 3 })], quarantined: [] });
    const { registry } = boot(store);
    let seen: unknown;
    // The plugin writes 2.3 too (manifest config_entry_version / config_entry_minor_version): nothing to migrate.
    await registry.load(manifest('lamp', { config_entry_version: 2, config_entry_minor_version: 3 }), { setup(ctx: { configEntry: unknown }) { seen = ctx.configEntry; } });
    expect(seen).toMatchObject({ entry_id: '01JGZ0000000000000000000AA', version: 2, minor_version: 3, data: { host: '10.0.0.2' }, title: 'Lamp' });
    await registry.unloadAll();
    expect((await store.load()).entries).toEqual([stored({ version: 2, minor_version: 3 })]);
  });

  it('saves a burst of changes once, after the delay (HA async_delay_save), and flush() saves at once', async () => {
    const clock = new ManualClock();
    const store = new MemoryConfigEntryStore();
    const { registry } = boot(store, { clock });
    await registry.load(manifest('lamp'), { setup() {}, onConfigUpdate() {} });
    for (let i = 0; i < 5; i++) await registry.updateConfigEntry('lamp', { options: { i } });
    expect(store.saves).toBe(0);
    expect(clock.pending()).toEqual([1000]);
    await clock.advance(1000);
    expect(store.saves).toBe(1);
    expect((await store.load()).entries[0]?.options).toEqual({ i: 4 });
    await registry.updateConfigEntry('lamp', { title: 'now' });
    await registry.flush();
    expect(store.saves).toBe(2);
    expect(clock.pending()).toEqual([]);
    // State changes alone are not stored: unloading saves nothing new.
    await registry.unloadAll();
    expect(store.saves).toBe(2);
  });

  it('keeps a disabled entry disabled across a restart: listed, not_loaded, never set up until enabled', async () => {
    const store = fileConfigEntryStore(dir);
    const first = boot(store);
    await first.registry.load(manifest('lamp'), { setup() {} });
    await first.registry.disableEntry('lamp');
    expect(first.registry.get('lamp')).toMatchObject({ state: 'not_loaded' });
    expect(first.runtime.instances[0]!.teardowns).toBe(1);
    await first.registry.unloadAll();

    const second = boot(fileConfigEntryStore(dir));
    await second.registry.load(manifest('lamp'), { setup() {} });
    expect(second.registry.getConfig('lamp')).toMatchObject({ disabled_by: 'user', state: 'not_loaded' });
    expect(second.runtime.instances).toHaveLength(0);
    await second.registry.reload('lamp');
    expect(second.runtime.instances).toHaveLength(0);
    await second.registry.enableEntry('lamp');
    expect(second.registry.getConfig('lamp')).toMatchObject({ disabled_by: null, state: 'loaded' });
    expect(second.runtime.instances).toHaveLength(1);
    await second.registry.unloadAll();
    expect(JSON.parse(readFileSync(entriesFile(), 'utf8')).data.entries[0].disabled_by).toBeNull();
  });

  it('keeps a quarantine across a restart until clearQuarantine, and lists entries of plugins not loaded', async () => {
    const policy = { maxConsecutiveFailures: 1, backoffMs: 1000, quarantineAfterBackoffs: 0 };
    const broken = () => ({ setup() {}, onStateChanged() { throw new Error('broken'); } });
    const m = manifest('flaky', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*'] } });
    const first = boot(fileConfigEntryStore(dir), { failurePolicy: policy });
    await first.registry.load(m, broken());
    first.core.setState('sensor.x', '1', {}, userContext(first.core));
    await first.registry.idle();
    expect(first.registry.get('flaky')?.health).toBe('quarantined');
    await first.registry.unloadAll();

    const second = boot(fileConfigEntryStore(dir), { failurePolicy: policy });
    expect((await second.registry.entries('flaky')).map((e) => e.state)).toEqual(['not_loaded']);
    let handled = 0;
    await second.registry.load(m, { setup() {}, onStateChanged() { handled++; } });
    expect(second.registry.get('flaky')).toMatchObject({ state: 'loaded', health: 'quarantined', reason: expect.stringContaining('kept across restarts') });
    second.core.setState('sensor.x', '2', {}, userContext(second.core));
    await second.registry.idle();
    expect(handled).toBe(0);
    expect(second.registry.stats().plugins.flaky?.dropped.quarantined).toBe(1);
    await expect(second.registry.clearQuarantine('flaky')).resolves.toBe(true);
    second.core.setState('sensor.x', '3', {}, userContext(second.core));
    await second.registry.idle();
    expect(handled).toBe(1);
    await second.registry.unloadAll();

    const third = boot(fileConfigEntryStore(dir), { failurePolicy: policy });
    await third.registry.load(m, { setup() {} });
    expect(third.registry.get('flaky')?.health).toBe('ok');
    await expect(third.registry.clearQuarantine('flaky')).resolves.toBe(false);
    await expect(failure(third.registry.clearQuarantine('nothing'))).resolves.toMatchObject({ code: ErrorCode.PLUGIN_NOT_FOUND });
    await third.registry.unloadAll();
  });

  it('a reload gives a restored quarantined plugin a fresh start and forgets the quarantine', async () => {
    const store = new MemoryConfigEntryStore({
      entries: [stored({ domain: 'flaky' })],
      quarantined: [{ entry_id: stored().entry_id, domain: 'flaky', reason: 'crashed', quarantined_at: '2025-01-01T00:00:00.000+00:00' }],
    });
    const { registry } = boot(store);
    await registry.load(manifest('flaky'), { setup() {} });
    expect(registry.get('flaky')?.health).toBe('quarantined');
    await registry.reload('flaky');
    expect(registry.get('flaky')?.health).toBe('ok');
    await registry.flush();
    expect((await store.load()).quarantined).toEqual([]);
    await registry.unloadAll();
  });

  it('refuses to set plugins up over a corrupt entries file, naming where it was moved', async () => {
    mkdirSync(join(dir, STORAGE_DIR), { recursive: true });
    writeFileSync(entriesFile(), 'not json');
    const { registry } = boot(fileConfigEntryStore(dir));
    const error = await failure(registry.load(manifest('lamp'), { setup() {} }));
    expect(error).toMatchObject({ code: ErrorCode.DATA_STORE, plugin: 'lamp' });
    expect(error.message).toContain('.corrupt-');
    expect(registry.get('lamp')).toBeUndefined();
    // Still refused on the next load: nothing is set up with empty data.
    await expect(failure(registry.load(manifest('other'), { setup() {} }))).resolves.toMatchObject({ code: ErrorCode.DATA_STORE });
  });

  it('reports a failed save as store_failed activity and rejects flush', async () => {
    const store: ConfigEntryStore = { load: () => Promise.resolve({ entries: [], quarantined: [] }), save: () => Promise.reject(new Error('disk full')) };
    const { registry, activity } = boot(store);
    await registry.load(manifest('lamp'), { setup() {} });
    await expect(failure(registry.flush())).resolves.toMatchObject({ code: ErrorCode.DATA_STORE });
    expect(activity.filter((a) => a.type === 'store_failed')).toHaveLength(1);
    await expect(failure(registry.unloadAll())).resolves.toMatchObject({ code: ErrorCode.DATA_STORE });
    expect(registry.list()).toEqual([]);
  });
});
