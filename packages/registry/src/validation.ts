import { ErrorCode, HomecoreError, type PluginRuntime } from '@homecore/core-traits';
import { parseManifest, satisfiesMinVersion, type ResolvedManifest } from '@homecore/manifest';

/** Parses a manifest and refuses a disabled plugin or one that needs a newer HOMECORE. */
export function validateManifest(input: unknown, homecoreVersion: string): ResolvedManifest {
  const { manifest } = parseManifest(input);
  const id = manifest.domain;
  if (typeof manifest.disabled === 'string' && manifest.disabled.length > 0) {
    throw new HomecoreError(
      ErrorCode.PLUGIN_DISABLED,
      `the manifest disables this plugin ("disabled": ${JSON.stringify(manifest.disabled)}): remove "disabled" to load it`,
      { plugin: id },
    );
  }
  const min = manifest.min_homecore_version;
  if (min !== undefined && !satisfiesMinVersion(homecoreVersion, min)) {
    throw new HomecoreError(
      ErrorCode.VERSION_INCOMPATIBLE,
      `needs HOMECORE ${min} or newer but this host runs ${homecoreVersion}: upgrade HOMECORE or use an older plugin version`,
      { plugin: id, details: { min_homecore_version: min, homecore_version: homecoreVersion } },
    );
  }
  return manifest;
}

/** The runtime the manifest's `runtime` kind names, or HC_ERR_RUNTIME_UNAVAILABLE. */
export function runtimeFor(runtimes: ReadonlyMap<string, PluginRuntime>, manifest: ResolvedManifest): PluginRuntime {
  const runtime = runtimes.get(manifest.runtime);
  if (runtime !== undefined) return runtime;
  throw new HomecoreError(
    ErrorCode.RUNTIME_UNAVAILABLE,
    `no ${manifest.runtime} runtime was given to the registry: install @homecore/runtime-${manifest.runtime} ` +
      `to run ${manifest.runtime} plugins and pass it in options.runtimes`,
    { plugin: manifest.domain },
  );
}
