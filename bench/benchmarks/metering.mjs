// Metering: the rewriter's throughput (input MB per second, 1 MB = 10^6 bytes) with `meterModule`,
// against WebAssembly.compile of the same bytes (the floor: does metering cost about as much as
// compiling?). Modules: the reference plugin (temperature_alert.wasm), and synthetic modules of
// typical code (built as bytes by lib/wasm-bytes.mjs: AssemblyScript-like functions of 0.3-2 KiB)
// of 4 MiB and 16 MiB (just under the host's 16 MiB maxModuleBytes).
//   cold: the first meterModule and the first WebAssembly.compile in a fresh child process (the
//         rewriter's JS runs in the interpreter until V8 optimises it);
//   warm: the same process after warm-up calls, interleaved with compile; every compile gets a
//         copy of the bytes with a distinct custom section (V8 would otherwise reuse the module
//         it compiled from identical bytes).
// And the refusal of a module with a million functions (4 MB, built as bytes): by meterModule
// alone (partial) and by WasmRuntime.load (sha256 + the gate's reading of the function section's
// count), expected well under 100 ms.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { meterModule } from '@homecore/runtime-wasm';
import { childArgs, emit, measure, RESULT_MARKER } from '../lib/report.mjs';

const now = process.hrtime.bigint;
const MiB = 1024 * 1024;
const mbps = (bytes, ns) => bytes / 1e6 / (ns / 1e9);
const ms = (ns) => ns / 1e6;

/** A fresh process: the first meterModule, then the first WebAssembly.compile, of the module in `file`. */
async function coldChild(file) {
  const bytes = new Uint8Array(await readFile(file));
  let t = now();
  const metered = meterModule(bytes);
  const meterNs = Number(now() - t);
  t = now();
  await WebAssembly.compile(bytes);
  const compileNs = Number(now() - t);
  t = now();
  meterModule(bytes);
  const secondNs = Number(now() - t);
  return { meterNs, compileNs, secondNs, size: bytes.length, meteredSize: metered.length };
}

function runChild(file) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', fileURLToPath(import.meta.url), '--cold-child', file], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) reject(new Error(`cold child exited ${code}`));
      else resolve(JSON.parse(line.slice(RESULT_MARKER.length)));
    });
  });
}

if (process.argv[2] === '--cold-child') {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(await coldChild(process.argv[3]))}\n`);
  process.exit(0);
}

// The parent's own imports (the cold child loads only the runtime).
const { interleave, median } = await import('../lib/measure.mjs');
const { devRuntime, temperatureWasm } = await import('../lib/wasm-hosts.mjs');
const { manyFunctionsModule, typicalCodeModule, variant } = await import('../lib/wasm-bytes.mjs');
const { quick } = childArgs();
const modules = [
  { key: 'reference', label: `reference plugin`, bytes: await temperatureWasm(), samples: quick ? 20 : 50, runs: quick ? 3 : 7 },
  { key: '4mib', label: '4 MiB of typical code', bytes: typicalCodeModule(4 * MiB, 4), samples: quick ? 1 : 2, runs: quick ? 3 : 5 },
  { key: '16mib', label: '16 MiB of typical code', bytes: typicalCodeModule(16 * MiB - 4096, 16), samples: 1, runs: quick ? 2 : 3 },
];
for (const m of modules) {
  if (!(await WebAssembly.validate(m.bytes))) throw new Error(`the ${m.label} module is not valid`);
  m.meteredSize = meterModule(m.bytes).length;
}

// Cold: each module in its own fresh processes.
const dir = await mkdtemp(join(os.tmpdir(), 'homecore-bench-metering-'));
try {
  for (const m of modules) {
    const file = join(dir, `${m.key}.wasm`);
    await writeFile(file, m.bytes);
    m.cold = [];
    for (let i = 0; i < (quick ? 2 : 3); i++) m.cold.push(await runChild(file));
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

// Warm: meter and compile interleaved in this process.
let serial = 0;
for (const m of modules) {
  const copies = [];
  m.warm = await interleave(
    {
      meter: async () => {
        const out = [];
        for (let s = 0; s < m.samples; s++) {
          const t = now();
          meterModule(m.bytes);
          out.push(Number(now() - t));
        }
        return out;
      },
      compile: async () => {
        const out = [];
        for (let s = 0; s < m.samples; s++) {
          const bytes = variant(m.bytes, serial++);
          const t = now();
          copies.push(await WebAssembly.compile(bytes));
          out.push(Number(now() - t));
          copies.length = 0;
        }
        return out;
      },
    },
    { warmup: m.key === '16mib' ? 1 : 2, runs: m.runs },
  );
}

// A million functions: refused from the function section's count.
const million = manyFunctionsModule(1_000_000);
if (!(await WebAssembly.validate(million))) throw new Error('the million-function module is not valid wasm');
const { createHash } = await import('node:crypto');
const millionManifest = {
  domain: 'million',
  name: 'million',
  version: '1.0.0',
  runtime: 'wasm',
  module_hash: `sha256:${createHash('sha256').update(million).digest('hex')}`,
};
const runtime = devRuntime();
const refusals = await interleave(
  {
    meter: async () => {
      const out = [];
      for (let s = 0; s < 10; s++) {
        const t = now();
        try {
          meterModule(million);
          throw new Error('meterModule accepted a million functions');
        } catch (err) {
          out.push(Number(now() - t));
          if (err.code !== 'HC_ERR_WASM_SHAPE_LIMIT') throw err;
        }
      }
      return out;
    },
    load: async () => {
      const out = [];
      for (let s = 0; s < 10; s++) {
        const t = now();
        try {
          await runtime.load(million, millionManifest);
          throw new Error('WasmRuntime.load accepted a million functions');
        } catch (err) {
          out.push(Number(now() - t));
          if (err.code !== 'HC_ERR_WASM_SHAPE_LIMIT') throw err;
        }
      }
      return out;
    },
  },
  { warmup: 1, runs: quick ? 3 : 5 },
);
// The very first refusal in a fresh process is in the stall benchmark's million-function case.

const rows = [];
const notes = [];
for (const m of modules) {
  const size = m.bytes.length;
  const coldMeter = median(m.cold.map((c) => c.meterNs));
  const coldCompile = median(m.cold.map((c) => c.compileNs));
  const sizeText = size >= MiB ? `${(size / MiB).toFixed(1)} MiB` : `${(size / 1024).toFixed(1)} KiB`;
  rows.push(
    measure({
      id: `metering.${m.key}.warm`,
      name: `rewriter throughput, ${m.label} (${sizeText}), warm`,
      value: mbps(size, m.warm.meter.p50),
      unit: 'MB/s',
      reference: { name: `WebAssembly.compile, same bytes (${mbps(size, m.warm.compile.p50).toFixed(0)} MB/s)`, value: mbps(size, m.warm.compile.p50), unit: 'MB/s' },
      note: `meter ${ms(m.warm.meter.p50).toFixed(2)} ms vs compile ${ms(m.warm.compile.p50).toFixed(2)} ms: metering takes ${(m.warm.meter.p50 / m.warm.compile.p50).toFixed(2)}x as long as compiling; output ${(m.meteredSize / size).toFixed(2)}x the input`,
    }),
    measure({
      id: `metering.${m.key}.cold`,
      name: `rewriter throughput, ${m.label} (${sizeText}), cold (first call in a fresh process)`,
      value: mbps(size, coldMeter),
      unit: 'MB/s',
      reference: { name: `first WebAssembly.compile in the process (${mbps(size, coldCompile).toFixed(0)} MB/s)`, value: mbps(size, coldCompile), unit: 'MB/s' },
      note: `meter ${ms(coldMeter).toFixed(1)} ms vs compile ${ms(coldCompile).toFixed(1)} ms (${(coldMeter / coldCompile).toFixed(2)}x); the second meterModule in that process ${ms(median(m.cold.map((c) => c.secondNs))).toFixed(1)} ms`,
    }),
  );
  notes.push(
    `${m.label}: ${size} B -> ${m.meteredSize} B metered; meterModule warm ${ms(m.warm.meter.p50).toFixed(2)} ms, cold ${ms(coldMeter).toFixed(1)} ms (second call ${ms(median(m.cold.map((c) => c.secondNs))).toFixed(1)} ms); WebAssembly.compile warm ${ms(m.warm.compile.p50).toFixed(2)} ms, cold ${ms(coldCompile).toFixed(1)} ms`,
  );
}
rows.push(
  measure({
    id: 'metering.refuse_million.load',
    name: 'refuse a module of 1,000,000 functions (4 MB): WasmRuntime.load (sha256 + gate)',
    value: ms(refusals.load.p50),
    unit: 'ms',
    p50: ms(refusals.load.p50),
    p99: ms(refusals.load.p99),
    target: { max: 100, unit: 'ms', text: '<= 100 ms' },
    note: 'HC_ERR_WASM_SHAPE_LIMIT from the function section\'s count (limit 50,000)',
  }),
  measure({
    id: 'metering.refuse_million.meter',
    name: '  same, partial: meterModule alone',
    value: ms(refusals.meter.p50),
    unit: 'ms',
    p50: ms(refusals.meter.p50),
    p99: ms(refusals.meter.p99),
    note: 'partial: the rewriter\'s reading of the sections up to the function section; no sha256',
  }),
);
notes.push(`million-function module: ${million.length} B; refusals are warm (the first one in a fresh process is timed by the stall benchmark)`);
emit({ measures: rows, notes });
