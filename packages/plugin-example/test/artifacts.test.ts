import { pathToFileURL } from 'node:url';
// The built .wasm files and the example smart home's committed manifests. A missing build fails
// here with a message saying how to build; nothing is skipped.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ABI_VERSION_EXPORT, GuestExport, HOST_MODULE } from '@homecore/core-traits';
import { validateManifest } from '@homecore/manifest';
import {
  loadWasmPlugin,
  motionLightManifest,
  nativeManifests,
  temperatureAlertManifest,
  virtualLightManifest,
  wasmManifests,
  wasmPlugins,
  type WasmPluginName,
} from '@homecore/plugin-example';

const BUILD = '`pnpm --filter @homecore/plugin-example build`';
const RESIGN = '`pnpm --filter @homecore/plugin-example build && pnpm --filter @homecore/plugin-example sign-examples`';
const HOME = fileURLToPath(new URL('../../../examples/smart-home/', import.meta.url));
const SANDBOX = fileURLToPath(new URL('../../../examples/sandbox/', import.meta.url));
const NAMES: readonly WasmPluginName[] = ['temperature_alert', 'motion_light'];

function builtBytes(name: string): Uint8Array<ArrayBuffer> {
  // The reference plugins are exported by the package; the sandbox example's are built beside them.
  const path = fileURLToPath(name in wasmPlugins ? wasmPlugins[name as WasmPluginName] : new URL(`../build/${name}.wasm`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: run ${BUILD} before the tests`);
  return new Uint8Array(readFileSync(path));
}

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

describe.each(NAMES)('build/%s.wasm', (name) => {
  it('imports exactly the manifest host_imports_required from homecore, plus env.abort', () => {
    const module = new WebAssembly.Module(builtBytes(name));
    const imports = WebAssembly.Module.imports(module);
    expect(imports.every((i) => i.kind === 'function')).toBe(true);
    expect(imports.filter((i) => i.module !== HOST_MODULE).map((i) => `${i.module}.${i.name}`)).toEqual(['env.abort']);
    const hostImports = imports.filter((i) => i.module === HOST_MODULE).map((i) => i.name).sort();
    expect(hostImports).toEqual([...(wasmManifests[name].host_imports_required ?? [])].sort());
  });

  it('exports memory, the allocator, the ABI v1 marker and its hooks', () => {
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(builtBytes(name)));
    const names = exports.map((e) => e.name);
    expect(exports.find((e) => e.name === GuestExport.MEMORY)?.kind).toBe('memory');
    for (const required of [ABI_VERSION_EXPORT, GuestExport.ALLOC, GuestExport.FREE, GuestExport.SETUP, GuestExport.ON_STATE_CHANGED]) {
      expect(names).toContain(required);
    }
    expect(names.filter((n) => n.startsWith('homecore_abi_version_'))).toEqual([ABI_VERSION_EXPORT]);
    // Nothing but ABI names; hc_on_config_update only where the plugin handles options updates
    // (without it the host reloads the plugin, as it does for the native version).
    const abiNames = new Set<string>([...Object.values(GuestExport), ABI_VERSION_EXPORT]);
    expect(names.filter((n) => !abiNames.has(n))).toEqual([]);
    expect(names.includes(GuestExport.ON_CONFIG_UPDATE)).toBe(name === 'motion_light');
  });

  it('is what loadWasmPlugin returns, with its sha256 in the manifest', async () => {
    const bytes = builtBytes(name);
    const loaded = await loadWasmPlugin(name);
    expect(Buffer.from(loaded.bytes).equals(bytes)).toBe(true);
    expect(loaded.manifest.module_hash).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(validateManifest(loaded.manifest).ok).toBe(true);
  });
});

describe('package manifests', () => {
  it('are valid, without warnings', () => {
    for (const manifest of [...Object.values(nativeManifests), ...Object.values(wasmManifests)]) {
      const result = validateManifest(manifest);
      expect(result.errors, manifest.domain).toEqual([]);
      expect(result.warnings, manifest.domain).toEqual([]);
    }
  });
});

describe('examples/smart-home', () => {
  const publisherKey = readFileSync(join(HOME, 'keys/demo-publisher.pub'), 'utf8').trim();
  const folders = readdirSync(HOME, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(HOME, d.name, 'manifest.json')))
    .map((d) => d.name)
    .sort();

  it('has the five plugin folders, native and wasm', () => {
    expect(folders).toEqual(['motion_light', 'motion_light_wasm', 'temperature_alert', 'temperature_alert_wasm', 'virtual_light']);
  });

  it('has valid manifests whose permissions are exactly those the plugins need', () => {
    const expected: Record<string, ReturnType<typeof virtualLightManifest>> = {
      temperature_alert: temperatureAlertManifest('native', { sensor: 'sensor.living_room_temperature', alert: 'binary_sensor.living_room_heat_alert' }),
      temperature_alert_wasm: temperatureAlertManifest('wasm', { sensor: 'sensor.bedroom_temperature', alert: 'binary_sensor.bedroom_heat_alert' }),
      motion_light: motionLightManifest('native', { motion: 'binary_sensor.hallway_motion' }),
      motion_light_wasm: motionLightManifest('wasm', { motion: 'binary_sensor.porch_motion' }),
      virtual_light: virtualLightManifest(),
    };
    for (const folder of folders) {
      const manifest = readJson(join(HOME, folder, 'manifest.json'));
      const result = validateManifest(manifest);
      expect(result.errors, folder).toEqual([]);
      expect(manifest.domain).toBe(folder);
      expect(manifest.permissions, folder).toEqual(expected[folder]?.permissions);
      expect(manifest.services, folder).toEqual(expected[folder]?.services);
      expect(manifest.subscriptions, folder).toEqual(expected[folder]?.subscriptions);
      // The config entry names the same entities the permissions grant.
      const configPath = join(HOME, folder, 'config.json');
      if (existsSync(configPath)) {
        const data = (readJson(configPath).data ?? {}) as Record<string, string>;
        for (const key of ['sensor', 'motion']) {
          if (data[key] !== undefined) expect(manifest.permissions).toContain(`state:read:${data[key]}`);
        }
        if (data.alert !== undefined) expect(manifest.permissions).toContain(`state:write:${data.alert}`);
      }
    }
  });

  it.each([
    ['temperature_alert_wasm', 'temperature_alert', HOME],
    ['motion_light_wasm', 'motion_light', HOME],
    ['runaway_meter', 'runaway_meter', SANDBOX],
    ['hoarding_history', 'hoarding_history', SANDBOX],
    ['door_snoop', 'door_snoop', SANDBOX],
  ] as const)('%s pins and signs the freshly built module', (folder, name, root) => {
    const manifest = readJson(join(root, folder, 'manifest.json'));
    const bytes = builtBytes(name);
    const hashHex = createHash('sha256').update(bytes).digest('hex');
    expect(
      manifest.module_hash,
      `the committed module_hash of ${folder} does not match build/${name}.wasm (the build is not reproducible or the sources changed): run ${RESIGN} and commit the manifests`,
    ).toBe(`sha256:${hashHex}`);
    expect(manifest.publisher_key).toBe(publisherKey);
    const raw = Buffer.from(publisherKey.slice('ed25519:'.length), 'base64');
    const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
    const message = Buffer.from(`homecore-module-v1\n${folder}\n${hashHex}`, 'utf8');
    const signature = Buffer.from(String(manifest.module_signature).slice('ed25519:'.length), 'base64');
    expect(verify(null, message, key, signature), `the signature of ${folder} does not verify: run ${RESIGN}`).toBe(true);
    // The staged copy the demo loads is the same build.
    const staged = join(root, folder, 'plugin.wasm');
    if (!existsSync(staged)) throw new Error(`${staged} is missing: run ${BUILD}, which stages it`);
    expect(readFileSync(staged).equals(Buffer.from(bytes)), `${staged} is stale: run ${BUILD}`).toBe(true);
  });

  it('has self-contained native entries that default-export the package factories', async () => {
    const factories: Record<string, string> = { temperature_alert: 'temperatureAlert', virtual_light: 'virtualLight', motion_light: 'motionLight' };
    for (const [folder, name] of Object.entries(factories)) {
      const path = join(HOME, folder, 'index.js');
      const source = readFileSync(path, 'utf8');
      // Nothing imported: a copy of the folder outside the repository runs as it is.
      expect(source, folder).not.toMatch(/^\s*import\s|\bfrom\s+['"]|\brequire\(/m);
      const exported = ((await import(pathToFileURL(path).href)) as { default: () => Record<string, unknown> }).default;
      expect(exported.name, folder).toBe(name);
      expect(typeof exported().setup, folder).toBe('function');
    }
  });
});
