// Subscription scaling: one state change for one subscriber while 1, 1,000 and 10,000 native
// plugins are loaded, each holding a distinct subscription of one shape (and the read permission
// of the same pattern): exact ids, `domain.*`, and two glob shapes the index has to bucket
// (`sensor.*_<i>_temperature`, `*.kitchen_<i>_*`). Timed end to end: `core.setState` of the one
// matched entity until `await registry.idle()` (the subscriber's handler has run). The three sizes
// of a shape are loaded side by side and interleaved, so growth (10,000 vs 1) is measured in one
// process under the same conditions; a host with no plugin at all is timed beside them (the floor:
// the core's write and the registry's listener). Before timing, every shape is checked to select
// exactly one pattern per event with matchesPattern, and after it every event to have been
// delivered exactly once.
import { matchesPattern } from '@homecore/core-traits';
import { createHomecore } from '@homecore/runtime-native';
import { interleave, sampleAsync } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const SIZES = [1, 1000, 10_000];
const TARGET_US = 10; // issue 10 §2: 10,000 plugins with distinct glob subscriptions, one subscriber, p50

const SHAPES = [
  { key: 'exact', label: 'exact id sensor.t_<i>', pattern: (i) => `sensor.t_${i}`, entity: (i) => `sensor.t_${i}` },
  { key: 'domain', label: 'domain light_<i>.*', pattern: (i) => `light_${i}.*`, entity: (i) => `light_${i}.kitchen` },
  { key: 'glob_suffix', label: 'glob sensor.*_<i>_temperature', pattern: (i) => `sensor.*_${i}_temperature`, entity: (i) => `sensor.kitchen_${i}_temperature`, glob: true },
  { key: 'glob_any_domain', label: 'glob *.kitchen_<i>_*', pattern: (i) => `*.kitchen_${i}_*`, entity: (i) => `light.kitchen_${i}_ceiling`, glob: true },
];

function manifest(i, pattern) {
  return {
    domain: `scale_${i}`,
    name: `Scale ${i}`,
    version: '1.0.0',
    documentation: 'https://example.com/scale',
    codeowners: [],
    iot_class: 'calculated',
    runtime: 'native',
    entry: 'index.js',
    permissions: [`state:read:${pattern}`],
    subscriptions: { entities: [pattern] },
  };
}

/** A host with `count` plugins of `shape` loaded; `delivered` counts handler calls. */
async function scaledHost(shape, count) {
  const host = createHomecore({ timeChangedMs: 0 });
  const counter = { delivered: 0 };
  const code = {
    setup() {},
    onStateChanged() {
      counter.delivered++;
    },
  };
  const items = [];
  for (let i = 0; i < count; i++) items.push({ manifest: manifest(i, shape.pattern(i)), code });
  if (items.length > 0) {
    const report = await host.registry.loadAll(items);
    if (report.errors.length > 0) throw report.errors[0];
  }
  const target = count === 0 ? shape.entity(0) : shape.entity(count >> 1);
  const matching = [];
  for (let i = 0; i < count; i++) if (matchesPattern(shape.pattern(i), target)) matching.push(i);
  if (count > 0 && matching.length !== 1) throw new Error(`${shape.key}: ${target} matches ${matching.length} of ${count} patterns, not one`);
  const context = host.core.createContext();
  let n = 0;
  const event = async () => {
    host.core.setState(target, String(n++ & 1), {}, { context });
    await host.registry.idle();
  };
  await event(); // the first write is a new entity; from here on each is a state change
  return { host, counter, event, sent: () => n };
}

const samples = quick ? 300 : 600;
const rounds = { warmup: 1, runs: quick ? 3 : 5 };
const measures = [];
const notes = [];
let floorP50 = null;
for (const shape of SHAPES) {
  const t0 = performance.now();
  const hosts = {};
  for (const size of [0, ...SIZES]) hosts[size] = await scaledHost(shape, size);
  const loadSeconds = (performance.now() - t0) / 1000;
  const r = await interleave(
    Object.fromEntries([0, ...SIZES].map((size) => [size, () => sampleAsync(hosts[size].event, samples)])),
    rounds,
  );
  for (const size of SIZES) {
    const { counter, sent } = hosts[size];
    if (counter.delivered !== sent()) throw new Error(`${shape.key} with ${size}: ${counter.delivered} deliveries for ${sent()} events (one subscriber each)`);
  }
  if (hosts[0].counter.delivered !== 0) throw new Error('the host with no plugin delivered something');
  for (const h of Object.values(hosts)) await h.host.close();

  floorP50 ??= r[0].p50 / 1e3;
  const one = r[1];
  for (const size of SIZES) {
    const fig = r[size];
    const biggest = size === SIZES.at(-1);
    measures.push(
      measure({
        id: `scaling.${shape.key}_${size}`,
        name: `one event to 1 subscriber, ${size.toLocaleString('en-US')} plugin${size === 1 ? '' : 's'} loaded, ${shape.label} (end to end: setState until idle)`,
        value: fig.p50 / 1e3,
        unit: 'µs',
        p50: fig.p50 / 1e3,
        p99: fig.p99 / 1e3,
        ops: fig.ops,
        ...(biggest && shape.glob ? { target: { max: TARGET_US, unit: 'µs', text: `<= ${TARGET_US} µs` } } : {}),
        ...(biggest ? { reference: { name: '1 plugin loaded (growth)', value: one.p50 / 1e3, unit: 'µs' } } : {}),
        note:
          size === 1
            ? `the same event with no plugin loaded: ${(r[0].p50 / 1e3).toFixed(1)} µs p50 (the core's write and the registry's listener)`
            : biggest
              ? `growth 10,000 vs 1 loaded: ${(fig.p50 / one.p50).toFixed(2)}x p50, ${(fig.p99 / one.p99).toFixed(2)}x p99; minus the no-plugin floor the dispatch part is ${((fig.p50 - r[0].p50) / 1e3).toFixed(1)} µs`
              : null,
      }),
    );
  }
  notes.push(`${shape.key}: hosts of 0, 1, 1,000 and 10,000 plugins loaded in ${loadSeconds.toFixed(1)} s; ${samples} events per host per round, ${rounds.runs} rounds after ${rounds.warmup} warm-up`);
}
measures.unshift(
  measure({
    id: 'scaling.no_plugin',
    name: 'one state change, no plugin loaded (floor of the rows below: core write + registry listener, setState until idle)',
    value: floorP50,
    unit: 'µs',
  }),
);
emit({ measures, notes });
