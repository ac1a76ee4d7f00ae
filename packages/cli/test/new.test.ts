import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '@homecore/cli';
import { validateManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..', '..', '..');
const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');
const SENSOR = 'sensor.living_room_temperature';

async function homecore(argv: string[], interactive = false) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), interactive });
  return { code, stdout, stderr };
}

const fresh = () => mkdtempSync(join(tmpdir(), 'homecore-new-'));

/** Every file under dir, relative, sorted. */
function listFiles(dir: string, base = dir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), base) : [join(dir, e.name).slice(base.length + 1)]))
    .sort();
}

const COMMON = ['.gitignore', 'README.md', 'manifest.json', 'package.json', 'scenario.jsonl', 'test/plugin.test.ts'];
const EXPECTED: Record<string, string[]> = {
  ts: [...COMMON, 'src/index.ts', 'tsconfig.json'].sort(),
  as: [...COMMON, 'asconfig.json', 'assembly/index.ts', 'assembly/tsconfig.json'].sort(),
  c: [...COMMON, 'build.mjs', 'include/homecore.h', 'src/plugin.c'].sort(),
  rust: [...COMMON, 'build.mjs', 'src/lib.rs', 'vendor/homecore/Cargo.toml', 'vendor/homecore/src/lib.rs'].sort(),
  wat: [...COMMON, 'build.mjs', 'src/plugin.wat'].sort(),
};

/** Links a package folder into project/node_modules, as an install would place it. */
function link(project: string, name: string, target: string) {
  const path = join(project, 'node_modules', ...name.split('/'));
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(realpathSync(target), path, 'dir');
}

/** The state writes of `homecore run <dir> --scenario scenario.jsonl --json`. */
async function runWrites(dir: string, domain: string): Promise<string[]> {
  const result = await homecore(['run', dir, '--scenario', join(dir, 'scenario.jsonl'), '--json', '--allow-unsigned']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return result.stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; type?: string; plugin?: string; entity_id?: string; state?: string })
    .filter((e) => e.kind === 'activity' && e.type === 'state_written' && e.plugin === domain)
    .map((e) => `${e.entity_id} = ${e.state}`);
}

describe('homecore new', () => {
  it.each(Object.keys(EXPECTED))('scaffolds a %s project with a valid manifest at its root', async (lang) => {
    const dir = join(fresh(), 'project');
    const domain = `heat_${lang}`;
    const result = await homecore(['new', domain, '--lang', lang, '--dir', dir, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { kind: string; dir: string; files: string[]; entry: string };
    expect(report.kind).toBe('created');
    expect(report.dir).toBe(dir);
    expect(report.files).toEqual(EXPECTED[lang]);
    expect(listFiles(dir)).toEqual(EXPECTED[lang]);

    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    const validation = validateManifest(manifest);
    expect(validation.errors).toEqual([]);
    expect(validation.warnings.map((w) => w.pointer).sort()).toEqual(['/codeowners', '/documentation']);
    expect(manifest).toMatchObject({
      $schema: './node_modules/@homecore/manifest/schema/manifest.schema.json',
      domain,
      version: '0.1.0',
      permissions: [`state:read:${SENSOR}`, `state:write:binary_sensor.${domain}`],
      subscriptions: { entities: [SENSOR] },
      runtime: lang === 'ts' ? 'native' : 'wasm',
      entry: report.entry,
    });
    expect(report.entry).toBe(lang === 'ts' ? 'dist/index.js' : 'build/plugin.wasm');
    expect(manifest).not.toHaveProperty('module_hash');

    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts: Record<string, string>; devDependencies: Record<string, string> };
    expect(Object.keys(pkg.scripts)).toEqual(expect.arrayContaining(['build', 'build:dev', 'test']));
    const version = (JSON.parse(readFileSync(join(repo, 'packages/testing/package.json'), 'utf8')) as { version: string }).version;
    expect(pkg.devDependencies['@homecore/testing']).toBe(`^${version}`);
    expect(pkg.devDependencies['@homecore/cli']).toBe(`^${version}`);
    expect(readFileSync(join(dir, 'test/plugin.test.ts'), 'utf8')).toContain("from '@homecore/testing'");
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(lang === 'ts' ? 'dist/index.js' : 'homecore sign');
  });

  it('ships the C header and the Rust crate from sdks/, byte for byte', async () => {
    const root = fresh();
    expect((await homecore(['new', 'c_port', '--lang', 'c', '--dir', join(root, 'c')])).code).toBe(0);
    expect((await homecore(['new', 'rust_port', '--lang', 'rust', '--dir', join(root, 'rust')])).code).toBe(0);
    expect(readFileSync(join(root, 'c/include/homecore.h'))).toEqual(readFileSync(join(repo, 'sdks/c/homecore.h')));
    expect(readFileSync(join(root, 'rust/vendor/homecore/src/lib.rs'))).toEqual(readFileSync(join(repo, 'sdks/rust/homecore/src/lib.rs')));
  });

  it('builds the WAT project with its own build script and runs its scenario', async () => {
    const dir = join(fresh(), 'wat_alert');
    expect((await homecore(['new', 'wat_alert', '--lang', 'wat', '--dir', dir])).code).toBe(0);
    link(dir, 'wabt', join(repo, 'packages/runtime-wasm/node_modules/wabt'));
    const build = spawnSync(process.execPath, ['build.mjs'], { cwd: dir, encoding: 'utf8' });
    expect(build.stderr).toBe('');
    expect(build.status).toBe(0);
    const module = new WebAssembly.Module(readFileSync(join(dir, 'build/plugin.wasm')));
    expect(WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`)).toEqual(['homecore.hc_log', 'homecore.hc_state_set']);
    expect(await runWrites(dir, 'wat_alert')).toEqual(['binary_sensor.wat_alert = on', 'binary_sensor.wat_alert = off']);
  });

  it('builds the TypeScript project with tsc into a self-contained dist/index.js and runs its scenario', async () => {
    const dir = join(fresh(), 'ts_alert');
    expect((await homecore(['new', 'ts_alert', '--lang', 'ts', '--dir', dir])).code).toBe(0);
    link(dir, '@homecore/core-traits', join(repo, 'packages/core-traits'));
    const build = spawnSync(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    expect(build.stdout).toBe('');
    expect(build.status).toBe(0);
    expect(readFileSync(join(dir, 'dist/index.js'), 'utf8')).not.toMatch(/^\s*import\s/m);
    expect(await runWrites(dir, 'ts_alert')).toEqual(['binary_sensor.ts_alert = on', 'binary_sensor.ts_alert = off']);
  });

  it('refuses a folder that is not empty and writes nothing into it', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const result = await homecore(['new', 'heat_alert', '--lang', 'c', '--dir', dir, '--json']);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ kind: 'error', code: 'HC_ERR_NEW_TARGET_NOT_EMPTY' });
    expect(JSON.parse(result.stdout).message).toContain('notes.txt');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it.each(['Heat-Alert', 'heat__alert', '_heat', 'heat_', 'hé'])('refuses the domain %j naming the manifest rule it breaks', async (name) => {
    const root = fresh();
    const result = await homecore(['new', name, '--lang', 'wat', '--dir', join(root, 'x')]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${JSON.stringify(name)} cannot be a plugin domain (manifest rule "pattern"): use lowercase letters, digits and single underscores`);
    expect(result.stderr).toContain('[HC_ERR_CLI_USAGE]');
    expect(readdirSync(root)).toEqual([]);
  });

  it('is in the help text with its flags', async () => {
    const help = await homecore(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('homecore new [<name>] [--lang ts|as|c|rust|wat] [--dir <folder>] [--tarballs <folder>] [--json]');
    const misplaced = await homecore(['new', 'heat_alert', '--lang', 'c', '--scenario', 's.jsonl']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain('"homecore new" does not take --scenario');
  });

  it('is loaded only when it runs: the built bin imports neither the scaffold nor the prompt library up front', () => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const code = readFileSync(file, 'utf8');
      expect(code, file).not.toContain('@clack/prompts');
      expect(code, file).not.toContain('NEW_LANGUAGES');
      // static imports only: `import x from './chunk.js'` and `import './chunk.js'`, not `import('./new.js')`
      for (const match of code.matchAll(/^import\s+(?:[^'"();]*?\s+from\s+)?['"](\.\/[^'"]+)['"]/gm)) visit(join(dirname(file), match[1]!));
    };
    visit(bin);
    expect(seen.size).toBeGreaterThan(1);
    // ...while the build has them, for `homecore new` to import when it runs
    const chunks = readdirSync(dirname(bin)).filter((f) => f.endsWith('.js') && !seen.has(join(dirname(bin), f)));
    expect(chunks.some((f) => readFileSync(join(dirname(bin), f), 'utf8').includes("import('@clack/prompts')"))).toBe(true);
  });

  it('without a terminal, a missing name or --lang is a usage error saying which to give', async () => {
    const noName = await homecore(['new', '--lang', 'c']);
    expect(noName.code).toBe(2);
    expect(noName.stderr).toContain('"homecore new" needs the plugin\'s name (its domain, e.g. "heat_alert") as the first argument (it prompts for them only on a terminal)');
    const noLang = await homecore(['new', 'heat_alert']);
    expect(noLang.code).toBe(2);
    expect(noLang.stderr).toContain('"homecore new" needs --lang ts|as|c|rust|wat');
    const badLang = await homecore(['new', 'heat_alert', '--lang', 'go']);
    expect(badLang.code).toBe(2);
    expect(badLang.stderr).toContain('--lang takes one of ts, as, c, rust, wat; got "go"');
  });

  it('the built command with piped stdin does not prompt: it exits 2 naming the flag', () => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
    const result = spawnSync(process.execPath, [bin, 'new', 'heat_alert'], { cwd: fresh(), encoding: 'utf8', input: '' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('needs --lang ts|as|c|rust|wat');
  });

  it('--tarballs makes the project depend on pnpm pack tarballs through file: paths and overrides', async () => {
    const root = fresh();
    const tarballs = join(root, 'rc');
    mkdirSync(tarballs);
    for (const name of ['cli', 'core', 'core-traits', 'manifest', 'runtime-wasm', 'testing']) writeFileSync(join(tarballs, `homecore-${name}-0.2.0-rc.1.tgz`), '');
    writeFileSync(join(tarballs, 'unrelated.tgz'), '');
    const result = await homecore(['new', 'rc_alert', '--lang', 'c', '--dir', join(root, 'rc_alert'), '--tarballs', tarballs]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(root, 'rc_alert/package.json'), 'utf8')) as { devDependencies: Record<string, string>; overrides: Record<string, string>; pnpm: { overrides: Record<string, string> } };
    expect(pkg.devDependencies['@homecore/cli']).toBe('file:../rc/homecore-cli-0.2.0-rc.1.tgz');
    expect(pkg.devDependencies['@homecore/runtime-wasm']).toBe('file:../rc/homecore-runtime-wasm-0.2.0-rc.1.tgz');
    expect(pkg.devDependencies.vitest).toMatch(/^[~^]\d/);
    expect(pkg.overrides['@homecore/core-traits']).toBe('file:../rc/homecore-core-traits-0.2.0-rc.1.tgz');
    expect(Object.keys(pkg.overrides)).toHaveLength(6);
    expect(pkg.pnpm.overrides).toEqual(pkg.overrides);

    const missing = await homecore(['new', 'as_alert', '--lang', 'as', '--dir', join(root, 'as_alert'), '--tarballs', tarballs]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--tarballs has no tarball of @homecore/sdk-assemblyscript');
  });

  it('on a terminal, asks for the domain (checking it) and the language, then scaffolds', async () => {
    if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
    const root = fresh();
    // script(1) gives the command a real pseudo-terminal; what is written to its stdin is typed.
    // A new pseudo-terminal has no size: give it one, or every character wraps onto its own line.
    const child = spawn('script', ['-qfec', `stty cols 120 rows 40 && ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} new --dir typed`, '/dev/null'], {
      cwd: root,
      env: { ...process.env, TERM: 'xterm-256color', NO_COLOR: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let screen = '';
    child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('utf8')));
    const exited = new Promise<number | null>((done) => child.on('close', done));
    const waitFor = async (text: string) => {
      const start = screen.length;
      for (let i = 0; i < 600 && !screen.includes(text); i++) await new Promise((r) => setTimeout(r, 50));
      if (!screen.includes(text)) throw new Error(`the prompt never showed ${JSON.stringify(text)}; the terminal showed:\n${screen.slice(start)}`);
    };
    await waitFor('Plugin domain');
    child.stdin.write('Heat\r');
    await waitFor('manifest rule "pattern"');
    child.stdin.write('\x7f\x7f\x7f\x7fheat_alert\r');
    await waitFor('Language');
    child.stdin.write('\x1b[B\x1b[B'); // down twice: ts, as, c
    await new Promise((r) => setTimeout(r, 300));
    child.stdin.write('\r');
    expect(await exited).toBe(0);
    expect(screen).toContain('created heat_alert (C)');
    const manifest = JSON.parse(readFileSync(join(root, 'typed/manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ domain: 'heat_alert', runtime: 'wasm' });
    expect(existsSync(join(root, 'typed/include/homecore.h'))).toBe(true);
  }, 60_000);
});
