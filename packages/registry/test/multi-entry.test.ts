import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type ConfigEntry, type HomecoreError, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { CONFIG_ENTRIES_KEY, PluginRegistry, STORAGE_DIR, fileConfigEntryStore } from '@homecore/registry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeRuntime, ManualClock, manifest, setup, userContext } from './fakes.js';

const failure = (promise: Promise<unknown>) => promise.then(() => expect.fail('expected a rejection'), (e: unknown) => e as HomecoreError);

/** A bridge plugin: each instance writes `light.<host>` from its own entry and records what it saw. */
function bridge(log: string[] = []) {
  return {
    setup(ctx: PluginContext) {
      const host = String(ctx.configEntry.data.host);
      ctx.setState(`light.${host}`, 'on', { entry: ctx.configEntry.entry_id });
      this.ctx = ctx;
      log.push(`setup ${host}`);
    },
    ctx: undefined as PluginContext | undefined,
    onStateChanged(event: StateChangedEvent) {
      log.push(`${String(this.ctx?.configEntry.data.host)} saw ${event.data.entity_id}`);
      if (event.data.new_state?.state === 'boom' && this.ctx?.configEntry.data.host === 'b') throw new Error('broken bridge b');
    },
    onConfigUpdate(entry: ConfigEntry) {
      log.push(`update ${String(entry.data.host)} ${JSON.stringify(entry.options)}`);
    },
    teardown() {
      log.push(`teardown ${String(this.ctx?.configEntry.data.host)}`);
    },
  };
}

const hue = (extra: Record<string, unknown> = {}) =>
  manifest('hue', { permissions: ['state:write:light.*', 'state:read:sensor.*'], subscriptions: { entities: ['sensor.*'] }, ...extra });

describe('several config entries per plugin', () => {
  it('sets each entry up as its own instance, with its own context, writes, stats and listing under the plugin', async () => {
    const { registry, core, runtime } = setup();
    const log: string[] = [];
    const original = runtime.load.bind(runtime);
    runtime.load = (_code, m) => original(bridge(log), m);
    await registry.load(hue(), { setup() {} }, { config: { title: 'Bridge A', data: { host: 'a' } } });
    const second = await registry.addEntry('hue', { title: 'Bridge B', data: { host: 'b' }, unique_id: 'bridge-b' });
    expect(second).toMatchObject({ domain: 'hue', title: 'Bridge B', unique_id: 'bridge-b', state: 'loaded' });
    const first = registry.getConfig('hue')!;
    expect(second.entry_id).not.toBe(first.entry_id);
    expect(runtime.instances).toHaveLength(2);

    // Writes name the plugin and the entry.
    expect(core.getState('light.a')?.context.user_id).toBe('plugin:hue');
    expect(core.getState('light.b')?.context.user_id).toBe(`plugin:hue/${second.entry_id}`);
    expect(core.getState('light.b')?.attributes.entry).toBe(second.entry_id);

    core.setState('sensor.door', 'open', {}, userContext(core));
    await registry.idle();
    expect(log.filter((l) => l.includes('saw'))).toEqual(['a saw sensor.door', 'b saw sensor.door']);

    expect(registry.list().map((p) => p.id)).toEqual(['hue']);
    expect(registry.get('hue')?.entries.map((e) => [e.entryId, e.uniqueId, e.state])).toEqual([
      [first.entry_id, null, 'loaded'],
      [second.entry_id, 'bridge-b', 'loaded'],
    ]);
    expect((await registry.entries('hue')).map((e) => e.title)).toEqual(['Bridge A', 'Bridge B']);
    const stats = registry.stats().plugins.hue!;
    expect(Object.keys(stats.entries)).toEqual([first.entry_id, second.entry_id]);
    expect(stats.entries[second.entry_id]).toMatchObject({ delivered: 1, writes: 1, entryId: second.entry_id, state: 'loaded' });
    expect(stats.entryId).toBe(first.entry_id);
    expect((await registry.entries('hue')).map((e) => e.entry_id)).toEqual([first.entry_id, second.entry_id]);
    expect(await registry.getEntry(second.entry_id)).toMatchObject({ title: 'Bridge B' });
    await registry.unloadAll();
    expect(log.filter((l) => l.startsWith('teardown')).sort()).toEqual(['teardown a', 'teardown b']);
  });

  it('keeps failure state per entry: one entry quarantined, the other keeps receiving', async () => {
    const { registry, core, runtime } = setup({ failurePolicy: { maxConsecutiveFailures: 1, backoffMs: 1000, quarantineAfterBackoffs: 0 } });
    const log: string[] = [];
    const original = runtime.load.bind(runtime);
    runtime.load = (_code, m) => original(bridge(log), m);
    await registry.load(hue(), { setup() {} }, { config: { data: { host: 'a' } } });
    const b = await registry.addEntry('hue', { data: { host: 'b' } });
    core.setState('sensor.x', 'boom', {}, userContext(core));
    await registry.idle();
    const entries = registry.get('hue')!.entries;
    expect(entries.map((e) => e.health)).toEqual(['ok', 'quarantined']);
    expect(registry.get('hue')?.health).toBe('ok');
    core.setState('sensor.x', 'calm', {}, userContext(core));
    await registry.idle();
    expect(log.filter((l) => l.endsWith('saw sensor.x'))).toEqual(['a saw sensor.x', 'b saw sensor.x', 'a saw sensor.x']);
    expect(registry.stats().plugins.hue!.entries[b.entry_id]).toMatchObject({ health: 'quarantined', dropped: { quarantined: 1 } });
    // Reloading that entry gives it a fresh start; the other is untouched.
    await registry.reloadEntry(b.entry_id);
    expect(registry.get('hue')!.entries.map((e) => e.health)).toEqual(['ok', 'ok']);
    expect(log.filter((l) => l === 'setup a')).toHaveLength(1);
    await registry.unloadAll();
  });

  it("refuses a second entry of a single_config_entry plugin and a duplicate unique_id (HA's rules)", async () => {
    const { registry } = setup();
    await registry.load(manifest('solo', { single_config_entry: true }), { setup() {} });
    const single = await failure(registry.addEntry('solo', {}));
    expect(single).toMatchObject({ code: ErrorCode.SINGLE_CONFIG_ENTRY, plugin: 'solo' });
    expect(registry.get('solo')?.entries).toHaveLength(1);

    await registry.load(manifest('multi'), { setup() {} }, { config: { unique_id: 'x1' } });
    await registry.addEntry('multi', { unique_id: 'x2' });
    const dup = await failure(registry.addEntry('multi', { unique_id: 'x2' }));
    expect(dup).toMatchObject({ code: ErrorCode.ALREADY_CONFIGURED, details: { unique_id: 'x2' } });
    await failure(registry.addEntry('multi', { unique_id: 'x1' }));
    await registry.addEntry('multi', {}); // no unique_id: never a duplicate
    await registry.addEntry('multi', {});
    expect(registry.get('multi')?.entries).toHaveLength(4);
    await expect(failure(registry.addEntry('absent', {}))).resolves.toMatchObject({ code: ErrorCode.PLUGIN_NOT_FOUND });
    await registry.unloadAll();
  });

  it('updates, disables, enables and removes one entry without touching the others', async () => {
    const { registry, runtime } = setup();
    const log: string[] = [];
    const original = runtime.load.bind(runtime);
    runtime.load = (_code, m) => original(bridge(log), m);
    await registry.load(hue(), { setup() {} }, { config: { data: { host: 'a' } } });
    const b = await registry.addEntry('hue', { data: { host: 'b' } });
    const c = await registry.addEntry('hue', { data: { host: 'c' } });
    await registry.updateEntry(b.entry_id, { options: { dim: true }, title: 'B' });
    expect(log.filter((l) => l.startsWith('update'))).toEqual(['update b {"dim":true}']);
    expect(await registry.getEntry(b.entry_id)).toMatchObject({ title: 'B', options: { dim: true } });

    await registry.disableEntry(c.entry_id);
    expect(log).toContain('teardown c');
    expect(registry.get('hue')!.entries.map((e) => [e.state, e.disabledBy])).toEqual([['loaded', null], ['loaded', null], ['not_loaded', 'user']]);
    await registry.enableEntry(c.entry_id);
    expect(registry.get('hue')!.entries.map((e) => e.state)).toEqual(['loaded', 'loaded', 'loaded']);

    await expect(failure(registry.removeEntry(registry.getConfig('hue')!.entry_id))).resolves.toMatchObject({ code: ErrorCode.OPERATION_NOT_ALLOWED });
    await registry.removeEntry(b.entry_id);
    expect(log).toContain('teardown b');
    expect(registry.get('hue')!.entries.map((e) => e.entryId)).toEqual([registry.getConfig('hue')!.entry_id, c.entry_id]);
    await expect(failure(registry.removeEntry(b.entry_id))).resolves.toMatchObject({ code: ErrorCode.CONFIG_ENTRY_NOT_FOUND });
    expect(log.filter((l) => l.startsWith('teardown'))).toEqual(['teardown c', 'teardown b']);

    // Unloading the plugin unloads every entry; a reload reloads every entry.
    await registry.reload('hue');
    expect(log.filter((l) => l === 'setup a' || l === 'setup c')).toHaveLength(5);
    await registry.unload('hue');
    expect(registry.list()).toEqual([]);
    expect(log.filter((l) => l.startsWith('teardown')).slice(-2).sort()).toEqual(['teardown a', 'teardown c']);
  });

  it('a failed setup keeps the added entry in setup_error; the plugin keeps running', async () => {
    const { registry, runtime } = setup();
    const original = runtime.load.bind(runtime);
    runtime.load = (_code, m) => original({ setup(ctx: PluginContext) { if (ctx.configEntry.data.bad === true) throw new Error('no bridge there'); } }, m);
    await registry.load(manifest('hue'), { setup() {} });
    const error = await failure(registry.addEntry('hue', { data: { bad: true } }));
    expect(error.message).toContain('no bridge there');
    expect(registry.get('hue')!.entries.map((e) => e.state)).toEqual(['loaded', 'setup_error']);
    await registry.unloadAll();
  });
});

describe('several entries across restarts', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hc-multi-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const boot = () => {
    const clock = new ManualClock();
    const core = new InMemoryCore({ clock });
    const runtime = new FakeRuntime('native');
    const original = runtime.load.bind(runtime);
    const hosts: string[] = [];
    runtime.load = (_code, m) => original({ setup(ctx: PluginContext) { hosts.push(String(ctx.configEntry.data.host)); } }, m);
    const registry = new PluginRegistry({ core, runtimes: [runtime], clock, random: Math.random, entries: fileConfigEntryStore(dir) });
    return { registry, hosts };
  };

  it('sets every stored entry of a plugin up again, with the same ids, and removed ones stay removed', async () => {
    const first = boot();
    await first.registry.load(manifest('hue'), { setup() {} }, { config: { data: { host: 'a' } } });
    const b = await first.registry.addEntry('hue', { data: { host: 'b' }, unique_id: 'b' });
    const c = await first.registry.addEntry('hue', { data: { host: 'c' } });
    await first.registry.removeEntry(c.entry_id);
    await first.registry.unloadAll();
    const stored = JSON.parse(readFileSync(join(dir, STORAGE_DIR, CONFIG_ENTRIES_KEY), 'utf8')) as { data: { entries: { entry_id: string }[] } };
    expect(stored.data.entries.map((e) => e.entry_id)).toEqual([first.registry.getConfig('hue')?.entry_id ?? stored.data.entries[0]!.entry_id, b.entry_id]);

    const second = boot();
    await second.registry.load(manifest('hue'), { setup() {} }, { config: { data: { host: 'ignored' } } });
    expect(second.hosts.sort()).toEqual(['a', 'b']);
    expect(second.registry.get('hue')!.entries.map((e) => [e.entryId, e.state])).toEqual([
      [stored.data.entries[0]!.entry_id, 'loaded'],
      [b.entry_id, 'loaded'],
    ]);
    // The unique_id rule holds against restored entries too.
    await expect(failure(second.registry.addEntry('hue', { unique_id: 'b' }))).resolves.toMatchObject({ code: ErrorCode.ALREADY_CONFIGURED });
    await second.registry.unloadAll();
  });
});
