#!/usr/bin/env node
// `pnpm bench`: runs every benchmark, each in its own fresh Node process (so one cannot warm up or
// dirty the heap of the next), prints a table of measures against DESIGN.md §6's targets and their
// floors or peers, and writes bench/results.json.
//
//   node bench/run.mjs [--quick] [--only <name>[,<name>...]] [--list]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { RESULT_MARKER, round } from './lib/report.mjs';

const BENCHMARKS = [
  { name: 'manifest', title: 'manifest validation' },
  { name: 'ha-manifests', title: 'validation of every Home Assistant manifest in a corpus folder (core and custom mode)' },
  { name: 'startup', title: 'start-up: homecore --help, homecore validate, import of @homecore/manifest, beside node -e 0' },
  { name: 'native-dispatch', title: 'native dispatch overhead vs a direct call' },
  { name: 'native-fanout', title: 'fan-out to 100 and 1,000 native plugins' },
  { name: 'lookup', title: 'registry lookup with 1,000 plugins' },
  { name: 'subscription-scaling', title: 'one event for one subscriber with 1, 1,000 and 10,000 plugins loaded (exact, domain, glob subscriptions)' },
  { name: 'wasm-event', title: 'wasm guest call vs floor and Extism; wasm and native end to end' },
  { name: 'wasm-fanout', title: 'fan-out to 10, 100 and 1,000 wasm plugins vs hand-wired floors (plain, metered)' },
  { name: 'wasm-load', title: 'wasm plugin load, cold and warm' },
  { name: 'metering', title: 'metering rewriter throughput vs compile; refusing a million functions' },
  { name: 'wasm-memory', title: 'memory per loaded wasm plugin: copies of one module and distinct modules, each in a fresh process' },
  { name: 'fuel', title: 'fuel overhead, metered vs plain; ns per fuel unit; the worst call' },
  { name: 'stall', title: 'worst event-loop stall with hostile modules at default limits' },
  { name: 'sustained', title: 'sustained load, 10,000 changes/s across 50 mixed plugins' },
  { name: 'isolation', title: 'isolated native plugins (none/worker/process): round trip, memory, preemption, restart; vm guard; wasm backstop' },
  { name: 'api', title: 'Home Assistant API: REST-to-WebSocket round trip vs in process; 100 WebSocket clients at 1,000 changes/s' },
  { name: 'restart', title: 'hub restart with 200 config entries read from the data directory' },
];

function parseArgs(argv) {
  const args = { quick: false, only: null, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--list') args.list = true;
    else if (a === '--only' || a.startsWith('--only=')) {
      const value = a === '--only' ? argv[++i] : a.slice('--only='.length);
      if (!value) fail('--only needs a benchmark name (see --list)');
      args.only = value.split(',').map((s) => s.trim()).filter(Boolean);
    } else if (a === '--help' || a === '-h') {
      process.stdout.write('usage: node bench/run.mjs [--quick] [--only <name>[,<name>...]] [--list]\n');
      process.exit(0);
    } else fail(`unknown argument "${a}": use --quick, --only <name> or --list`);
  }
  return args;
}

function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

// A row measured while the 1-minute load average (before or after its benchmark) exceeded the
// number of cores shared the CPU with other work: its absolute times are suspect, its ratios less so.
const CORES = os.cpus().length;

/** The load averages (1, 5, 15 min) now, rounded. */
function loadAverage() {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

/** Before/after load averages of one benchmark, and whether the machine was busy (1-min average > cores). */
function loadRecord(before, after) {
  const peak = Math.max(before[0], after[0]);
  return { before, after, cores: CORES, busy: peak > CORES };
}

function runChild(bench, quick) {
  const file = fileURLToPath(new URL(`./benchmarks/${bench.name}.mjs`, import.meta.url));
  const args = ['--disable-warning=ExperimentalWarning', ...(bench.nodeArgs ?? []), file, ...(quick ? ['--quick'] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => (out += chunk));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || line === undefined) {
        resolve({ error: `exited with code ${code}${line === undefined ? ' without a result' : ''}`, output: out.slice(-2000) });
      } else resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
    });
  });
}

function fmt(x, unit) {
  if (x === null || x === undefined) return '';
  if (!Number.isFinite(x)) return String(x);
  const r = round(x);
  return unit ? `${r} ${unit}` : String(r);
}

function ratioText(m) {
  if (m.ratio === null) return '';
  const text = m.ratioKind === 'speedup' ? `${fmt(m.ratio)}x faster` : `${fmt(m.ratio)}x`;
  return m.ratioTarget ? `${text} (${m.ratioTarget.text})` : text;
}

function table(rows) {
  const headers = ['measure', 'value', 'p99', 'target', 'peer / floor', 'ratio', 'verdict', 'load'];
  const cells = rows.map((m) => [
    m.name,
    fmt(m.value, m.unit),
    m.p99 === null ? '' : fmt(m.p99, m.unit),
    m.target?.text ?? '',
    m.reference ? `${m.reference.name}: ${fmt(m.reference.value, m.reference.unit)}` : '',
    ratioText(m),
    m.verdict,
    m.load ? `${fmt(Math.max(m.load.before[0], m.load.after[0]))}${m.load.busy ? ' BUSY' : ''}` : '',
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((x, i) => x.padEnd(widths[i])).join(' | ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('-|-'), ...cells.map(line)].join('\n');
}

const args = parseArgs(process.argv.slice(2));
if (args.list) {
  const width = Math.max(...BENCHMARKS.map((b) => b.name.length)) + 1;
  for (const b of BENCHMARKS) process.stdout.write(`${b.name.padEnd(width)} ${b.title}\n`);
  process.exit(0);
}
if (args.only) {
  const unknown = args.only.filter((n) => !BENCHMARKS.some((b) => b.name === n));
  if (unknown.length > 0) fail(`unknown benchmark ${unknown.join(', ')}: one of ${BENCHMARKS.map((b) => b.name).join(', ')}`);
}
const selected = args.only ? BENCHMARKS.filter((b) => args.only.includes(b.name)) : BENCHMARKS;

const started = Date.now();
const loadBefore = loadAverage();
process.stderr.write(`load average before: ${loadBefore.join(', ')} (${CORES} cores)\n`);
const results = [];
for (const [i, bench] of selected.entries()) {
  process.stderr.write(`[${i + 1}/${selected.length}] ${bench.title}...`);
  const t0 = Date.now();
  const before = loadAverage();
  const result = await runChild(bench, args.quick);
  const load = loadRecord(before, loadAverage());
  process.stderr.write(
    `${result.error ? ` FAILED (${result.error})\n${result.output ?? ''}\n` : ` ${((Date.now() - t0) / 1000).toFixed(1)} s`}` +
      ` (load ${load.before[0]} -> ${load.after[0]}${load.busy ? ', BUSY' : ''})\n`,
  );
  for (const m of result.measures ?? []) m.load = load;
  results.push({ benchmark: bench.name, title: bench.title, seconds: Math.round((Date.now() - t0) / 100) / 10, load, ...result });
}
const loadAfter = loadAverage();

const rows = results.flatMap((r) => r.measures ?? []);
process.stdout.write(`\nHOMECORE benchmarks${args.quick ? ' (--quick)' : ''}: node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown cpu'} x${CORES}\n`);
process.stdout.write(`load average (1, 5, 15 min) before ${loadBefore.join(', ')}, after ${loadAfter.join(', ')}\n\n`);
process.stdout.write(`${table(rows)}\n`);
for (const r of results) {
  if (r.error) process.stdout.write(`\n${r.benchmark}: FAILED ${r.error}`);
  for (const note of r.notes ?? []) process.stdout.write(`\n${r.benchmark}: ${note}`);
}
const met = rows.filter((m) => m.verdict === 'met').length;
const missed = rows.filter((m) => m.verdict === 'missed').length;
const notMeasured = results.filter((r) => r.notMeasured);
for (const r of notMeasured) process.stdout.write(`\n${r.benchmark}: NOT MEASURED: ${r.notMeasured}`);
const context = rows.filter((m) => m.verdict === 'info').length;
process.stdout.write(
  `\n\n${met} met, ${missed} missed, ${context} context rows${notMeasured.length > 0 ? `, ${notMeasured.length} benchmark(s) not measured` : ''}; ${((Date.now() - started) / 1000).toFixed(0)} s\n`,
);
const busy = results.filter((r) => r.load.busy).map((r) => r.benchmark);
process.stdout.write(
  busy.length === 0
    ? `load: the 1-minute load average stayed at or below ${CORES} (the cores) around every benchmark\n`
    : `load: BUSY machine (1-minute load average above ${CORES} cores) around ${busy.join(', ')}: their absolute times are suspect (the "load" column; ratios measured side by side suffer less)\n`,
);

const json = {
  node: process.version,
  v8: process.versions.v8,
  platform: `${process.platform} ${process.arch}`,
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: CORES,
  loadAverage: { before: loadBefore, after: loadAfter, busy: results.some((r) => r.load.busy), busyBenchmarks: busy },
  date: new Date().toISOString(),
  quick: args.quick,
  only: args.only,
  durationSeconds: Math.round((Date.now() - started) / 1000),
  benchmarks: results,
};
writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(json, null, 2)}\n`);
process.stdout.write('wrote bench/results.json\n');
if (args.only) {
  process.stdout.write(`bench/results.json now holds only ${args.only.join(', ')}: do not commit it (git checkout -- bench/results.json restores the full run)\n`);
}
if (results.some((r) => r.error)) process.exitCode = 1;
