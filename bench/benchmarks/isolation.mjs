// Isolated native plugins (`none`, `worker`, `process`), all with the same plugin module
// (bench/fixtures/isolation/echo), each host from `createHomecore({ isolation: { minimum } })`:
//   round trip = `core.setState` of the watched sensor until the plugin's write back is in the core
//                (a `core.listen` listener takes the time and resolves the sample's promise; no
//                timer, no idle()): the registry, the runtime, at worker/process the message to the
//                guest, the guest's dispatch, the effect message back and its write into the core.
//                The three levels interleaved in one process; ratios to `none` (the floor). Beside
//                them, partial rows: the transport alone (a bare guest echoing one message each way
//                over the same channel), to show what the isolation layer adds to it. Write rate
//                limits are lifted (the benchmark writes faster than a plugin's 500/s budget).
//   memory     = each level in its own fresh child process (--expose-gc): one warm-up plugin, a
//                baseline, then 50 plugins loaded and each delivered one event. Host ΔRSS / 50;
//                for `process` also the children's resident size (stats().plugins[id].runtime.rssBytes,
//                summed over the 50) and their proportional set size (Pss, shared pages split
//                between the processes sharing them, from /proc/<pid>/smaps_rollup).
//   preemption = an endless loop in the handler, `limits.handler_timeout_ms` = 25: from the timeout's
//                due time (just before `core.setState` + 25 ms, so the registry's timer lateness is
//                in the figure) to the old guest's 'exit' event (Node's own Worker/ChildProcess
//                object, observed through `diagnostics_channel`), with the two parts; then from the
//                kill (the registry's `handler_failed` activity, emitted right after it called
//                `preempt`, which terminates the worker / SIGKILLs the process) until the restarted
//                guest's setup write lands in the core. Each round ends with a normal round trip
//                through the restarted plugin (the failure policy sees a success again).
//   vm guard   = a tiny synchronous handler called directly vs through `script.runInContext(ctx)`
//                with no options, `{ timeout }` and `{ breakOnSigint: true }` (the in-process guard
//                the docs decide against), interleaved, timed in batches.
//   backstop   = the wasm preemption backstop: the reference wasm temperature alert through a registry
//                from a `WasmRuntime` with and without `backstop` (a worker per plugin), end to end.
import { spawn } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
import { InMemoryCore } from '@homecore/core';
import { createHomecore } from '@homecore/runtime-native';
import { alertConfig, SENSOR as ALERT_SENSOR } from '../lib/hosts.mjs';
import { interleave, quantile, sampleSync } from '../lib/measure.mjs';
import { childArgs, emit, measure, RESULT_MARKER } from '../lib/report.mjs';
import { devRuntime, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';

const now = process.hrtime.bigint;
const FIXTURE = fileURLToPath(new URL('../fixtures/isolation/echo/', import.meta.url));
const ENTRY = `${FIXTURE}index.mjs`;
const SENSOR = 'sensor.iso_in';
const HANDLER_TIMEOUT_MS = 25;
const MEMORY_PLUGINS = 50;
const LEVELS = ['none', 'worker', 'process'];
const KiB = 1024;
const us = (ns) => ns / 1e3;
const ms = (ns) => ns / 1e6;

// ---------------------------------------------------------------- hosts

function pluginId(i) {
  return `iso_${i}`;
}

/** The manifest of plugin `i`; `spinner` gives it the short handler timeout (the others keep the host's 1 s). */
function manifestOf(i, spinner) {
  const id = pluginId(i);
  return {
    domain: id,
    name: `Isolation bench ${i}`,
    version: '1.0.0',
    runtime: 'native',
    entry: 'index.mjs',
    permissions: [`state:read:${SENSOR}`, `state:write:sensor.${id}_echo`, `state:write:sensor.${id}_ready`],
    subscriptions: { entities: [SENSOR] },
    ...(spinner ? { limits: { handler_timeout_ms: HANDLER_TIMEOUT_MS } } : {}),
  };
}

function loadItem(i, spinner = false) {
  const id = pluginId(i);
  return { manifest: manifestOf(i, spinner), code: ENTRY, baseDir: FIXTURE, config: { data: { sensor: SENSOR, echo: `sensor.${id}_echo`, ready: `sensor.${id}_ready` } } };
}

/**
 * A host at `level` with plugins `indexes` loaded, a sensor writer, and waiters that resolve with
 * the hrtime at which the core fires the state_changed of an entity (optionally with a given state).
 * A handler failure the benchmark did not cause on purpose (only a `spinner` fails, by timing out)
 * rejects every waiter: a lost write back fails the benchmark instead of hanging it.
 */
async function isolatedHost(level, indexes, spinner = false) {
  // The write rate limit is lifted: the benchmark writes back to back, faster than a plugin's 500/s budget.
  const hc = createHomecore({ isolation: { minimum: level }, timeChangedMs: 0, limits: { handlerTimeoutMs: 1000, writesPerSecond: Infinity } });
  const waiting = new Map();
  hc.core.listen((e) => {
    if (e.event_type !== 'state_changed') return;
    const w = waiting.get(e.data.entity_id);
    if (w === undefined || (w.state !== undefined && e.data.new_state?.state !== w.state)) return;
    const t = now();
    waiting.delete(e.data.entity_id);
    w.resolve(t);
  });
  hc.registry.on((a) => {
    if (a.type !== 'handler_failed' || spinner) return;
    const error = new Error(`${level}: ${a.error.message}`);
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  });
  const report = await hc.registry.loadAll(indexes.map((i) => loadItem(i, spinner)));
  if (report.errors.length > 0) throw report.errors[0];
  let seq = 0;
  return {
    hc,
    level,
    /** A fresh sensor value (every write is a real state_changed). */
    next: () => `${level}-${++seq}`,
    /** Each write its own cause (context), as independent sensor readings have: no feedback-loop chain. */
    context: () => hc.core.createContext(),
    write: (state, context = hc.core.createContext()) => hc.core.setState(SENSOR, state, {}, { context }),
    /** Resolves with the hrtime (bigint) at which `entity` changes (to `state`, if given). */
    when: (entity, state) => new Promise((resolve, reject) => waiting.set(entity, { state, resolve, reject })),
  };
}

/** One sample: the sensor write until plugin `i`'s echo of it is in the core, in ns. */
async function roundTrip(host, i = 0) {
  const state = host.next();
  const echoed = host.when(`sensor.${pluginId(i)}_echo`, state);
  const context = host.context();
  const t0 = now();
  host.write(state, context);
  return Number((await echoed) - t0);
}

async function roundTrips(host, samples) {
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) out[s] = await roundTrip(host);
  return out;
}

function summary(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1], n: sorted.length };
}

// ---------------------------------------------------------------- the guests' Worker / ChildProcess objects

/** The latest guest started of each kind, with a promise of the hrtime of its 'exit' event. */
const latestGuest = { worker: undefined, process: undefined };
function track(kind, emitter) {
  const guest = { exited: undefined };
  guest.exited = new Promise((resolve) => emitter.once('exit', () => resolve(now())));
  latestGuest[kind] = guest;
}
dc.subscribe('worker_threads', ({ worker }) => track('worker', worker));
// Published from the ChildProcess constructor, before spawn: every child but the benchmark's own memory children.
let ownSpawn = false;
dc.subscribe('child_process', ({ process: child }) => {
  if (!ownSpawn) track('process', child);
});

// ---------------------------------------------------------------- memory (child process per level)

function smapsRollup(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * KiB;
    return { pss: field('Pss'), private: field('Private_Clean') + field('Private_Dirty') };
  } catch {
    return null;
  }
}

async function memoryChild(level) {
  const children = [];
  dc.subscribe('child_process', ({ process: child }) => children.push(child));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 600)); // > the 200 ms RSS watch of process guests
  const snapshot = async () => {
    await settle();
    for (let i = 0; i < 3; i++) globalThis.gc();
    return process.memoryUsage().rss;
  };
  // Warm-up: one plugin of the level loaded and delivered an event first (code, the guest module, first-worker costs).
  const host = await isolatedHost(level, [MEMORY_PLUGINS]);
  await roundTrip(host, MEMORY_PLUGINS);
  const warm = children.length;
  const before = await snapshot();
  const indexes = Array.from({ length: MEMORY_PLUGINS }, (_, i) => i);
  const report = await host.hc.registry.loadAll(indexes.map((i) => loadItem(i)));
  if (report.errors.length > 0) throw report.errors[0];
  const state = host.next();
  const echoes = indexes.map((i) => host.when(`sensor.${pluginId(i)}_echo`, state));
  host.write(state);
  await Promise.all(echoes);
  const after = await snapshot();
  const stats = host.hc.registry.stats().plugins;
  let rss = 0;
  let heap = 0;
  let withRss = 0;
  for (const i of indexes) {
    const s = stats[pluginId(i)];
    if (s?.state !== 'loaded') throw new Error(`${pluginId(i)} is ${s?.state}`);
    heap += s.runtime.heapUsedBytes ?? 0;
    if (s.runtime.rssBytes !== undefined) {
      rss += s.runtime.rssBytes;
      withRss++;
    }
  }
  let pss = null;
  let priv = null;
  if (level === 'process') {
    const rollups = children.slice(warm).map((c) => smapsRollup(c.pid));
    if (rollups.length === MEMORY_PLUGINS && rollups.every((r) => r !== null)) {
      pss = rollups.reduce((a, r) => a + r.pss, 0);
      priv = rollups.reduce((a, r) => a + r.private, 0);
    }
  }
  await host.hc.close();
  return { level, hostDelta: after - before, childRss: withRss === MEMORY_PLUGINS ? rss : null, withRss, childPss: pss, childPrivate: priv, guestHeap: heap, children: children.length - warm };
}

function runMemoryChild(level) {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    ownSpawn = true;
    const child = spawn(process.execPath, ['--expose-gc', '--disable-warning=ExperimentalWarning', file, '--memory-child', level], { stdio: ['ignore', 'pipe', 'inherit'] });
    ownSpawn = false;
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) reject(new Error(`memory child (${level}) exited ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
    });
  });
}

// ---------------------------------------------------------------- preemption and restart

async function preemptRounds(level, rounds) {
  const host = await isolatedHost(level, [0], true);
  const id = pluginId(0);
  const failures = [];
  host.hc.registry.on((a) => {
    if (a.type === 'handler_failed' && a.plugin === id) failures.shift()?.({ t: now(), code: a.error.code });
  });
  await roundTrip(host);
  const dueToExit = [];
  const dueToFailed = [];
  const killToExit = [];
  const killToSetup = [];
  let lastCode;
  for (let r = 0; r < rounds; r++) {
    const guest = latestGuest[level];
    const failed = new Promise((resolve) => failures.push(resolve));
    const setUp = host.when(`sensor.${id}_ready`);
    const t0 = now();
    host.write(`spin-${r}`);
    const due = t0 + BigInt(HANDLER_TIMEOUT_MS * 1e6);
    const { t: tFailed, code } = await failed;
    lastCode = code;
    const tExit = await guest.exited;
    const tSetup = await setUp;
    if (latestGuest[level] === guest) throw new Error(`${level}: no new guest was started after the preemption`);
    dueToExit.push(Number(tExit - due));
    dueToFailed.push(Number(tFailed - due));
    killToExit.push(Number(tExit - tFailed));
    killToSetup.push(Number(tSetup - tFailed));
    await roundTrip(host); // the restarted plugin handles the next event
  }
  const s = host.hc.registry.stats().plugins[id];
  if (s.runtime.preemptions !== rounds || s.runtime.restarts !== rounds || s.state !== 'loaded') {
    throw new Error(`${level}: ${s.runtime.preemptions} preemptions, ${s.runtime.restarts} restarts after ${rounds} endless loops (${s.state})`);
  }
  await host.hc.close();
  return { dueToExit: summary(dueToExit), dueToFailed: summary(dueToFailed), killToExit: summary(killToExit), killToSetup: summary(killToSetup), code: lastCode, rounds };
}

// ---------------------------------------------------------------- transport floors

// A guest that answers each message with one effect-like message, and nothing else: what one
// message each way costs through the same channel as the isolated levels (worker: postMessage;
// process: a pipe on fd 3), with no protocol, mirror, registry or plugin.
const BARE_GUEST = `const reply = (text) => { const e = JSON.parse(text); return JSON.stringify({ t: 'fx', ops: [['set', 'sensor.echo', e.data.new_state.state]] }); };`;

function bareWorker() {
  const worker = new Worker(`${BARE_GUEST} const { parentPort } = require('node:worker_threads'); parentPort.on('message', (m) => parentPort.postMessage(reply(m)));`, { eval: true });
  let answered;
  worker.on('message', () => answered(now()));
  return {
    trip: (payload) => new Promise((resolve) => ((answered = resolve), worker.postMessage(payload))),
    close: () => worker.terminate(),
  };
}

function bareProcess() {
  ownSpawn = true;
  const child = spawn(process.execPath, ['-e', `${BARE_GUEST} const s = new (require('node:net').Socket)({ fd: 3, readable: true, writable: true }); s.on('data', (c) => s.write(reply(c.toString())));`], { stdio: ['ignore', 'inherit', 'inherit', 'pipe'] });
  ownSpawn = false;
  const channel = child.stdio[3];
  let answered;
  channel.on('data', () => answered(now()));
  return {
    trip: (payload) => new Promise((resolve) => ((answered = resolve), channel.write(payload))),
    close: () => child.kill(),
  };
}

async function bareTrips(bare, payload, samples) {
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    out[s] = Number((await bare.trip(payload)) - t0);
  }
  return out;
}

// ---------------------------------------------------------------- the vm guard

async function vmGuard() {
  const events = [
    { entity_id: 'sensor.t', new_state: { state: '21.5' } },
    { entity_id: 'sensor.t', new_state: { state: '26.5' } },
  ];
  const source = `function handler(e) {
    if (e.entity_id !== 'sensor.t') return null;
    const v = Number(e.new_state.state);
    return v > 25 ? 'on' : v < 20 ? 'off' : null;
  }`;
  // The direct variant runs the same source, compiled in this realm.
  const handler = new Function(`${source}; return handler;`)();
  const ctx = vm.createContext({ event: null });
  new vm.Script(source).runInContext(ctx);
  const call = new vm.Script('handler(event)');
  const check = () => {
    ctx.event = events[1];
    if (call.runInContext(ctx, { timeout: 1000 }) !== 'on' || handler(events[1]) !== 'on') throw new Error('the vm handler and the direct one disagree');
  };
  check();
  const samples = quick ? 100 : 300;
  const via = (options, batch) => () =>
    sampleSync(
      (i) => {
        ctx.event = events[i & 1];
        return call.runInContext(ctx, options);
      },
      samples,
      batch,
    );
  return interleave(
    {
      direct: () => sampleSync((i) => handler(events[i & 1]), samples, 1000),
      plain: via(undefined, 100),
      timeout: via({ timeout: 1000 }, 10),
      sigint: via({ breakOnSigint: true }, 10),
    },
    { warmup: 2, runs: quick ? 3 : 7 },
  );
}

// ---------------------------------------------------------------- main

const { quick } = childArgs();
if (process.argv[2] === '--memory-child') {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(await memoryChild(process.argv[3]))}\n`);
  process.exit(0);
}

const measures = [];
const notes = [];

// 1. Round trip, the three levels interleaved.
const hosts = {};
for (const level of LEVELS) hosts[level] = await isolatedHost(level, [0]);
// The transport floors get the JSON of a real state_changed of the sensor (what the guest is sent).
const payload = await new Promise((resolve) => {
  const stop = hosts.none.hc.core.listen((e) => {
    if (e.event_type === 'state_changed' && e.data.entity_id === SENSOR) resolve(JSON.stringify(e));
  });
  hosts.none.write(hosts.none.next());
  stop();
});
const bare = { worker: bareWorker(), process: bareProcess() };
const trips = quick ? 300 : 1500;
const rt = await interleave(
  {
    ...Object.fromEntries(LEVELS.map((level) => [level, () => roundTrips(hosts[level], trips)])),
    bareWorker: () => bareTrips(bare.worker, payload, trips),
    bareProcess: () => bareTrips(bare.process, payload, trips),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);
await bare.worker.close();
bare.process.close();
for (const level of LEVELS) {
  const s = hosts[level].hc.registry.stats().plugins[pluginId(0)];
  if (s.errors !== 0 || (s.runtime.crashes ?? 0) !== 0) throw new Error(`${level}: the plugin failed during the round trips`);
  await hosts[level].hc.close();
}
const floor = { name: 'none (in process)', value: us(rt.none.p50), unit: 'µs' };
const tripTarget = { worker: { max: 40, unit: 'µs', text: '<= 40 µs p50' }, process: { max: 150, unit: 'µs', text: '<= 150 µs p50' } };
for (const level of LEVELS) {
  measures.push(
    measure({
      id: `isolation.round_trip_${level}`,
      name: `one event into a plugin and its write back at ${level}, setState until the write is in the core`,
      value: us(rt[level].p50),
      unit: 'µs',
      p50: us(rt[level].p50),
      p99: us(rt[level].p99),
      ops: rt[level].ops,
      target: tripTarget[level] ?? null,
      reference: level === 'none' ? null : floor,
    }),
  );
}
for (const [key, level, channel] of [
  ['bareWorker', 'worker', 'Worker postMessage'],
  ['bareProcess', 'process', 'child process pipe on fd 3'],
]) {
  measures.push(
    measure({
      id: `isolation.transport_${level}`,
      name: `  partial: transport floor under ${level}, one message each way (${channel}, bare echo guest)`,
      value: us(rt[key].p50),
      unit: 'µs',
      p50: us(rt[key].p50),
      p99: us(rt[key].p99),
      ops: rt[key].ops,
      note: `the event's JSON (${payload.length} B) out, JSON.parse, one small JSON reply; no protocol, mirror, registry or plugin: what the ${level} row costs beyond this is the isolation layer`,
    }),
  );
}
notes.push(`round trip: ${rt.none.runs} rounds of ${rt.none.samplesPerRun} per level and per transport floor, interleaved; each figure the median of per-round p50/p99`);

// 2. Memory with 50 loaded, each level in a fresh process.
const memory = {};
for (const level of LEVELS) memory[level] = await runMemoryChild(level);
for (const level of LEVELS) {
  const m = memory[level];
  measures.push(
    measure({
      id: `isolation.memory_host_${level}`,
      name: `memory per plugin at ${level}, host ΔRSS / ${MEMORY_PLUGINS} (${MEMORY_PLUGINS} loaded)`,
      value: m.hostDelta / MEMORY_PLUGINS / KiB,
      unit: 'KiB',
      note:
        level === 'none'
          ? 'the plugin objects, registry records, contexts and subscriptions in the host heap'
          : level === 'worker'
            ? "everything: each worker's V8 isolate and heap, Node environment, thread stack, the guest module and the plugin, plus the host's side (Worker object, message ports, records)"
            : "the host's side only (ChildProcess objects, pipes, stream buffers, records): the children's memory is in the next rows",
    }),
  );
}
const proc = memory.process;
measures.push(
  measure({
    id: 'isolation.memory_child_rss_process',
    name: `memory per plugin at process, child RSS (stats().runtime.rssBytes, sum / ${MEMORY_PLUGINS})`,
    value: proc.childRss === null ? NaN : proc.childRss / MEMORY_PLUGINS / KiB,
    unit: 'KiB',
    note: "each child's whole resident set, pages shared with the other children (Node's binary, libraries) counted in every one",
  }),
);
if (proc.childPss !== null) {
  measures.push(
    measure({
      id: 'isolation.memory_child_pss_process',
      name: `memory per plugin at process, child Pss (smaps_rollup, sum / ${MEMORY_PLUGINS})`,
      value: proc.childPss / MEMORY_PLUGINS / KiB,
      unit: 'KiB',
      note: "each child's private pages plus its share of the shared ones: the system's cost per plugin",
    }),
  );
}
for (const level of ['worker', 'process']) {
  notes.push(`memory ${level}: guest V8 heap used ${(memory[level].guestHeap / MEMORY_PLUGINS / 2 ** 20).toFixed(1)} MiB per plugin (stats().runtime.heapUsedBytes)`);
}
notes.push(
  `memory process: ${proc.children} children started; private (Private_Clean + Private_Dirty) ${proc.childPrivate === null ? 'unknown' : `${(proc.childPrivate / MEMORY_PLUGINS / 2 ** 20).toFixed(1)} MiB`} per child; host ΔRSS ${(proc.hostDelta / 2 ** 20).toFixed(1)} MiB`,
);

// 3 and 4. Preemption of an endless loop, and the restart after it.
const preempt = {};
for (const level of ['worker', 'process']) preempt[level] = await preemptRounds(level, quick ? 8 : 30);
for (const level of ['worker', 'process']) {
  const p = preempt[level];
  measures.push(
    measure({
      id: `isolation.preempt_${level}`,
      name: `endless loop at ${level}: timeout due (write + ${HANDLER_TIMEOUT_MS} ms) to the ${level === 'worker' ? 'Worker' : 'ChildProcess'}'s 'exit', worst of ${p.rounds}`,
      value: ms(p.dueToExit.max),
      unit: 'ms',
      p50: ms(p.dueToExit.p50),
      p99: ms(p.dueToExit.p99),
      target: { max: 50, unit: 'ms', text: '<= 50 ms after the timeout' },
    }),
    measure({
      id: `isolation.preempt_timer_${level}`,
      name: `  part: timeout due to the registry's handler_failed (its timer; preempt called), p50 at ${level}`,
      value: ms(p.dueToFailed.p50),
      unit: 'ms',
      p50: ms(p.dueToFailed.p50),
      p99: ms(p.dueToFailed.p99),
    }),
    measure({
      id: `isolation.preempt_kill_${level}`,
      name: `  part: handler_failed (kill sent) to 'exit', p50 at ${level}`,
      value: ms(p.killToExit.p50),
      unit: 'ms',
      p50: ms(p.killToExit.p50),
      p99: ms(p.killToExit.p99),
    }),
  );
}
for (const level of ['worker', 'process']) {
  const p = preempt[level];
  measures.push(
    measure({
      id: `isolation.restart_${level}`,
      name: `restart at ${level}: kill (handler_failed) to the new guest's setup write in the core, p50`,
      value: ms(p.killToSetup.p50),
      unit: 'ms',
      p50: ms(p.killToSetup.p50),
      p99: ms(p.killToSetup.p99),
      note: 'a new worker / child process started, the guest module and the plugin loaded, setup run again with the same config entry',
    }),
  );
  notes.push(`preemption ${level}: ${p.rounds} endless loops, each failed with ${p.code}, preempted and restarted; due to 'exit' p50 ${ms(p.dueToExit.p50).toFixed(2)} ms, p99 ${ms(p.dueToExit.p99).toFixed(2)} ms`);
}

// 5. The in-process vm guard.
const guard = await vmGuard();
const direct = { name: 'direct call', value: us(guard.direct.p50), unit: 'µs' };
for (const [key, label] of [
  ['plain', 'script.runInContext(ctx), no options'],
  ['timeout', 'script.runInContext(ctx, { timeout })'],
  ['sigint', 'script.runInContext(ctx, { breakOnSigint: true })'],
]) {
  measures.push(
    measure({
      id: `isolation.vm_${key}`,
      name: `in-process guard: tiny sync handler via ${label}, per call`,
      value: us(guard[key].p50),
      unit: 'µs',
      p50: us(guard[key].p50),
      reference: direct,
    }),
  );
}
notes.push(`vm guard: direct call ${us(guard.direct.p50).toFixed(3)} µs (batches of 1,000); runInContext batches of 100 (no options) and 10 (timeout, breakOnSigint); per-call means of batches`);

// 6. The wasm backstop, when the runtime has one.
notes.push(...(await wasmBackstop(measures)));

/**
 * The wasm preemption backstop: the reference temperature alert (`temperature_alert.wasm`, as in
 * `wasm-event`) loaded through a registry from a `WasmRuntime` without and with `backstop` (each
 * plugin in a worker), interleaved. Two paths, both end to end from `core.setState`:
 *   write back: the sensor crosses a threshold each time (26.5 / 18.5 °C), the alert flips, until
 *               the alert's new state is in the core (as the round trip rows);
 *   in band:    21.5 / 22.5 °C (no write), `core.setState` + `await registry.idle()`.
 */
async function wasmBackstop(out) {
  const bytes = await temperatureWasm();
  const alert = alertConfig(0).alert;
  const make = async (backstop) => {
    const core = new InMemoryCore();
    const runtime = devRuntime(backstop ? { backstop: { core } } : {});
    const hc = createHomecore({ core, runtimes: [runtime], timeChangedMs: 0, limits: { writesPerSecond: Infinity } });
    await hc.registry.load(await wasmManifest(bytes, 0), bytes, { config: { data: alertConfig(0) } });
    let flipped;
    core.listen((e) => {
      if (e.event_type === 'state_changed' && e.data.entity_id === alert) flipped?.(now());
    });
    let n = 0;
    const attributes = { unit_of_measurement: '°C', device_class: 'temperature' };
    return {
      hc,
      async flip() {
        const value = n++ & 1 ? '18.5' : '26.5';
        const done = new Promise((resolve) => (flipped = resolve));
        const context = core.createContext();
        const t0 = now();
        core.setState(ALERT_SENSOR, value, attributes, { context });
        return Number((await done) - t0);
      },
      async inBand() {
        const value = n++ & 1 ? '22.5' : '21.5';
        const context = core.createContext();
        const t0 = now();
        core.setState(ALERT_SENSOR, value, attributes, { context });
        await hc.registry.idle();
        return Number(now() - t0);
      },
    };
  };
  const plain = await make(false);
  const guarded = await make(true);
  for (const h of [plain, guarded]) {
    await h.flip();
    if (h.hc.core.getState(alert)?.state !== 'on') throw new Error('the wasm alert did not switch on');
  }
  const samples = quick ? 300 : 1500;
  const times = (fn) => async () => {
    const outSamples = new Float64Array(samples);
    for (let s = 0; s < samples; s++) outSamples[s] = await fn();
    return outSamples;
  };
  const r = await interleave(
    { plainFlip: times(plain.flip), guardedFlip: times(guarded.flip), plainBand: times(plain.inBand), guardedBand: times(guarded.inBand) },
    { warmup: 2, runs: quick ? 3 : 7 },
  );
  const s = guarded.hc.registry.stats().plugins.temperature_alert_0;
  if (s.errors !== 0 || s.runtime.isolationLevel !== 1 || s.runtime.crashes !== 0 || s.runtime.preemptions !== 0) throw new Error('the backstopped wasm plugin failed or is not in a worker');
  await plain.hc.close();
  await guarded.hc.close();
  for (const [key, label] of [
    ['Flip', 'event + its write back (setState until the alert is in the core)'],
    ['Band', 'in-band event, no write (setState + registry.idle())'],
  ]) {
    const a = r[`guarded${key}`];
    const b = r[`plain${key}`];
    out.push(
      measure({
        id: `isolation.wasm_backstop_${key.toLowerCase()}`,
        name: `wasm alert behind the backstop (worker per plugin), ${label}`,
        value: us(a.p50),
        unit: 'µs',
        p50: us(a.p50),
        p99: us(a.p99),
        ops: a.ops,
        reference: { name: 'the same WasmRuntime without backstop', value: us(b.p50), unit: 'µs' },
        note: `the backstop's cost per call: ${(us(a.p50) - us(b.p50)).toFixed(1)} µs (difference of p50s)`,
      }),
    );
  }
  return [
    `wasm backstop: default callTimeoutMs (2,000 ms); write back ${us(r.plainFlip.p50).toFixed(1)} → ${us(r.guardedFlip.p50).toFixed(1)} µs p50, in band ${us(r.plainBand.p50).toFixed(1)} → ${us(r.guardedBand.p50).toFixed(1)} µs p50; ${samples} samples per round`,
  ];
}

emit({ measures, notes });

