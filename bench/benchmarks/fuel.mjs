// 9. Fuel: what the in-house metering rewriter costs, and what a fuel unit costs in time.
//
// Overhead, metered vs unmetered, side by side in one process (interleaved), both hand-wired with
// no sandbox bookkeeping; the metered call sets the fuel global first, as the runtime does:
//   (a) the reference handler: the temperature alert (AssemblyScript), on the same event bytes;
//       the metered module is the one the runtime compiled at load (taken from a loaded instance);
//   (b) a call-heavy guest: recursive fib(22) in WAT (about 57,000 calls per run);
//   (c) a loop-heavy guest: a tight loop of i32 arithmetic with a load and a store per iteration.
// (b) and (c) are metered with the public `meterModule`. A fourth variant of (a), the full sandbox
// path, splits the sandbox's cost into fuel and host work.
//
// Unit cost: for each construct, a metered guest runs a loop of it for nearly the whole default
// budget (10,000,000 units) in a fresh instance (as after a trap), so each call is about the
// longest call of that construct the budget allows; ns per unit = call time / units used. Host
// imports run through the real WasmRuntime + PluginRegistry + InMemoryCore (time per event minus
// that of an empty handler, over the fuel the call used), within the host call quota and past it
// (refused calls).
// The worst call: the longest of these calls, with an endless hc_clock_now loop (the quota spent,
// then refused calls) timed directly through the registry (one event until the fuel trap).
import { InMemoryCore } from '@homecore/core';
import { createDeliveredEvent, PluginRegistry } from '@homecore/registry';
import { FUEL_EXPORT, meterModule } from '@homecore/runtime-wasm';
import { interleave, median, sampleAsync, sampleSync } from '../lib/measure.mjs';
import { captureEvents, sensorWriter } from '../lib/hosts.mjs';
import { callWithBytes, devRuntime, floorPlugin, floorSetup, sandboxPlugin, temperatureWasm } from '../lib/wasm-hosts.mjs';
import { guestWat, wat } from '../lib/wat.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const BUDGET = 10_000_000; // the default fuel per call (DEFAULT_LIMITS.fuelPerCall)
const MAX_FUEL = 2 ** 31 - 1;
const now = process.hrtime.bigint;
const us = (ns) => ns / 1e3;
const ms = (ns) => ns / 1e6;
const runs = quick ? 3 : 9;
const notes = [];

// ---- (a) the reference handler ----
const bytes = await temperatureWasm();
const core = new InMemoryCore();
const delivered = captureEvents(core, sensorWriter(core), 2).map((e) => createDeliveredEvent(e));
const payloads = delivered.map((d) => d.bytes());
const sandbox = await sandboxPlugin(devRuntime(), bytes, core);
// The runtime keeps the compiled metered module on the instance (a private field, read here only).
const meteredModule = sandbox.init?.module;
if (!(meteredModule instanceof WebAssembly.Module)) throw new Error("could not reach the runtime's metered module: WasmPluginInstance changed shape");
const plain = await floorPlugin(bytes, core);
floorSetup(plain);
const metered = await floorPlugin(meteredModule, core);
const fuel = metered[FUEL_EXPORT];
if (!(fuel instanceof WebAssembly.Global)) throw new Error(`the metered module exports no ${FUEL_EXPORT} global`);
// The rewriter exports the start function instead of running it at instantiation (host-abi.md §10).
if (typeof metered.__homecore_start === 'function') {
  fuel.value = BUDGET;
  metered.__homecore_start();
}
fuel.value = BUDGET;
floorSetup(metered);

/**
 * Runs each function many times, then waits, twice: V8 tiers hot wasm functions up to TurboFan on
 * a background thread (dynamic tiering), which on a busy machine can lag; a variant timed before
 * its optimised code is in place would look slower than it is.
 */
async function warmUp(fns, calls) {
  for (let pass = 0; pass < 2; pass++) {
    for (const fn of fns) for (let i = 0; i < calls; i++) fn(i);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

await warmUp(
  [(i) => callWithBytes(plain, 'hc_on_state_changed', payloads[i & 1]), (i) => ((fuel.value = BUDGET), callWithBytes(metered, 'hc_on_state_changed', payloads[i & 1]))],
  5000,
);
const nRef = quick ? 1000 : 4000;
const ref = await interleave(
  {
    plain: async () => sampleSync((i) => callWithBytes(plain, 'hc_on_state_changed', payloads[i & 1]), nRef, 1),
    metered: async () => sampleSync((i) => ((fuel.value = BUDGET), callWithBytes(metered, 'hc_on_state_changed', payloads[i & 1])), nRef, 1),
    // The same metered call awaited per sample, as the sandbox's async API is (see wasm-event.mjs).
    meteredAwaited: () => sampleAsync(async (i) => ((fuel.value = BUDGET), callWithBytes(metered, 'hc_on_state_changed', payloads[i & 1])), nRef),
    sandbox: () => sampleAsync((i) => sandbox.handleEvent(delivered[i & 1]), nRef),
  },
  { warmup: 2, runs },
);
const refFuel = sandbox.stats().fuelLastCall;

// ---- (b) call-heavy and (c) loop-heavy guests, plain vs metered ----
const FIB_N = 22;
const fibWat = `(module
  (func $fib (export "run") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2))))))))`;
const LOOP_N = 50_000;
const loopWat = `(module
  (memory 2 2)
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $p i32) (local $acc i32)
    (loop $next
      (local.set $p (i32.shl (i32.and (local.get $i) (i32.const 0x3fff)) (i32.const 2)))
      (i32.store (local.get $p) (i32.add (i32.mul (i32.load (local.get $p)) (i32.const 31)) (local.get $i)))
      (local.set $acc (i32.xor (i32.rotl (local.get $acc) (i32.const 5)) (i32.load offset=4 (local.get $p))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))`;

/** Plain and metered instances of a WAT guest exporting `run(n)`. */
function pair(source) {
  const original = wat(source);
  const plainExports = new WebAssembly.Instance(new WebAssembly.Module(original)).exports;
  const meteredExports = new WebAssembly.Instance(new WebAssembly.Module(meterModule(original))).exports;
  return { plain: plainExports, metered: meteredExports, fuel: meteredExports[FUEL_EXPORT], size: original.length };
}
const fib = pair(fibWat);
const loop = pair(loopWat);
if (fib.plain.run(FIB_N) !== 17711) throw new Error('fib(22) is not 17711');
fib.fuel.value = BUDGET;
if (fib.metered.run(FIB_N) !== 17711) throw new Error('metered fib(22) is not 17711');
const fibFuel = BUDGET - fib.fuel.value;
loop.fuel.value = BUDGET;
if (loop.metered.run(LOOP_N) !== loop.plain.run(LOOP_N)) throw new Error('the metered loop computes another result');
const loopFuel = BUDGET - loop.fuel.value;

await warmUp([() => fib.plain.run(FIB_N), () => ((fib.fuel.value = BUDGET), fib.metered.run(FIB_N)), () => loop.plain.run(LOOP_N), () => ((loop.fuel.value = BUDGET), loop.metered.run(LOOP_N))], 300);
const nGuest = quick ? 100 : 300;
const guests = await interleave(
  {
    fibPlain: async () => sampleSync(() => fib.plain.run(FIB_N), nGuest, 1),
    fibMetered: async () => sampleSync(() => ((fib.fuel.value = BUDGET), fib.metered.run(FIB_N)), nGuest, 1),
    loopPlain: async () => sampleSync(() => loop.plain.run(LOOP_N), nGuest, 1),
    loopMetered: async () => sampleSync(() => ((loop.fuel.value = BUDGET), loop.metered.run(LOOP_N)), nGuest, 1),
  },
  { warmup: 2, runs },
);

// ---- unit cost per construct (metered only, fresh instance per call) ----
const rep = (n, text) => Array.from({ length: n }, () => text).join('\n      ');
/** A loop `run(n)` of `n` iterations of `body`, in a module with `memory` (WAT) and `extra` fields. */
const loopGuest = ({ memory = '(memory 1 1)', locals = '', init = '', body, extra = '' }) => `(module
  ${memory}
  ${extra}
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $x i32) (local $y i32) ${locals}
    ${init}
    (loop $next
      ${body}
      (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (local.get $x)))`;
const MiB16 = 16 * 1024 * 1024;
const CONSTRUCTS = [
  {
    key: 'adds',
    name: 'straight-line i32 adds (64 per run)',
    source: loopGuest({ init: '(local.set $y (i32.const 1))', body: rep(32, '(local.set $x (i32.add (local.get $x) (local.get $y))) (local.set $y (i32.add (local.get $y) (local.get $x)))') }),
  },
  {
    key: 'div',
    name: 'i64.div_u/div_s/rem_u/rem_s, dependent chain',
    source: loopGuest({
      locals: '(local $a i64) (local $d i64)',
      init: '(local.set $a (i64.const 0x123456789abcdef)) (local.set $d (i64.extend_i32_u (i32.add (local.get $n) (i32.const 7))))',
      body: rep(
        4,
        ['div_u', 'rem_u', 'div_s', 'rem_s'].map((op) => `(local.set $a (i64.add (local.get $a) (i64.${op} (local.get $a) (local.get $d))))`).join(' '),
      ),
    }),
  },
  {
    key: 'call',
    name: 'call of an empty function',
    source: loopGuest({ extra: '(func $nop)', body: rep(32, '(call $nop)') }),
  },
  {
    key: 'call_indirect',
    name: 'call_indirect of an empty function',
    source: loopGuest({ extra: '(type $v (func)) (table 1 1 funcref) (elem (i32.const 0) $nop) (func $nop)', body: rep(32, '(call_indirect (type $v) (local.get $x))') }),
  },
  {
    key: 'loop',
    name: 'endless empty loop (loop (br 0)), until the fuel trap',
    endless: true,
    source: '(module (func (export "run") (param $n i32) (result i32) (loop $next (br $next)) (i32.const 0)))',
  },
  {
    key: 'fill_fresh',
    name: 'memory.fill of the whole 16 MiB memory, fresh memory',
    source: loopGuest({ memory: '(memory 256 256)', body: `(memory.fill (i32.const 0) (local.get $i) (i32.const ${MiB16}))` }),
  },
  {
    key: 'fill_resident',
    name: 'memory.fill of the whole 16 MiB memory, already resident',
    prime: true,
    source: loopGuest({ memory: '(memory 256 256)', body: `(memory.fill (i32.const 0) (local.get $i) (i32.const ${MiB16}))` }),
  },
  {
    key: 'copy',
    name: 'memory.copy of 16 MiB - 8 B (overlapping), resident',
    prime: true,
    source: loopGuest({ memory: '(memory 256 256)', body: `(memory.copy (i32.const 8) (i32.const 0) (i32.const ${MiB16 - 8}))` }),
  },
  {
    key: 'grow',
    name: 'memory.grow by 1 page, 1 -> 256 pages (255 grows)',
    maxIterations: 255,
    source: loopGuest({ memory: '(memory 1 256)', body: '(local.set $x (i32.add (local.get $x) (memory.grow (i32.const 1))))' }),
  },
  {
    key: 'touch',
    name: 'first touch of a fresh 16 MiB memory (one i32.store per 4 KiB page)',
    maxIterations: MiB16 / 4096,
    source: loopGuest({ memory: '(memory 256 256)', body: '(i32.store (i32.shl (local.get $i) (i32.const 12)) (local.get $i))' }),
  },
];

/** Units one call of `run(n)` uses on a fresh instance. */
function unitsFor(module, n) {
  const e = new WebAssembly.Instance(module).exports;
  e[FUEL_EXPORT].value = MAX_FUEL;
  e.run(n);
  return MAX_FUEL - e[FUEL_EXPORT].value;
}
for (const c of CONSTRUCTS) {
  c.module = new WebAssembly.Module(meterModule(wat(c.source)));
  if (c.endless) {
    // It runs until the counter goes below zero: its units are the whole budget (less the last
    // iteration's charge, which traps instead of running).
    c.units = BUDGET;
    continue;
  }
  // Calibrate: units per iteration and fixed cost, then the most iterations that fit the budget.
  const one = unitsFor(c.module, 1);
  const perIteration = unitsFor(c.module, 2) - one;
  c.perIteration = perIteration;
  c.iterations = Math.max(1, Math.min(c.maxIterations ?? Infinity, Math.floor((BUDGET - (one - perIteration)) / perIteration)));
  c.units = unitsFor(c.module, c.iterations);
  if (c.units > BUDGET) throw new Error(`${c.key}: ${c.units} units for ${c.iterations} iterations, above the budget`);
}
const callsPerRound = quick ? 2 : 3;
const units = await interleave(
  Object.fromEntries(
    CONSTRUCTS.map((c) => [
      c.key,
      async () => {
        const out = [];
        for (let s = 0; s < callsPerRound; s++) {
          const e = new WebAssembly.Instance(c.module).exports;
          if (c.prime) {
            e[FUEL_EXPORT].value = MAX_FUEL;
            e.run(1); // fault the memory in, untimed
          }
          e[FUEL_EXPORT].value = BUDGET;
          const t0 = now();
          let t;
          if (c.endless) {
            try {
              e.run(0);
              throw new Error(`${c.key}: the endless loop returned`);
            } catch (err) {
              t = Number(now() - t0);
              if (!(err instanceof WebAssembly.RuntimeError) || e[FUEL_EXPORT].value >= 0) throw err;
            }
          } else {
            e.run(c.iterations);
            t = Number(now() - t0);
          }
          const used = c.endless ? BUDGET : BUDGET - e[FUEL_EXPORT].value;
          if (used !== c.units) throw new Error(`${c.key}: used ${used} units, calibrated ${c.units}`);
          out.push(t / used);
        }
        return out;
      },
    ]),
  ),
  { warmup: 2, runs: quick ? 3 : 5 },
);

// ---- host imports through the real WasmRuntime + registry ----
const hostCore = new InMemoryCore();
const registry = new PluginRegistry({ core: hostCore, runtimes: [devRuntime()] });
const failures = [];
registry.on((a) => {
  if (a.type === 'handler_failed') failures.push(a);
});
hostCore.setState('sensor.bench_temperature', '21.5', { unit_of_measurement: '°C', device_class: 'temperature', friendly_name: 'Bench temperature' }, { context: hostCore.createContext() });
const ENTITY = 'sensor.bench_temperature';
const QUOTA = 1000; // DEFAULT_LIMITS.hostCallsPerEvent
const hostBody = (call, n) => `(data (i32.const 256) "${ENTITY}")
  (func (export "hc_on_event") (param i32 i32) (result i32) (local $i i32)
    ${n === 0 ? '' : n === Infinity ? `(loop $next ${call} (br $next))` : `(loop $next ${call} (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const ${n}))))`}
    (i32.const 0))`;
const CLOCK = '(drop (call $hc_clock_now))';
const GET = `(drop (call $hc_state_get (i32.const 256) (i32.const ${ENTITY.length}) (i32.const 1024) (i32.const 4096)))`;
const hostGuest = (call, n) => wat(guestWat({ imports: ['hc_clock_now', 'hc_state_get'], memory: '(memory (export "memory") 1 1)', body: hostBody(call, n) }));
const REFUSED_N = QUOTA + 20_000; // within the budget even if a refused call costs as much as a served one
const HOST_CASES = {
  empty: hostGuest(CLOCK, 0),
  clock: hostGuest(CLOCK, QUOTA),
  get: hostGuest(GET, QUOTA),
  clockRefused: hostGuest(CLOCK, REFUSED_N),
};
const hostManifest = (domain, event) => ({
  domain,
  name: domain,
  version: '1.0.0',
  runtime: 'wasm',
  permissions: [`event:subscribe:${event}`, `state:read:${ENTITY}`],
  subscriptions: { events: [event] },
});
for (const [key, code] of Object.entries(HOST_CASES)) await registry.load(hostManifest(`bench_${key.toLowerCase()}`, `bench_${key.toLowerCase()}`), code);
const fire = (key) => (hostCore.fireEvent(`bench_${key.toLowerCase()}`, {}, hostCore.createContext()), registry.idle());
const hostFuel = {};
const nHost = quick ? 20 : 60;
const host = await interleave(
  Object.fromEntries(
    Object.keys(HOST_CASES).map((key) => [
      key,
      () => sampleAsync(() => fire(key), key === 'clockRefused' ? Math.max(5, nHost / 4) : nHost),
    ]),
  ),
  { warmup: 2, runs: quick ? 3 : 7 },
);
for (const key of Object.keys(HOST_CASES)) {
  const s = registry.stats().plugins[`bench_${key.toLowerCase()}`];
  if (s.errors !== 0) throw new Error(`host import case ${key} failed: ${JSON.stringify(s.lastError ?? null)}`);
  hostFuel[key] = s.runtime.fuelLastCall;
}
// An endless hc_clock_now loop, timed directly: one event per plugin until the fuel trap.
const endless = hostGuest(CLOCK, Infinity);
const endlessTimes = [];
const endlessCount = quick ? 3 : 5;
for (let k = 0; k < endlessCount + 1; k++) {
  await registry.load(hostManifest(`bench_endless_${k}`, `bench_endless_${k}`), endless);
  const t0 = now();
  await fire(`endless_${k}`);
  if (k > 0) endlessTimes.push(Number(now() - t0)); // the first one warms the code up
}
const endlessFailures = failures.filter((f) => f.plugin?.startsWith('bench_endless_'));
if (endlessFailures.length !== endlessCount + 1 || endlessFailures.some((f) => f.error.code !== 'HC_ERR_WASM_FUEL_EXHAUSTED')) {
  throw new Error(`the endless host-call loop should end in a fuel trap each time: ${endlessFailures.map((f) => f.error.code).join(', ')}`);
}
const endlessStats = registry.stats().plugins.bench_endless_1.runtime;

// ---- rows ----
const rows = [];
const overhead = (id, label, p, m, extraNote, previous) => {
  rows.push(
    measure({
      id: `wasm.fuel_overhead${id}`,
      name: `fuel overhead ${label}: metered vs plain, p50`,
      value: us(m.p50),
      unit: 'µs',
      p50: us(m.p50),
      p99: us(m.p99),
      reference: { name: 'the same code unmetered', value: us(p.p50), unit: 'µs' },
      ratioTarget: { max: 1.3, text: '<= 1.3x' },
      note: extraNote,
    }),
  );
  if (previous) {
    rows.push(
      measure({
        id: `wasm.fuel_overhead${id}.binaryen`,
        name: `  same with binaryen's metering (${previous.source}, cited, not measured)`,
        value: previous.ratio,
        unit: 'x',
        note: 'binaryen is no longer a dependency; the figure is quoted for comparison only',
      }),
    );
  }
};
overhead('', '(a) reference handler (temperature alert)', ref.plain, ref.metered, `${refFuel} units per event; the runtime's own metered module`, {
  ratio: 1.36,
  source: 'previous run, results.json of 9fcc3e6',
});
overhead('.fib', `(b) call-heavy: recursive fib(${FIB_N})`, guests.fibPlain, guests.fibMetered, `${fibFuel} units per run, ${fib.size} B module; meterModule`, {
  ratio: 1.73,
  source: 'previous run, as reported in the issue',
});
overhead('.loop', `(c) loop-heavy: ${LOOP_N.toLocaleString('en')} iterations of arithmetic + load + store`, guests.loopPlain, guests.loopMetered, `${loopFuel} units per run (${(loopFuel / LOOP_N).toFixed(0)} per iteration); meterModule`);
rows.push(
  measure({
    id: 'wasm.host_overhead',
    name: 'sandbox host path vs metered floor, p50',
    value: us(ref.sandbox.p50),
    unit: 'µs',
    p50: us(ref.sandbox.p50),
    p99: us(ref.sandbox.p99),
    reference: { name: 'metered module, minimal host, awaited', value: us(ref.meteredAwaited.p50), unit: 'µs' },
    note: 'what the runtime adds beyond fuel: async call, quotas, status checks, stats',
  }),
);

const worst = [];
for (const c of CONSTRUCTS) {
  const r = units[c.key];
  const callNs = r.p50 * c.units;
  worst.push({ what: c.name, ns: callNs, units: c.units });
  rows.push(
    measure({
      id: `wasm.fuel_unit.${c.key}`,
      name: `ns per fuel unit: ${c.name}`,
      value: r.p50,
      unit: 'ns',
      p50: r.p50,
      p99: r.p99,
      note: `${c.endless ? `the whole budget (${c.units} units), then the trap` : `${c.units} units per call (${c.iterations} iterations of ${c.perIteration} units)`}; a call ${ms(callNs).toFixed(2)} ms`,
    }),
  );
}
const hostUnit = (key) => (host[key].p50 - host.empty.p50) / (hostFuel[key] - hostFuel.empty);
const refusedUnit = (host.clockRefused.p50 - host.clock.p50) / (hostFuel.clockRefused - hostFuel.clock);
for (const [key, label, value, unitsUsed] of [
  ['clock', `hc_clock_now x ${QUOTA} (the host call quota), registry`, hostUnit('clock'), hostFuel.clock],
  ['get', `hc_state_get x ${QUOTA} (the host call quota), registry`, hostUnit('get'), hostFuel.get],
  ['clock_refused', `hc_clock_now past the quota (refused calls), registry`, refusedUnit, hostFuel.clockRefused - hostFuel.clock],
]) {
  rows.push(
    measure({
      id: `wasm.fuel_unit.host_${key}`,
      name: `ns per fuel unit: ${label}`,
      value,
      unit: 'ns',
      note: `${unitsUsed} units${key === 'clock_refused' ? ` for ${REFUSED_N - QUOTA} refused calls` : ` per event (time per event minus an empty handler's ${us(host.empty.p50).toFixed(0)} µs)`}`,
    }),
  );
}
worst.push({ what: 'endless hc_clock_now loop (until the fuel trap, registry)', ns: median(endlessTimes), units: BUDGET });
worst.sort((a, b) => b.ns - a.ns);
rows.push(
  measure({
    id: 'wasm.fuel_worst_call',
    name: `worst call the default budget (10,000,000) allows: ${worst[0].what}`,
    value: ms(worst[0].ns),
    unit: 'ms',
    target: { max: 100, unit: 'ms', text: '<= 100 ms (stall bound)' },
    reference: { name: 'the claim of about 11 ms (docs/host-abi.md §10 now says "a few milliseconds")', value: 11, unit: 'ms' },
    note: `next: ${worst
      .slice(1, 3)
      .map((w) => `${w.what} ${ms(w.ns).toFixed(1)} ms`)
      .join('; ')}`,
  }),
);
notes.push(
  `worst calls (each close to the default budget unless capped by the memory): ${worst.map((w) => `${w.what}: ${ms(w.ns).toFixed(2)} ms`).join('; ')}`,
  `endless hc_clock_now loop: ${endlessStats.hostCalls} host calls in one event (${endlessStats.hostCalls - endlessStats.quotaHits} served, ${endlessStats.quotaHits} refused past the quota), ${endlessTimes.map((t) => ms(t).toFixed(1)).join(', ')} ms per event`,
  `host import events (registry, fireEvent + idle, p50): empty ${us(host.empty.p50).toFixed(0)} µs, ${QUOTA} x hc_clock_now ${us(host.clock.p50).toFixed(0)} µs (${hostFuel.clock} units), ${QUOTA} x hc_state_get ${us(host.get.p50).toFixed(0)} µs (${hostFuel.get} units), ${REFUSED_N} x hc_clock_now ${ms(host.clockRefused.p50).toFixed(1)} ms (${hostFuel.clockRefused} units)`,
  `fuel per event of the reference handler: ${refFuel} units`,
);
emit({ measures: rows, notes });
