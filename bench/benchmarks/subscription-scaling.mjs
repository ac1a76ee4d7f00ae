// Subscription scaling: one state change for one subscriber while 1, 1,000 and 10,000 native
// plugins are loaded. Plugin i holds four distinct subscriptions, one of each shape (and the read
// permission of each pattern): an exact id, a `domain.*`, and two glob shapes the index has to
// bucket (`sensor.*_<i>_temperature`, `*.kitchen_<i>_*`); so with 10,000 loaded the index holds
// 10,000 patterns of each shape. An event of one shape targets an entity only plugin k's pattern of
// that shape matches. Timed end to end: `core.setState` of that entity until
// `await registry.idle()` (the subscriber's handler has run). The three hosts are loaded side by
// side and every (shape, size) is interleaved, so growth (10,000 vs 1) is measured in one process
// under the same conditions; a host with no plugin at all is timed beside them (the floor: the
// core's write and the registry's listener). Before timing, each target is checked to match
// exactly one of all the patterns with matchesPattern, and after it every event to have been
// delivered exactly once.
import { matchesPattern } from '@homecore/core-traits';
import { createHomecore } from '@homecore/runtime-native';
import { interleave, median, sampleAsync } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const SIZES = [1, 1000, 10_000];
const TARGET_US = 10; // issue 10 §2: 10,000 plugins with distinct glob subscriptions, one subscriber, p50

const SHAPES = [
  { key: 'exact', label: 'exact id sensor.t_<i>', pattern: (i) => `sensor.t_${i}`, entity: (i) => `sensor.t_${i}` },
  { key: 'domain', label: 'domain light_<i>.*', pattern: (i) => `light_${i}.*`, entity: (i) => `light_${i}.kitchen` },
  { key: 'glob_suffix', label: 'glob sensor.*_<i>_temperature', pattern: (i) => `sensor.*_${i}_temperature`, entity: (i) => `sensor.hall_${i}_temperature`, glob: true },
  { key: 'glob_any_domain', label: 'glob *.kitchen_<i>_*', pattern: (i) => `*.kitchen_${i}_*`, entity: (i) => `light.kitchen_${i}_ceiling`, glob: true },
];

function manifest(i, patterns) {
  return {
    domain: `scale_${i}`,
    name: `Scale ${i}`,
    version: '1.0.0',
    documentation: 'https://example.com/scale',
    codeowners: [],
    iot_class: 'calculated',
    runtime: 'native',
    entry: 'index.js',
    permissions: patterns.map((p) => `state:read:${p}`),
    subscriptions: { entities: patterns },
  };
}

/** A host with `count` plugins loaded (each with one pattern of every shape); `delivered` counts handler calls. */
async function scaledHost(count) {
  const host = createHomecore({ timeChangedMs: 0 });
  const counter = { delivered: 0 };
  const code = {
    setup() {},
    onStateChanged() {
      counter.delivered++;
    },
  };
  const items = [];
  for (let i = 0; i < count; i++) items.push({ manifest: manifest(i, SHAPES.map((shape) => shape.pattern(i))), code });
  if (items.length > 0) {
    const report = await host.registry.loadAll(items);
    if (report.errors.length > 0) throw report.errors[0];
  }
  const context = host.core.createContext();
  let n = 0;
  const events = {};
  for (const shape of SHAPES) {
    const target = shape.entity(count >> 1);
    let matching = 0;
    for (let i = 0; i < count; i++) for (const other of SHAPES) if (matchesPattern(other.pattern(i), target)) matching++;
    if (count > 0 && matching !== 1) throw new Error(`${shape.key}: ${target} matches ${matching} of the ${count * SHAPES.length} patterns, not one`);
    // Each target alternates its own two values, so every write is a state change.
    let own = 0;
    events[shape.key] = async () => {
      n++;
      host.core.setState(target, String(own++ & 1), {}, { context });
      await host.registry.idle();
    };
    await events[shape.key](); // the first write is a new entity; from here on each is a state change
  }
  return { host, counter, events, sent: () => n };
}

const samples = quick ? 300 : 600;
const rounds = { warmup: 1, runs: quick ? 3 : 5 };
const t0 = performance.now();
const hosts = {};
for (const size of [0, ...SIZES]) hosts[size] = await scaledHost(size);
const loadSeconds = (performance.now() - t0) / 1000;
const variants = {};
for (const shape of SHAPES) for (const size of [0, ...SIZES]) variants[`${shape.key}:${size}`] = () => sampleAsync(hosts[size].events[shape.key], samples);
const r = await interleave(variants, rounds);
for (const size of SIZES) {
  const { counter, sent } = hosts[size];
  if (counter.delivered !== sent()) throw new Error(`${size} loaded: ${counter.delivered} deliveries for ${sent()} events (one subscriber each)`);
}
if (hosts[0].counter.delivered !== 0) throw new Error('the host with no plugin delivered something');
for (const h of Object.values(hosts)) await h.host.close();

const measures = [];
const floors = SHAPES.map((shape) => r[`${shape.key}:0`].p50 / 1e3);
measures.push(
  measure({
    id: 'scaling.no_plugin',
    name: 'one state change, no plugin loaded (floor of the rows below: core write + registry listener, setState until idle)',
    value: median(floors),
    unit: 'µs',
    note: `median over the four target entities: ${floors.map((f) => f.toFixed(2)).join(', ')} µs`,
  }),
);
for (const shape of SHAPES) {
  const floor = r[`${shape.key}:0`];
  const one = r[`${shape.key}:1`];
  for (const size of SIZES) {
    const fig = r[`${shape.key}:${size}`];
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
        note: biggest
          ? `growth 10,000 vs 1 loaded: ${(fig.p50 / one.p50).toFixed(2)}x p50, ${(fig.p99 / one.p99).toFixed(2)}x p99; minus the no-plugin floor (${(floor.p50 / 1e3).toFixed(1)} µs) the dispatch part is ${((fig.p50 - floor.p50) / 1e3).toFixed(1)} µs`
          : null,
      }),
    );
  }
}
emit({
  measures,
  notes: [
    `hosts of 0, 1, 1,000 and 10,000 plugins (4 subscriptions each, one per shape) loaded in ${loadSeconds.toFixed(1)} s; ${samples} events per (shape, size) per round, ${rounds.runs} rounds after ${rounds.warmup} warm-up, all interleaved`,
  ],
});
