// 6. One `state_changed` fanned out to 10, 100 and 1,000 wasm temperature alerts (in-band readings:
// each plugin parses and compares, none writes), p50/p99 from `core.setState(...)` until
// `registry.idle()` resolves, against the hand-wired floor of the same number of instances: a core
// listener that serialises the event once (JSON.stringify + encode) and calls N plain instances of
// the same module back to back with the same bytes (no registry, sandbox, fuel or checks).
// A second floor, "metered", is the same hand-wiring over the module as the runtime meters it
// (meterModule, the fuel counter set before each call): the gap floor → metered is what metering
// costs, metered → sandbox what the registry and the runtime's checks cost.
// Per-plugin cost: (fan-out − the same write with no plugin) / N.
import { InMemoryCore } from '@homecore/core';
import { createHomecore } from '@homecore/runtime-native';
import os from 'node:os';
import { interleave, sampleAsync } from '../lib/measure.mjs';
import { alertConfig, sensorWriter, SENSOR } from '../lib/hosts.mjs';
import { FUEL_EXPORT, meterModule } from '@homecore/runtime-wasm';
import { callWithBytes, devRuntime, floorPlugin, floorSetup, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const SIZES = [10, 100, 1000];
const bytes = await temperatureWasm();
const module = await WebAssembly.compile(bytes);
const meteredModule = await WebAssembly.compile(meterModule(bytes));
const START_EXPORT = '__homecore_start';
const FUEL = 10_000_000;
const encoder = new TextEncoder();
const loadBefore = os.loadavg();

/** A registry host with `n` wasm alerts loaded. */
async function sandboxHost(n) {
  const host = createHomecore({ runtimes: [devRuntime()] });
  const items = [];
  for (let i = 0; i < n; i++) items.push({ manifest: await wasmManifest(bytes, i), code: bytes, config: { data: alertConfig(i) } });
  const report = await host.registry.loadAll(items);
  if (report.errors.length > 0) throw report.errors[0];
  return host;
}

/** The hand-wired floor: a core whose listener serialises each sensor event once and calls `n` plain (or metered) instances. */
async function floorHost(n, metered = false) {
  const core = new InMemoryCore();
  const floors = [];
  for (let i = 0; i < n; i++) {
    const f = await floorPlugin(metered ? meteredModule : module, core);
    const fuel = f[FUEL_EXPORT];
    if (metered) {
      fuel.value = FUEL;
      f[START_EXPORT]?.();
    }
    floorSetup(f, i);
    floors.push(f);
  }
  const fuels = floors.map((f) => f[FUEL_EXPORT]);
  let calls = 0;
  core.listen((event) => {
    if (event.event_type !== 'state_changed' || event.data.entity_id !== SENSOR) return;
    const payload = encoder.encode(JSON.stringify(event));
    for (let i = 0; i < floors.length; i++) {
      if (metered) fuels[i].value = FUEL;
      if (callWithBytes(floors[i], 'hc_on_state_changed', payload) !== 0) throw new Error('a floor instance failed');
      calls++;
    }
  });
  return { core, calls: () => calls };
}

const sandboxes = {};
const floors = {};
const metered = {};
for (const n of SIZES) {
  sandboxes[n] = await sandboxHost(n);
  floors[n] = await floorHost(n);
  metered[n] = await floorHost(n, true);
}
const empty = createHomecore({ runtimes: [devRuntime()] });
const writeEmpty = sensorWriter(empty.core);

const samples = (n) => Math.max(20, Math.round((quick ? 4000 : 15000) / n));
const variants = { write: () => sampleAsync(() => (writeEmpty(), empty.registry.idle()), 200) };
for (const n of SIZES) {
  const write = sensorWriter(sandboxes[n].core);
  const writeFloor = sensorWriter(floors[n].core);
  const writeMetered = sensorWriter(metered[n].core);
  variants[`sandbox${n}`] = () => sampleAsync(() => (write(), sandboxes[n].registry.idle()), samples(n));
  variants[`floor${n}`] = () => sampleAsync(async () => writeFloor(), samples(n));
  variants[`metered${n}`] = () => sampleAsync(async () => writeMetered(), samples(n));
}
const r = await interleave(variants, { warmup: 2, runs: quick ? 3 : 7 });
for (const n of SIZES) {
  const stats = Object.values(sandboxes[n].registry.stats().plugins);
  for (const s of stats) if (s.errors !== 0 || s.dropped.overflow !== 0 || s.delivered === 0) throw new Error(`${s.id} failed, dropped or missed events`);
}
const loadAfter = os.loadavg();

const us = (ns) => ns / 1e3;
const perPlugin = (n, figures) => (figures.p50 - r.write.p50) / n / 1e3;
const rows = SIZES.map((n) =>
  measure({
    id: `wasm.fanout_${n}`,
    name: `one event to ${n.toLocaleString('en')} wasm plugins vs the hand-wired floor of ${n.toLocaleString('en')} instances, p50`,
    value: us(r[`sandbox${n}`].p50),
    unit: 'µs',
    p50: us(r[`sandbox${n}`].p50),
    p99: us(r[`sandbox${n}`].p99),
    ops: r[`sandbox${n}`].ops,
    target: n === 100 ? { max: 150, unit: 'µs', text: '<= 150 µs' } : null,
    reference: { name: `${n.toLocaleString('en')} plain instances hand-wired to the core, same run (p99 ${us(r[`floor${n}`].p99).toFixed(1)} µs)`, value: us(r[`floor${n}`].p50), unit: 'µs' },
    ratioTarget: n === 100 ? { max: 1.25, text: '<= 1.25x floor' } : null,
    note: `${perPlugin(n, r[`sandbox${n}`]).toFixed(2)} µs per plugin (floor ${(us(r[`floor${n}`].p50 - r.write.p50) / n).toFixed(2)} µs, metered floor ${(us(r[`metered${n}`].p50 - r.write.p50) / n).toFixed(2)} µs: ${(r[`metered${n}`].p50 / r[`floor${n}`].p50).toFixed(2)}x floor, sandbox ${(r[`sandbox${n}`].p50 / r[`metered${n}`].p50).toFixed(2)}x metered); p99 ratio ${(r[`sandbox${n}`].p99 / r[`floor${n}`].p99).toFixed(2)}x`,
  }),
);
emit({
  measures: rows,
  notes: [
    `floor = core.setState + one JSON.stringify and encode of the event + N plain instances called back to back (hc_alloc, copy, hc_on_state_changed, hc_free); per plugin = (p50 − the write alone ${us(r.write.p50).toFixed(2)} µs) / N; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} after`,
  ],
});
