// Stall: the longest the host's event loop is blocked while a hostile module runs at the default
// limits (fuel 10,000,000 per call, 256 pages, 1,000 host calls per call, 16 MiB modules...).
// Guest code and the host work it triggers run on the event loop (no preemption,
// docs/sandbox.md), so the budgets must bound the stall; the documented bound is 100 ms.
//
// Each case runs in its own fresh child process: a PluginRegistry + InMemoryCore + WasmRuntime,
// a witness plugin (test/hostile/witness.wat: accepts every event) loaded and warmed up first, then,
// under the stall meter, the hostile module's load and 4 rounds of one sensor write + one `ping`
// event each (16 pings per round in the burst case), each round until `registry.idle()`. The
// meter: the larger of perf_hooks.monitorEventLoopDelay's max (1 ms resolution) and the largest
// gap between ticks of a 1 ms setInterval. The witness must receive every event it subscribed to.
// A case whose child does not answer within 60 s is reported as hung. The first case, the witness
// alone, is the machine's noise floor.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setImmediate } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { childArgs, emit, measure, RESULT_MARKER } from '../lib/report.mjs';

const STALL_BOUND_MS = 100; // docs/host-abi.md §10, test/stall.ts
const ROUNDS = 4;
const CHILD_TIMEOUT_MS = 60_000;
const MiB = 1024 * 1024;

/** The hostile cases: a title and how the child builds the plugins it loads under the meter. */
const CASES = {
  baseline: { title: 'witness alone (noise floor)' },
  'endless-loop': { corpus: 'handler-loop' },
  'fill-loop': { title: 'endless memory.fill of the whole 16 MiB memory' },
  'host-call-loop': { title: 'endless hc_clock_now loop (1,000 served, the rest refused)' },
  'recursion-host-call': { title: 'deep recursion with a host call at every level' },
  'deep-recursion': { corpus: 'deep-recursion' },
  'start-loop': { corpus: 'start-loop' },
  'setup-loop': { corpus: 'setup-loop' },
  'memory-bomb': { corpus: 'memory-bomb' },
  'huge-log': { corpus: 'huge-log' },
  'write-flood': { corpus: 'write-flood' },
  'write-flood-burst': { corpus: 'write-flood', burst: 16 },
  'million-functions': { title: 'load of a module with 1,000,000 functions (refused)' },
  'huge-table': { title: 'load of a module with a 10,000,000-entry table (refused)' },
  'table-at-limit': { title: 'load + calls of a module with a 100,000-entry table, all filled' },
  'max-module': { title: 'load of a 16 MiB module of typical code (the maxModuleBytes cap)' },
  'feedback-loop': { title: "feedback loop: two plugins answering each other's writes" },
};
// A corpus case is titled by its module's first comment line.
for (const c of Object.values(CASES)) {
  if (c.corpus === undefined) continue;
  const text = readFileSync(new URL(`../../packages/runtime-wasm/test/hostile/${c.corpus}.wat`, import.meta.url), 'utf8');
  const first = /^;;\s*(.*?)\.?\s*$/m.exec(text.split('\n')[0] ?? '')?.[1] ?? c.corpus;
  c.title = `${first.charAt(0).toLowerCase()}${first.slice(1)} (corpus ${c.corpus})${c.burst ? `, ${c.burst} events queued at once` : ''}`;
}

function pluginManifest(domain, extra = {}) {
  return {
    domain,
    name: domain,
    version: '1.0.0',
    runtime: 'wasm',
    permissions: ['state:read:*', 'state:write:sensor.hostile*', 'state:write:sensor.loop_*', 'state:write:light.flood', 'event:subscribe:*'],
    subscriptions: { entities: ['sensor.*'], events: ['ping'] },
    ...extra,
  };
}

/** The plugins (manifest + bytes) a case loads under the meter. */
async function hostilePlugins(name) {
  const { guestWat, hostileCorpus, wat } = await import('../lib/wat.mjs');
  const bytesLib = await import('../lib/wasm-bytes.mjs');
  const hooks = (body) => `(func $run (result i32) ${body})
    (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $run))
    (func (export "hc_on_event") (param i32 i32) (result i32) (call $run))`;
  const one = (code, extra) => [{ manifest: pluginManifest('hostile', extra), code }];
  switch (name) {
    case 'baseline':
      return [];
    case 'endless-loop':
    case 'deep-recursion':
    case 'start-loop':
    case 'setup-loop':
    case 'memory-bomb':
    case 'huge-log':
    case 'write-flood':
    case 'write-flood-burst':
      return one(hostileCorpus(CASES[name].corpus));
    case 'fill-loop':
      return one(wat(guestWat({ memory: '(memory (export "memory") 256 256)', body: hooks(`(local $i i32) (loop $next (memory.fill (i32.const 0) (local.get $i) (i32.const ${16 * MiB})) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br $next)) (i32.const 0)`) })));
    case 'host-call-loop':
      return one(wat(guestWat({ imports: ['hc_clock_now'], body: hooks('(loop $next (drop (call $hc_clock_now)) (br $next)) (i32.const 0)') })));
    case 'recursion-host-call':
      return one(
        wat(
          guestWat({
            imports: ['hc_state_get'],
            body: `(data (i32.const 256) "sensor.temperature")
    (func $down (param $d i32) (result i32)
      (drop (call $hc_state_get (i32.const 256) (i32.const 18) (i32.const 1024) (i32.const 2048)))
      (call $down (i32.add (local.get $d) (i32.const 1))))
    ${hooks('(call $down (i32.const 0))')}`,
          }),
        ),
      );
    case 'million-functions':
      return one(bytesLib.manyFunctionsModule(1_000_000));
    case 'huge-table':
      return one(bytesLib.tableModule(10_000_000));
    case 'table-at-limit':
      return one(bytesLib.tableModule(100_000, 100_000));
    case 'max-module':
      return one(bytesLib.typicalCodeModule(16 * MiB - 4096, 7));
    case 'feedback-loop': {
      // A answers a change of sensor.loop_a by toggling sensor.loop_b, and B the other way round.
      const answer = (target) =>
        wat(
          guestWat({
            imports: ['hc_state_set'],
            body: `(data (i32.const 256) "${target}") (data (i32.const 300) "01")
    (global $toggle (mut i32) (i32.const 0))
    (func (export "hc_on_state_changed") (param i32 i32) (result i32)
      (global.set $toggle (i32.xor (global.get $toggle) (i32.const 1)))
      (drop (call $hc_state_set (i32.const 256) (i32.const ${target.length}) (i32.add (i32.const 300) (global.get $toggle)) (i32.const 1) (i32.const 0) (i32.const 0)))
      (i32.const 0))`,
          }),
        );
      return [
        { manifest: pluginManifest('loop_a', { subscriptions: { entities: ['sensor.loop_a'] } }), code: answer('sensor.loop_b') },
        { manifest: pluginManifest('loop_b', { subscriptions: { entities: ['sensor.loop_b'] } }), code: answer('sensor.loop_a') },
      ];
    }
    default:
      throw new Error(`unknown case ${name}`);
  }
}

/** One case in this (fresh) process. */
async function runCase(name) {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { InMemoryCore } = await import('@homecore/core');
  const { PluginRegistry } = await import('@homecore/registry');
  const { WasmRuntime } = await import('@homecore/runtime-wasm');
  const { hostileCorpus } = await import('../lib/wat.mjs');
  const core = new InMemoryCore();
  const runtime = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined });
  const registry = new PluginRegistry({ core, runtimes: [runtime] });
  const failures = [];
  registry.on((a) => {
    if (a.type === 'handler_failed' && a.plugin !== 'witness') failures.push(a.error?.code ?? 'unknown');
  });
  let expected = 0;
  core.listen((event) => {
    if (event.event_type === 'ping' || (event.event_type === 'state_changed' && event.data?.entity_id?.startsWith('sensor.'))) expected++;
  });
  await registry.load(pluginManifest('witness'), hostileCorpus('witness'));
  let round = 0;
  let measuring = false;
  const drive = async () => {
    const context = core.createContext();
    core.setState(name === 'feedback-loop' ? 'sensor.loop_a' : 'sensor.temperature', String(20 + round), {}, { context });
    for (let k = 0; k < (measuring ? (CASES[name].burst ?? 1) : 1); k++) core.fireEvent('ping', { round, k }, context);
    round++;
    await registry.idle();
  };
  // Warm the witness's path up, outside the measurement.
  for (let i = 0; i < 3; i++) await drive();
  const plugins = await hostilePlugins(name);
  await new Promise((resolve) => setTimeout(resolve, 5));

  // The meter: the largest gap between ticks of a 1 ms interval timer, from here to the end.
  let last = performance.now();
  let maxGap = 0;
  const ticker = setInterval(() => {
    const t = performance.now();
    if (t - last > maxGap) maxGap = t - last;
    last = t;
  }, 1);
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  measuring = true;
  const started = performance.now();
  const loadErrors = [];
  for (const p of plugins) {
    try {
      await registry.load(p.manifest, p.code);
    } catch (err) {
      loadErrors.push(err.code ?? String(err));
    }
  }
  const loadMs = performance.now() - started;
  let idle = true;
  for (let i = 0; i < ROUNDS; i++) {
    // Rounds continue from the check phase (setImmediate), never from a timer callback, so that no
    // work of ours runs in the timers phase ahead of the ticker.
    await new Promise((resolve) => setImmediate(resolve));
    let watchdog;
    const done = await Promise.race([drive().then(() => true), new Promise((resolve) => (watchdog = setTimeout(() => resolve(false), 5000)))]);
    clearTimeout(watchdog);
    if (!done) {
      idle = false;
      break;
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 3)); // one more tick of both meters after the last round
  const end = performance.now();
  clearInterval(ticker);
  eld.disable();
  const tickerGapMs = Math.max(maxGap, end - last);
  const eldMaxMs = eld.max / 1e6;
  const stats = registry.stats().plugins;
  const witness = stats.witness;
  const hostile = Object.values(stats).filter((s) => s.id !== 'witness');
  return {
    gapMs: Math.max(eldMaxMs, tickerGapMs),
    eldMaxMs,
    tickerGapMs,
    totalMs: end - started,
    loadMs,
    loadErrors,
    idle,
    witnessOk: witness?.errors === 0 && witness?.delivered === expected,
    witnessDelivered: witness?.delivered ?? 0,
    expected,
    failures: [...new Set(failures)],
    failureCount: failures.length,
    hostile: hostile.map((s) => ({ id: s.id, state: s.state, errors: s.errors, calls: s.runtime?.calls, traps: s.runtime?.traps, hostCalls: s.runtime?.hostCalls, quotaHits: s.runtime?.quotaHits, effectsRefused: s.runtime?.effectsRefused })),
  };
}

function runChild(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(import.meta.url), '--case', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.stdout.on('data', (c) => (out += c));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (line) resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
      else resolve({ error: signal === 'SIGKILL' ? `hung: no answer within ${CHILD_TIMEOUT_MS / 1000} s` : `exited with code ${code}`, gapMs: signal === 'SIGKILL' ? CHILD_TIMEOUT_MS : NaN });
    });
  });
}

if (process.argv[2] === '--case') {
  const result = await runCase(process.argv[3]);
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
  process.exit(0);
}

const { quick } = childArgs();
const repeats = quick ? 1 : 3;
const results = {};
for (const name of Object.keys(CASES)) {
  const tries = [];
  for (let i = 0; i < repeats; i++) tries.push(await runChild(name));
  // The worst of the tries: the bound is about the worst case.
  results[name] = tries.reduce((a, b) => (Number.isNaN(a.gapMs) || b.gapMs > a.gapMs ? b : a));
  results[name].tries = tries.map((t) => t.gapMs);
}
const rows = [];
const notes = [];
for (const [name, { title }] of Object.entries(CASES)) {
  const r = results[name];
  const outcome = r.error
    ? r.error
    : [
        r.loadErrors.length > 0 ? `load refused: ${r.loadErrors.join(', ')}` : `loaded in ${r.loadMs.toFixed(1)} ms`,
        r.failures.length > 0 ? `${r.failureCount} failed calls (${r.failures.join(', ')})` : 'no failed calls',
        r.idle ? null : 'NOT idle 5 s after a round',
        r.witnessOk ? 'witness got every event' : `WITNESS MISSED EVENTS (${r.witnessDelivered} of ${r.expected})`,
      ]
        .filter(Boolean)
        .join('; ');
  rows.push(
    measure({
      id: `stall.${name}`,
      name: `stall: ${title}`,
      value: r.gapMs,
      unit: 'ms',
      target: name === 'baseline' ? null : { max: STALL_BOUND_MS, unit: 'ms', text: `<= ${STALL_BOUND_MS} ms` },
      note: `${outcome}; worst of ${r.tries.map((t) => t.toFixed(1)).join(', ')} ms`,
    }),
  );
  if (!r.error) {
    notes.push(`${name}: stall ${r.gapMs.toFixed(1)} ms (monitorEventLoopDelay max ${r.eldMaxMs.toFixed(1)} ms, 1 ms ticker's largest gap ${r.tickerGapMs.toFixed(1)} ms), ${r.totalMs.toFixed(0)} ms in all; ${outcome}; ${JSON.stringify(r.hostile)}`);
  }
}
const hostileNames = Object.keys(CASES).filter((n) => n !== 'baseline');
const worstName = hostileNames.reduce((a, b) => (!(results[a].gapMs >= results[b].gapMs) ? b : a));
rows.unshift(
  measure({
    id: 'stall.worst',
    name: `worst event-loop stall, hostile modules at default limits: ${CASES[worstName].title}`,
    value: results[worstName].gapMs,
    unit: 'ms',
    target: { max: STALL_BOUND_MS, unit: 'ms', text: `<= ${STALL_BOUND_MS} ms (documented bound)` },
    reference: { name: 'witness alone (noise floor)', value: results.baseline.gapMs, unit: 'ms' },
    note: `${hostileNames.filter((n) => results[n].gapMs > STALL_BOUND_MS).length} of ${hostileNames.length} cases above the bound`,
  }),
);
notes.unshift(`each case in a fresh process, ${repeats} time(s), the worst gap kept; ticker: setInterval 1 ms; ${ROUNDS} rounds of a sensor write + a ping after the hostile load`);
emit({ measures: rows, notes });
