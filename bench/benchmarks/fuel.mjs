// 9. Fuel overhead: the temperature alert's handler metered vs unmetered, both hand-wired with the
// same minimal host (no sandbox bookkeeping), on the same event bytes. The metered module is the one
// the runtime compiled and cached at load (binaryen's fuel injection); the plain one is the build
// output. A third variant, the full sandbox path, splits the sandbox's cost into fuel and host work.
import { InMemoryCore } from '@homecore/core';
import { FUEL_SET_EXPORT } from '@homecore/runtime-wasm';
import { createDeliveredEvent } from '@homecore/registry';
import { interleave, sampleAsync, sampleSync } from '../lib/measure.mjs';
import { captureEvents, sensorWriter } from '../lib/hosts.mjs';
import { callWithBytes, devRuntime, floorPlugin, floorSetup, sandboxPlugin, temperatureWasm } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const bytes = await temperatureWasm();
const core = new InMemoryCore();
const delivered = captureEvents(core, sensorWriter(core), 2).map((e) => createDeliveredEvent(e));
const payloads = delivered.map((d) => d.bytes());

const sandbox = await sandboxPlugin(devRuntime(), bytes, core);
// The runtime keeps the compiled metered module on the instance (a private field, read here only).
const meteredModule = sandbox.init?.module;
if (!(meteredModule instanceof WebAssembly.Module)) throw new Error('could not reach the runtime\'s metered module: WasmPluginInstance changed shape');
const BUDGET = 10_000_000;
const plain = await floorPlugin(bytes, core);
floorSetup(plain);
const metered = await floorPlugin(meteredModule, core, {
  __homecore_out_of_fuel: () => {
    throw new Error('out of fuel');
  },
});
metered[FUEL_SET_EXPORT](BUDGET);
floorSetup(metered);

const n = quick ? 1000 : 4000;
const r = await interleave(
  {
    plain: async () => sampleSync((i) => callWithBytes(plain, 'hc_on_state_changed', payloads[i & 1]), n, 1),
    metered: async () =>
      sampleSync((i) => (metered[FUEL_SET_EXPORT](BUDGET), callWithBytes(metered, 'hc_on_state_changed', payloads[i & 1])), n, 1),
    // The same metered call awaited per sample, as the sandbox's async API is (see wasm-event.mjs).
    meteredAwaited: () =>
      sampleAsync(async (i) => (metered[FUEL_SET_EXPORT](BUDGET), callWithBytes(metered, 'hc_on_state_changed', payloads[i & 1])), n),
    sandbox: () => sampleAsync((i) => sandbox.handleEvent(delivered[i & 1]), n),
  },
  { warmup: 2, runs: quick ? 3 : 9 },
);
const us = (ns) => ns / 1e3;
emit({
  measures: [
    measure({
      id: 'wasm.fuel_overhead',
      name: 'fuel: metered handler vs plain, p50',
      value: us(r.metered.p50),
      unit: 'µs',
      p50: us(r.metered.p50),
      p99: us(r.metered.p99),
      reference: { name: 'the same handler unmetered', value: us(r.plain.p50), unit: 'µs' },
      note: 'expected 1.2-1.4x for AssemblyScript handlers (measured in research, smaller handlers)',
    }),
    measure({
      id: 'wasm.host_overhead',
      name: 'sandbox host path vs metered floor, p50',
      value: us(r.sandbox.p50),
      unit: 'µs',
      p50: us(r.sandbox.p50),
      p99: us(r.sandbox.p99),
      reference: { name: 'metered module, minimal host, awaited', value: us(r.meteredAwaited.p50), unit: 'µs' },
      note: 'what the runtime adds beyond fuel: async call, quotas, status checks, stats',
    }),
  ],
  notes: [`fuel used per event: ${sandbox.stats().fuelLastCall} units`],
});
