import { ConfigEntryNotReady, type StateChangedEvent } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, manifest, setup, userContext } from './fakes.js';

describe('idle()', () => {
  it('waits for a setup retry that a timer started, until the plugin is loaded', async () => {
    const { registry, clock } = setup();
    let attempts = 0;
    await registry.load(manifest('shy'), {
      async setup() {
        attempts++;
        await Promise.resolve();
        if (attempts === 1) throw new ConfigEntryNotReady('hub offline');
      },
    });
    expect(registry.get('shy')?.state).toBe('setup_retry');
    clock.skip(10_000); // fires the retry timer synchronously; nothing has settled yet
    await registry.idle();
    expect(attempts).toBe(2);
    expect(registry.list().map((p) => [p.id, p.state])).toEqual([['shy', 'loaded']]);
  });

  it('waits for a retry that fails again, then resolves with the entry back in setup_retry', async () => {
    const { registry, clock } = setup();
    await registry.load(manifest('never'), {
      setup() {
        throw new ConfigEntryNotReady('still offline');
      },
    });
    clock.skip(10_000);
    await registry.idle();
    expect(registry.get('never')?.state).toBe('setup_retry');
    expect(clock.pending()).toHaveLength(1);
  });

  it('waits for a load and a reload in flight, and for the events queued behind them', async () => {
    const { registry, core } = setup();
    const gate = deferred();
    const seen: string[] = [];
    const loading = registry.load(manifest('late', { permissions: ['state:read:*'], subscriptions: { entities: ['sensor.a'] } }), {
      setup: () => gate.promise,
      onStateChanged: (e: StateChangedEvent) => void seen.push(e.data.new_state?.state ?? ''),
    });
    let idle = false;
    const done = registry.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    core.setState('sensor.a', '1', {}, userContext(core));
    gate.resolve();
    await done;
    expect(registry.get('late')?.state).toBe('loaded');
    expect(seen).toEqual(['1']);
    await loading;

    const again = deferred();
    const reloading = registry.reload('late', { code: { setup: () => again.promise } });
    idle = false;
    const reloaded = registry.idle().then(() => (idle = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(idle).toBe(false);
    again.resolve();
    await reloaded;
    await reloading;
    expect(registry.get('late')?.state).toBe('loaded');
  });
});
