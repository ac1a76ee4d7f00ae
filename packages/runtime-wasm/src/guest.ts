// The module the wasm preemption backstop's workers run: the wasm runtime itself, served over the
// isolation channel. Built as one self-contained file (dist/guest.js).
import { serveGuest } from '@homecore/isolation/guest';
import type { WasmRuntimeOptions } from './options.js';
import { UNMETERED, WasmRuntime } from './runtime.js';

serveGuest((code, manifest, { baseDir, options }) => {
  const { unmetered, ...policy } = (options ?? {}) as WasmRuntimeOptions & { unmetered?: boolean };
  // The host ran the gate and reported its warnings already.
  const runtime = new WasmRuntime({ ...policy, warn: () => undefined });
  runtime[UNMETERED] = unmetered === true;
  return runtime.load(code, manifest, baseDir === undefined ? {} : { baseDir });
});
