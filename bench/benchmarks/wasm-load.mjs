// 7. Wasm plugin load. Cold: the first load of the bytes in a fresh process (load gate, fuel
// metering with binaryen, compile, instantiate with the start function, setup), in child
// processes so V8 and binaryen start cold; binaryen's own import is timed separately (the runtime
// imports it lazily on the first load). Warm: later loads of the same bytes in the same process,
// served from the runtime's metered-module cache (gate + cache hit + instantiate + setup).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InMemoryCore } from '@homecore/core';
import { median } from '../lib/measure.mjs';
import { childArgs, emit, measure, RESULT_MARKER } from '../lib/report.mjs';

const now = process.hrtime.bigint;
const ms = (t0) => Number(now() - t0) / 1e6;

async function coldChild() {
  // Imports are timed in this order so each figure is its own: the bench helpers (and through them
  // @homecore/runtime-wasm, which does not import binaryen yet), then binaryen, then the load.
  const { devRuntime, sandboxPlugin, temperatureWasm } = await import('../lib/wasm-hosts.mjs');
  const bytes = await temperatureWasm();
  const t0 = now();
  // The runtime's own binaryen (a dependency of @homecore/runtime-wasm, not of the benchmarks), so
  // the module instance imported here is the one the runtime's lazy import gets from the cache.
  await import(new URL('../../packages/runtime-wasm/node_modules/binaryen/index.js', import.meta.url).href);
  const binaryenMs = ms(t0);
  const runtime = devRuntime();
  const core = new InMemoryCore();
  const t1 = now();
  await sandboxPlugin(runtime, bytes, core, 0);
  const coldMs = ms(t1);
  const warm = [];
  for (let i = 1; i <= 200; i++) {
    const t = now();
    await sandboxPlugin(runtime, bytes, core, i);
    warm.push(ms(t));
  }
  if (runtime.stats().cacheHits !== 200) throw new Error(`expected 200 cache hits, got ${runtime.stats().cacheHits}`);
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify({ binaryenMs, coldMs, warmMs: median(warm.slice(20)) })}\n`);
}

function runCold() {
  const file = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', file, '--cold-child'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) reject(new Error(`cold-load child exited ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
    });
  });
}

if (process.argv.includes('--cold-child')) {
  await coldChild();
} else {
  const { quick } = childArgs();
  const runs = [];
  for (let i = 0; i < (quick ? 3 : 7); i++) runs.push(await runCold());
  const binaryen = median(runs.map((r) => r.binaryenMs));
  const cold = median(runs.map((r) => r.coldMs));
  const warm = median(runs.map((r) => r.warmMs));
  emit({
    measures: [
      measure({
        id: 'wasm.load_cold',
        name: 'wasm load, cold (gate+meter+compile+instantiate+setup)',
        value: cold,
        unit: 'ms',
        target: { max: 50, unit: 'ms', text: '<= 50 ms' },
        note: 'binaryen already imported; see the next row',
      }),
      measure({ id: 'wasm.load_binaryen_import', name: 'binaryen import (once per process)', value: binaryen, unit: 'ms', note: 'paid by the first wasm load of a process' }),
      measure({
        id: 'wasm.load_warm',
        name: 'wasm load, warm from the cache (+setup)',
        value: warm,
        unit: 'ms',
        target: { max: 1, unit: 'ms', text: '<= 1 ms' },
      }),
    ],
    notes: [`${runs.length} fresh processes; cold = median of first loads; warm = median over each process's loads 21-200, then median across processes; cold incl. binaryen import ${(cold + binaryen).toFixed(1)} ms`],
  });
}
