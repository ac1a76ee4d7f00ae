import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, type HomecoreError, type StateChangedEvent } from '@homecore/core-traits';
import { MemoryStore, fileGrantStore, type AcceptedGrant } from '@homecore/registry';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

// The upgrade rule (issue 7, "no silent escalation"): with a grant store, a new version of a plugin
// may not ask for more than the operator accepted; narrower versions pass and are stored.

const v1 = (extra: Record<string, unknown> = {}) =>
  manifest('watcher', {
    permissions: ['state:read:sensor.*', 'state:write:light.kitchen'],
    subscriptions: { entities: ['sensor.*'] },
    ...extra,
  });

const recording = (seen: string[], tag = '') => ({
  setup() {},
  onStateChanged: (e: StateChangedEvent) => void seen.push(`${tag}${e.data.entity_id}`),
});

describe('the upgrade rule, in memory', () => {
  it('trusts a plugin on its first install and stores its grant, reported as grant_stored', async () => {
    const grants = new MemoryStore<AcceptedGrant>();
    const { registry, of, clock } = setup({ grants });
    await registry.load(v1(), { setup() {} });
    expect(of('grant_stored')).toEqual([
      expect.objectContaining({ plugin: 'watcher', reason: 'first_install', version: '1.0.0', narrowings: [], message: expect.stringContaining('first install') }),
    ]);
    const stored = (await grants.load()).watcher;
    expect(stored).toEqual({
      plugin: 'watcher',
      version: '1.0.0',
      acceptedAt: clock.now(),
      reason: 'first_install',
      manifest: { runtime: 'native', permissions: ['state:read:sensor.*', 'state:write:light.kitchen'], subscriptions: { entities: ['sensor.*'] } },
    });
    await expect(registry.acceptedGrant('watcher')).resolves.toEqual(stored);
  });

  it('refuses a reload with a widened manifest, listing each widening, and the old version keeps handling events', async () => {
    const { registry, core, of } = setup({ grants: new MemoryStore() });
    const seen: string[] = [];
    await registry.load(v1(), recording(seen, 'v1:'));
    const wider = v1({
      version: '1.1.0',
      permissions: ['state:read:sensor.*', 'state:write:light.*', 'state:read:lock.*'],
      subscriptions: { entities: ['sensor.*', 'lock.*'] },
      limits: { queue_capacity: 4096 },
    });
    const error = (await registry.reload('watcher', { manifest: wider, code: recording(seen, 'v2:') }).catch((e: unknown) => e)) as HomecoreError;
    expect(error).toMatchObject({ code: ErrorCode.UPGRADE_NOT_ACCEPTED, plugin: 'watcher' });
    expect(error.message).toContain('version 1.1.0 asks for more than was accepted (version 1.0.0)');
    expect(error.message).toContain('the previous version keeps running');
    expect(error.message).toContain('accept');
    const differences = error.details?.differences as { field: string; pointer: string; new: unknown }[];
    expect(differences.map((d) => [d.field, d.pointer, d.new])).toEqual([
      ['permissions', '/permissions/1', 'state:write:light.*'],
      ['permissions', '/permissions/2', 'state:read:lock.*'],
      ['subscriptions.entities', '/subscriptions/entities/1', 'lock.*'],
    ]);
    expect(of('upgrade_refused')).toEqual([expect.objectContaining({ plugin: 'watcher', version: '1.1.0', differences, error })]);
    expect(of('reload_failed')).toEqual([]);

    // Setting a limit that was unset (the host's cap) is narrower, so it is not among the differences.
    // The old version is untouched.
    expect(registry.get('watcher')?.manifest.version).toBe('1.0.0');
    expect(registry.get('watcher')?.state).toBe('loaded');
    core.setState('sensor.temp', '21', {}, userContext(core));
    await registry.idle();
    expect(seen).toEqual(['v1:sensor.temp']);
  });

  it('accepts a narrower version, stores it as the grant and logs it; going back to the wider one is then refused', async () => {
    const grants = new MemoryStore<AcceptedGrant>();
    const { registry, of } = setup({ grants });
    await registry.load(v1({ limits: { timers: 10 } }), { setup() {} });
    const narrower = v1({ version: '1.1.0', permissions: ['state:read:sensor.kitchen_*'], limits: { timers: 5 } });
    await registry.reload('watcher', { manifest: narrower });
    expect(registry.get('watcher')?.manifest.version).toBe('1.1.0');
    const stored = of('grant_stored').at(-1);
    expect(stored).toMatchObject({ plugin: 'watcher', reason: 'narrower', version: '1.1.0' });
    expect(stored?.narrowings.map((n) => n.message)).toEqual([
      'gives up part of state:read:sensor.* (now: sensor.kitchen_*)',
      'gives up state:write:light.kitchen: it asks for no state:write claim',
      'limits.timers lowered from 10 to 5',
    ]);
    expect((await grants.load()).watcher).toMatchObject({ version: '1.1.0', reason: 'narrower' });
    await expect(registry.reload('watcher', { manifest: v1({ version: '1.2.0', limits: { timers: 10 } }) })).rejects.toMatchObject({
      code: ErrorCode.UPGRADE_NOT_ACCEPTED,
    });
  });

  it('lets a refused version through once it is accepted (acceptUpgrade), and the new version runs', async () => {
    const { registry, core, of } = setup({ grants: new MemoryStore() });
    const seen: string[] = [];
    await registry.load(v1(), recording(seen, 'v1:'));
    const wider = v1({ version: '2.0.0', subscriptions: { entities: ['sensor.*', 'binary_sensor.*'] }, permissions: ['state:read:*'] });
    await expect(registry.reload('watcher', { manifest: wider, code: recording(seen, 'v2:') })).rejects.toMatchObject({ code: ErrorCode.UPGRADE_NOT_ACCEPTED });

    const acceptance = await registry.acceptUpgrade('watcher');
    expect(acceptance.previous).toMatchObject({ version: '1.0.0', reason: 'first_install' });
    expect(acceptance.grant).toMatchObject({ version: '2.0.0', reason: 'accepted' });
    expect(acceptance.comparison?.widenings.map((w) => w.new)).toEqual(['state:read:*', 'binary_sensor.*']);
    expect(of('grant_stored').at(-1)).toMatchObject({ reason: 'accepted', version: '2.0.0', message: expect.stringContaining('with 2 widening(s)') });

    await registry.reload('watcher', { manifest: wider, code: recording(seen, 'v2:') });
    core.setState('binary_sensor.door', 'on', {}, userContext(core));
    await registry.idle();
    expect(seen).toEqual(['v2:binary_sensor.door']);
    // Nothing is waiting to be accepted any more.
    await expect(registry.acceptUpgrade('watcher')).rejects.toMatchObject({ code: ErrorCode.OPERATION_NOT_ALLOWED, plugin: 'watcher' });
  });

  it('lets a version accepted with acceptManifest through, before it was ever refused', async () => {
    const { registry } = setup({ grants: new MemoryStore() });
    await registry.load(v1(), { setup() {} });
    const wider = v1({ version: '1.1.0', services: [{ name: 'flash' }] });
    await registry.acceptManifest(wider);
    await registry.reload('watcher', { manifest: wider });
    expect(registry.get('watcher')?.manifest.version).toBe('1.1.0');
    await expect(registry.acceptManifest({ domain: 'Not A Domain' })).rejects.toMatchObject({ code: ErrorCode.MANIFEST_INVALID });
  });

  it('compares a load of a plugin seen before, after an unload, with its grant', async () => {
    const { registry } = setup({ grants: new MemoryStore() });
    await registry.load(v1(), { setup() {} });
    await registry.unload('watcher');
    await expect(registry.load(v1({ version: '1.1.0', isolation: 'none', runtime: 'native', services: [{ name: 'x' }] }), { setup() {} })).rejects.toMatchObject({
      code: ErrorCode.UPGRADE_NOT_ACCEPTED,
      message: expect.stringContaining('it is not loaded'),
    });
    expect(registry.get('watcher')).toBeUndefined();
    // The same version as accepted loads again.
    await registry.load(v1(), { setup() {} });
    expect(registry.get('watcher')?.state).toBe('loaded');
  });

  it('refuses a widened reload of a plugin whose setup failed, leaving it as it was', async () => {
    const { registry } = setup({ grants: new MemoryStore() });
    const broken = { setup: () => Promise.reject(new Error('no bridge')) };
    await expect(registry.load(v1(), broken)).rejects.toMatchObject({ code: ErrorCode.SETUP_FAILED });
    await expect(registry.reload('watcher', { manifest: v1({ permissions: ['state:read:*'] }), code: { setup() {} } })).rejects.toMatchObject({
      code: ErrorCode.UPGRADE_NOT_ACCEPTED,
      message: expect.stringContaining('the previous version stays setup_error'),
    });
    expect(registry.get('watcher')).toMatchObject({ state: 'setup_error', manifest: expect.objectContaining({ permissions: v1().permissions }) });
    // The accepted manifest with working code loads.
    await registry.reload('watcher', { code: { setup() {} } });
    expect(registry.get('watcher')?.state).toBe('loaded');
  });

  it('does not compare a reload that keeps the manifest (new code only)', async () => {
    const { registry, of } = setup({ grants: new MemoryStore() });
    await registry.load(v1(), { setup() {} });
    await registry.reload('watcher', { code: { setup() {} } });
    expect(of('plugin_reloaded')).toHaveLength(1);
    expect(of('grant_stored')).toHaveLength(1); // the first install only
  });

  it('without a grant store, compares nothing and refuses to accept', async () => {
    const { registry, of } = setup();
    await registry.load(v1(), { setup() {} });
    await registry.reload('watcher', { manifest: v1({ permissions: ['state:read:*', 'state:write:*'] }) });
    expect(of('grant_stored')).toEqual([]);
    await expect(registry.acceptedGrant('watcher')).resolves.toBeUndefined();
    await expect(registry.acceptManifest(v1())).rejects.toMatchObject({
      code: ErrorCode.OPERATION_NOT_ALLOWED,
      message: expect.stringContaining('pass options.grants'),
    });
  });

  it('refuses a plugin whose first grant cannot be stored, since the next start would trust anything', async () => {
    const failing = new MemoryStore<AcceptedGrant>();
    failing.save = () => Promise.reject(new Error('disk full'));
    const { registry, of } = setup({ grants: failing });
    await expect(registry.load(v1(), { setup() {} })).rejects.toMatchObject({
      plugin: 'watcher',
      message: expect.stringContaining('its first grant could not be stored, so it is not loaded'),
    });
    expect(registry.get('watcher')).toBeUndefined();
    expect(of('grant_stored')).toEqual([]);
  });

  it('reports a store that cannot be read for every plugin, and loads none of them', async () => {
    const broken = { load: () => Promise.reject(new Error('unreadable')), save: () => Promise.resolve() };
    const { registry } = setup({ grants: broken });
    const report = await registry.loadAll([
      { manifest: v1(), code: { setup() {} } },
      { manifest: manifest('other'), code: { setup() {} } },
    ]);
    expect(report.loaded).toEqual([]);
    expect(report.errors.map((e) => [e.plugin, e.message.includes('the accepted grants cannot be read')])).toEqual([
      ['watcher', true],
      ['other', true],
    ]);
  });

  it('stores the grants of many plugins loaded at once in the store, none lost', async () => {
    const grants = new MemoryStore<AcceptedGrant>();
    const { registry } = setup({ grants });
    const names = Array.from({ length: 12 }, (_, i) => `plugin_${i}`);
    const report = await registry.loadAll(names.map((name) => ({ manifest: manifest(name), code: { setup() {} } })));
    expect(report.loaded.sort()).toEqual([...names].sort());
    expect(Object.keys(await grants.load()).sort()).toEqual([...names].sort());
  });
});

describe('the upgrade rule across restarts (file store)', () => {
  let base: string;
  let plugins: string;
  let data: string;
  const write = (folder: string, file: string, content: unknown) => {
    mkdirSync(join(plugins, folder), { recursive: true });
    writeFileSync(join(plugins, folder, file), typeof content === 'string' ? content : JSON.stringify(content));
  };

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'hc-upgrade-'));
    plugins = join(base, 'plugins');
    data = join(base, 'data');
    mkdirSync(plugins);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('refuses at start-up a folder whose manifest asks for more than the stored grant, and loads the others', async () => {
    write('watcher', 'manifest.json', v1());
    write('watcher', 'index.js', 'export default {}');
    write('other', 'manifest.json', manifest('other'));
    write('other', 'index.js', 'export default {}');
    const first = setup({ grants: fileGrantStore(data) });
    expect((await first.registry.loadDirectory(plugins)).loaded.sort()).toEqual(['other', 'watcher']);
    await first.registry.unloadAll();
    const file = JSON.parse(readFileSync(join(data, 'homecore.grants.json'), 'utf8')) as { format: string; version: number; records: Record<string, unknown> };
    expect(file).toMatchObject({ format: 'homecore.grants', version: 1 });
    expect(Object.keys(file.records).sort()).toEqual(['other', 'watcher']);

    // A new version appears on disk while the host is down.
    write('watcher', 'manifest.json', v1({ version: '1.1.0', permissions: ['state:read:sensor.*', 'state:write:lock.front_door'] }));
    const second = setup({ grants: fileGrantStore(data) });
    const report = await second.registry.loadDirectory(plugins);
    expect(report.loaded).toEqual(['other']);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ code: ErrorCode.UPGRADE_NOT_ACCEPTED, plugin: 'watcher', message: expect.stringContaining('it is not loaded') });
    expect((report.errors[0]?.details?.differences as { new: string }[]).map((d) => d.new)).toEqual(['state:write:lock.front_door']);
    expect(second.registry.get('watcher')).toBeUndefined();

    // The operator accepts it (through another registry on the same data, as `homecore accept` does); the next start loads it.
    const operator = setup({ grants: fileGrantStore(data) });
    await operator.registry.acceptManifest(JSON.parse(readFileSync(join(plugins, 'watcher', 'manifest.json'), 'utf8')));
    const third = setup({ grants: fileGrantStore(data) });
    expect((await third.registry.loadDirectory(plugins)).loaded.sort()).toEqual(['other', 'watcher']);
    await third.registry.unloadAll();
  });

  it('refuses a reload from disk of a widened folder; the old version keeps running until accepted', async () => {
    write('watcher', 'manifest.json', v1());
    write('watcher', 'index.js', 'export default {}');
    const { registry } = setup({ grants: fileGrantStore(data) });
    await registry.loadDirectory(plugins);
    write('watcher', 'manifest.json', v1({ version: '1.1.0', host_imports_required: ['hc_log'], runtime: 'native', isolation: 'none', limits: { setup_timeout_ms: 100 } }));
    await registry.reload('watcher'); // narrower (limits set, host imports listed): stored
    expect(registry.get('watcher')?.manifest.version).toBe('1.1.0');
    write('watcher', 'manifest.json', v1({ version: '1.2.0', host_imports_required: ['hc_log'] })); // limit removed: wider
    await expect(registry.reload('watcher')).rejects.toMatchObject({ code: ErrorCode.UPGRADE_NOT_ACCEPTED, message: expect.stringContaining('limits.setup_timeout_ms removed') });
    expect(registry.get('watcher')?.manifest.version).toBe('1.1.0');
    await registry.acceptUpgrade('watcher');
    await registry.reload('watcher');
    expect(registry.get('watcher')?.manifest.version).toBe('1.2.0');
    await registry.unloadAll();
  });
});
