// 10. Sustained load (DESIGN §6): 10,000 state changes/s across 50 mixed plugins (25 native and
// 25 wasm temperature alerts, each watching its own sensor) on one core for 3 s (1 s with --quick).
// Writes are issued on a schedule (checked every event-loop turn); each write sets a sensor above
// the alert's high threshold with a unique value, so the plugin answers with exactly one write to its
// alert carrying that value. Latency per event = alert write time - the write's *scheduled* time
// (so scheduling lag counts, no coordinated omission). Nothing lost: every write is answered, each
// plugin's delivered count equals the writes to its sensor, and no drops.
import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers';
import { temperatureAlert, temperatureAlertManifest } from '@homecore/plugin-example';
import { createHomecore } from '@homecore/runtime-native';
import { devRuntime, temperatureWasm } from '../lib/wasm-hosts.mjs';
import { summarise } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const PLUGINS = 50;
const RATE = 10_000;
const SECONDS = quick ? 1 : 3;
const now = process.hrtime.bigint;

const bytes = await temperatureWasm();
const host = createHomecore({ runtimes: [devRuntime()] });
const sensor = (i) => `sensor.load_${i}`;
const alert = (i) => `binary_sensor.load_alert_${i}`;
const items = [];
for (let i = 0; i < PLUGINS; i++) {
  const wasm = i % 2 === 1;
  const entities = { domain: `temperature_alert_${i}`, sensor: sensor(i), alert: alert(i) };
  const config = { data: { sensor: sensor(i), alert: alert(i), high: 25, low: 20 } };
  const manifest = wasm
    ? { ...temperatureAlertManifest('wasm', entities), module_hash: `sha256:${createHash('sha256').update(bytes).digest('hex')}` }
    : temperatureAlertManifest('native', entities);
  items.push({ manifest, code: wasm ? bytes : temperatureAlert, config });
}
const report = await host.registry.loadAll(items);
if (report.errors.length > 0) throw report.errors[0];

const { core, registry } = host;
const pending = new Map(); // `${plugin}:${value}` -> scheduled time (ns)
const latencies = [];
let answered = 0;
let unexpected = 0;
core.listen((event) => {
  if (event.event_type !== 'state_changed') return;
  const id = event.data.entity_id;
  if (!id.startsWith('binary_sensor.load_alert_')) return;
  const key = `${id.slice('binary_sensor.load_alert_'.length)}:${event.data.new_state.attributes.temperature}`;
  const scheduled = pending.get(key);
  if (scheduled === undefined) {
    unexpected++;
    return;
  }
  pending.delete(key);
  latencies.push(Number(now() - scheduled));
  answered++;
});

// Each write is its own cause (a fresh context), as independent sensor updates are: the registry's
// feedback-loop bound counts the actions caused by one context, so 10,000 writes sharing one
// context would read as one event causing 10,000 answers.
const sent = new Array(PLUGINS).fill(0);
function writeOne(n, scheduled) {
  const i = n % PLUGINS;
  const k = sent[i]++;
  const value = 26 + (k % 1000) / 100; // unique among a sensor's recent writes, always above high
  pending.set(`${i}:${value}`, scheduled);
  core.setState(sensor(i), String(value), { unit_of_measurement: '°C' }, { context: core.createContext() });
}

// Warm-up at the target rate (JIT, first old-space GC), then the measured window.
async function drive(seconds) {
  const interval = 1e9 / RATE;
  const start = now();
  const total = Math.round(seconds * RATE);
  let issued = 0;
  while (issued < total) {
    const elapsed = Number(now() - start);
    const due = Math.min(total, Math.floor(elapsed / interval) + 1);
    while (issued < due) {
      writeOne(issued, start + BigInt(Math.round(issued * interval)));
      issued++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await registry.idle();
  return Number(now() - start) / 1e9;
}
await drive(quick ? 0.5 : 1);
latencies.length = 0;
answered = 0;
const before = registry.stats().plugins;
const sentBefore = [...sent];
const wall = await drive(SECONDS);

const stats = registry.stats().plugins;
let lost = 0;
let drops = 0;
for (let i = 0; i < PLUGINS; i++) {
  const s = stats[`temperature_alert_${i}`];
  const delivered = s.delivered - before[`temperature_alert_${i}`].delivered;
  lost += Math.abs(sent[i] - sentBefore[i] - delivered);
  drops += s.dropped.overflow + s.dropped.backoff + s.dropped.quarantined;
}
lost += pending.size;
const total = Math.round(SECONDS * RATE);
const lat = summarise(latencies);
const ms = (ns) => ns / 1e6;
emit({
  measures: [
    measure({
      id: 'sustained.p99',
      name: `sustained ${RATE.toLocaleString('en')}/s, 50 mixed plugins: latency p99`,
      value: ms(lat.p99),
      unit: 'ms',
      p50: ms(lat.p50),
      p99: ms(lat.p99),
      ops: total / wall,
      target: { max: 5, unit: 'ms', text: '<= 5 ms' },
      note: `p50 ${ms(lat.p50).toFixed(3)} ms; achieved ${(total / wall).toFixed(0)} writes/s`,
    }),
    measure({
      id: 'sustained.lost',
      name: 'sustained: events lost or dropped',
      value: lost + drops + unexpected,
      unit: 'events',
      target: { max: 0, unit: 'events', text: '0' },
    }),
  ],
  notes: [
    `${total} writes in ${wall.toFixed(2)} s (${(total / wall).toFixed(0)}/s) to 50 sensors, 25 native + 25 wasm plugins; latency p50 ${ms(lat.p50).toFixed(3)} ms, p99 ${ms(lat.p99).toFixed(3)} ms, max ${ms(Math.max(...latencies)).toFixed(2)} ms; answered ${answered}, lost ${lost}, dropped ${drops}, unexpected ${unexpected}`,
  ],
});
