import { describe, expect, it } from 'vitest';
import { THRESHOLD_MANIFEST, THRESHOLD_PLUGIN, homecore, manifest, pluginDir, tempFile } from './helpers.js';

describe('homecore arguments', () => {
  it('prints help and the version', async () => {
    const help = await homecore('--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('homecore run <dir>');
    const version = await homecore('--version');
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('refuses unknown commands, unknown options, misplaced options and missing paths with exit 2', async () => {
    const cases: [string[], string][] = [
      [['frobnicate', 'x'], 'unknown command "frobnicate"'],
      [['run', 'x', '--colour'], "Unknown option '--colour'"],
      [['validate', 'x', '--scenario', 's.jsonl'], '"homecore validate" does not take --scenario'],
      [['run'], '"homecore run" takes exactly one path, got none'],
      [['list', 'a', 'b'], 'takes exactly one path, got "a" "b"'],
      [['run', '/nonexistent/plugins'], 'plugin directory /nonexistent/plugins does not exist'],
      [['run', '.', '--trust-key', '/nonexistent/key'], '--trust-key "/nonexistent/key" is neither a key'],
    ];
    for (const [argv, message] of cases) {
      const result = await homecore(...argv);
      expect(result.code, argv.join(' ')).toBe(2);
      expect(result.stderr, argv.join(' ')).toContain(message);
      expect(result.stderr).toContain('[HC_ERR_CLI_USAGE]');
    }
  });

  it('reports usage errors as JSON with --json', async () => {
    const result = await homecore('list', '/nonexistent', '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ kind: 'error', code: 'HC_ERR_CLI_USAGE' });
  });
});

describe('homecore validate', () => {
  it('lists every problem with its pointer and fails on errors, not on warnings', async () => {
    const dir = pluginDir({
      good: { 'manifest.json': manifest('good') },
      warned: { 'manifest.json': { domain: 'warned', name: 'Warned', version: '1.0', colour: 'red' } },
      bad: { 'manifest.json': { domain: 'Bad-Domain', name: 'x', version: 'banana', codeowners: ['nobody'] } },
      broken: { 'manifest.json': '{ "domain": ' },
    });
    const result = await homecore('validate', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/ok +.*good/);
    expect(result.stdout).toMatch(/ok +.*warned/);
    expect(result.stdout).toContain('warning /colour');
    expect(result.stdout).toMatch(/FAIL .*bad/);
    expect(result.stdout).toContain('error   /domain');
    expect(result.stdout).toContain('error   /version');
    expect(result.stdout).toContain('error   /codeowners/0');
    expect(result.stdout).toMatch(/FAIL .*broken/);
    expect(result.stdout).toContain('not valid JSON');
    expect(result.stdout).toContain('4 manifest(s) checked: 2 with errors');

    const onlyWarnings = await homecore('validate', `${dir}/warned/manifest.json`);
    expect(onlyWarnings.code).toBe(0);
    const strict = await homecore('validate', `${dir}/warned`, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toContain('1 with errors or warnings');
  });

  it('warns when a folder is not named after its domain', async () => {
    const dir = pluginDir({ lamp: { 'manifest.json': manifest('desk_lamp') } });
    const result = await homecore('validate', dir);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('the folder is named "lamp" but the domain is "desk_lamp"');
  });

  it('writes one JSON object per manifest with --json', async () => {
    const dir = pluginDir({ good: { 'manifest.json': manifest('good') } });
    const result = await homecore('validate', dir, '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ domain: 'good', ok: true, errors: [] });
  });
});

describe('homecore list', () => {
  it('shows each plugin and the folders it refused', async () => {
    const dir = pluginDir({
      threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN },
      lamp: { 'manifest.json': manifest('lamp', { dependencies: ['threshold'] }), 'index.js': THRESHOLD_PLUGIN },
      noentry: { 'manifest.json': manifest('noentry') },
    });
    const result = await homecore('list', dir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/lamp +1\.0\.0 +native +threshold/);
    expect(result.stdout).toMatch(/threshold +1\.0\.0 +native +-/);
    expect(result.stdout).toContain('HC_ERR_ENTRY_NOT_FOUND');
    expect(result.stdout).toContain('2 plugin(s), 1 refused');

    const json = await homecore('list', dir, '--json');
    const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.kind === 'plugin').map((l) => l.domain)).toEqual(['lamp', 'threshold']);
    expect(lines.filter((l) => l.kind === 'error')).toHaveLength(1);
  });
});

describe('homecore run', () => {
  const scenario = ['# heat wave', '{"set": "sensor.temp", "state": "26"}', '{"set": "sensor.temp", "state": "22"}', '{"wait": 2500}', '{"set": "sensor.temp", "state": "19"}'].join('\n');

  it('loads plugins, replays the scenario, logs what each plugin did and ends with a summary', async () => {
    const dir = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const result = await homecore('run', dir, '--scenario', tempFile('s.jsonl', scenario));
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/threshold +loaded \(native\)/);
    expect(out).toMatch(/s\.jsonl:2 +set sensor\.temp = "26"/);
    expect(out).toMatch(/threshold +wrote binary_sensor\.alert = "on"/);
    expect(out).toMatch(/threshold +wrote binary_sensor\.alert = "off"/);
    expect(out).toContain('Summary: 4 scenario steps');
    expect(out).toContain('time_changed 2');
    expect(out).toMatch(/threshold +native +loaded +ok +3 +0 +0 +0 +0 +2/);
  });

  it('emits JSON lines with --json, ending with the summary', async () => {
    const dir = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const result = await homecore('run', dir, '--scenario', tempFile('s.jsonl', scenario), '--json');
    expect(result.code).toBe(0);
    const records = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(records.filter((r) => r.kind === 'activity' && r.type === 'state_written').map((r) => r.state)).toEqual(['on', 'off']);
    const summary = records.at(-1);
    expect(summary.kind).toBe('summary');
    expect(summary.plugins[0]).toMatchObject({ plugin: 'threshold', delivered: 3, writes: 2, errors: 0 });
  });

  it('keeps going when a plugin fails, names it, and exits 1', async () => {
    const dir = pluginDir({
      threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN },
      thrower: {
        'manifest.json': manifest('thrower', { subscriptions: { entities: ['sensor.temp'] }, permissions: ['state:read:sensor.temp'] }),
        'index.js': 'export default { setup() {}, onStateChanged() { throw new Error("sensor exploded"); } };',
      },
      snoop: {
        'manifest.json': manifest('snoop', { subscriptions: { entities: ['sensor.temp'] }, permissions: ['state:read:sensor.temp'] }),
        'index.js': 'let c; export default { setup(ctx) { c = ctx; }, onStateChanged() { c.setState("lock.front_door", "unlocked"); } };',
      },
    });
    const result = await homecore('run', dir, '--scenario', tempFile('s.jsonl', scenario));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/thrower +onStateChanged failed: .*sensor exploded/);
    expect(result.stdout).toMatch(/snoop +denied state:write lock\.front_door/);
    expect(result.stdout).toContain('Permission denials (audit trail):');
    expect(result.stdout).toMatch(/snoop state:write lock\.front_door in onStateChanged \(3 times\)/);
    expect(result.stdout).toMatch(/threshold +wrote binary_sensor\.alert = "off"/);
  });

  it('names the bad scenario line before loading anything', async () => {
    const dir = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const file = tempFile('bad.jsonl', '{"set": "sensor.temp", "state": "1"}\n{"sett": "x"}\n');
    const result = await homecore('run', dir, '--scenario', file);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('bad.jsonl:2');
    expect(result.stderr).toContain('[HC_ERR_SCENARIO_INVALID]');
    expect(result.stdout).toBe('');
  });

  it('reports a failing scenario step with its line and continues', async () => {
    const dir = pluginDir({ threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN } });
    const file = tempFile('s.jsonl', '{"call": "nothing.here"}\n{"set": "Not An Id", "state": "1"}\n{"set": "sensor.temp", "state": "30"}\n');
    const result = await homecore('run', dir, '--scenario', file);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/error \S*s\.jsonl:1 .*HC_ERR_SERVICE_NOT_FOUND/);
    expect(result.stdout).toMatch(/error \S*s\.jsonl:2 .*HC_ERR_ENTITY_ID_INVALID/);
    expect(result.stdout).toMatch(/threshold +wrote binary_sensor\.alert = "on"/);
  });
});

describe('homecore run and time', () => {
  it('lets scenario waits end a backoff and run a setup retry', async () => {
    // Each setup attempt re-imports the module, so the attempt counter lives on globalThis.
    // The error is recognised by its code, as from a plugin with its own copy of core-traits.
    const flaky = `export default () => ({
        setup() {
          globalThis.flakyTries = (globalThis.flakyTries ?? 0) + 1;
          if (globalThis.flakyTries < 2) throw Object.assign(new Error('hub offline'), { code: 'HC_ERR_CONFIG_ENTRY_NOT_READY' });
        },
      });`;
    const shaky = `let n = 0; export default { setup() {}, onStateChanged() { n++; if (n <= 3) throw new Error('glitch ' + n); } };`;
    const dir = pluginDir({
      flaky: { 'manifest.json': manifest('flaky'), 'index.js': flaky },
      shaky: { 'manifest.json': manifest('shaky', { subscriptions: { entities: ['sensor.temp'] }, permissions: ['state:read:sensor.temp'] }), 'index.js': shaky },
    });
    const lines = ['1', '2', '3', '4'].map((v) => `{"set": "sensor.temp", "state": "${v}"}`);
    const story = tempFile('s.jsonl', [...lines, '{"wait": 10000}', '{"set": "sensor.temp", "state": "5"}'].join('\n'));
    const result = await homecore('run', dir, '--scenario', story, '--json');
    const records = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const activity = (type: string, plugin: string) => records.filter((r) => r.kind === 'activity' && r.type === type && r.plugin === plugin);
    expect(activity('plugin_backoff', 'shaky')).toHaveLength(1);
    expect(activity('plugin_resumed', 'shaky')).toHaveLength(1);
    expect(activity('plugin_loaded', 'flaky')).toHaveLength(1);
    const summary = records.at(-1);
    expect(summary.plugins.find((p: { plugin: string }) => p.plugin === 'flaky')).toMatchObject({ state: 'loaded' });
    expect(summary.plugins.find((p: { plugin: string }) => p.plugin === 'shaky')).toMatchObject({ health: 'ok', delivered: 4, dropped: 1 });
  });
});
