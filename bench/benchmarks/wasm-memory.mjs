// 8. Memory per loaded wasm plugin, each figure from its own fresh child process run with
// --expose-gc (nothing else loaded or allocated there, so the deltas are clean):
//   copies of one module: 1,000 (and 300) temperature alerts loaded from the same bytes (one
//     compiled module shared; each plugin its own instance, linear memory, registry record,
//     context and subscriptions), each delivered one event;
//   distinct modules: 300 alerts, each from its own module (the reference plugin with a distinct
//     custom section: its own metered copy, compiled code and cache entry), each delivered one event.
// RSS and heap are read after a full GC before and after the loads (modules' bytes and manifests
// are prepared before the baseline). Raw = ΔRSS / plugins; net = (ΔRSS - the resident part of
// the linear memories) / plugins; also ΔRSS minus all pages x 64 KiB (a lower bound).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createHomecore } from '@homecore/runtime-native';
import { alertConfig, sensorWriter } from '../lib/hosts.mjs';
import { devRuntime, temperatureWasm, wasmManifest } from '../lib/wasm-hosts.mjs';
import { variant } from '../lib/wasm-bytes.mjs';
import { childArgs, emit, measure, RESULT_MARKER } from '../lib/report.mjs';

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
/**
 * Resident bytes by kind of mapping (Linux /proc/self/smaps): `code` = anonymous rwx mappings (V8's
 * wasm code space: machine code and jump tables), `malloc` = [heap] (C++ allocations such as V8's
 * decoded modules and wire bytes), `anon` = other anonymous rw mappings (JS heap, linear memories,
 * array buffers). null when smaps cannot be read.
 */
function residentByKind() {
  let text;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return null;
  }
  const out = { code: 0, malloc: 0, anon: 0 };
  let kind = null;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const [perms, path] = [head[1], head[2]];
      kind = path === '[heap]' ? 'malloc' : path !== '' ? null : perms === 'rwxp' ? 'code' : perms.startsWith('rw') ? 'anon' : null;
    } else if (kind && line.startsWith('Rss:')) out[kind] += Number(line.split(/\s+/)[1]) * KiB;
  }
  return out;
}

function snapshot() {
  for (let i = 0; i < 3; i++) globalThis.gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, linear: touchedLinearMemory(), byKind: residentByKind() };
}

/** In a fresh process: loads `count` plugins (copies of one module, or distinct modules) and returns the deltas. */
async function child(kind, count) {
  if (typeof globalThis.gc !== 'function') throw new Error('the child runs with node --expose-gc');
  const bytes = await temperatureWasm();
  const host = createHomecore({ runtimes: [devRuntime()] });
  const codes = [];
  const manifests = [];
  for (let i = 0; i < count; i++) {
    const code = kind === 'distinct' ? variant(bytes, i) : bytes;
    codes.push(code);
    manifests.push(await wasmManifest(code, i));
  }
  // Warm everything up with one plugin (the rewriter, the cache, code) before the baseline.
  const warm = kind === 'distinct' ? variant(bytes, count) : bytes;
  await host.registry.load(await wasmManifest(warm, count), warm, { config: { data: alertConfig(count) } });
  const write = sensorWriter(host.core);
  write();
  await host.registry.idle();
  const before = snapshot();
  const chunk = 100;
  for (let start = 0; start < count; start += chunk) {
    const items = [];
    for (let i = start; i < Math.min(count, start + chunk); i++) items.push({ manifest: manifests[i], code: codes[i], config: { data: alertConfig(i) } });
    const report = await host.registry.loadAll(items);
    if (report.errors.length > 0) throw report.errors[0];
  }
  write();
  await host.registry.idle();
  const after = snapshot();
  const stats = host.registry.stats().plugins;
  let pages = 0;
  let loaded = 0;
  for (let i = 0; i < count; i++) {
    const st = stats[`temperature_alert_${i}`];
    if (st?.state === 'loaded' && st.delivered === 1) loaded++;
    pages += st?.runtime.memoryPages ?? 0;
  }
  if (loaded !== count) throw new Error(`only ${loaded} of ${count} plugins loaded and received the event`);
  return {
    kind,
    count,
    pages,
    dRss: after.rss - before.rss,
    dHeap: after.heap - before.heap,
    dExternal: after.external - before.external,
    touched: after.linear === null ? null : after.linear - before.linear,
    byKind: after.byKind === null ? null : Object.fromEntries(Object.keys(after.byKind).map((k) => [k, after.byKind[k] - before.byKind[k]])),
  };
}

function runChild(kind, count) {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', '--disable-warning=ExperimentalWarning', file, '--child', kind, String(count)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout.on('data', (c) => (out += c));
    proc.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) reject(new Error(`memory child (${kind}, ${count}) exited ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
    });
  });
}

/** Per-plugin figures in KiB. */
function perPlugin(r) {
  const linear = r.pages * 64 * KiB;
  return {
    net: (r.dRss - (r.touched ?? linear)) / r.count / KiB,
    netAllPages: (r.dRss - linear) / r.count / KiB,
    raw: r.dRss / r.count / KiB,
    heap: r.dHeap / r.count / KiB,
    linearEach: linear / r.count / KiB,
    touchedEach: r.touched === null ? null : r.touched / r.count / KiB,
  };
}

if (process.argv[2] === '--child') {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(await child(process.argv[3], Number(process.argv[4])))}\n`);
} else {
  childArgs();
  const copies = await runChild('copies', 1000);
  const copies300 = await runChild('copies', 300);
  const distinct = await runChild('distinct', 300);
  const c = perPlugin(copies);
  const c3 = perPlugin(copies300);
  const d = perPlugin(distinct);
  const netNote = (r) => (r.touched === null ? 'RSS delta minus pages x 64 KiB (a lower bound: untouched pages are not resident)' : 'RSS delta minus the resident (touched) part of the linear memories');
  const describe = (r, p) =>
    `${r.kind === 'distinct' ? `${r.count} distinct modules` : `${r.count} copies of one module`}: linear memory ${r.pages} pages in all (${p.linearEach.toFixed(0)} KiB each), resident ${p.touchedEach === null ? 'unknown' : `${p.touchedEach.toFixed(1)} KiB each`}; ` +
    `Δrss ${(r.dRss / 2 ** 20).toFixed(1)} MiB, Δheap ${(r.dHeap / 2 ** 20).toFixed(1)} MiB, Δexternal ${(r.dExternal / 2 ** 20).toFixed(1)} MiB` +
    (r.byKind === null ? '' : `; resident per plugin by mapping: wasm code space (rwx) ${(r.byKind.code / r.count / KiB).toFixed(0)} KiB, malloc heap ${(r.byKind.malloc / r.count / KiB).toFixed(0)} KiB, other anonymous (JS heap, linear memory) ${(r.byKind.anon / r.count / KiB).toFixed(0)} KiB`);
  emit({
    measures: [
      measure({
        id: 'wasm.memory_net',
        name: 'memory per wasm plugin beyond linear memory, 1,000 copies of one module (fresh process)',
        value: c.net,
        unit: 'KiB',
        target: { max: 256, unit: 'KiB', text: '<= 256 KiB' },
        note: netNote(copies),
      }),
      measure({ id: 'wasm.memory_net_all_pages', name: '  same, minus all pages x 64 KiB (lower bound)', value: c.netAllPages, unit: 'KiB' }),
      measure({ id: 'wasm.memory_raw', name: '  RSS per wasm plugin, raw, 1,000 copies of one module', value: c.raw, unit: 'KiB', note: 'upper bound, includes touched linear memory' }),
      measure({ id: 'wasm.memory_heap', name: '  JS heap per wasm plugin, 1,000 copies of one module', value: c.heap, unit: 'KiB' }),
      measure({
        id: 'wasm.memory_distinct_net',
        name: 'memory per wasm plugin beyond linear memory, 300 distinct modules (fresh process)',
        value: d.net,
        unit: 'KiB',
        target: { max: 256, unit: 'KiB', text: '<= 256 KiB' },
        reference: { name: '300 copies of one module', value: c3.net, unit: 'KiB' },
        note: `${netNote(distinct)}; each plugin also holds its own metered, compiled module`,
      }),
      measure({ id: 'wasm.memory_distinct_raw', name: '  RSS per wasm plugin, raw, 300 distinct modules', value: d.raw, unit: 'KiB', reference: { name: '300 copies of one module', value: c3.raw, unit: 'KiB' }, note: 'upper bound, includes touched linear memory' }),
      measure({ id: 'wasm.memory_distinct_heap', name: '  JS heap per wasm plugin, 300 distinct modules', value: d.heap, unit: 'KiB', reference: { name: '300 copies of one module', value: c3.heap, unit: 'KiB' } }),
      measure({ id: 'wasm.memory_copies300_net', name: '  memory per wasm plugin beyond linear memory, 300 copies of one module (the distinct rows\' peer)', value: c3.net, unit: 'KiB' }),
    ],
    notes: [describe(copies, c), describe(copies300, c3), describe(distinct, d), 'each figure from its own fresh child process (node --expose-gc), every plugin delivered one event'],
  });
}
