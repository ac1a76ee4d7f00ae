// 5. wasm guest call: one `state_changed` delivered to the wasm temperature alert, p50 and p99, side by side:
//   sandbox: `await instance.handleEvent(delivered)` on HOMECORE's WasmRuntime instance (fuel set,
//            quotas reset, hc_alloc + copy + hc_on_state_changed + hc_free, status checked);
//   floor:   the same module, plain WebAssembly, minimal host, the same copy-in and call, sync;
//   extism:  `await plugin.call('on_state_changed', bytes)` on the Extism build of the plugin (the
//            same lazy reader and handler; only the ABI plumbing differs).
// All three get the same pre-serialised event bytes (the registry serialises once per event).
// Two inputs: in-band temperatures (entity id compared in place, new_state.state decoded and
// compared, no write) and above-high ones (one state write into an InMemoryCore per event, through
// each host's own state-setting import). Before timing, each host is checked to act alike.
// These rows time the guest call only ("wasm guest call"): the core write, the dispatch and the
// serialisation every real event pays are outside them. The end-to-end rows (core.setState until
// the plugin's write is visible, wasm beside native) come from hotpath-e2e.mjs.
import { InMemoryCore } from '@homecore/core';
import { createDeliveredEvent } from '@homecore/registry';
import { endToEnd } from './hotpath-e2e.mjs';
import { interleave, sampleAsync, sampleSync } from '../lib/measure.mjs';
import { alertConfig, captureEvents, sensorWriter } from '../lib/hosts.mjs';
import { callWithBytes, devRuntime, extismPlugin, floorPlugin, floorSetup, sandboxPlugin, temperatureWasm } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const bytes = await temperatureWasm();
const runtime = devRuntime();
const runs = quick ? 3 : 7;
const us = (ns) => ns / 1e3;

/** Checks that every host does the same thing with the event (the alert untouched, or set 'on') before it is timed. */
async function checkSameBehaviour(core, hosts, expected) {
  const alert = alertConfig(0).alert;
  const context = core.createContext();
  for (const [name, run] of Object.entries(hosts)) {
    core.setState(alert, 'unset', {}, { context });
    await run();
    const state = core.getState(alert)?.state;
    if (state !== expected) throw new Error(`${name}: the alert is "${state}" after the event, expected "${expected}"`);
  }
}

async function compare(values, expected) {
  const core = new InMemoryCore();
  const delivered = captureEvents(core, sensorWriter(core, values), 2).map((e) => createDeliveredEvent(e));
  const payloads = delivered.map((d) => d.bytes()); // serialise once, outside the timed region
  const sandbox = await sandboxPlugin(runtime, bytes, core);
  const floor = await floorPlugin(bytes, core);
  floorSetup(floor);
  const extism = await extismPlugin(core);
  await checkSameBehaviour(
    core,
    {
      sandbox: () => sandbox.handleEvent(delivered[0]),
      floor: async () => callWithBytes(floor, 'hc_on_state_changed', payloads[0]),
      extism: () => extism.call('on_state_changed', payloads[0]),
    },
    expected,
  );
  const n = quick ? 600 : 2000;
  const r = await interleave(
    {
      sandbox: () => sampleAsync((i) => sandbox.handleEvent(delivered[i & 1]), n),
      // Timed like the others (one awaited call per sample): an await between calls can slow the
      // guest's next call on V8, so a sync loop could flatter the floor (its figure is in the notes).
      floor: () => sampleAsync(async (i) => callWithBytes(floor, 'hc_on_state_changed', payloads[i & 1]), n),
      floorSync: async () => sampleSync((i) => callWithBytes(floor, 'hc_on_state_changed', payloads[i & 1]), n, 1),
      extism: () => sampleAsync((i) => extism.call('on_state_changed', payloads[i & 1]), n / 4),
    },
    { warmup: 2, runs },
  );
  if (sandbox.stats().traps !== 0) throw new Error('the sandboxed plugin trapped');
  return { r, size: payloads[0].length };
}

const band = await compare(['21.5', '22.5'], 'unset');
const write = await compare(['26.5', '27.5'], 'on');

// End to end: core.setState until the plugin's write is visible, wasm and native side by side
// (and the same plugin hand-wired to the core, no registry), in the same process.
const e2e = await endToEnd({ quick, runs, bytes });

const rows = [];
for (const [label, { r }] of [['in band, no write', band], ['above high, 1 write', write]]) {
  const key = label.startsWith('in') ? 'band' : 'write';
  rows.push(
    measure({
      id: `wasm.guest_call_${key}.floor`,
      name: `wasm guest call (${label}; pre-encoded event replayed): sandbox vs floor, p50`,
      value: us(r.sandbox.p50),
      unit: 'µs',
      p50: us(r.sandbox.p50),
      p99: us(r.sandbox.p99),
      ops: r.sandbox.ops,
      target: key === 'band' ? { max: 2, unit: 'µs', text: '<= 2 µs' } : null,
      reference: { name: `plain WebAssembly floor (p99 ${us(r.floor.p99).toFixed(2)} µs)`, value: us(r.floor.p50), unit: 'µs' },
      ratioTarget: { max: 2, text: '<= 2x floor' },
    }),
    measure({
      id: `wasm.guest_call_${key}.extism`,
      name: `wasm guest call (${label}; pre-encoded event replayed): sandbox vs Extism, p50`,
      value: us(r.sandbox.p50),
      unit: 'µs',
      p50: us(r.sandbox.p50),
      p99: us(r.sandbox.p99),
      reference: { name: `@extism/extism foreground (p99 ${us(r.extism.p99).toFixed(1)} µs)`, value: us(r.extism.p50), unit: 'µs' },
      ratioKind: 'speedup',
      ratioTarget: { min: 10, text: '>= 10x faster' },
    }),
  );
}
rows.push(...e2e.rows);
emit({
  measures: rows,
  notes: [
    ...e2e.notes,
    `floor in a back-to-back sync loop (no await between calls): ${us(band.r.floorSync.p50).toFixed(2)} µs in band, ${us(write.r.floorSync.p50).toFixed(2)} µs with a write`,
    `event JSON ${band.size} B (HA state_changed with old and new state); per-op samples; all three run the SDK's lazy reader (entityIs + new_state.state); Extism copies its input into guest memory through input_load_u64 host calls (8 B each)`,
  ],
});
