// The three ways the wasm delivery benchmark runs the temperature alert on the same event bytes:
//   sandbox: HOMECORE's WasmRuntime (load gate, metered module, quotas, permission-checked imports);
//   floor:   the same AssemblyScript module hand-wired with plain WebAssembly and a minimal host;
//   extism:  @extism/extism (foreground, no WASI) running the equivalent plugin on Extism's ABI.
// Each host writes states into a real InMemoryCore, so a write costs the same behind all three.
import { createPlugin } from '@extism/extism';
import { loadWasmPlugin } from '@homecore/plugin-example';
import { WasmRuntime } from '@homecore/runtime-wasm';
import { alertConfig, alertManifest, directContext } from './hosts.mjs';
import { extismPluginBytes } from './build-extism.mjs';

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The built reference wasm plugin (plain, unmetered bytes). */
export async function temperatureWasm() {
  return (await loadWasmPlugin('temperature_alert')).bytes;
}

/** A WasmRuntime that accepts unsigned modules (the benchmark modules are not signed); `options` adds e.g. `limits`. */
export function devRuntime(options = {}) {
  return new WasmRuntime({ trust: { mode: 'development', trustedKeys: [] }, warn: () => {}, ...options });
}

/** The wasm manifest of alert `i` with the module hash of `bytes`. */
export async function wasmManifest(bytes, i) {
  const { createHash } = await import('node:crypto');
  return alertManifest('wasm', i, { module_hash: `sha256:${createHash('sha256').update(bytes).digest('hex')}` });
}

/** HOMECORE's sandbox: WasmRuntime.load + setup with a bare context; returns the PluginInstance. `manifest` defaults to alert `i`'s. */
export async function sandboxPlugin(runtime, bytes, core, i = 0, manifest = undefined) {
  manifest ??= await wasmManifest(bytes, i);
  const instance = await runtime.load(bytes, manifest);
  const context = directContext(core, alertConfig(i));
  await instance.setup({ ...context, pluginId: manifest.domain, manifest });
  return instance;
}

/**
 * The minimal host ABI imports the temperature alert uses (hc_log, hc_subscribe, hc_state_set)
 * plus env.abort: no gate, no fuel, no permission or quota checks.
 */
export function minimalImports(core, getMemory, extra = {}) {
  const context = core.createContext();
  const text = (ptr, len) => decoder.decode(new Uint8Array(getMemory().buffer, ptr >>> 0, len >>> 0));
  return {
    env: {
      abort: () => {
        throw new Error('abort');
      },
    },
    homecore: {
      hc_log: () => 0,
      hc_subscribe: () => 0,
      hc_state_set: (idPtr, idLen, statePtr, stateLen, attrsPtr, attrsLen) => {
        const attributes = attrsLen === 0 ? {} : JSON.parse(text(attrsPtr, attrsLen));
        core.setState(text(idPtr, idLen), text(statePtr, stateLen), attributes, { context });
        return 0;
      },
      ...extra,
    },
  };
}

/** Copies `bytes` into the guest through hc_alloc and calls `hook(ptr, len)`, as the sandbox does. */
export function callWithBytes(exports, hook, bytes) {
  const ptr = exports.hc_alloc(bytes.length) >>> 0;
  new Uint8Array(exports.memory.buffer, ptr, bytes.length).set(bytes);
  const status = exports[hook](ptr, bytes.length);
  exports.hc_free(ptr, bytes.length);
  return status;
}

/** The floor: `module` (bytes or compiled) instantiated with plain WebAssembly and the minimal host (call floorSetup next). */
export async function floorPlugin(module, core, extraImports = {}) {
  let exports;
  const imports = minimalImports(core, () => exports.memory, extraImports);
  const compiled = module instanceof WebAssembly.Module ? module : await WebAssembly.compile(module);
  exports = (await WebAssembly.instantiate(compiled, imports)).exports;
  return exports;
}

/** Runs the floor's setup with alert `i`'s config entry. */
export function floorSetup(exports, i = 0) {
  const entry = { entry_id: 'floor', domain: 'floor', title: 'floor', data: alertConfig(i), options: {}, version: 1 };
  const status = callWithBytes(exports, 'hc_setup', encoder.encode(JSON.stringify(entry)));
  if (status !== 0) throw new Error(`floor hc_setup returned ${status}`);
}

/** The peer: the Extism build of the same plugin, foreground, no WASI, set up with alert `i`'s config. */
export async function extismPlugin(core, i = 0) {
  const context = core.createContext();
  const plugin = await createPlugin(
    { wasm: [{ data: await extismPluginBytes() }] },
    {
      useWasi: false,
      functions: {
        env: {
          abort: () => {
            throw new Error('abort');
          },
        },
        'extism:host/user': {
          set_state: (cp, id, state, attrs) => {
            core.setState(cp.read(id).string(), cp.read(state).string(), cp.read(attrs).json(), { context });
            return 0;
          },
        },
      },
    },
  );
  const entry = { entry_id: 'extism', domain: 'extism', title: 'extism', data: alertConfig(i), options: {}, version: 1 };
  await plugin.call('setup', JSON.stringify(entry));
  return plugin;
}
