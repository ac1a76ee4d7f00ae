// 3. One `state_changed` fanned out to 100 and to 1,000 native temperature alerts: time from
// core.setState(...) until registry.idle() resolves (every plugin has handled it), per event.
import { interleave, sampleAsync } from '../lib/measure.mjs';
import { nativeHost, sensorWriter } from '../lib/hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const hosts = { 100: await nativeHost(100), 1000: await nativeHost(1000), 0: await nativeHost(0) };
const writers = Object.fromEntries(Object.entries(hosts).map(([n, h]) => [n, sensorWriter(h.core)]));
const once = (n) => (writers[n](), hosts[n].registry.idle());

const samples = quick ? 60 : 200;
const r = await interleave(
  {
    100: () => sampleAsync(() => once(100), samples),
    1000: () => sampleAsync(() => once(1000), samples / 2),
    0: () => sampleAsync(() => once(0), samples),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);
for (const n of [100, 1000]) {
  for (const s of Object.values(hosts[n].registry.stats().plugins)) {
    if (s.errors !== 0 || s.dropped.overflow !== 0) throw new Error(`${s.id} failed or dropped events`);
  }
}

const us = (ns) => ns / 1e3;
const row = (n) =>
  measure({
    id: `native.fanout_${n}`,
    name: `one event to ${n.toLocaleString('en')} native plugins, p50`,
    value: us(r[n].p50),
    unit: 'µs',
    p50: us(r[n].p50),
    p99: us(r[n].p99),
    ops: r[n].ops,
    reference: { name: 'the same write, no plugin', value: us(r[0].p50), unit: 'µs' },
    note: `${((r[n].p50 - r[0].p50) / n).toFixed(0)} ns per plugin`,
  });
emit({
  measures: [row(100), row(1000)],
  notes: [`per plugin: ${((r[100].p50 - r[0].p50) / 100).toFixed(0)} ns at 100, ${((r[1000].p50 - r[0].p50) / 1000).toFixed(0)} ns at 1,000 (no DESIGN target; context for the wasm fan-out)`],
});
