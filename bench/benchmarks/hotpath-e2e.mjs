// End to end: from `core.setState(sensor)` until the temperature alert's resulting write is visible
// in the core (above-high readings, so every event makes the plugin write), p50/p99, in one process:
//   wasm:    the wasm alert through a registry (dispatch, the event's JSON bytes, the guest call,
//            its hc_state_set applied through the plugin's context); `await registry.idle()`;
//   native:  the native alert through a registry (dispatch, the handler, ctx.setState); idle();
//   direct:  the native alert hand-wired: a core listener calls onStateChanged, which writes
//            through a bare context straight into the core (no registry, no checks);
//   write:   the sensor write alone on a host with no plugin (context for the others).
// Every write has a fresh context, as writes from devices do (one context for all writes would be
// one endless causal chain, refused as a feedback loop), and the hosts allow unlimited writes per
// second (the default budget of 500/s would refuse most of the benchmark's writes).
// Imported by wasm-event.mjs; run alone it prints its own rows.
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { InMemoryCore } from '@homecore/core';
import { temperatureAlert } from '@homecore/plugin-example';
import { createHomecore } from '@homecore/runtime-native';
import { interleave, sampleAsync } from '../lib/measure.mjs';
import { SENSOR, alertConfig, directContext, nativeHost } from '../lib/hosts.mjs';
import { devRuntime, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const ABOVE_HIGH = ['26.5', '27.5'];
const ATTRIBUTES = { unit_of_measurement: '°C', device_class: 'temperature' };
const UNLIMITED = { limits: { writesPerSecond: Infinity } };
const us = (ns) => ns / 1e3;

/** Writes the sensor, alternating above-high readings, each write with a fresh context; returns the reading. */
function freshWriter(core) {
  let n = 0;
  return () => {
    const value = ABOVE_HIGH[n++ & 1];
    core.setState(SENSOR, value, ATTRIBUTES, { context: core.createContext() });
    return value;
  };
}

/** Throws unless the alert shows the plugin's answer to `reading` (its write is visible). */
function expectAnswered(core, reading, name) {
  const alert = core.getState(alertConfig(0).alert);
  if (alert?.state !== 'on' || alert.attributes.temperature !== Number(reading)) {
    throw new Error(`${name}: after the sensor read ${reading} the alert is ${JSON.stringify(alert)}`);
  }
}

/** The four variants, interleaved; returns their rows and notes. */
export async function endToEnd({ quick, runs, bytes }) {
  const loadBefore = os.loadavg();
  const wasm = createHomecore({ runtimes: [devRuntime()], ...UNLIMITED });
  await wasm.registry.load(await wasmManifest(bytes, 0), bytes, { config: { data: alertConfig(0) } });
  const native = await nativeHost(1, UNLIMITED);
  const empty = createHomecore({ runtimes: [devRuntime()], ...UNLIMITED });

  const directCore = new InMemoryCore();
  const plugin = temperatureAlert();
  await plugin.setup(directContext(directCore, alertConfig(0)));
  directCore.listen((event) => {
    if (event.event_type === 'state_changed' && event.data.entity_id === SENSOR) plugin.onStateChanged(event);
  });

  const writers = { wasm: freshWriter(wasm.core), native: freshWriter(native.core), direct: freshWriter(directCore), write: freshWriter(empty.core) };
  const cores = { wasm: wasm.core, native: native.core, direct: directCore };
  const registries = { wasm: wasm.registry, native: native.registry };
  for (const [name, core] of Object.entries(cores)) {
    const reading = writers[name]();
    await registries[name]?.idle();
    expectAnswered(core, reading, name);
  }

  const n = quick ? 500 : 2000;
  const last = {};
  const through = (name) => () =>
    sampleAsync(async () => {
      last[name] = writers[name]();
      await registries[name].idle();
    }, n);
  const r = await interleave(
    {
      wasm: through('wasm'),
      native: through('native'),
      direct: () =>
        sampleAsync(async () => {
          last.direct = writers.direct();
        }, n),
      write: () =>
        sampleAsync(async () => {
          writers.write();
          await empty.registry.idle();
        }, n),
    },
    { warmup: 2, runs },
  );
  for (const [name, core] of Object.entries(cores)) expectAnswered(core, last[name], name);
  for (const registry of Object.values(registries)) {
    const stats = Object.values(registry.stats().plugins)[0];
    const refused = Object.values(stats.refused).reduce((a, b) => a + b, 0);
    if (stats.errors !== 0 || refused !== 0 || stats.dropped.overflow !== 0) throw new Error(`${stats.id} failed, was refused or dropped events: ${JSON.stringify(stats)}`);
  }
  const loadAfter = os.loadavg();

  const row = (id, name, figures, reference, ratioTarget, note) =>
    measure({ id, name, value: us(figures.p50), unit: 'µs', p50: us(figures.p50), p99: us(figures.p99), ops: figures.ops, reference, ratioTarget, note });
  const rows = [
    row(
      'e2e.wasm',
      "wasm end to end (setState until the plugin's write is visible), p50",
      r.wasm,
      { name: `native end to end, same run (p99 ${us(r.native.p99).toFixed(1)} µs)`, value: us(r.native.p50), unit: 'µs' },
      { max: 1.6, text: '<= 1.6x native' },
      `p99 ratio ${(r.wasm.p99 / r.native.p99).toFixed(2)}x`,
    ),
    row(
      'e2e.native',
      "native end to end (setState until the plugin's write is visible), p50",
      r.native,
      { name: `the plugin hand-wired to the core, same run (p99 ${us(r.direct.p99).toFixed(1)} µs)`, value: us(r.direct.p50), unit: 'µs' },
      { max: 1.3, text: '<= 1.3x direct' },
      `p99 ratio ${(r.native.p99 / r.direct.p99).toFixed(2)}x`,
    ),
    row(
      'e2e.direct',
      'native plugin hand-wired to the core (listener calls onStateChanged, which writes), p50',
      r.direct,
      { name: 'the sensor write alone, no plugin', value: us(r.write.p50), unit: 'µs' },
      undefined,
      'context: the floor of the native end-to-end row',
    ),
  ];
  const notes = [
    `end to end: above-high readings (each event makes the alert write), a fresh context per write, writesPerSecond unlimited; ${n} single-op samples per run, ${runs} runs; the sensor write alone ${us(r.write.p50).toFixed(2)} µs; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(2)).join(' ')} after`,
  ];
  return { rows, notes };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { quick } = childArgs();
  const { rows, notes } = await endToEnd({ quick, runs: quick ? 3 : 7, bytes: await temperatureWasm() });
  emit({ measures: rows, notes });
}
