import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { THRESHOLD_MANIFEST, THRESHOLD_PLUGIN, homecore, manifest, pluginDir, tempFile } from './helpers.js';

// `homecore diff`, `homecore accept` and `homecore run --data-dir`: the upgrade rule from the command line.

const WIDER = {
  ...THRESHOLD_MANIFEST,
  version: '1.1.0',
  permissions: ['state:read:sensor.*', 'state:write:binary_sensor.alert', 'service:call:lock.unlock'],
  limits: { queue_capacity: 64 },
};
const NARROWER = { ...THRESHOLD_MANIFEST, version: '1.0.1', limits: { timers: 2 } };

const folder = (m: Record<string, unknown>) => join(pluginDir({ threshold: { 'manifest.json': m, 'index.js': THRESHOLD_PLUGIN } }), 'threshold');
const dataDir = () => mkdtempSync(join(tmpdir(), 'homecore-data-'));

describe('homecore diff', () => {
  it('prints the widenings first, marked, then the narrowings, and exits 1 when anything widens', async () => {
    const result = await homecore('diff', folder(THRESHOLD_MANIFEST), folder(WIDER));
    expect(result.code).toBe(1);
    const out = result.stdout;
    expect(out).toContain('threshold 1.0.0');
    expect(out).toContain('-> threshold 1.1.0');
    expect(out).toContain('WIDER: 2 change(s) the operator must accept');
    expect(out).toMatch(/\+ \/permissions\/0 +asks for state:read:sensor\.\*: no accepted state:read claim covers all of it \(accepted: sensor\.temp\)/);
    expect(out).toMatch(/\+ \/permissions\/2 +asks for service:call:lock\.unlock: no service:call claim was accepted/);
    expect(out).toContain('narrower: 1 change(s), accepted on their own');
    expect(out).toMatch(/- \/limits\/queue_capacity +limits\.queue_capacity set to 64/);
    expect(out.indexOf('WIDER')).toBeLessThan(out.indexOf('narrower'));
    expect(out).toContain('refused (HC_ERR_UPGRADE_NOT_ACCEPTED) until accepted: homecore accept');
  });

  it('exits 0 when nothing widens, and takes manifest files as well as folders', async () => {
    const old = folder(THRESHOLD_MANIFEST);
    const result = await homecore('diff', join(old, 'manifest.json'), folder(NARROWER));
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('no widening');
    expect(result.stdout).toMatch(/- \/limits\/timers +limits\.timers set to 2/);
    const same = await homecore('diff', old, old);
    expect(same.code).toBe(0);
    expect(same.stdout).toContain('accepted as it is');
  });

  it('writes one JSON object with --json', async () => {
    const result = await homecore('diff', folder(THRESHOLD_MANIFEST), folder(WIDER), '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ kind: 'diff', old: { domain: 'threshold', version: '1.0.0' }, new: { domain: 'threshold', version: '1.1.0' } });
    expect(report.widenings.map((d: { pointer: string }) => d.pointer)).toEqual(['/permissions/0', '/permissions/2']);
    expect(report.widenings[0]).toMatchObject({ kind: 'widening', field: 'permissions', old: null, new: 'state:read:sensor.*' });
    expect(report.narrowings).toHaveLength(1);
  });

  it('notes when the two folders hold different plugins', async () => {
    const result = await homecore('diff', folder(THRESHOLD_MANIFEST), join(pluginDir({ lamp: { 'manifest.json': manifest('lamp') } }), 'lamp'));
    expect(result.stdout).toContain('note: the domains differ');
  });

  it('refuses missing folders and paths with usage errors, and reports an invalid manifest with its code', async () => {
    const missing = await homecore('diff', '/nonexistent/a', folder(THRESHOLD_MANIFEST));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('/nonexistent/a does not exist: give a plugin folder');
    const empty = mkdtempSync(join(tmpdir(), 'homecore-empty-'));
    const noManifest = await homecore('diff', folder(THRESHOLD_MANIFEST), empty);
    expect(noManifest.code).toBe(2);
    expect(noManifest.stderr).toContain(`${empty} holds no readable manifest.json`);
    const one = await homecore('diff', folder(THRESHOLD_MANIFEST));
    expect(one.code).toBe(2);
    expect(one.stderr).toContain('"homecore diff" takes exactly two paths');
    const invalid = await homecore('diff', folder(THRESHOLD_MANIFEST), folder({ domain: 'threshold' }), '--json');
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ kind: 'error', code: 'HC_ERR_MANIFEST_INVALID' });
    const flag = await homecore('diff', folder(THRESHOLD_MANIFEST), folder(WIDER), '--data-dir', '/tmp');
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('"homecore diff" does not take --data-dir');
  });
});

describe('homecore accept', () => {
  it('stores the grant in <data-dir>/homecore.grants.json, saying what it replaced', async () => {
    const data = dataDir();
    const first = await homecore('accept', folder(THRESHOLD_MANIFEST), '--data-dir', data);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`accepted threshold 1.0.0 into ${join(data, 'homecore.grants.json')}`);
    expect(first.stdout).toContain('no grant was stored for it before');
    const file = JSON.parse(readFileSync(join(data, 'homecore.grants.json'), 'utf8'));
    expect(file).toMatchObject({ format: 'homecore.grants', version: 1, records: { threshold: { plugin: 'threshold', version: '1.0.0', reason: 'accepted' } } });

    const second = await homecore('accept', folder(WIDER), '--data-dir', data, '--json');
    expect(second.code).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report).toMatchObject({ kind: 'accepted', plugin: 'threshold', version: '1.1.0', previous: { version: '1.0.0', reason: 'accepted' } });
    expect(report.widenings.map((d: { new: string }) => d.new)).toEqual(['state:read:sensor.*', 'service:call:lock.unlock']);
    expect(readdirSync(data)).toEqual(['homecore.grants.json']);
  });

  it('takes the data directory from $HOMECORE_DATA_DIR, and needs one', async () => {
    const data = dataDir();
    let stdout = '';
    const { runCli } = await import('@homecore/cli');
    const code = await runCli(['accept', folder(THRESHOLD_MANIFEST)], { stdout: (t) => void (stdout += t), stderr: () => undefined, env: { HOMECORE_DATA_DIR: data } });
    expect(code).toBe(0);
    expect(stdout).toContain(join(data, 'homecore.grants.json'));

    let stderr = '';
    const without = await runCli(['accept', folder(THRESHOLD_MANIFEST)], { stdout: () => undefined, stderr: (t) => void (stderr += t), env: {} });
    expect(without).toBe(2);
    expect(stderr).toContain('"homecore accept" needs --data-dir <dir> (or $HOMECORE_DATA_DIR)');
  });

  it('reports a corrupt grants file, moved aside, instead of replacing it', async () => {
    const data = dataDir();
    writeFileSync(join(data, 'homecore.grants.json'), '{ not json');
    const result = await homecore('accept', folder(THRESHOLD_MANIFEST), '--data-dir', data);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is not valid JSON');
    expect(result.stderr).toMatch(/moved to .*homecore\.grants\.json\.corrupt-/);
    expect(readdirSync(data).some((f) => f.startsWith('homecore.grants.json.corrupt-'))).toBe(true);
  });
});

describe('homecore run --data-dir', () => {
  const scenario = () => tempFile('s.jsonl', '{"set": "sensor.temp", "state": "26"}\n');

  it('trusts plugins on the first run, refuses a widened one on the next until it is accepted', async () => {
    const data = dataDir();
    const plugins = pluginDir({
      threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN },
      witness: {
        'manifest.json': manifest('witness', { subscriptions: { entities: ['sensor.temp'] }, permissions: ['state:read:sensor.temp'] }),
        'index.js': 'export default { setup() {}, onStateChanged() {} };',
      },
    });
    const first = await homecore('run', plugins, '--scenario', scenario(), '--data-dir', data, '--json');
    expect(first.code).toBe(0);
    const records = first.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.filter((r) => r.type === 'grant_stored').map((r) => [r.plugin, r.reason])).toEqual(
      expect.arrayContaining([
        ['threshold', 'first_install'],
        ['witness', 'first_install'],
      ]),
    );

    // The plugin is upgraded on disk to a version that asks for more.
    writeFileSync(join(plugins, 'threshold', 'manifest.json'), JSON.stringify(WIDER));
    const second = await homecore('run', plugins, '--scenario', scenario(), '--data-dir', data);
    expect(second.code).toBe(1);
    expect(second.stdout).toContain('HC_ERR_UPGRADE_NOT_ACCEPTED');
    expect(second.stdout).toContain('version 1.1.0 asks for more than was accepted (version 1.0.0), so it is refused and it is not loaded');
    expect(second.stdout).toMatch(/witness +native +loaded +ok +1/); // the other plugin runs and gets every event
    expect(second.stdout).not.toMatch(/threshold +native +loaded/);

    const diff = await homecore('diff', folder(THRESHOLD_MANIFEST), join(plugins, 'threshold'));
    expect(diff.code).toBe(1);
    expect((await homecore('accept', join(plugins, 'threshold'), '--data-dir', data)).code).toBe(0);
    const third = await homecore('run', plugins, '--scenario', scenario(), '--data-dir', data);
    expect(third.code).toBe(0);
    expect(third.stdout).toMatch(/threshold +loaded \(native\)/);
  });

  it('without a data directory keeps nothing and compares nothing', async () => {
    const plugins = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    expect((await homecore('run', plugins, '--scenario', scenario())).code).toBe(0);
    writeFileSync(join(plugins, 'threshold', 'manifest.json'), JSON.stringify(WIDER));
    const result = await homecore('run', plugins, '--scenario', scenario(), '--json');
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('grant_stored');
  });
});
