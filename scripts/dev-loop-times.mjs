#!/usr/bin/env node
// Measures `homecore dev`'s edit-to-actions time: starts `homecore dev <project> --json`, makes a
// real source edit N times and reports, per project, the median and spread of the time from the
// file write to the replay's actions being printed (measured here, outside dev), next to dev's own
// figures (change event -> actions, and the build, reload and replay parts).
//
//   node scripts/dev-loop-times.mjs                      fixtures for wat, c, rust, as, ts in temp dirs
//   node scripts/dev-loop-times.mjs --lang wat,c         only some of them
//   node scripts/dev-loop-times.mjs <project-folder>...  measure existing projects (a `homecore new`
//                                                        scaffold, say); each edit appends a comment to
//                                                        its main source (--edit <file> picks it); the
//                                                        file is restored at the end
//   --runs N                                             timed edits per project (default 10, after one warm-up)
//   --json                                               one JSON line per project instead of a table
//
// Fixtures are small plugin projects as `homecore new` lays them out (manifest.json at the root,
// package.json scripts build and build:dev, outputs in build/ or dist/, scenario.jsonl); on each
// edit a 5-character value in the source changes and the run checks that the new value is what
// the plugin wrote. Their tools come from this repository's node_modules (wabt, assemblyscript,
// esbuild, linked in as `npm install` would) and Debian: clang + lld for C, /usr/bin/rustc (1.63)
// with libstd-rust-dev-wasm32 for Rust (RUSTC and CLANG override). Not part of the test suite.
import { spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir, cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '10' }, lang: { type: 'string' }, edit: { type: 'string' }, json: { type: 'boolean', default: false }, keep: { type: 'boolean', default: false } },
});
const RUNS = Number(values.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs takes a positive whole number; got ${values.runs}`);
if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);

const MARKER = /e\d{4}/;
const marker = (n) => `e${String(n).padStart(4, '0')}`;

/** A package installed in this repository (a workspace package's node_modules, else pnpm's store), by name. */
function repoPackage(name, from = 'packages/runtime-wasm') {
  for (const base of [join(root, from, 'node_modules', name), join(root, 'bench/node_modules', name), join(root, 'node_modules', name)]) {
    if (existsSync(base)) return realpathSync(base);
  }
  const store = join(root, 'node_modules/.pnpm');
  const entry = existsSync(store) ? readdirSync(store).find((d) => d.startsWith(`${name.replace('/', '+')}@`)) : undefined;
  if (entry !== undefined) return realpathSync(join(store, entry, 'node_modules', name));
  throw new Error(`${name} is not installed in this repository: run pnpm install`);
}

/** Links packages into a project's node_modules and their bins into node_modules/.bin, as `npm install` leaves them. */
function install(dir, packages, bins) {
  mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
  for (const [name, path] of Object.entries(packages)) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(path, join(dir, 'node_modules', name));
  }
  for (const [name, target] of Object.entries(bins)) symlinkSync(target, join(dir, 'node_modules', '.bin', name));
}

function baseManifest(domain, extra) {
  return {
    domain,
    name: `${domain} (dev loop fixture)`,
    version: '0.1.0',
    documentation: 'https://example.com/dev-loop',
    codeowners: ['@homecore'],
    iot_class: 'calculated',
    permissions: ['state:read:sensor.input', 'state:write:sensor.dev_value'],
    subscriptions: { entities: ['sensor.input'] },
    ...extra,
  };
}

function writeProject(dir, files) {
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`);
  }
}

const SCENARIO = '{"set": "sensor.input", "state": "1"}\n{"set": "sensor.input", "state": "2"}\n';
const STALE_HASH = `sha256:${'0'.repeat(64)}`;
const wasmManifest = (domain, extra = {}) => baseManifest(domain, { runtime: 'wasm', entry: 'build/plugin.wasm', module_hash: STALE_HASH, limits: { memory_pages: 16 }, ...extra });

/** Each fixture: what it needs, and how to lay it out in `dir`; `source` is the file the edits change. */
const FIXTURES = {
  wat: {
    label: 'WAT (wabt wat2wasm)',
    source: 'src/plugin.wat',
    create(dir) {
      install(dir, { wabt: repoPackage('wabt') }, { wat2wasm: '../wabt/bin/wat2wasm' });
      writeProject(dir, {
        'package.json': { name: 'wat-dev', private: true, scripts: { build: 'mkdir -p build && wat2wasm src/plugin.wat -o build/plugin.wasm' } },
        'manifest.json': wasmManifest('wat_dev'),
        'scenario.jsonl': SCENARIO,
        'src/plugin.wat': `(module
  (import "homecore" "hc_state_set" (func $set (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 16) "sensor.dev_value")
  (data (i32.const 48) "${marker(0)}")
  (global $bump (mut i32) (i32.const 1024))
  (func (export "homecore_abi_version_1"))
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 1024)))
  (func (export "hc_on_state_changed") (param i32 i32) (result i32)
    (drop (call $set (i32.const 16) (i32.const 16) (i32.const 48) (i32.const 5) (i32.const 0) (i32.const 0)))
    (i32.const 0)))
`,
      });
    },
  },
  c: {
    label: 'C (clang, -O1 for dev, sdks/c)',
    source: 'src/plugin.c',
    tool: process.env.CLANG ?? 'clang',
    available() {
      return runs(this.tool, ['--version']) && runs('wasm-ld', ['--version']);
    },
    create(dir) {
      const flags = '--target=wasm32 -std=c11 -ffreestanding -nostdlib -mbulk-memory -Wall -Wextra -Werror -I include -Wl,--no-entry -Wl,--strip-all -Wl,-z,stack-size=65536 -Wl,--max-memory=1048576';
      cpSync(join(root, 'sdks/c/homecore.h'), join(dir, 'include/homecore.h'));
      writeProject(dir, {
        'package.json': { name: 'c-dev', private: true, scripts: { build: `mkdir -p build && ${this.tool} -Oz ${flags} -o build/plugin.wasm src/plugin.c`, 'build:dev': `mkdir -p build && ${this.tool} -O1 ${flags} -o build/plugin.wasm src/plugin.c` } },
        'manifest.json': wasmManifest('c_dev'),
        'scenario.jsonl': SCENARIO,
        'src/plugin.c': `#define HOMECORE_IMPLEMENTATION
#include "homecore.h"

HC_EXPORT(hc_on_state_changed) int32_t on_state(int32_t ptr, int32_t len) {
  hc_json data = hc_json_get(hc_payload(ptr, len), "data");
  if (!hc_json_is(hc_json_get(data, "entity_id"), "sensor.input")) return HC_OK;
  return hc_set_state("sensor.dev_value", "${marker(0)}", 0, 0);
}
`,
      });
    },
  },
  rust: {
    label: 'Rust (rustc 1.63, opt-level=1 for dev, sdks/rust)',
    source: 'src/lib.rs',
    tool: process.env.RUSTC ?? '/usr/bin/rustc',
    available() {
      const libdir = output(this.tool, ['--print', 'target-libdir', '--target', 'wasm32-unknown-unknown']);
      return libdir !== undefined && existsSync(libdir.trim());
    },
    create(dir) {
      cpSync(join(root, 'sdks/rust/homecore'), join(dir, 'vendor/homecore'), { recursive: true });
      const target = '--edition 2021 --target wasm32-unknown-unknown -C panic=abort';
      const link = '-C strip=symbols -C link-arg=-zstack-size=65536 -C link-arg=--max-memory=1048576 --extern homecore=build/sdk/libhomecore.rlib';
      const sdk = `mkdir -p build/sdk && ${this.tool} ${target} -C opt-level=z -C codegen-units=1 --crate-type rlib --crate-name homecore -C embed-bitcode=yes -o build/sdk/libhomecore.rlib vendor/homecore/src/lib.rs`;
      writeProject(dir, {
        'package.json': {
          name: 'rust-dev',
          private: true,
          scripts: {
            'build:sdk': sdk,
            // Release: the smallest module (LTO across the SDK, one codegen unit).
            build: `npm run build:sdk && ${this.tool} ${target} -C opt-level=z -C codegen-units=1 -C lto --crate-type cdylib --crate-name rust_dev ${link} -o build/plugin.wasm src/lib.rs`,
            // The edit loop: the SDK is built once; no LTO, parallel codegen.
            'build:dev': `test -f build/sdk/libhomecore.rlib || npm run build:sdk; ${this.tool} ${target} -C opt-level=1 --crate-type cdylib --crate-name rust_dev ${link} -o build/plugin.wasm src/lib.rs`,
          },
        },
        'manifest.json': wasmManifest('rust_dev'),
        'scenario.jsonl': SCENARIO,
        'src/lib.rs': `use homecore::{state_set, HcResult, Json, Plugin};

#[derive(Default)]
struct DevLoop;

impl Plugin for DevLoop {
    fn on_state_changed(&mut self, event: &Json) -> HcResult<()> {
        if event.path(&["data", "entity_id"]).and_then(Json::as_str) != Some("sensor.input") {
            return Ok(());
        }
        state_set("sensor.dev_value", "${marker(0)}", None)
    }
}

homecore::export_plugin!(DevLoop);
`,
      });
    },
  },
  as: {
    label: 'AssemblyScript (asc -O0 for dev)',
    source: 'assembly/index.ts',
    create(dir) {
      install(
        dir,
        { assemblyscript: repoPackage('assemblyscript', 'packages/plugin-example'), '@homecore/sdk-assemblyscript': join(root, 'packages/sdk-assemblyscript') },
        { asc: '../assemblyscript/bin/asc.js' },
      );
      const common = 'assembly/index.ts --runtime incremental --maximumMemory 16 --outFile build/plugin.wasm';
      writeProject(dir, {
        // Release at -O3 (as the SDK's compilePlugin); the loop skips binaryen's optimiser, most of a -O3 build's time.
        'package.json': { name: 'as-dev', private: true, scripts: { build: `asc ${common} -O3`, 'build:dev': `asc ${common} -O0` } },
        'manifest.json': wasmManifest('as_dev'),
        'scenario.jsonl': SCENARIO,
        'assembly/index.ts': `import { StateChangedEvent, onStateChanged, setState } from '@homecore/sdk-assemblyscript/assembly';
export * from '@homecore/sdk-assemblyscript/assembly/exports';

onStateChanged((event: StateChangedEvent): i32 => {
  setState('sensor.dev_value', '${marker(0)}');
  return 0;
});
`,
      });
    },
  },
  ts: {
    label: 'native TypeScript (esbuild bundle)',
    source: 'src/index.ts',
    create(dir) {
      install(dir, { esbuild: repoPackage('esbuild', 'packages/cli') }, { esbuild: '../esbuild/bin/esbuild' });
      writeProject(dir, {
        'package.json': { name: 'ts-dev', private: true, type: 'module', scripts: { build: 'esbuild src/index.ts --bundle --platform=node --format=esm --log-level=warning --outfile=dist/index.js' } },
        'manifest.json': baseManifest('ts_dev', { entry: 'dist/index.js' }),
        'scenario.jsonl': SCENARIO,
        'src/index.ts': `interface Context { setState(entityId: string, state: string): void }
interface StateChanged { data: { entity_id: string } }

export default () => {
  let ctx: Context | undefined;
  return {
    setup(context: Context) { ctx = context; },
    onStateChanged(event: StateChanged) {
      if (event.data.entity_id === 'sensor.input') ctx?.setState('sensor.dev_value', '${marker(0)}');
    },
  };
};
`,
      });
    },
  },
};

function runs(tool, args) {
  return output(tool, args) !== undefined;
}

function output(tool, args) {
  try {
    return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** Finds the source an edit changes in a project this script did not make. */
function mainSource(dir) {
  if (values.edit !== undefined) return resolve(values.edit);
  for (const rel of ['src/plugin.wat', 'src/plugin.c', 'src/lib.rs', 'src/main.rs', 'assembly/index.ts', 'src/index.ts', 'src/plugin.ts', 'index.ts', 'index.js', 'plugin.wat']) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
  }
  throw new Error(`${dir}: no main source found (src/plugin.wat, src/plugin.c, src/lib.rs, assembly/index.ts, src/index.ts...): pass --edit <file>`);
}

const comment = (file) => (file.endsWith('.wat') ? ';;' : '//');

/** Starts `homecore dev --json` and hands out its JSON lines as they come. */
function startDev(dir) {
  const child = spawn(process.execPath, [bin, 'dev', dir, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const lines = [];
  const waiters = [];
  let buffer = '';
  let stderr = '';
  let exited = false;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffer += chunk;
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      try {
        lines.push({ at: performance.now(), record: JSON.parse(text) });
      } catch {
        lines.push({ at: performance.now(), record: { kind: 'text', text } });
      }
    }
    wake();
  });
  child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
  child.on('exit', () => {
    exited = true;
    wake();
  });
  return {
    /** Waits for a record matching `test` at or after line `from`; returns its index. */
    async next(test, from, timeoutMs = 120_000) {
      const deadline = performance.now() + timeoutMs;
      for (;;) {
        for (let i = from; i < lines.length; i++) if (test(lines[i].record)) return i;
        if (exited) throw new Error(`homecore dev exited:\n${lines.map((l) => JSON.stringify(l.record)).join('\n')}\n${stderr}`);
        if (performance.now() > deadline) throw new Error(`no matching output within ${timeoutMs} ms:\n${lines.slice(from).map((l) => JSON.stringify(l.record)).join('\n')}`);
        await new Promise((r) => {
          waiters.push(r);
          setTimeout(r, 200);
        });
      }
    },
    lines,
    pid: child.pid,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGTERM');
      if (!exited) await new Promise((r) => child.once('exit', r));
      return child.exitCode;
    },
  };
}

const TICKS = Number(output('getconf', ['CLK_TCK']) ?? 100) || 100;

/**
 * CPU milliseconds of a process, the children it has waited for and those still running (a warm
 * compiler), from Linux's /proc; undefined elsewhere.
 */
function cpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime, stime, cutime, cstime: fields 14-17 of proc(5), 12-15 after the command name
    let ms = ((Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) * 1000) / TICKS;
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) ms += cpuMs(Number(child)) ?? 0;
    return ms;
  } catch {
    return undefined;
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Measures one project: one warm-up edit and RUNS timed ones. */
async function measure(label, dir, sourceFile, checksMarker) {
  const original = readFileSync(sourceFile, 'utf8');
  const dev = startDev(dir);
  const samples = [];
  try {
    let from = (await dev.next((r) => r.kind === 'watching', 0)) + 1;
    for (let n = 1; n <= RUNS + 1; n++) {
      const current = readFileSync(sourceFile, 'utf8');
      const edited = checksMarker ? current.replace(MARKER, marker(n)) : `${current.trimEnd()}\n${comment(sourceFile)} dev-loop edit ${n}\n`;
      const cpuBefore = cpuMs(dev.pid);
      const wrote = performance.now();
      writeFileSync(sourceFile, edited);
      const at = await dev.next((r) => r.kind === 'cycle', from);
      const { record, at: seen } = dev.lines[at];
      const cpuAfter = cpuMs(dev.pid);
      const actions = dev.lines.slice(from, at).map((l) => l.record);
      if (checksMarker && !actions.some((r) => r.kind === 'activity' && r.type === 'state_written' && r.state === marker(n))) {
        throw new Error(`${label}: edit ${n} did not show its new value ${marker(n)}:\n${actions.map((r) => JSON.stringify(r)).join('\n')}\n${dev.stderr()}`);
      }
      if (actions.some((r) => r.kind === 'error')) throw new Error(`${label}: edit ${n} failed:\n${actions.map((r) => JSON.stringify(r)).join('\n')}`);
      if (n > 1) samples.push({ external: seen - wrote, cpu: cpuBefore === undefined || cpuAfter === undefined ? NaN : cpuAfter - cpuBefore, ...record.ms });
      from = at + 1;
      // Out of the debounce window of the edit before.
      await new Promise((r) => setTimeout(r, 300));
    }
  } finally {
    if (!checksMarker) writeFileSync(sourceFile, original);
    await dev.stop();
  }
  const pick = (key) => samples.map((s) => s[key]);
  const ext = pick('external');
  return {
    project: label,
    dir,
    runs: samples.length,
    medianMs: Math.round(median(ext)),
    minMs: Math.round(Math.min(...ext)),
    maxMs: Math.round(Math.max(...ext)),
    devMedianMs: Math.round(median(pick('total'))),
    // dev and its build's processes: what the edit costs without the other users of the machine
    cpuMedianMs: Math.round(median(pick('cpu'))),
    buildMedianMs: Math.round(median(pick('build'))),
    reloadMedianMs: Math.round(median(pick('reload'))),
    replayMedianMs: Math.round(median(pick('replay'))),
  };
}

const results = [];
const skipped = [];
const loadBefore = loadavg();
const work = mkdtempSync(join(tmpdir(), 'homecore-dev-loop-'));
try {
  if (positionals.length > 0) {
    for (const folder of positionals) {
      const dir = realpathSync(resolve(folder));
      results.push(await measure(dir, dir, mainSource(dir), false));
    }
  } else {
    const chosen = values.lang === undefined ? Object.keys(FIXTURES) : values.lang.split(',');
    for (const lang of chosen) {
      const fixture = FIXTURES[lang];
      if (fixture === undefined) throw new Error(`--lang takes ${Object.keys(FIXTURES).join(', ')}; got ${lang}`);
      if (fixture.available !== undefined && !fixture.available()) {
        skipped.push(`${lang}: ${fixture.tool} (with its wasm32 target) not found`);
        continue;
      }
      const dir = join(work, `${lang}_dev`);
      mkdirSync(dir);
      fixture.create(dir);
      results.push(await measure(fixture.label, dir, join(dir, fixture.source), true));
    }
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}
const loadAfter = loadavg();
const load = (l) => l.map((x) => x.toFixed(2)).join(' ');
if (values.json) {
  for (const r of results) process.stdout.write(`${JSON.stringify({ ...r, loadBefore, loadAfter, cpus: cpus().length })}\n`);
} else {
  const rows = results.map((r) => [r.project, `${r.medianMs}`, `${r.minMs}-${r.maxMs}`, `${r.devMedianMs}`, `${r.buildMedianMs}`, `${r.reloadMedianMs}`, `${r.replayMedianMs}`, Number.isNaN(r.cpuMedianMs) ? '-' : `${r.cpuMedianMs}`]);
  const header = ['project', 'median ms', 'min-max ms', 'dev ms', 'build', 'reload', 'replay', 'cpu ms'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(`edit-to-actions, ${RUNS} timed edits each after one warm-up (file write -> actions printed; "dev ms" is dev's own change event -> actions;`);
  console.log(`build/reload/replay are medians of dev's parts; "cpu ms" is the CPU time dev and its build used per edit)`);
  console.log(fmt(header));
  for (const row of rows) console.log(fmt(row));
  console.log(`load average before: ${load(loadBefore)}, after: ${load(loadAfter)} (${cpus().length} cores)`);
  for (const s of skipped) console.log(`skipped ${s}`);
}
