import type { ConfigEntry, HomeCorePlugin, PluginContext } from '@homecore/core-traits';
import { MemoryConfigEntryStore } from '@homecore/registry';
import { createHomecore } from '@homecore/runtime-native';
import { describe, expect, it } from 'vitest';

// Config entries through the native runtime: migrateEntry (NativePluginInstance) and several entries, each its own plugin object.
const manifest = { domain: 'bridge', name: 'Bridge', version: '1.0.0', runtime: 'native', config_entry_version: 2, permissions: ['state:write:light.*'] };

const stored = {
  created_at: '2025-01-02T03:04:05.678000+00:00',
  data: { ip: '10.0.0.2' },
  discovery_keys: {},
  disabled_by: null,
  domain: 'bridge',
  entry_id: '01JGZ0000000000000000000AA',
  minor_version: 1,
  modified_at: '2025-01-02T03:04:05.678000+00:00',
  options: {},
  pref_disable_new_entities: false,
  pref_disable_polling: false,
  source: 'user',
  subentries: [],
  title: 'Bridge',
  unique_id: null,
  version: 1,
};

describe('config entries on the native runtime', () => {
  it('runs migrateEntry before setup and sets each entry up from a fresh plugin object', async () => {
    const store = new MemoryConfigEntryStore({ entries: [stored], quarantined: [] });
    const { registry, core } = createHomecore({ timeChangedMs: 0, entries: store });
    const migrated: ConfigEntry[] = [];
    // A factory: each entry's instance gets its own object (and its own state).
    const factory = (): HomeCorePlugin & { host?: string } => ({
      migrateEntry(entry: ConfigEntry) {
        migrated.push(entry);
        return { data: { host: String(entry.data.ip ?? entry.data.host) } };
      },
      setup(ctx: PluginContext) {
        this.host = String(ctx.configEntry.data.host);
        ctx.setState(`light.${this.host.replaceAll('.', '_')}`, 'on');
      },
    });
    await registry.load(manifest, factory);
    expect(migrated.map((e) => e.version)).toEqual([1]);
    expect(registry.getConfig('bridge')).toMatchObject({ entry_id: stored.entry_id, version: 2, data: { host: '10.0.0.2' }, state: 'loaded' });
    const second = await registry.addEntry('bridge', { data: { host: '10.0.0.3' } });
    expect(second).toMatchObject({ version: 2, state: 'loaded' });
    expect(migrated).toHaveLength(1); // a new entry is created at the plugin's version
    expect(core.getState('light.10_0_0_2')?.context.user_id).toBe('plugin:bridge');
    expect(core.getState('light.10_0_0_3')?.context.user_id).toBe(`plugin:bridge/${second.entry_id}`);
    await registry.unloadAll();
    expect((await store.load()).entries.map((e) => [e.entry_id, e.version, e.data])).toEqual([
      [stored.entry_id, 2, { host: '10.0.0.2' }],
      [second.entry_id, 2, { host: '10.0.0.3' }],
    ]);
  });
});
