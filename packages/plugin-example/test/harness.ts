// A small house for the plugin tests, on @homecore/testing as a plugin author would use it: the
// kit's test home on its manual clock with virtual_light loaded; the plugins' actions are the
// kit's lines (`home.lines()`).
import type { HomeCorePlugin, JsonValue, PluginManifest } from '@homecore/core-traits';
import { virtualLight, virtualLightManifest } from '@homecore/plugin-example';
import { createTestHome, type TestHome } from '@homecore/testing';

/** A plugin to load: its manifest, its code (a plugin object or wasm bytes) and its config data. */
export interface HousePlugin {
  readonly manifest: PluginManifest;
  readonly code: HomeCorePlugin | Uint8Array;
  readonly data?: Record<string, JsonValue>;
}

/** A test home with virtual_light and `plugins` loaded (wasm ones in development trust). */
export async function buildHouse(plugins: readonly HousePlugin[] = []): Promise<TestHome> {
  const home = await createTestHome();
  await home.load({ ...virtualLightManifest() }, virtualLight());
  for (const plugin of plugins) {
    await home.load({ ...plugin.manifest }, plugin.code, plugin.data === undefined ? undefined : { data: plugin.data });
  }
  return home;
}

/** Updates a plugin's options (which reloads a plugin without a config-update hook) and settles. */
export async function updateOptions(home: TestHome, plugin: string, options: Record<string, JsonValue>): Promise<void> {
  await home.registry.updateConfigEntry(plugin, { options });
  await home.settle();
}
