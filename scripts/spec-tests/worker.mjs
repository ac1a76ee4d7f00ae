// A worker of the spec-test harness: converts one .wast at a time with wast2json and runs it in
// both worlds (see run-file.mjs). Messages in: { file, out }; out: { file, stats, failures } or { file, error }.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { policyScan } from './policy.mjs';
import { LARGE_FUEL, runFile } from './run-file.mjs';

const { meterPath, runtimeWasmDir } = workerData;
const api = await import(pathToFileURL(meterPath).href);
if (typeof api.meterModule !== 'function' || typeof api.FUEL_EXPORT !== 'string') {
  throw new Error(`${meterPath} does not export meterModule and FUEL_EXPORT (build @homecore/runtime-wasm first)`);
}
const requireFromRuntime = createRequire(join(runtimeWasmDir, 'package.json'));
const wabt = await (await import(pathToFileURL(requireFromRuntime.resolve('wabt')).href)).default();

const OFF = {
  exceptions: false,
  mutable_globals: false,
  sat_float_to_int: false,
  sign_extension: false,
  simd: false,
  threads: false,
  function_references: false,
  multi_value: false,
  tail_call: false,
  bulk_memory: false,
  reference_types: false,
  annotations: false,
  code_metadata: false,
  gc: false,
  memory64: false,
  multi_memory: false,
  extended_const: false,
  relaxed_simd: false,
};
/** The features the host allows: MVP plus these. */
export const ALLOWED = { ...OFF, mutable_globals: true, sign_extension: true, bulk_memory: true, sat_float_to_int: true, multi_value: true };

function validate(bytes, features) {
  let module;
  try {
    module = wabt.readWasm(bytes, { readDebugNames: false, check: true, ...features });
    module.validate();
    return null;
  } catch (err) {
    return String(err?.message ?? err).trim().split('\n').slice(0, 2).join(' | ');
  } finally {
    module?.destroy();
  }
}

const ctx = {
  meter: (bytes) => api.meterModule(bytes, { startFuel: LARGE_FUEL }),
  fuelExport: api.FUEL_EXPORT,
  validateAllowed: (bytes) => {
    const { forbidden, normalized } = policyScan(bytes);
    return forbidden !== null ? `${forbidden} (reference types)` : validate(normalized, ALLOWED);
  },
};

parentPort.on('message', ({ file, out }) => {
  try {
    const name = basename(file, '.wast');
    const dir = join(out, name);
    mkdirSync(dir, { recursive: true });
    const json = join(dir, `${name}.json`);
    execFileSync('wast2json', [file, '-o', json], { stdio: ['ignore', 'ignore', 'pipe'] });
    const { stats, failures, notes } = runFile(json, ctx);
    parentPort.postMessage({ file, stats, failures, notes });
  } catch (err) {
    parentPort.postMessage({ file, error: `${err?.name}: ${String(err?.stderr ?? '')}${err?.message}` });
  }
});
parentPort.postMessage({ ready: true });
