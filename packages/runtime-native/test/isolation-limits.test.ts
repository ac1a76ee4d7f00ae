import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { HomeCorePlugin } from '@homecore/core-traits';
import { createHomecore } from '@homecore/runtime-native';

const folder = (name: string) => fileURLToPath(new URL(`./fixtures/${name}/`, import.meta.url));
const manifest = (domain: string, extra: Record<string, unknown> = {}) => ({ domain, name: domain, version: '1.0.0', runtime: 'native', entry: 'index.mjs', ...extra });

const until = async (done: () => boolean, what: string, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('process isolation under the permission model', () => {
  it('reads its own folder only: no other reads, no writes, no child processes, workers or addons, no environment', async () => {
    const hc = createHomecore({ isolation: { minimum: 'process' }, timeChangedMs: 0 });
    try {
      await hc.registry.load(manifest('confined', { permissions: ['state:write:sensor.confined_*'] }), `${folder('confined')}index.mjs`, { baseDir: folder('confined') });
      await hc.registry.idle();
      const state = (id: string) => hc.core.getState(`sensor.confined_${id}`)?.state;
      expect(state('own_file')).toBe('allowed');
      expect(state('etc')).toBe('ERR_ACCESS_DENIED');
      expect(state('write')).toBe('ERR_ACCESS_DENIED');
      expect(state('spawn')).toBe('ERR_ACCESS_DENIED');
      expect(state('worker')).toBe('ERR_ACCESS_DENIED');
      expect(state('addon')).toBe('ERR_DLOPEN_DISABLED');
      expect(state('env')).toBe('0');
    } finally {
      await hc.close();
    }
  });
});

describe.each(['worker', 'process'] as const)('restarts at %s isolation', (level) => {
  it('re-runs setup with the same config entry after a crash while idle, and keeps the entities', async () => {
    const hc = createHomecore({ isolation: { minimum: level }, timeChangedMs: 0 });
    const warnings: string[] = [];
    hc.registry.on((a) => {
      if (a.type === 'warning') warnings.push(a.message);
    });
    try {
      const m = manifest('crasher', { permissions: ['state:read:sensor.crasher_*', 'state:write:sensor.crasher_*'], subscriptions: { entities: ['sensor.crasher_input'] } });
      await hc.registry.load(m, `${folder('crasher')}index.mjs`, { baseDir: folder('crasher') });
      const entry = hc.core.getState('sensor.crasher_setups')?.attributes.entry_id;
      hc.core.setState('sensor.crasher_input', 'idle-exit', {}, { context: hc.core.createContext() });
      await until(() => hc.core.getState('sensor.crasher_setups')?.state === '2', 'the restart');
      // The second setup read the count the first left in the core: host state survived the crash.
      expect(hc.core.getState('sensor.crasher_setups')?.attributes.entry_id).toBe(entry);
      expect(warnings.some((w) => /exited with code 9/.test(w))).toBe(true);
      hc.core.setState('sensor.crasher_input', 'after', {}, { context: hc.core.createContext() });
      await hc.registry.idle();
      expect(hc.core.getState('sensor.crasher_seen')?.state).toBe('after');
      expect(hc.registry.stats().plugins.crasher?.runtime).toMatchObject({ crashes: 1, restarts: 1 });
    } finally {
      await hc.close();
    }
  });

  it('a plugin that hangs on every event is preempted each time and ends in quarantine; a witness sees every event', async () => {
    const hc = createHomecore({
      isolation: { minimum: level, trusted: ['witness'] },
      timeChangedMs: 0,
      failurePolicy: { maxConsecutiveFailures: 2, backoffMs: 20, quarantineAfterBackoffs: 1 },
    });
    const seen: string[] = [];
    const witness: HomeCorePlugin = { setup: () => undefined, onStateChanged: (event) => void seen.push(String((event.data.new_state as { state: string }).state)) };
    try {
      await hc.registry.load(manifest('witness', { permissions: ['state:read:sensor.crasher_input'], subscriptions: { entities: ['sensor.crasher_input'] } }), witness);
      const m = manifest('crasher', {
        permissions: ['state:read:sensor.crasher_*', 'state:write:sensor.crasher_*'],
        subscriptions: { entities: ['sensor.crasher_input'] },
        limits: { handler_timeout_ms: 100 },
      });
      await hc.registry.load(m, `${folder('crasher')}index.mjs`, { baseDir: folder('crasher') });
      for (let i = 0; i < 8 && hc.registry.list().find((p) => p.id === 'crasher')?.health !== 'quarantined'; i++) {
        hc.core.setState('sensor.crasher_input', 'hang', { i }, { context: hc.core.createContext() });
        await hc.registry.idle();
        await new Promise((resolve) => setTimeout(resolve, 60)); // past the backoff
      }
      expect(hc.registry.list().find((p) => p.id === 'crasher')?.health).toBe('quarantined');
      expect(seen.length).toBeGreaterThanOrEqual(4);
      expect(seen.every((s) => s === 'hang')).toBe(true);
      // Every failure was the handler timeout (a call that timed out waiting for a restart included).
      const stats = hc.registry.stats().plugins.crasher!;
      expect(stats.errors).toBeGreaterThanOrEqual(4);
      expect(stats.lastError?.code).toBe('HC_ERR_HANDLER_TIMEOUT');
      expect(stats.runtime.preemptions).toBeGreaterThanOrEqual(1);
    } finally {
      await hc.close();
    }
  });
});

describe.each(['worker', 'process'] as const)('config entry migration at %s isolation', (level) => {
  it('runs the plugin\'s migrateEntry in its guest before setup', async () => {
    const { MemoryConfigEntryStore } = await import('@homecore/registry');
    const entry = {
      created_at: '2025-01-02T03:04:05.678000+00:00', data: { ip: '10.0.0.2' }, discovery_keys: {}, disabled_by: null, domain: 'migrating',
      entry_id: '01JGZ0000000000000000000AB', minor_version: 1, modified_at: '2025-01-02T03:04:05.678000+00:00', options: {},
      pref_disable_new_entities: false, pref_disable_polling: false, source: 'user', subentries: [], title: 'Migrating', unique_id: null, version: 1,
    };
    const hc = createHomecore({ isolation: { minimum: level }, timeChangedMs: 0, entries: new MemoryConfigEntryStore({ entries: [entry], quarantined: [] }) });
    try {
      await hc.registry.load(manifest('migrating', { config_entry_version: 2, permissions: ['state:write:sensor.migrating_*'] }), `${folder('migrating')}index.mjs`, { baseDir: folder('migrating') });
      expect(hc.registry.getConfig('migrating')).toMatchObject({ entry_id: entry.entry_id, version: 2, data: { host: '10.0.0.2' }, state: 'loaded' });
      expect(hc.core.getState('sensor.migrating_host')).toMatchObject({ state: '10.0.0.2', attributes: { version: 2 } });
    } finally {
      await hc.close();
    }
  });
});
