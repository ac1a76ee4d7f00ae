import { type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup, userContext } from './fakes.js';

const sensors = (extra: Record<string, unknown> = {}) =>
  manifest('watcher', { permissions: ['state:read:sensor.*'], subscriptions: { entities: ['sensor.*'] }, ...extra });

/** A plugin recording the entities whose changes reach it. */
function recording(seen: string[], gate?: Promise<void>) {
  return {
    async setup() {
      if (gate !== undefined) {
        await gate;
        throw new Error('v2 is broken');
      }
    },
    onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.entity_id),
  };
}

describe('reload: which version receives the events of the swap', () => {
  it('after a failed reload, the old version receives only what it subscribed to and may read', async () => {
    const { registry, core } = setup();
    const v1: string[] = [];
    await registry.load(sensors(), recording(v1));
    const gate = deferred();
    const reloading = registry
      .reload('watcher', {
        manifest: sensors({ permissions: ['state:read:*'], subscriptions: { entities: ['sensor.*', 'lock.*'] } }),
        code: recording([], gate.promise),
      })
      .catch((e: unknown) => e);
    await flush();
    core.setState('lock.front_door', 'unlocked', {}, userContext(core)); // selected only by v2
    core.setState('sensor.temp', '21', {}, userContext(core)); // selected by both
    await flush();
    gate.resolve();
    expect(await reloading).toMatchObject({ code: 'HC_ERR_RELOAD_FAILED' });
    await registry.idle();
    expect(v1).toEqual(['sensor.temp']);
    expect(registry.stats().plugins.watcher?.queueDepth).toBe(0);
  });

  it('events the old version subscribes to that arrive during a successful swap reach the new version', async () => {
    const { registry, core } = setup();
    const v1: string[] = [];
    const v2: string[] = [];
    await registry.load(sensors(), recording(v1));
    const gate = deferred();
    const reloading = registry.reload('watcher', {
      code: { setup: () => gate.promise, onStateChanged: (e: StateChangedEvent) => void v2.push(e.data.entity_id) },
    });
    await flush();
    core.setState('sensor.temp', '21', {}, userContext(core));
    await flush();
    gate.resolve();
    await reloading;
    await registry.idle();
    expect(v1).toEqual([]);
    expect(v2).toEqual(['sensor.temp']);
  });
});
