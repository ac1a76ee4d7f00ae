#!/usr/bin/env node
// Checks `homecore new` as a plugin author meets it, outside this repository: packs every
// published package with pnpm, scaffolds a project in each of the five languages with the built
// CLI (`--tarballs`, so the projects depend on those tarballs), installs each with plain npm (the
// registry serves only third-party packages: assemblyscript, wabt, typescript, vitest), and runs
// the project's own `build`, `build:dev` and `test` scripts, `homecore run .` with its scenario,
// and `homecore dev .` through one source edit.
//
//   node scripts/check-scaffolds.mjs [--lang ts,as,c,rust,wat] [--keep]
//
// Needs the repository built (pnpm build) and, for C and Rust, Debian's toolchains:
// `apt-get install -y clang lld rustc libstd-rust-dev-wasm32`. Every step prints its time; a
// failing step prints its whole output and the script exits 1. --keep leaves the temp folder.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const cliBin = join(root, 'packages/cli/dist/bin.js');
const LANGS = ['ts', 'as', 'c', 'rust', 'wat'];
const { values } = parseArgs({ options: { lang: { type: 'string' }, keep: { type: 'boolean', default: false } } });
const langs = values.lang === undefined ? LANGS : values.lang.split(',');
for (const lang of langs) if (!LANGS.includes(lang)) fail(`--lang takes some of ${LANGS.join(',')}; got ${JSON.stringify(lang)}`);

const started = performance.now();
const timings = [];
// Child processes see none of pnpm's or npm's settings from a parent run (its registry, store, workspace).
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(npm_|pnpm_)/i.test(key)));
env.npm_config_update_notifier = 'false';
env.npm_config_fund = 'false';
env.npm_config_audit = 'false';

function fail(message) {
  console.error(`check-scaffolds: FAILED: ${message}`);
  process.exit(1);
}

/** Runs one step; prints its time; on failure prints its output and exits 1. */
function step(label, command, args, cwd) {
  const t0 = performance.now();
  process.stdout.write(`  ${label} ... `);
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (result.error !== undefined || result.status !== 0) {
    console.log(`FAILED after ${seconds.toFixed(1)} s`);
    console.error(`\n$ ${[command, ...args].join(' ')}   (in ${cwd})\nexit ${result.status ?? result.error?.message}\n--- stdout\n${result.stdout ?? ''}\n--- stderr\n${result.stderr ?? ''}`);
    fail(`${label}`);
  }
  console.log(`ok ${seconds.toFixed(1)} s`);
  timings.push({ label, seconds });
  return result.stdout;
}

/** The template's main source, which the dev step edits. */
const SOURCES = { ts: 'src/index.ts', as: 'assembly/index.ts', c: 'src/plugin.c', rust: 'src/lib.rs', wat: 'src/plugin.wat' };

/**
 * `homecore dev .` in the project: waits for the first cycle's actions, edits the main source
 * (a comment), waits for the rebuild's cycle, then stops it with SIGINT and expects exit 0.
 */
async function devStep(project, lang) {
  const t0 = performance.now();
  process.stdout.write('  homecore dev . (start, one source edit, Ctrl-C) ... ');
  // The installed bin itself, not npx: npm exec does not pass SIGINT on to the command.
  const bin = join(project, 'node_modules', '.bin', 'homecore');
  const child = spawn(process.execPath, [bin, 'dev', '.', '--json'], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const cycles = [];
  let waiting;
  child.stdout.on('data', (chunk) => {
    out += chunk;
    const lines = out.split('\n');
    lines.pop(); // not complete yet
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line);
      if (record.kind === 'cycle' && !cycles.some((c) => c.change === record.change)) {
        cycles.push(record);
        waiting?.();
      }
    }
  });
  child.stderr.on('data', (chunk) => (err += chunk));
  const exited = new Promise((done) => child.on('exit', (code, signal) => done(code ?? signal)));
  const cycle = (change) =>
    new Promise((done, failed) => {
      const timer = setTimeout(() => failed(new Error(`no dev cycle ${change} within 120 s`)), 120_000);
      waiting = () => {
        const found = cycles.find((c) => c.change === change);
        if (found !== undefined) {
          clearTimeout(timer);
          done(found);
        }
      };
      waiting();
    });
  try {
    const first = await cycle(0);
    if (first.actions < 2) throw new Error(`the first dev cycle took ${first.actions} action(s), expected the scenario's 2 writes`);
    // Let the watcher settle (dev rescans shortly after it is ready), then make a real edit.
    await new Promise((done) => setTimeout(done, 1500));
    const file = join(project, SOURCES[lang]);
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, `${text.trimEnd()}\n${lang === 'wat' ? ';;' : '//'} edited by check-scaffolds\n`);
    const second = await cycle(1);
    if (second.actions < 2 || second.refused.length > 0) throw new Error(`after an edit dev took ${second.actions} action(s) and refused ${JSON.stringify(second.refused)}`);
    child.kill('SIGINT');
    const code = await Promise.race([exited, new Promise((done) => setTimeout(() => done('no exit within 30 s of SIGINT'), 30_000).unref())]);
    if (code !== 0) throw new Error(`dev exited with ${code} on SIGINT, expected 0`);
    console.log(`ok ${((performance.now() - t0) / 1000).toFixed(1)} s (edit → actions ${second.ms.total} ms)`);
    timings.push({ label: `dev ${lang}`, seconds: (performance.now() - t0) / 1000 });
  } catch (error) {
    child.kill('SIGKILL');
    console.log('FAILED');
    console.error(`\n--- stdout\n${out}\n--- stderr\n${err}`);
    fail(`${lang}: homecore dev: ${error.message}`);
  }
}

/** Packs the packages three at a time (each pack is mostly npx and pnpm starting up). */
async function packAll(packages, destination) {
  const t0 = performance.now();
  const queue = [...packages];
  const packOne = ({ dir, pkg }) =>
    new Promise((done) => {
      const child = spawn('npx', ['-y', 'pnpm@10.34.8', 'pack', '--pack-destination', destination], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => (output += chunk));
      child.stderr.on('data', (chunk) => (output += chunk));
      child.on('error', (error) => fail(`pack ${pkg.name}: ${error.message}`));
      child.on('close', (code) => {
        if (code !== 0) {
          console.error(`\n$ npx -y pnpm@10.34.8 pack   (in ${dir})\nexit ${code}\n${output}`);
          fail(`pack ${pkg.name}`);
        }
        console.log(`  packed ${pkg.name}@${pkg.version}`);
        done();
      });
    });
  const worker = async () => {
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) await packOne(next);
  };
  await Promise.all([worker(), worker(), worker()]);
  const seconds = (performance.now() - t0) / 1000;
  console.log(`  pack ${packages.length} packages: ok ${seconds.toFixed(1)} s`);
  timings.push({ label: 'pack', seconds });
}

function toolchainMissing(lang) {
  const works = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
  if (lang === 'c' && !(works(process.env.CLANG ?? 'clang', ['--version']) && works('wasm-ld', ['--version']))) return 'clang lld';
  if (lang === 'rust') {
    const libdir = spawnSync(process.env.RUSTC ?? '/usr/bin/rustc', ['--print', 'target-libdir', '--target', 'wasm32-unknown-unknown'], { encoding: 'utf8' });
    if (libdir.status !== 0 || !existsSync(libdir.stdout.trim())) return 'rustc libstd-rust-dev-wasm32';
  }
  return undefined;
}

if (!existsSync(cliBin)) fail(`${cliBin} is missing: build the repository first (npx -y pnpm@10.34.8 build)`);
for (const lang of langs) {
  const apt = toolchainMissing(lang);
  if (apt !== undefined) fail(`the ${lang} toolchain is missing: apt-get update && apt-get install -y ${apt}`);
}

const work = mkdtempSync(join(tmpdir(), 'homecore-scaffolds-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
try {
  console.log(`== pack every published package into ${tarballs}`);
  const published = readdirSync(join(root, 'packages'))
    .sort()
    .map((dir) => ({ dir: join(root, 'packages', dir), file: join(root, 'packages', dir, 'package.json') }))
    .filter(({ file }) => existsSync(file))
    .map(({ dir, file }) => ({ dir, pkg: JSON.parse(readFileSync(file, 'utf8')) }))
    .filter(({ pkg }) => pkg.private !== true);
  await packAll(published, tarballs);

  const installed = new Map();
  for (const lang of langs) {
    const domain = `scaffold_check_${lang}`;
    const project = join(work, 'projects', domain);
    console.log(`== ${lang}: ${project}`);
    step(`homecore new ${domain} --lang ${lang}`, process.execPath, [cliBin, 'new', domain, '--lang', lang, '--dir', project, '--tarballs', tarballs], work);
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    // C and Rust projects have the same dependencies: one install serves both, copied as npm laid it out.
    const key = JSON.stringify([pkg.devDependencies, pkg.overrides]);
    const same = installed.get(key);
    if (same !== undefined) {
      const t0 = performance.now();
      cpSync(join(same, 'node_modules'), join(project, 'node_modules'), { recursive: true, verbatimSymlinks: true });
      cpSync(join(same, 'package-lock.json'), join(project, 'package-lock.json'));
      console.log(`  npm install: reused ${same}'s (same dependencies) ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } else {
      step('npm install (from the tarballs)', 'npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project);
      installed.set(key, project);
    }
    const manifest = JSON.parse(readFileSync(join(project, 'manifest.json'), 'utf8'));
    if (!existsSync(join(project, manifest.$schema))) fail(`${lang}: manifest.json's $schema ${manifest.$schema} is not in the installed project`);
    step('homecore validate .', 'npx', ['--no-install', 'homecore', 'validate', '.'], project);
    step('npm run build', 'npm', ['run', 'build'], project);
    step('npm run build:dev', 'npm', ['run', 'build:dev'], project);
    step('npm test', 'npm', ['test'], project);
    const runArgs = ['--no-install', 'homecore', 'run', '.', '--scenario', 'scenario.jsonl', '--json', ...(lang === 'ts' ? [] : ['--allow-unsigned'])];
    const out = step('homecore run . --scenario scenario.jsonl', 'npx', runArgs, project);
    const writes = out
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .filter((e) => e.kind === 'activity' && e.type === 'state_written' && e.plugin === domain)
      .map((e) => `${e.entity_id}=${e.state}`);
    const expected = [`binary_sensor.${domain}=on`, `binary_sensor.${domain}=off`];
    if (JSON.stringify(writes) !== JSON.stringify(expected)) fail(`${lang}: homecore run wrote ${JSON.stringify(writes)}, expected ${JSON.stringify(expected)}\n${out}`);
    await devStep(project, lang);
  }
} finally {
  if (values.keep) console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
console.log(`check-scaffolds: ${langs.join(', ')} scaffolded, installed from tarballs, built, tested and run in ${((performance.now() - started) / 1000).toFixed(1)} s`);
