// 4. Registry lookup: registry.get(id) with 1,000 plugins loaded, against Map.get on a Map of the
// same 1,000 ids (the floor), and against registry.get with 10 plugins (O(1): the ratio should be ~1).
import { interleave, sampleSync } from '../lib/measure.mjs';
import { nativeHost } from '../lib/hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const big = await nativeHost(1000);
const small = await nativeHost(10);
const ids = Array.from({ length: 1000 }, (_, i) => `temperature_alert_${i}`);
const map = new Map(ids.map((id) => [id, { id }]));
const map10 = new Map(ids.slice(0, 10).map((id) => [id, { id }]));
// Look ids up in a scrambled order so no variant profits from a predictable access pattern.
const order = Uint16Array.from({ length: 4096 }, (_, i) => (i * 7919) % 1000);
const orderSmall = Uint16Array.from(order, (i) => i % 10);

const samples = quick ? 400 : 2000;
const batch = 256;
const r = await interleave(
  {
    get1000: async () => sampleSync((i) => big.registry.get(ids[order[i & 4095]]), samples, batch),
    get10: async () => sampleSync((i) => small.registry.get(ids[orderSmall[i & 4095]]), samples, batch),
    map: async () => sampleSync((i) => map.get(ids[order[i & 4095]]), samples, batch),
    map10: async () => sampleSync((i) => map10.get(ids[orderSmall[i & 4095]]), samples, batch),
  },
  { warmup: 2, runs: quick ? 3 : 7 },
);
if (big.registry.get('temperature_alert_999')?.id !== 'temperature_alert_999') throw new Error('lookup failed');

emit({
  measures: [
    measure({
      id: 'registry.get_1000',
      name: 'registry.get(id), 1,000 loaded',
      value: r.get1000.p50,
      unit: 'ns',
      p50: r.get1000.p50,
      p99: r.get1000.p99,
      ops: r.get1000.ops,
      reference: { name: 'Map.get, 1,000 ids', value: r.map.p50, unit: 'ns' },
      note: 'get() builds a fresh summary object (id, manifest, state, health, reason) on every call',
    }),
    measure({
      id: 'registry.get_scaling',
      name: 'registry.get growth, 10 -> 1,000 loaded',
      value: r.get1000.p50 / r.get10.p50,
      unit: 'x',
      reference: { name: 'Map.get growth, 10 -> 1,000 ids', value: r.map.p50 / r.map10.p50, unit: 'x' },
      note: 'O(1): the growth should match a Map\'s own (cache effects only), not 100x',
    }),
  ],
  notes: [`per-op times are means over batches of ${batch} lookups`],
});
