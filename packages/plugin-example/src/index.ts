import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { PluginManifest } from '@homecore/core-traits';
import {
  motionLightConfig,
  motionLightManifest,
  temperatureAlertConfig,
  temperatureAlertManifest,
  virtualLightManifest,
} from './manifests.js';

export { motionLight, type MotionLightSettings } from './motion-light.js';
export { parseNumericState } from './settings.js';
export { temperatureAlert, type TemperatureAlertSettings } from './temperature-alert.js';
export { virtualLight } from './virtual-light.js';
export {
  motionLightConfig,
  motionLightManifest,
  temperatureAlertConfig,
  temperatureAlertManifest,
  virtualLightManifest,
  type MotionLightEntities,
  type TemperatureAlertEntities,
} from './manifests.js';

/** The reference plugins that also exist as wasm modules. */
export type WasmPluginName = 'temperature_alert' | 'motion_light';

// src/ and dist/ both sit one level below the package root, so this resolves from either.
const BUILD_DIR = new URL('../build/', import.meta.url);

/** Where `pnpm build` writes each wasm plugin (`build/<name>.wasm`). */
export const wasmPlugins: Readonly<Record<WasmPluginName, URL>> = Object.freeze({
  temperature_alert: new URL('temperature_alert.wasm', BUILD_DIR),
  motion_light: new URL('motion_light.wasm', BUILD_DIR),
});

/** Manifests of the native reference plugins, for the default (living room, hallway) config. */
export const nativeManifests: Readonly<Record<'temperature_alert' | 'virtual_light' | 'motion_light', PluginManifest>> = Object.freeze({
  temperature_alert: temperatureAlertManifest('native', temperatureAlertConfig),
  virtual_light: virtualLightManifest(),
  motion_light: motionLightManifest('native', motionLightConfig),
});

/** Manifests of the wasm reference plugins (same domains and permissions as the native ones; no hash). */
export const wasmManifests: Readonly<Record<WasmPluginName, PluginManifest>> = Object.freeze({
  temperature_alert: temperatureAlertManifest('wasm', temperatureAlertConfig),
  motion_light: motionLightManifest('wasm', motionLightConfig),
});

/** A built wasm plugin: its bytes and its manifest with `module_hash` filled in. */
export interface LoadedWasmPlugin {
  readonly bytes: Uint8Array;
  readonly manifest: PluginManifest;
}

/** Reads a built wasm plugin; throws an Error saying to run the build when the file is missing. */
export async function loadWasmPlugin(name: WasmPluginName): Promise<LoadedWasmPlugin> {
  const url = wasmPlugins[name];
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(url));
  } catch (error) {
    throw new Error(
      `${fileURLToPath(url)} is missing: build the wasm plugins with \`pnpm --filter @homecore/plugin-example build\``,
      { cause: error },
    );
  }
  const hash = createHash('sha256').update(bytes).digest('hex');
  return { bytes, manifest: { ...wasmManifests[name], module_hash: `sha256:${hash}` } };
}
