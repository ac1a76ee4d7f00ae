import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type BusEvent } from '@homecore/core-traits';
import { createHomecore, type IsolationLevel } from '@homecore/runtime-native';

const dir = fileURLToPath(new URL('./fixtures/all-levels/', import.meta.url));
const manifest = {
  domain: 'levels',
  name: 'Levels',
  version: '1.0.0',
  runtime: 'native',
  entry: 'index.mjs',
  permissions: ['state:read:sensor.levels_*', 'state:write:sensor.levels_*', 'event:fire:levels_seen', 'event:subscribe:levels_ping', 'service:call:levels.bump'],
  subscriptions: { entities: ['sensor.levels_input'] },
  services: [{ name: 'bump' }],
};

/** What the plugin did, as the core saw it: writes, fired events and service calls, in order. */
async function actionsAt(level: IsolationLevel): Promise<string[]> {
  const hc = createHomecore({ isolation: { minimum: level }, timeChangedMs: 0 });
  const actions: string[] = [];
  hc.core.listen((event: BusEvent) => {
    if (event.context.user_id !== 'plugin:levels') return;
    const data = event.data as Record<string, unknown>;
    if (event.event_type === 'state_changed') {
      const s = data.new_state as { entity_id: string; state: string; attributes: unknown } | null;
      actions.push(`set ${String(data.entity_id)}=${s?.state ?? '(removed)'} ${JSON.stringify(s?.attributes ?? null)}`);
    } else if (event.event_type === 'state_reported') {
      const s = data.new_state as { state: string };
      actions.push(`set ${String(data.entity_id)}=${s.state} (unchanged)`);
    } else actions.push(`${event.event_type} ${JSON.stringify(data)}`);
  });
  try {
    await hc.registry.load(manifest, `${dir}index.mjs`, { baseDir: dir, config: { data: { label: 'first' } } });
    const context = hc.core.createContext();
    for (const value of ['a', 'b', 'later']) {
      hc.core.setState('sensor.levels_input', value, {}, { context });
      await hc.registry.idle();
    }
    hc.core.fireEvent('levels_ping', { n: 7 }, context);
    await hc.registry.idle();
    await new Promise((resolve) => setTimeout(resolve, 120)); // the callLater timer (registry clock: the system clock)
    await hc.registry.idle();
    await hc.registry.updateConfigEntry('levels', { options: { speed: 3 } });
    await hc.registry.idle();
    const stats = hc.registry.stats().plugins.levels!;
    expect(stats.errors).toBe(0);
    expect(stats.permissionDenials).toBe(3); // each light.forbidden write was denied and audited once
    expect(hc.registry.audit().every((d) => d.plugin === 'levels' && d.target === 'light.forbidden')).toBe(true);
  } finally {
    await hc.close();
  }
  return actions;
}

describe('one plugin module at every isolation level', () => {
  it('takes the same actions in process, in a worker and in a child process', async () => {
    const none = await actionsAt('none');
    expect(none.length).toBeGreaterThan(20);
    expect(none).toContain('set sensor.levels_later=fired {}');
    expect(none).toContain('set sensor.levels_denied=HC_ERR_PERMISSION_DENIED {}');
    expect(await actionsAt('worker')).toEqual(none);
    expect(await actionsAt('process')).toEqual(none);
  });

  it('refuses an isolated plugin given as an object, naming what to do', async () => {
    const hc = createHomecore({ isolation: { minimum: 'worker' }, timeChangedMs: 0 });
    try {
      await expect(hc.registry.load(manifest, { setup() {} })).rejects.toMatchObject({ code: ErrorCode.ISOLATION_UNAVAILABLE });
    } finally {
      await hc.close();
    }
  });

  it('keeps a trusted plugin where its manifest says, and raises the others to the host minimum', async () => {
    const { isolationFor } = await import('@homecore/runtime-native');
    expect(isolationFor({ ...manifest, isolation: 'process' } as never, { minimum: 'worker' })).toBe('process');
    expect(isolationFor(manifest as never, { minimum: 'worker' })).toBe('worker');
    expect(isolationFor(manifest as never, { minimum: 'process', trusted: ['levels'] })).toBe('none');
  });
});
