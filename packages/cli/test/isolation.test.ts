import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homecore, manifest, pluginDir, tempFile } from './helpers.js';

// Third-party native plugins that misbehave on one value each, and a witness that counts every
// change of the sensor. Run through the built command in its own process: an endless loop in
// process would freeze the command itself, so only isolation lets the witness see every event.
const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');

function run(...args: string[]) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const hostile = (domain: string, trigger: string, misbehave: string, extra: Record<string, unknown> = {}) => ({
  'manifest.json': manifest(domain, {
    permissions: ['state:read:sensor.t', `state:write:sensor.${domain}`],
    subscriptions: { entities: ['sensor.t'] },
    entry: 'index.mjs',
    limits: { handler_timeout_ms: 300 },
    ...extra,
  }),
  'index.mjs': `
    let ctx;
    export default {
      setup(context) { ctx = context; },
      onStateChanged(event) {
        const value = event.data.new_state.state;
        if (value === ${JSON.stringify(trigger)}) { ${misbehave} }
        ctx.setState('sensor.${domain}', value);
      },
    };`,
});

const witness = {
  'manifest.json': manifest('witness', { entry: 'index.mjs', permissions: ['state:read:sensor.t', 'state:write:sensor.witness'], subscriptions: { entities: ['sensor.t'] } }),
  'index.mjs': `
    let ctx; let seen = 0;
    export default {
      setup(context) { ctx = context; },
      onStateChanged() { seen += 1; ctx.setState('sensor.witness', String(seen)); },
    };`,
};

const VALUES = ['1', 'loop', '2', 'bomb', '3', 'exit', '4', '5'];

function house() {
  const dir = pluginDir({
    looper: hostile('looper', 'loop', 'while (true) {}'),
    bomber: hostile('bomber', 'bomb', 'const keep = []; for (;;) keep.push(new Array(1e5).fill(Math.random()));', { limits: { handler_timeout_ms: 20_000, memory_mb: 32 } }),
    exiter: hostile('exiter', 'exit', 'process.exit(7);'),
    witness,
  });
  const scenario = tempFile('s.jsonl', VALUES.map((v) => JSON.stringify({ set: 'sensor.t', state: v })).join('\n'));
  return { dir, scenario };
}

interface Line {
  kind: string;
  type?: string;
  plugin?: string;
  entity_id?: string;
  state?: string;
  message?: string;
  error?: { code: string; message: string };
  plugins?: { plugin: string; errors: number; restarts: number; isolation: string | null; state: string }[];
}

function lines(stdout: string): Line[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);
}

const lastWrite = (out: Line[], entity: string) => out.filter((l) => l.type === 'state_written' && l.entity_id === entity).at(-1)?.state;

describe.each(['worker', 'process'] as const)('homecore run --isolation %s with hostile native plugins', (level) => {
  it('an endless loop, a memory bomb and process.exit cost only their plugin: the witness sees every event', () => {
    const { dir, scenario } = house();
    const result = run('run', dir, '--scenario', scenario, '--isolation', level, '--trusted', 'witness', '--json');
    const out = lines(result.stdout);
    // The witness ran in the host process (trusted) and saw all eight changes.
    expect(lastWrite(out, 'sensor.witness')).toBe(String(VALUES.length));
    const summary = out.find((l) => l.kind === 'summary')!;
    const byPlugin = new Map(summary.plugins!.map((p) => [p.plugin, p]));
    expect(byPlugin.get('witness')).toMatchObject({ isolation: 'none', errors: 0 });
    for (const plugin of ['looper', 'bomber', 'exiter']) {
      // Each failed once, was restarted, and handled the last value.
      expect(byPlugin.get(plugin)).toMatchObject({ isolation: level, errors: 1, restarts: 1, state: 'loaded' });
      expect(lastWrite(out, `sensor.${plugin}`)).toBe('5');
    }
    const failed = out.filter((l) => l.type === 'handler_failed').map((l) => `${l.plugin}: ${l.error?.code} ${l.error?.message}`);
    expect(failed.find((f) => f.startsWith('looper'))).toMatch(/HC_ERR_HANDLER_TIMEOUT .*did not finish within 300 ms/);
    expect(failed.find((f) => f.startsWith('bomber'))).toMatch(/HC_ERR_PLUGIN_CRASHED .*(heap limit|out of memory)/i);
    expect(failed.find((f) => f.startsWith('exiter'))).toMatch(/HC_ERR_PLUGIN_CRASHED .*exited with code 7/);
    expect(result.code).toBe(1); // handler failures make the run fail
  });
});

describe('homecore run and isolation flags', () => {
  it('names the native plugins that run in the host process', async () => {
    const dir = pluginDir({ witness });
    const { stdout, code } = await homecore('run', dir);
    expect(code).toBe(0);
    expect(stdout).toMatch(/running in the host process .*: witness/);
  });

  it('refuses an unknown isolation level and --trusted without --isolation', async () => {
    const dir = pluginDir({ witness });
    const bad = await homecore('run', dir, '--isolation', 'vm');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--isolation takes one of none, worker, process; got "vm"/);
    const orphan = await homecore('run', dir, '--trusted', 'witness');
    expect(orphan.code).toBe(2);
    expect(orphan.stderr).toMatch(/--trusted names plugins exempt from --isolation/);
  });
});

describe('homecore validate --ha-core', () => {
  it('judges a Home Assistant core integration manifest by the core rules (no version)', async () => {
    const dir = pluginDir({
      hue: { 'manifest.json': { domain: 'hue', name: 'Philips Hue', documentation: 'https://www.home-assistant.io/integrations/hue', codeowners: ['@balloob'], iot_class: 'local_push' } },
    });
    const custom = await homecore('validate', dir);
    expect(custom.code).toBe(1);
    expect(custom.stdout).toMatch(/version/);
    expect((await homecore('validate', dir, '--ha-core')).code).toBe(0);
  });
});

describe('homecore run on a plugin\'s own folder, and a run that loads nothing', () => {
  it('treats a folder holding a manifest.json as a directory of one plugin', async () => {
    const root = pluginDir({ witness, other: { 'manifest.json': { broken: true } } });
    const scenario = tempFile('s.jsonl', '{"set": "sensor.t", "state": "1"}\n');
    const { code, stdout } = await homecore('run', `${root}/witness`, '--scenario', scenario, '--json');
    expect(code).toBe(0);
    const summary = lines(stdout).find((l) => l.kind === 'summary')!;
    expect(summary.plugins!.map((p) => p.plugin)).toEqual(['witness']); // not its broken sibling
    expect(lastWrite(lines(stdout), 'sensor.witness')).toBe('1');
  });

  it('runs the folder it was given, not a sibling copy of the same plugin', async () => {
    // A copy next to the project (same domain, named after it) used to win discovery's duplicate rule.
    const copy = { ...witness, 'index.mjs': witness['index.mjs'].replace("String(seen)", "'from the copy'") };
    const root = pluginDir({ witness: copy, project: witness });
    const scenario = tempFile('s.jsonl', '{"set": "sensor.t", "state": "1"}\n');
    const { code, stdout } = await homecore('run', `${root}/project`, '--scenario', scenario, '--json');
    expect(code).toBe(0);
    expect(lastWrite(lines(stdout), 'sensor.witness')).toBe('1');
  });

  it('exits 1 and says why when nothing is running', async () => {
    const empty = pluginDir({});
    const none = await homecore('run', empty);
    expect(none.code).toBe(1);
    expect(none.stdout).toMatch(/no plugin is running from .*: it has no plugin folders \(sub-folders with a manifest\.json\) and is not one itself/);
    const broken = pluginDir({ bad: { 'manifest.json': { domain: 'Bad Domain' } } });
    const refused = await homecore('run', `${broken}/bad`);
    expect(refused.code).toBe(1);
    expect(refused.stdout + refused.stderr).toMatch(/every plugin found was refused/);
  });
});
