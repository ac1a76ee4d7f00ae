// The CLI and the test kit tell the same story: what an author's test sees through
// @homecore/testing is what `homecore conformance` records for the same folder and scenario.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createTestHome, describeAction } from '@homecore/testing';
import { THRESHOLD_MANIFEST, THRESHOLD_PLUGIN, homecore, manifest, pluginDir, tempFile } from './helpers.js';

describe('a plugin folder under the test kit and under the CLI', () => {
  it('takes the same actions, line for line, of the kinds conformance compares', async () => {
    // Writes its alert and a no-op copy, calls a service nobody provides, and is denied a write.
    const plugin = THRESHOLD_PLUGIN.replace(
      "ctx.setState('binary_sensor.alert', 'on', { temperature: value });",
      "{ ctx.setState('binary_sensor.alert', 'on', { temperature: value }); ctx.setState('binary_sensor.alert', 'on', { temperature: value }); ctx.callService('notify', 'send', { message: 'hot' }).catch(() => {}); try { ctx.setState('lock.door', 'unlocked'); } catch {} }",
    );
    const dir = pluginDir({
      threshold: { 'manifest.json': { ...THRESHOLD_MANIFEST, permissions: [...(THRESHOLD_MANIFEST.permissions as string[]), 'service:call:notify.send'] }, 'index.js': plugin },
      bystander: { 'manifest.json': manifest('bystander'), 'index.js': 'export default { setup() {} };' },
    });
    const story = ['{"set": "sensor.temp", "state": "26"}', '{"set": "sensor.temp", "state": "22"}', '{"wait": 1000}', '{"set": "sensor.temp", "state": "19"}'];

    const home = await createTestHome();
    let kit: string[];
    let compared: string[];
    try {
      await home.loadFolder(join(dir, 'threshold'));
      await home.set('sensor.temp', '26');
      await home.set('sensor.temp', '22');
      await home.advance(1000);
      await home.set('sensor.temp', '19');
      kit = home.lines();
      // What conformance compares: writes (no-op ones too), service calls (to missing services too), fired events, denials.
      compared = home
        .actions()
        .filter((a) => a.kind !== 'log' && a.kind !== 'error')
        .map(describeAction);
    } finally {
      await home.close();
    }
    expect(kit).toEqual([
      'threshold: set binary_sensor.alert = "on" {"temperature":26}',
      'threshold: report binary_sensor.alert = "on" {"temperature":26}',
      // The denial is synchronous; the failed call is recorded when it fails, after it.
      'threshold: denied state:write lock.door',
      'threshold: call notify.send {"message":"hot"} (no such service)',
      'threshold: set binary_sensor.alert = "off" {"temperature":19}',
    ]);

    const result = await homecore('conformance', dir, dir, '--scenario', tempFile('story.jsonl', story.join('\n')), '--json');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { reference: { actions: string[] } };
    expect(report.reference.actions.map((line) => line.replace(/^\[line \d+\] /, ''))).toEqual(compared);
    expect(compared).toEqual(kit);
  });
});
