import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { homecore, manifest } from './helpers.js';
import { start, type Served } from './serve-helpers.js';

// `homecore dev` through the built command in its own process, on real plugin projects in temp
// dirs built by real compilers (wabt's wat2wasm, as a project installs it from npm). Every wait is
// on output; nothing is timed.

const wabtDir = dirname(createRequire(join(import.meta.dirname, '..', '..', 'runtime-wasm', 'package.json')).resolve('wabt'));
const STALE = `sha256:${'0'.repeat(64)}`;
const repo = join(import.meta.dirname, '..', '..', '..');
const ascDir = dirname(createRequire(join(repo, 'packages', 'plugin-example', 'package.json')).resolve('assemblyscript/package.json'));

/** A WAT plugin that writes sensor.dev_value = `value` (5 characters) whenever sensor.input changes. */
function wat(value: string, broken = false): string {
  return `(module
  (import "homecore" "hc_state_set" (func $set (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "sensor.dev_value")
  (data (i32.const 48) "${value}")
  (global $bump (mut i32) (i32.const 1024))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 1024)))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32)
    (drop (call $set (i32.const 16) (i32.const 16) (i32.const 48) (i32.const 5) (i32.const 0) (i32.const 0)))
    (i32.const 0))${broken ? '' : ')'}
`;
}

/** A WAT plugin project as the project contract has it: manifest at the root, a build script into build/, scenario.jsonl. */
function watProject(parent: string, domain: string, value: string, extra: Record<string, unknown> = {}): string {
  const dir = join(parent, domain);
  mkdirSync(join(dir, 'src'), { recursive: true });
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  // What `npm install wabt` leaves: the package and its bin link.
  symlinkSync(wabtDir, join(dir, 'node_modules', 'wabt'));
  symlinkSync(join('..', 'wabt', 'bin', 'wat2wasm'), join(dir, 'node_modules', '.bin', 'wat2wasm'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: domain, private: true, scripts: { build: 'mkdir -p build && wat2wasm src/plugin.wat -o build/plugin.wasm' } }));
  writeFileSync(join(dir, 'src', 'plugin.wat'), wat(value));
  writeFileSync(
    join(dir, 'manifest.json'),
    JSON.stringify(
      manifest(domain, {
        runtime: 'wasm',
        entry: 'build/plugin.wasm',
        module_hash: STALE,
        permissions: ['state:read:sensor.input', 'state:write:sensor.dev_value'],
        subscriptions: { entities: ['sensor.input'] },
        ...extra,
      }),
      null,
      2,
    ),
  );
  writeFileSync(join(dir, 'scenario.jsonl'), '{"set": "sensor.input", "state": "1"}\n');
  return dir;
}

/** A native plugin (plain JS) that writes `entity` = `value` whenever sensor.input changes. */
function nativePlugin(entity: string, value: string): string {
  return `export default () => {
  let ctx;
  return {
    setup(context) { ctx = context; },
    onStateChanged() { ctx.setState(${JSON.stringify(entity)}, ${JSON.stringify(value)}); },
  };
};
`;
}

function nativeManifest(domain: string, entity: string, entry: string): Record<string, unknown> {
  return manifest(domain, { entry, permissions: ['state:read:sensor.input', `state:write:${entity}`], subscriptions: { entities: ['sensor.input'] } });
}

function pinnedHash(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { module_hash: string }).module_hash;
}

function sha256(file: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
}

function temp(): string {
  return mkdtempSync(join(tmpdir(), 'homecore-dev-'));
}

const running: Served[] = [];
function dev(...args: string[]): Served {
  const served = start(['dev', ...args]);
  running.push(served);
  return served;
}

afterEach(async () => {
  for (const served of running.splice(0)) {
    if (served.child.exitCode === null) served.child.kill('SIGKILL');
    await served.exited;
  }
});

describe('homecore dev', () => {
  it('rebuilds, re-pins, reloads and replays a WAT project on each edit; a broken edit shows the compiler and keeps the old version', async () => {
    const dir = watProject(temp(), 'wat_dev', 'v0001');
    const original = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const session = dev(dir);
    let at = await session.waitFor(/^watching .*wat_dev/m);
    const first = session.stdout();
    expect(first).toContain('trust policy: development');
    expect(first).toMatch(/wat_dev: built \(build\) in \d+ ms/);
    expect(first).toMatch(/wat_dev: module_hash re-pinned to sha256:/);
    expect(first).toMatch(/wat_dev +wrote sensor\.dev_value = "v0001"/);
    expect(pinnedHash(dir)).toBe(sha256(join(dir, 'build', 'plugin.wasm')));
    // Only the hash's text changed: the author's layout of the manifest stays.
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(original.replace(JSON.stringify(STALE), JSON.stringify(pinnedHash(dir))));

    writeFileSync(join(dir, 'src', 'plugin.wat'), wat('v0002'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    let cycle = session.stdout().slice(0, at);
    cycle = cycle.slice(cycle.lastIndexOf('── change'));
    expect(cycle).toMatch(/wat_dev: built \(build\)/);
    expect(cycle).toMatch(/module_hash re-pinned/);
    expect(cycle).toMatch(/wat_dev +reloaded/);
    expect(cycle).toMatch(/scenario\.jsonl:1 +set sensor\.input = "1"/);
    expect(cycle).toMatch(/wat_dev +wrote sensor\.dev_value = "v0002"/);
    expect(pinnedHash(dir)).toBe(sha256(join(dir, 'build', 'plugin.wasm')));

    writeFileSync(join(dir, 'src', 'plugin.wat'), wat('v0003', true));
    at = await session.waitFor(/nothing reloaded: the previous version keeps running/, at);
    cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toContain('[HC_ERR_DEV_BUILD_FAILED]');
    expect(cycle).toMatch(/src\/plugin\.wat:\d+:\d+: error:/); // wat2wasm's own message
    expect(cycle).not.toMatch(/wat_dev +reloaded/);

    // A scenario edit only replays: the version from before the broken edit is still the one that runs.
    writeFileSync(join(dir, 'scenario.jsonl'), '{"set": "sensor.input", "state": "1"}\n{"set": "sensor.input", "state": "2"}\n');
    at = await session.waitFor(/change → actions \d+ ms/, at);
    cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toMatch(/scenario\.jsonl:2 +set sensor\.input = "2"/);
    expect(cycle).toMatch(/wrote sensor\.dev_value = "v0002"/);
    expect(cycle).not.toMatch(/built \(build\)/);

    writeFileSync(join(dir, 'src', 'plugin.wat'), wat('v0004'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toMatch(/wat_dev +reloaded/);
    expect(cycle).toMatch(/wrote sensor\.dev_value = "v0004"/);

    session.child.kill('SIGTERM');
    expect(await session.exited).toBe(0);
    expect(session.stdout()).toContain('stopped: every plugin unloaded');
    // Its own re-pin and build outputs never started a change of their own.
    expect(session.stdout().match(/── change \d+/g)).toEqual(['── change 1', '── change 2', '── change 3', '── change 4']);
  }, 120_000);

  it('compiles a plain asc dev script in a warm asc process: edits, a compile error, the recovery', async () => {
    const dir = join(temp(), 'as_dev');
    mkdirSync(join(dir, 'assembly'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', '@homecore'), { recursive: true });
    symlinkSync(ascDir, join(dir, 'node_modules', 'assemblyscript'));
    symlinkSync(join(repo, 'packages', 'sdk-assemblyscript'), join(dir, 'node_modules', '@homecore', 'sdk-assemblyscript'));
    const common = 'assembly/index.ts --runtime incremental --outFile build/plugin.wasm';
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'as-dev', private: true, scripts: { build: `asc ${common} -O3`, 'build:dev': `asc ${common} -O0` } }));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest('as_dev', { runtime: 'wasm', entry: 'build/plugin.wasm', module_hash: STALE, permissions: ['state:read:sensor.input', 'state:write:sensor.dev_value'], subscriptions: { entities: ['sensor.input'] } })));
    writeFileSync(join(dir, 'scenario.jsonl'), '{"set": "sensor.input", "state": "1"}\n');
    const source = (value: string, broken = false) => `import { StateChangedEvent, onStateChanged, setState } from '@homecore/sdk-assemblyscript/assembly';
export * from '@homecore/sdk-assemblyscript/assembly/exports';
onStateChanged((event: StateChangedEvent): i32 => {
  setState('sensor.dev_value', '${value}')${broken ? ' +' : ''};
  return 0;
});
`;
    writeFileSync(join(dir, 'assembly', 'index.ts'), source('a0001'));
    const session = dev(dir);
    let at = await session.waitFor(/^watching /m);
    expect(session.stdout()).toMatch(/as_dev: built \(build:dev, in a warm asc process\)/);
    expect(session.stdout()).toMatch(/as_dev +wrote sensor\.dev_value = "a0001"/);

    writeFileSync(join(dir, 'assembly', 'index.ts'), source('a0002', true));
    at = await session.waitFor(/nothing reloaded: the previous version keeps running/, at);
    const failed = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(failed).toContain('[HC_ERR_DEV_BUILD_FAILED]');
    expect(failed).toMatch(/ERROR TS\d+/); // the compiler's own diagnostic
    expect(failed).toContain('assembly/index.ts');

    writeFileSync(join(dir, 'assembly', 'index.ts'), source('a0003'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    const fixed = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(fixed).toMatch(/built \(build:dev, in a warm asc process\)/);
    expect(fixed).toMatch(/as_dev +wrote sensor\.dev_value = "a0003"/);
    expect(pinnedHash(dir)).toBe(sha256(join(dir, 'build', 'plugin.wasm')));
    session.child.kill('SIGTERM');
    expect(await session.exited).toBe(0);
  }, 180_000);

  it('under a strict policy refuses to re-pin a rebuilt module, says why, and keeps the signed version running', async () => {
    const parent = temp();
    const dir = watProject(parent, 'wat_signed', 'v0001');
    const wat2wasm = join(wabtDir, 'bin', 'wat2wasm');
    mkdirSync(join(dir, 'build'));
    expect(spawnSync(process.execPath, [wat2wasm, 'src/plugin.wat', '-o', 'build/plugin.wasm'], { cwd: dir }).status).toBe(0);
    expect((await homecore('keygen', join(parent, 'keys'))).code).toBe(0);
    expect((await homecore('sign', join(dir, 'build', 'plugin.wasm'), '--key', join(parent, 'keys', 'publisher.key.pem'), '--manifest', join(dir, 'manifest.json'))).code).toBe(0);
    const signed = readFileSync(join(dir, 'manifest.json'), 'utf8');

    const session = dev(dir, '--trust-key', join(parent, 'keys', 'publisher.pub'));
    let at = await session.waitFor(/^watching /m);
    expect(session.stdout()).toContain('trust policy: strict');
    expect(session.stdout()).toMatch(/wat_signed +loaded \(wasm\)/);

    writeFileSync(join(dir, 'src', 'plugin.wat'), wat('v0002'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    const cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toContain('[HC_ERR_DEV_REPIN_REFUSED]');
    expect(cycle).toMatch(/trust policy is strict .* does not re-pin/);
    expect(cycle).toMatch(/wat_signed +reload failed, old version kept: .*manifest pins/);
    expect(cycle).toMatch(/wrote sensor\.dev_value = "v0001"/);
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(signed);
    session.child.kill('SIGTERM');
    expect(await session.exited).toBe(0);
  }, 120_000);

  it('on a plugins dir, reloads every project and replays each folder scenario; a native build script rebuilds dist/', async () => {
    const root = temp();
    const alpha = join(root, 'alpha');
    mkdirSync(join(alpha, 'src'), { recursive: true });
    writeFileSync(join(alpha, 'package.json'), JSON.stringify({ name: 'alpha', private: true, scripts: { build: 'node build.mjs' } }));
    writeFileSync(join(alpha, 'build.mjs'), "import { cpSync } from 'node:fs';\ncpSync('src/index.js', 'dist/index.js');\n");
    writeFileSync(join(alpha, 'src', 'index.js'), nativePlugin('sensor.alpha', 'a1'));
    writeFileSync(join(alpha, 'manifest.json'), JSON.stringify(nativeManifest('alpha', 'sensor.alpha', 'dist/index.js')));
    writeFileSync(join(alpha, 'scenario.jsonl'), '{"set": "sensor.input", "state": "1"}\n');
    const beta = join(root, 'beta');
    mkdirSync(beta);
    writeFileSync(join(beta, 'index.js'), nativePlugin('sensor.beta', 'b1'));
    writeFileSync(join(beta, 'manifest.json'), JSON.stringify(nativeManifest('beta', 'sensor.beta', 'index.js')));
    writeFileSync(join(beta, 'scenario.jsonl'), '{"set": "sensor.input", "state": "2"}\n');

    const session = dev(root);
    let at = await session.waitFor(/^watching /m);
    const first = session.stdout();
    expect(first).toMatch(/alpha: built \(build\)/);
    expect(first).toMatch(/alpha\/scenario\.jsonl:1 +set sensor\.input = "1"/);
    expect(first).toMatch(/beta\/scenario\.jsonl:1 +set sensor\.input = "2"/);
    expect(first).toMatch(/alpha +wrote sensor\.alpha = "a1"/);
    expect(first).toMatch(/beta +wrote sensor\.beta = "b1"/);

    writeFileSync(join(alpha, 'src', 'index.js'), nativePlugin('sensor.alpha', 'a2'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    let cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toMatch(/── change 1: alpha/);
    expect(cycle).toMatch(/alpha: built \(build\)/);
    expect(cycle).toMatch(/alpha +reloaded/);
    expect(cycle).toMatch(/alpha +wrote sensor\.alpha = "a2"/);
    expect(cycle).toMatch(/beta +wrote sensor\.beta = "b1"/);

    // A folder without a build step reloads what was saved.
    writeFileSync(join(beta, 'index.js'), nativePlugin('sensor.beta', 'b2'));
    at = await session.waitFor(/change → actions \d+ ms/, at);
    cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toMatch(/── change 2: beta/);
    expect(cycle).not.toMatch(/built \(build\)/);
    expect(cycle).toMatch(/beta +wrote sensor\.beta = "b2"/);
    expect(cycle).toMatch(/alpha +wrote sensor\.alpha = "a2"/);
    session.child.kill('SIGINT');
    expect(await session.exited).toBe(0);
  }, 120_000);

  it('runs the in-repo smart home (no build step, signed modules) and sees a save made the moment it starts watching', async () => {
    const dir = join(temp(), 'smart-home');
    cpSync(join(repo, 'examples', 'smart-home'), dir, { recursive: true });
    const session = dev(dir, '--trust-key', join(dir, 'keys', 'demo-publisher.pub'));
    let at = await session.waitFor(/^watching /m);
    expect(session.stdout()).toContain('trust policy: strict');
    expect(session.stdout()).toMatch(/temperature_alert_wasm +loaded \(wasm\)/);
    const config = join(dir, 'temperature_alert', 'config.json');
    // Saved as many editors and sed -i do: a new file renamed over the old one.
    writeFileSync(`${config}.new`, readFileSync(config, 'utf8').replace(/"high": \d+/, '"high": 30'));
    renameSync(`${config}.new`, config);
    at = await session.waitFor(/change → actions \d+ ms/, at);
    const cycle = session.stdout().slice(session.stdout().lastIndexOf('── change'), at);
    expect(cycle).toMatch(/── change 1: temperature_alert/);
    expect(cycle).toMatch(/temperature_alert +reloaded/);
    expect(cycle).not.toMatch(/built \(/);
    session.child.kill('SIGTERM');
    expect(await session.exited).toBe(0);
  }, 60_000);

  it('--json gives programs one record per build, action and change, with the change-to-actions times', async () => {
    const dir = join(temp(), 'lamp');
    mkdirSync(dir);
    writeFileSync(join(dir, 'index.js'), nativePlugin('sensor.lamp', 'l1'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(nativeManifest('lamp', 'sensor.lamp', 'index.js')));
    writeFileSync(join(dir, 'scenario.jsonl'), '{"set": "sensor.input", "state": "1"}\n');
    const session = dev(dir, '--json', '--debounce', '20');
    let at = await session.waitFor(/"kind":"watching"/);
    writeFileSync(join(dir, 'index.js'), nativePlugin('sensor.lamp', 'l2'));
    at = await session.waitFor(/"kind":"cycle".*\n/, at);
    const records = session
      .stdout()
      .slice(0, at)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const cycles = records.filter((r) => r.kind === 'cycle');
    expect(cycles.map((c) => c.change)).toEqual([0, 1]);
    const last = cycles[1] as { actions: number; refused: string[]; ms: Record<string, number> };
    expect(last.actions).toBe(1);
    expect(last.refused).toEqual([]);
    expect(Object.keys(last.ms).sort()).toEqual(['build', 'reload', 'replay', 'total']);
    expect(Object.values(last.ms).every((ms) => Number.isInteger(ms) && ms >= 0)).toBe(true);
    const after = records.slice(records.findIndex((r) => r.kind === 'change'));
    expect(after).toContainEqual(expect.objectContaining({ kind: 'activity', type: 'state_written', plugin: 'lamp', entity_id: 'sensor.lamp', state: 'l2' }));
    session.child.kill('SIGTERM');
    expect(await session.exited).toBe(0);
  }, 60_000);

  it('a project whose build fails and left nothing to load exits 1 with the compiler output and the reason', async () => {
    const dir = watProject(temp(), 'wat_broken', 'v0001');
    writeFileSync(join(dir, 'src', 'plugin.wat'), wat('v0001', true));
    const session = dev(dir);
    expect(await session.exited).toBe(1);
    expect(session.stdout()).toContain('[HC_ERR_DEV_BUILD_FAILED]');
    expect(session.stdout()).toMatch(/error: unexpected token EOF/);
    expect(session.stdout()).toMatch(/no plugin is running from .*wat_broken: every plugin found was refused/);
  }, 60_000);

  it('a folder with no plugin in it exits 1 and says so', async () => {
    const session = dev(temp());
    expect(await session.exited).toBe(1);
    expect(session.stdout()).toMatch(/no plugin is running from .*: it has no plugin folders \(sub-folders with a manifest\.json\) and is not one itself/);
  }, 60_000);

  it('checks its arguments before starting anything', async () => {
    const noSignal = await homecore('dev', temp());
    expect(noSignal.code).toBe(2);
    expect(noSignal.stderr).toContain('"homecore dev" runs until signalled');
    const signal = new AbortController().signal;
    const { runCli } = await import('@homecore/cli');
    let stderr = '';
    const io = { stdout: () => {}, stderr: (t: string) => void (stderr += t), signal };
    expect(await runCli(['dev', temp(), '--debounce', 'soon'], io)).toBe(2);
    expect(stderr).toContain('--debounce takes milliseconds');
    expect(await runCli(['dev', join(temp(), 'missing')], io)).toBe(2);
    expect(stderr).toMatch(/plugin directory .*missing does not exist/);
  });
});
