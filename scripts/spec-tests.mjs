#!/usr/bin/env node
// Differential spec tests for the fuel-metering rewriter.
//
//   node scripts/spec-tests.mjs <testsuite-dir> [--meter <module.js>] [--only a,b] [--all-failures]
//
// Converts every .wast of the WebAssembly spec testsuite with `wast2json` (into a temp dir; the
// scripts are never copied into the repo) and runs each command twice: on the original modules,
// which must do what the script expects (this checks the harness), and on the modules after
// `meterModule` (with a large fuel budget), which must give exactly the same outcome. A module
// meterModule refuses as HC_ERR_WASM_FEATURE_FORBIDDEN must fail validation with only the allowed
// features (wabt), and a module that passes that validation must be accepted; invalid and
// malformed modules must be refused by meterModule or fail to compile after it.
//
// --meter: the module providing meterModule and FUEL_EXPORT (default: the built
// @homecore/runtime-wasm, packages/runtime-wasm/dist/index.js), e.g. to check that the harness
// catches a deliberately broken rewriter. Ends with `spec: N passed, M failed`; exits 1 on any failure.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const runtimeWasmDir = join(repo, 'packages/runtime-wasm');

/** Scripts not run, with the reason (printed on every run). */
const SKIP = {
  // (none yet)
};

/** A file taking longer than this (an endless loop in a metered module, say) is a failure. */
const FILE_TIMEOUT_MS = 60_000;
/** Failures printed per file unless --all-failures. */
const FAILURES_SHOWN = 15;

function usage(message) {
  console.error(`${message}\nusage: node scripts/spec-tests.mjs <testsuite-dir> [--meter <module.js>] [--only a,b] [--all-failures]`);
  process.exit(2);
}

const args = process.argv.slice(2);
let suiteDir;
let meterPath = join(runtimeWasmDir, 'dist/index.js');
let only;
let allFailures = false;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--meter') meterPath = resolve(args[++i] ?? usage('--meter needs a path'));
  else if (a === '--only') only = new Set((args[++i] ?? usage('--only needs names')).split(',').map((n) => n.replace(/\.wast$/, '')));
  else if (a === '--all-failures') allFailures = true;
  else if (a.startsWith('-')) usage(`unknown option ${a}`);
  else if (suiteDir === undefined) suiteDir = resolve(a);
  else usage(`unexpected argument ${a}`);
}
if (suiteDir === undefined) usage('missing <testsuite-dir>');
if (!existsSync(suiteDir)) usage(`no such directory: ${suiteDir}`);
try {
  execFileSync('wast2json', ['--version'], { stdio: 'ignore' });
} catch {
  usage('wast2json not found: install wabt (apt-get install wabt)');
}
if (!existsSync(meterPath)) usage(`${meterPath} not found: build it first (npx -y pnpm@10.34.8 --filter @homecore/runtime-wasm... build)`);

const files = readdirSync(suiteDir)
  .filter((f) => f.endsWith('.wast'))
  .sort()
  .filter((f) => only === undefined || only.has(basename(f, '.wast')));
if (files.length === 0) usage(`no .wast files in ${suiteDir}`);

const out = mkdtempSync(join(tmpdir(), 'homecore-spec-'));
const started = performance.now();
const results = new Map();
const queue = files.filter((f) => {
  const reason = SKIP[basename(f, '.wast')];
  if (reason !== undefined) results.set(f, { skipped: reason });
  return reason === undefined;
});

/** Runs the queue on `n` workers; a worker that times out or dies is replaced. */
async function runAll(n) {
  let next = 0;
  const runOne = () =>
    new Promise((done) => {
      const worker = new Worker(join(here, 'spec-tests/worker.mjs'), { workerData: { meterPath, runtimeWasmDir } });
      let file;
      let timer;
      let ready = false;
      let over = false;
      const end = (restart) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        void worker.terminate();
        if (restart && next < queue.length) void runOne().then(done);
        else done();
      };
      const take = () => {
        if (next >= queue.length) return end(false);
        file = queue[next++];
        timer = setTimeout(() => {
          results.set(file, { error: `timed out after ${FILE_TIMEOUT_MS / 1000} s` });
          file = undefined;
          end(true);
        }, FILE_TIMEOUT_MS);
        worker.postMessage({ file: join(suiteDir, file), out });
      };
      worker.on('message', (msg) => {
        if (msg.ready) {
          ready = true;
          return take();
        }
        clearTimeout(timer);
        results.set(file, msg);
        file = undefined;
        take();
      });
      const died = (why) => {
        if (over) return;
        if (file !== undefined) results.set(file, { error: `worker died: ${why}` });
        file = undefined;
        if (!ready) {
          // it could not even start (no meterModule in the build, say): nothing can run
          for (const f of queue.slice(next)) results.set(f, { error: `harness worker failed to start: ${why}` });
          next = queue.length;
        }
        end(ready);
      };
      worker.on('error', (err) => died(err?.stack ?? String(err)));
      worker.on('exit', (code) => died(`exit code ${code}`));
    });
  await Promise.all(Array.from({ length: Math.max(1, Math.min(n, queue.length)) }, runOne));
}

try {
  await runAll(Math.min(availableParallelism(), 4));
} finally {
  rmSync(out, { recursive: true, force: true });
}

let passed = 0;
let failed = 0;
const totals = { files: 0, commands: 0, refused: 0, shapeRefused: 0, originalOnly: 0, text: 0, skipped: 0 };
const pad = (s, n) => String(s).padStart(n);
for (const f of files) {
  const r = results.get(f);
  if (r === undefined || r.error !== undefined) {
    failed++;
    console.log(`${f}: ERROR ${r?.error ?? 'not run'}`);
    continue;
  }
  if (r.skipped !== undefined) {
    totals.skipped++;
    console.log(`${f}: SKIPPED (${r.skipped})`);
    continue;
  }
  const s = r.stats;
  const failures = [...r.failures];
  // a metered module that never charged fuel over a whole script is not metered
  if (s.meteredCalls >= 10 && s.fuelUsed === 0) {
    s.failed++;
    failures.push(`metered modules charged no fuel at all over ${s.meteredCalls} calls`);
  }
  totals.files++;
  totals.commands += s.commands;
  totals.refused += s.refused;
  totals.shapeRefused += s.shapeRefused;
  totals.originalOnly += s.originalOnly;
  totals.text += s.text;
  passed += s.passed;
  failed += s.failed;
  console.log(
    `${f.padEnd(28)} ${pad(s.commands, 5)} commands ${pad(s.passed, 5)} passed ${pad(s.refused, 4)} refused-as-forbidden ${pad(s.failed, 4)} failures` +
      `  (${s.originalOnly} original-only, ${s.text} text-format n/a)`,
  );
  for (const note of r.notes ?? []) console.log(`    NOTE ${note}`);
  for (const line of allFailures ? failures : failures.slice(0, FAILURES_SHOWN)) console.log(`    FAIL ${line}`);
  if (!allFailures && failures.length > FAILURES_SHOWN) console.log(`    ... ${failures.length - FAILURES_SHOWN} more (--all-failures)`);
}
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `${totals.files} files (${totals.skipped} skipped), ${totals.commands} commands, ${totals.refused} modules refused as forbidden, ${totals.shapeRefused} by a shape limit, ` +
    `${totals.originalOnly} checks on the original only, ${totals.text} text-format commands n/a, ${seconds} s`,
);
console.log(`spec: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 ? 1 : 0;
