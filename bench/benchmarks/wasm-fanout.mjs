// 6. One `state_changed` fanned out to 100 wasm temperature alerts through the registry: time from
// core.setState(...) until registry.idle() resolves. The registry serialises the event once; each
// plugin gets the same bytes copied into its memory. Context: the same 100 deliveries hand-wired
// (100 plain instances called back to back with the same bytes, no sandbox).
import { createDeliveredEvent } from '@homecore/registry';
import { createHomecore } from '@homecore/runtime-native';
import { interleave, sampleAsync } from '../lib/measure.mjs';
import { alertConfig, captureEvents, sensorWriter } from '../lib/hosts.mjs';
import { callWithBytes, devRuntime, floorPlugin, floorSetup, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const N = 100;
const bytes = await temperatureWasm();
const host = createHomecore({ runtimes: [devRuntime()] });
const items = [];
for (let i = 0; i < N; i++) items.push({ manifest: await wasmManifest(bytes, i), code: bytes, config: { data: alertConfig(i) } });
const report = await host.registry.loadAll(items);
if (report.errors.length > 0) throw report.errors[0];
const empty = createHomecore({ runtimes: [devRuntime()] });
const write = sensorWriter(host.core);
const writeEmpty = sensorWriter(empty.core);

const module = await WebAssembly.compile(bytes);
const floors = [];
for (let i = 0; i < N; i++) {
  const f = await floorPlugin(module, empty.core);
  floorSetup(f, i);
  floors.push(f);
}
const payloads = captureEvents(empty.core, writeEmpty, 2).map((e) => createDeliveredEvent(e).bytes());

const samples = quick ? 40 : 150;
const r = await interleave(
  {
    sandbox: () => sampleAsync(() => (write(), host.registry.idle()), samples),
    baseline: () => sampleAsync(() => (writeEmpty(), empty.registry.idle()), samples),
    floor: () =>
      sampleAsync(async (s) => {
        for (const f of floors) callWithBytes(f, 'hc_on_state_changed', payloads[s & 1]);
      }, samples),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);
for (const s of Object.values(host.registry.stats().plugins)) {
  if (s.errors !== 0 || s.dropped.overflow !== 0) throw new Error(`${s.id} failed or dropped events`);
}
const us = (ns) => ns / 1e3;
emit({
  measures: [
    measure({
      id: 'wasm.fanout_100',
      name: 'one event to 100 wasm plugins, p50',
      value: us(r.sandbox.p50),
      unit: 'µs',
      p50: us(r.sandbox.p50),
      p99: us(r.sandbox.p99),
      ops: r.sandbox.ops,
      target: { max: 150, unit: 'µs', text: '<= 150 µs' },
      reference: { name: '100 plain instances, same bytes', value: us(r.floor.p50), unit: 'µs' },
      note: `${((r.sandbox.p50 - r.baseline.p50) / N / 1e3).toFixed(2)} µs per plugin`,
    }),
  ],
  notes: [
    `per plugin: ${((r.sandbox.p50 - r.baseline.p50) / N / 1e3).toFixed(2)} µs through the registry, ${(r.floor.p50 / N / 1e3).toFixed(2)} µs hand-wired; the write alone ${us(r.baseline.p50).toFixed(2)} µs`,
  ],
});
