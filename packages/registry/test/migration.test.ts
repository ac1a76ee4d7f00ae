import { ErrorCode, type ConfigEntry, type HomecoreError, type PluginContext } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { MemoryConfigEntryStore, PluginRegistry, type StoredConfigEntry } from '@homecore/registry';
import { describe, expect, it } from 'vitest';
import { FakeRuntime, ManualClock, manifest, setup } from './fakes.js';

const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (e: unknown) => e as HomecoreError);

const stored = (over: Partial<StoredConfigEntry> = {}): StoredConfigEntry => ({
  created_at: '2025-01-02T03:04:05.678000+00:00',
  data: { ip: '10.0.0.2' },
  discovery_keys: {},
  disabled_by: null,
  domain: 'lamp',
  entry_id: '01JGZ0000000000000000000AA',
  minor_version: 1,
  modified_at: '2025-01-02T03:04:05.678000+00:00',
  options: {},
  pref_disable_new_entities: false,
  pref_disable_polling: false,
  source: 'user',
  subentries: [],
  title: 'Lamp',
  unique_id: null,
  version: 1,
  ...over,
});

function boot(store: MemoryConfigEntryStore) {
  const clock = new ManualClock();
  const registry = new PluginRegistry({ core: new InMemoryCore({ clock }), runtimes: [new FakeRuntime('native')], clock, entries: store });
  return { registry };
}

const v2 = (extra: Record<string, unknown> = {}) => manifest('lamp', { config_entry_version: 2, config_entry_minor_version: 3, ...extra });

describe('config entry migration (HA async_migrate_entry)', () => {
  it('migrates an older entry before setup; setup sees the migrated entry and the store keeps it', async () => {
    const store = new MemoryConfigEntryStore({ entries: [stored()], quarantined: [] });
    const { registry } = boot(store);
    const calls: ConfigEntry[] = [];
    let seen: ConfigEntry | undefined;
    await registry.load(v2(), {
      setup(ctx: PluginContext) {
        seen = ctx.configEntry;
      },
      migrateEntry(entry: ConfigEntry) {
        calls.push(entry);
        return { data: { host: entry.data.ip as string } };
      },
    });
    expect(calls.map((e) => [e.version, e.minor_version, e.data])).toEqual([[1, 1, { ip: '10.0.0.2' }]]);
    expect(seen).toMatchObject({ entry_id: '01JGZ0000000000000000000AA', version: 2, minor_version: 3, data: { host: '10.0.0.2' } });
    await registry.unloadAll();
    expect((await store.load()).entries[0]).toMatchObject({ version: 2, minor_version: 3, data: { host: '10.0.0.2' } });

    // At the plugin's version now: the next start does not migrate again.
    const again = boot(store);
    await again.registry.load(v2(), { setup() {}, migrateEntry: () => expect.fail('migrated twice') });
    expect(again.registry.getConfig('lamp')?.state).toBe('loaded');
    await again.registry.unloadAll();
  });

  it('a failed migration leaves the entry in migration_error with its stored data unchanged; a fixed version reloads', async () => {
    const store = new MemoryConfigEntryStore({ entries: [stored()], quarantined: [] });
    const { registry } = boot(store);
    let setups = 0;
    const error = await failure(
      registry.load(v2(), {
        setup() {
          setups++;
        },
        migrateEntry: () => false,
      }),
    );
    expect(error).toMatchObject({ code: ErrorCode.MIGRATION_FAILED, plugin: 'lamp', hook: 'migrateEntry' });
    expect(error.message).toContain('version 1.1 and the plugin writes 2.3: the migration returned false');
    expect(registry.getConfig('lamp')).toMatchObject({ state: 'migration_error', version: 1, minor_version: 1, data: { ip: '10.0.0.2' } });
    expect(setups).toBe(0);
    await registry.flush();
    expect((await store.load()).entries).toEqual([stored()]);

    await registry.reload('lamp', { code: { setup() { setups++; }, migrateEntry: () => true } });
    expect(registry.getConfig('lamp')).toMatchObject({ state: 'loaded', version: 2, minor_version: 3, data: { ip: '10.0.0.2' } });
    expect(setups).toBe(1);
    await registry.unloadAll();
  });

  it('a throwing or invalid migration is a migration_error too', async () => {
    // What a plugin in plain JavaScript could return: not checked by TypeScript, so checked by the registry.
    const bad: (() => unknown)[] = [() => { throw new Error('cannot read v1'); }, () => 'yes', () => ({ version: 0 }), () => ({ data: [1] })];
    for (const migrateEntry of bad) {
      const { registry } = boot(new MemoryConfigEntryStore({ entries: [stored()], quarantined: [] }));
      const error = await failure(registry.load(v2(), { setup() {}, migrateEntry } as never));
      expect(error.code).toBe(ErrorCode.MIGRATION_FAILED);
      expect(registry.getConfig('lamp')).toMatchObject({ state: 'migration_error', data: { ip: '10.0.0.2' } });
    }
  });

  it('without a hook, a minor difference loads as stored and a major one is a migration_error (HA)', async () => {
    const minor = boot(new MemoryConfigEntryStore({ entries: [stored({ version: 2, minor_version: 1 })], quarantined: [] }));
    await minor.registry.load(v2(), { setup() {} });
    expect(minor.registry.getConfig('lamp')).toMatchObject({ state: 'loaded', version: 2, minor_version: 1 });
    await minor.registry.unloadAll();

    const major = boot(new MemoryConfigEntryStore({ entries: [stored()], quarantined: [] }));
    const error = await failure(major.registry.load(v2(), { setup() {} }));
    expect(error.message).toContain('the plugin has no migration');
    expect(major.registry.getConfig('lamp')?.state).toBe('migration_error');
  });

  it("a setup that fails after a migration puts the stored entry back; new entries get the plugin's versions", async () => {
    const store = new MemoryConfigEntryStore({ entries: [stored()], quarantined: [] });
    const { registry } = boot(store);
    await failure(registry.load(v2(), { setup() { throw new Error('offline'); }, migrateEntry: () => ({ data: { host: 'x' } }) }));
    expect(registry.getConfig('lamp')).toMatchObject({ state: 'setup_error', version: 1, data: { ip: '10.0.0.2' } });

    const fresh = setup();
    await fresh.registry.load(manifest('fan', { config_entry_version: 4, config_entry_minor_version: 2 }), { setup() {} });
    expect(fresh.registry.getConfig('fan')).toMatchObject({ version: 4, minor_version: 2 });
    const added = await fresh.registry.addEntry('fan', {});
    expect(added).toMatchObject({ version: 4, minor_version: 2 });
  });
});
