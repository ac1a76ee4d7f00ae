import type { PluginRuntime } from '@homecore/core-traits';
import type * as WasmRuntimeModule from '@homecore/runtime-wasm';

type WasmModule = typeof WasmRuntimeModule;

/** The wasm runtime package if it is installed: wasm support is enabled by installing it. */
export async function importWasmRuntime(): Promise<WasmModule | undefined> {
  try {
    return await import('@homecore/runtime-wasm');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((err as Error).message).includes('@homecore/runtime-wasm')) {
      return undefined;
    }
    throw err;
  }
}

/** The wasm options the command line sets. */
export interface WasmCliOptions {
  trustedKeys: string[];
  allowUnsigned: boolean;
  warn: (message: string) => void;
}

/** Creates the wasm runtime with the trust policy given on the command line, if the package is installed. */
export async function createWasmRuntime(options: WasmCliOptions): Promise<PluginRuntime | undefined> {
  const wasm = await importWasmRuntime();
  if (wasm === undefined) return undefined;
  return new wasm.WasmRuntime({
    trust: { mode: options.allowUnsigned ? 'development' : 'strict', trustedKeys: options.trustedKeys },
    warn: options.warn,
  });
}
