import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

const plugin = { setup() {} };

describe('subscriptions no permission covers', () => {
  it('warns at load, naming what will never be delivered and the claim to add', async () => {
    const { registry, of } = setup();
    await registry.load(
      manifest('blind', {
        permissions: ['state:read:sensor.*', 'event:subscribe:zwave_*'],
        subscriptions: { entities: ['sensor.kitchen', 'sensor.*', 'light.hall'], events: ['zwave_scene', 'call_service'] },
      }),
      plugin,
    );
    expect(of('warning').map((w) => [w.plugin, w.message])).toEqual([
      ['blind', 'subscriptions.entities "light.hall" will never be delivered: no state:read permission covers it; add "state:read:light.hall" to permissions'],
      [
        'blind',
        'subscriptions.events "call_service" will never be delivered: no event:subscribe permission covers it; add "event:subscribe:call_service" to permissions',
      ],
    ]);
    expect(registry.get('blind')?.state).toBe('loaded');
  });

  it('says when a pattern is only partly covered, and when state events lack any state:read', async () => {
    const { registry, of } = setup();
    await registry.load(
      manifest('partial', {
        permissions: ['state:read:sensor.*', 'event:subscribe:*'],
        subscriptions: { entities: ['*', '*.kitchen'], events: ['state_changed', 'anything_*'] },
      }),
      plugin,
    );
    const messages = of('warning').map((w) => w.message);
    expect(messages).toHaveLength(2);
    expect(messages[0]).toMatch(/^subscriptions\.entities "\*" is only partly covered by state:read \(sensor\.\*\).*add "state:read:\*"/);
    expect(messages[1]).toMatch(/^subscriptions\.entities "\*\.kitchen" is only partly covered by state:read \(sensor\.\*\)/);

    const none = setup();
    await none.registry.load(manifest('deaf', { subscriptions: { events: ['state_changed'] } }), plugin);
    expect(none.of('warning').map((w) => w.message)).toEqual([
      expect.stringMatching(/^subscriptions\.events "state_changed" will never be delivered: .*add "state:read:<entity pattern>"/),
    ]);
  });

  it('is silent when every subscription is covered, including by a lone *', async () => {
    const { registry, of } = setup();
    await registry.load(
      manifest('fine', { permissions: ['state:read:*', 'event:subscribe:*'], subscriptions: { entities: ['light.*', 'sensor.a'], events: ['state_changed', 'x_*'] } }),
      plugin,
    );
    expect(of('warning')).toEqual([]);
  });

  it('reports them in loadAll, discover and loadDirectory (once)', async () => {
    const uncovered = manifest('lonely', { permissions: [], subscriptions: { entities: ['sensor.a'] } });
    const { registry } = setup();
    const report = await registry.loadAll([{ manifest: uncovered, code: plugin }]);
    expect(report.loaded).toEqual(['lonely']);
    expect(report.warnings).toEqual([expect.stringMatching(/^lonely: subscriptions\.entities "sensor\.a" will never be delivered/)]);

    const base = mkdtempSync(join(tmpdir(), 'hc-coverage-'));
    try {
      mkdirSync(join(base, 'lonely'));
      writeFileSync(join(base, 'lonely', 'manifest.json'), JSON.stringify(uncovered));
      writeFileSync(join(base, 'lonely', 'index.js'), 'export default {}');
      const fresh = setup();
      const found = await fresh.registry.discover(base);
      expect(found.warnings.filter((w) => w.includes('never be delivered'))).toHaveLength(1);
      const loaded = await fresh.registry.loadDirectory(base);
      expect(loaded.warnings.filter((w) => w.includes('never be delivered'))).toHaveLength(1);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('warns again when a reload brings a manifest with an uncovered subscription', async () => {
    const { registry, of } = setup();
    await registry.load(manifest('moving', { permissions: ['state:read:sensor.a'], subscriptions: { entities: ['sensor.a'] } }), plugin);
    expect(of('warning')).toEqual([]);
    await registry.reload('moving', { manifest: manifest('moving', { permissions: ['state:read:sensor.a'], subscriptions: { entities: ['sensor.b'] } }) });
    expect(of('warning').map((w) => w.message)).toEqual([expect.stringContaining('"state:read:sensor.b"')]);
  });
});
