import { describe, expect, it } from 'vitest';
import { THRESHOLD_MANIFEST, THRESHOLD_PLUGIN, homecore, pluginDir, tempFile } from './helpers.js';

const story = tempFile(
  'story.jsonl',
  ['{"set": "sensor.temp", "state": "26"}', '{"set": "sensor.temp", "state": "22"}', '{"wait": 1000}', '{"set": "sensor.temp", "state": "19"}', '{"call": "no.such_service"}'].join('\n'),
);

describe('homecore conformance', () => {
  it('passes when two plugin directories take the same actions, whatever their code looks like', async () => {
    const reference = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    // The same behaviour written differently: a plain object, attributes in another key order.
    const port = `let ctx;
      export default { setup(c) { ctx = c; }, onStateChanged(e) {
        const v = Number(e.data.new_state?.state);
        if (v > 25) ctx.setState('binary_sensor.alert', 'on', { temperature: v });
        if (v < 20) ctx.setState('binary_sensor.alert', 'off', { temperature: v });
      } };`;
    const candidate = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': port } });
    const result = await homecore('conformance', reference, candidate, '--scenario', story);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('CONFORMANT: the same 2 actions, in the same order');
  });

  it('fails and names the first differing action and where it happened', async () => {
    const reference = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const candidate = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN.replace('value > 25', 'value > 27') } });
    const result = await homecore('conformance', reference, candidate, '--scenario', story, '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.conformant).toBe(false);
    expect(report.reference.actions[0]).toBe('[line 1] threshold: set binary_sensor.alert = "on" {"temperature":26}');
    expect(report.candidate.actions[0]).toBe('[line 4] threshold: set binary_sensor.alert = "off" {"temperature":19}');
    // Aligned: the one action the candidate left out is one difference; the common "off" is not another.
    expect(report.differences).toEqual(['actions #1: missing  [line 1] threshold: set binary_sensor.alert = "on" {"temperature":26}']);
    expect(report.reference.failures).toEqual(['[line 5] call no.such_service {}: HC_ERR_SERVICE_NOT_FOUND']);
  });

  it('compares writes that change nothing too, and aligns an extra one as one difference', async () => {
    const reference = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    // The candidate writes its alert twice: the second write changes nothing (a state_reported).
    const twice = THRESHOLD_PLUGIN.replace("ctx.setState('binary_sensor.alert', 'on', { temperature: value });", "{ ctx.setState('binary_sensor.alert', 'on', { temperature: value }); ctx.setState('binary_sensor.alert', 'on', { temperature: value }); }");
    expect(twice).not.toBe(THRESHOLD_PLUGIN);
    const candidate = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': twice } });
    const report = JSON.parse((await homecore('conformance', reference, candidate, '--scenario', story, '--json')).stdout);
    expect(report.conformant).toBe(false);
    expect(report.differences).toEqual(['actions #2: extra    [line 1] threshold: report binary_sensor.alert = "on" {"temperature":26}']);
  });

  it('counts a plugin that fails to load as a difference', async () => {
    const reference = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const candidate = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': 'export default { setup() { throw new Error("no"); } };' } });
    const result = await homecore('conformance', reference, candidate, '--scenario', story);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('NOT CONFORMANT');
    expect(result.stdout).toContain('loaded plugins #1: expected threshold loaded');
    expect(result.stdout).toContain('got      threshold setup_error');
  });

  it('needs two directories and a scenario', async () => {
    expect((await homecore('conformance', '.', '--scenario', story)).stderr).toContain('takes exactly two paths, got "."');
    expect((await homecore('conformance', '.', '.')).stderr).toContain('needs --scenario');
    expect((await homecore('conformance', '/nonexistent', '.', '--scenario', story)).stderr).toContain('reference plugin directory /nonexistent does not exist');
  });
});
