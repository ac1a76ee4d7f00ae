// 8. Memory per loaded wasm plugin with 1,000 loaded through a registry (run with --expose-gc).
// RSS and heap are read after a full GC before and after loading 1,000 temperature alerts (each
// its own instance, linear memory, registry record, context and subscriptions) and one event
// delivered to all of them. Raw = Δrss / 1,000; net = (Δrss - linear memory) / 1,000, where linear
// memory is pages x 64 KiB as reported by each instance. RSS counts only touched pages, and a
// guest rarely touches all of its pages, so net is a lower bound and raw an upper bound.
import { readFileSync } from 'node:fs';
import { createHomecore } from '@homecore/runtime-native';
import { alertConfig, sensorWriter } from '../lib/hosts.mjs';
import { devRuntime, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const { quick } = childArgs();
const N = 1000;
const bytes = await temperatureWasm();
const host = createHomecore({ runtimes: [devRuntime()] });
const manifests = [];
for (let i = 0; i < N; i++) manifests.push(await wasmManifest(bytes, i));
// Warm everything up with one plugin (the rewriter, the metered-module cache, code) before the baseline.
await host.registry.load(await wasmManifest(bytes, N), bytes, { config: { data: alertConfig(N) } });
const write = sensorWriter(host.core);
write();
await host.registry.idle();

const KiB = 1024;
/**
 * Resident bytes of wasm linear memories, read from Linux's /proc/self/smaps: V8 maps each 32-bit
 * memory as its accessible pages (rw) directly followed by a guard reservation (no access) of
 * about 8-10 GiB, so an rw mapping of at most 1 MiB (the plugins' 16-page cap) that ends where
 * such a guard begins is a linear memory, and its Rss is what the guest really touched.
 * null when smaps cannot be read (not Linux).
 */
function touchedLinearMemory() {
  let text;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const maps = [];
  let current;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+)/.exec(line);
    if (head) {
      current = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3], size: 0, rss: 0 };
      maps.push(current);
    } else if (current && line.startsWith('Size:')) current.size = Number(line.split(/\s+/)[1]) * KiB;
    else if (current && line.startsWith('Rss:')) current.rss = Number(line.split(/\s+/)[1]) * KiB;
  }
  let total = 0;
  for (let i = 1; i < maps.length; i++) {
    const guard = maps[i];
    const prev = maps[i - 1];
    if (guard.perms.startsWith('---') && guard.size >= 7 * 2 ** 30 && prev.end === guard.start && prev.perms.startsWith('rw') && prev.size <= 2 ** 20) {
      total += prev.rss;
    }
  }
  return total;
}
function snapshot() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, linear: touchedLinearMemory() };
}
const before = snapshot();
const chunk = quick ? 1000 : 100;
for (let start = 0; start < N; start += chunk) {
  const items = [];
  for (let i = start; i < Math.min(N, start + chunk); i++) items.push({ manifest: manifests[i], code: bytes, config: { data: alertConfig(i) } });
  const report = await host.registry.loadAll(items);
  if (report.errors.length > 0) throw report.errors[0];
}
write();
await host.registry.idle();
const after = snapshot();

const stats = host.registry.stats().plugins;
let pages = 0;
let loaded = 0;
for (let i = 0; i < N; i++) {
  const s = stats[`temperature_alert_${i}`];
  if (s?.state === 'loaded' && s.delivered === 1) loaded++;
  pages += s?.runtime.memoryPages ?? 0;
}
if (loaded !== N) throw new Error(`only ${loaded} of ${N} plugins loaded and received the event`);
const linear = pages * 64 * KiB;
const touched = after.linear === null ? null : after.linear - before.linear;
const dRss = after.rss - before.rss;
const dHeap = after.heap - before.heap;
emit({
  measures: [
    measure({
      id: 'wasm.memory_net',
      name: 'memory per wasm plugin beyond linear memory (1,000 loaded)',
      value: (dRss - (touched ?? linear)) / N / KiB,
      unit: 'KiB',
      target: { max: 256, unit: 'KiB', text: '<= 256 KiB' },
      note: touched === null ? 'RSS delta minus pages x 64 KiB (a lower bound: untouched pages are not resident)' : 'RSS delta minus the resident (touched) part of the linear memories',
    }),
    measure({
      id: 'wasm.memory_net_all_pages',
      name: 'same, minus all pages x 64 KiB (lower bound)',
      value: (dRss - linear) / N / KiB,
      unit: 'KiB',
    }),
    measure({ id: 'wasm.memory_raw', name: 'RSS per wasm plugin, raw (1,000 loaded)', value: dRss / N / KiB, unit: 'KiB', note: 'upper bound, includes touched linear memory' }),
    measure({ id: 'wasm.memory_heap', name: 'JS heap per wasm plugin (1,000 loaded)', value: dHeap / N / KiB, unit: 'KiB' }),
  ],
  notes: [
    `1,000 plugins loaded and each delivered one event; linear memory ${pages} pages in all (${(linear / N / KiB).toFixed(0)} KiB each), resident ${touched === null ? 'unknown' : `${(touched / N / KiB).toFixed(1)} KiB each`}; Δrss ${(dRss / 2 ** 20).toFixed(1)} MiB, Δheap ${(dHeap / 2 ** 20).toFixed(1)} MiB, Δexternal ${((after.external - before.external) / 2 ** 20).toFixed(1)} MiB`,
  ],
});
