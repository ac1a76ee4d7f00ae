import { ConfigEntryError, ConfigEntryNotReady, ErrorCode, type ConfigEntry } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

describe('config entries', () => {
  it('ConfigEntryNotReady moves to setup_retry and retries with HA backoff plus jitter', async () => {
    const { registry, clock, runtime, of } = setup({ random: () => 0.25 });
    let attempts = 0;
    const id = await registry.load(manifest('shy'), {
      setup() {
        attempts++;
        if (attempts <= 6) throw new ConfigEntryNotReady('device offline');
      },
    });
    expect(id).toBe('shy');
    expect(registry.get('shy')).toMatchObject({ state: 'setup_retry', reason: expect.stringContaining('device offline') });
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      const [wait] = clock.pending();
      waits.push(wait!);
      await clock.advance(wait!);
    }
    // 5, 10, 20, 40, 80, 80 s, each plus 250 ms of jitter from the injected random source.
    expect(waits).toEqual([5250, 10250, 20250, 40250, 80250, 80250]);
    expect(registry.get('shy')?.state).toBe('loaded');
    expect(runtime.instances.map((i) => i.disposed)).toEqual([1, 1, 1, 1, 1, 1, 0]);
    expect(of('setup_failed').map((a) => a.retryInMs)).toEqual(waits);
    expect(of('plugin_loaded')).toHaveLength(1);
  });

  it('a plugin in setup_retry receives no events; unload cancels the retry', async () => {
    const { registry, clock, core, runtime } = setup();
    await registry.load(manifest('shy', { permissions: ['state:read:*'], subscriptions: { entities: ['*'] } }), {
      setup() {
        throw new ConfigEntryNotReady('later');
      },
    });
    core.setState('sensor.a', '1', {}, userContext(core));
    await registry.idle();
    expect(runtime.instances[0]?.received).toEqual([]);
    expect(clock.pending()).toHaveLength(1);
    await registry.unload('shy');
    expect(clock.pending()).toEqual([]);
    await clock.advance(100_000);
    expect(runtime.instances).toHaveLength(1);
    expect(registry.get('shy')).toBeUndefined();
  });

  it('ConfigEntryError and other errors move to setup_error with the reason', async () => {
    const { registry } = setup();
    await expect(
      registry.load(manifest('denied'), {
        setup() {
          throw new ConfigEntryError('bad credentials');
        },
      }),
    ).rejects.toMatchObject({ code: ErrorCode.CONFIG_ENTRY_ERROR, plugin: 'denied' });
    expect(registry.get('denied')).toMatchObject({ state: 'setup_error', reason: expect.stringContaining('bad credentials') });
    expect(registry.getConfig('denied')?.state).toBe('setup_error');
  });

  it('options updates go to onConfigUpdate when the plugin has it', async () => {
    const { registry, runtime } = setup();
    const updates: ConfigEntry[] = [];
    await registry.load(manifest('tunable'), { setup() {}, onConfigUpdate: (entry) => void updates.push(entry) }, { config: { title: 'Tune', options: { level: 1 } } });
    const before = registry.getConfig('tunable')!;
    await registry.updateConfigEntry('tunable', { options: { level: 2 } });
    expect(updates.map((e) => e.options)).toEqual([{ level: 2 }]);
    expect(registry.getConfig('tunable')).toMatchObject({ title: 'Tune', options: { level: 2 }, entry_id: before.entry_id });
    expect(runtime.instances).toHaveLength(1);
    await registry.updateConfigEntry('tunable', { title: 'Renamed' });
    expect(updates).toHaveLength(1);
    expect(registry.getConfig('tunable')?.title).toBe('Renamed');
  });

  it('options updates reload a plugin without onConfigUpdate, which then sees the new entry', async () => {
    const { registry, runtime } = setup();
    const seenOptions: unknown[] = [];
    await registry.load(manifest('plain'), { setup: (ctx) => void seenOptions.push(ctx.configEntry.options) });
    await registry.updateConfigEntry('plain', { options: { mode: 'eco' } });
    expect(runtime.instances).toHaveLength(2);
    expect(runtime.instances[0]).toMatchObject({ teardowns: 1, disposed: 1 });
    expect(seenOptions).toEqual([{}, { mode: 'eco' }]);
    expect(registry.get('plain')?.state).toBe('loaded');
  });

  it('validates updated data against config_schema', async () => {
    const { registry } = setup();
    const schema = { type: 'object', properties: { port: { type: 'integer' } } };
    await registry.load(manifest('typed', { config_schema: schema }), { setup() {} }, { config: { data: { port: 1 } } });
    await expect(registry.updateConfigEntry('typed', { data: { port: 'x' } })).rejects.toMatchObject({
      code: ErrorCode.CONFIG_INVALID,
      message: expect.stringContaining('/port'),
    });
    expect(registry.getConfig('typed')?.data).toEqual({ port: 1 });
  });
});
