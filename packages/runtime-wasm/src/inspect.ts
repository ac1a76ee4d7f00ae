import { ABI_VERSION_EXPORT_PREFIX, isHomecoreError, type PluginManifest } from '@homecore/core-traits';
import { ExternKind, formatSignature, functionType, readModuleLayout, type ModuleLayout } from './binary.js';
import { meterGated, runLoadGate } from './gate.js';
import { pluginLimits, resolveHostOptions, type TrustPolicy, type WasmHostLimits } from './options.js';
import { decodeTagged, publicKeyFromString, sha256Hex, verifyModuleSignature } from './signing.js';

/** What `inspectModule` reports about a wasm module, without running any of its code. */
export interface ModuleInspection {
  /** Size in bytes. */
  size: number;
  /** `sha256:<hex>` of the bytes, as `module_hash` pins it. */
  sha256: string;
  /** The ABI version its `homecore_abi_version_<N>` export declares, or null. */
  abiVersion: number | null;
  /** Every import, with its function signature where it is a function. */
  imports: { module: string; name: string; kind: string; signature: string | null }[];
  /** Every export, with its function signature where it is a function. */
  exports: { name: string; kind: string; signature: string | null }[];
  /** The module's own memory: declared limits and the maximum the policy would enforce. */
  memory: { initial: number; maximum: number | null; effectiveMaximum: number | null } | null;
  /** The manifest's signature over these bytes, checked against the trust policy. */
  signature: { signed: boolean; valid: boolean | null; publisherKey: string | null; trusted: boolean | null };
  /** Whether the module passes the load gate with this manifest and policy, and why not. */
  gate: { passed: boolean; error: { code: string; message: string } | null; warnings: string[] };
}

/** Options of `inspectModule`. */
export interface InspectOptions {
  /** The plugin's validated manifest; without one the gate runs against a bare `wasm` manifest. */
  manifest?: PluginManifest;
  /** The trust policy to judge the signature by (default strict, no trusted keys). */
  trust?: TrustPolicy;
  /** Host caps (defaults as in `WasmRuntime`). */
  limits?: Partial<WasmHostLimits>;
}

const KIND_NAMES: Record<number, string> = { [ExternKind.FUNC]: 'func', [ExternKind.TABLE]: 'table', [ExternKind.MEMORY]: 'memory', [ExternKind.GLOBAL]: 'global', [ExternKind.TAG]: 'tag' };

/**
 * Describes a module (imports, exports, ABI version, memory limits, signature) and runs the load
 * gate on it. Runs no guest code and never throws for bad bytes: problems are in `gate.error`.
 */
export async function inspectModule(bytes: Uint8Array, options: InspectOptions = {}): Promise<ModuleInspection> {
  const host = resolveHostOptions({ trust: options.trust ?? { mode: 'strict' }, ...(options.limits ? { limits: options.limits } : {}) });
  const manifest: PluginManifest = options.manifest ?? { domain: 'inspected_module', name: 'inspected module', version: '0.0.0', runtime: 'wasm' };
  const hashHex = sha256Hex(bytes);
  let layout: ModuleLayout | undefined;
  try {
    layout = readModuleLayout(bytes);
  } catch {
    // Reported by the gate below with the reason.
  }

  const warnings: string[] = [];
  let error: ModuleInspection['gate']['error'] = null;
  try {
    const limits = pluginLimits(host.limits, manifest);
    const gated = runLoadGate({ bytes, manifest, trust: host.trust, host: host.limits, limits, clampUnboundedMemory: host.clampUnboundedMemory, warn: (m) => warnings.push(m), shape: host.shape });
    // The same rewriter and compiler as a load, so that inspect and run never disagree.
    const metered = await meterGated(gated, manifest.domain, host.shape);
    if (!WebAssembly.validate(metered)) {
      error = WebAssembly.validate(gated.bytes)
        ? { code: 'HC_ERR_INTERNAL', message: 'the metered module does not validate although the module does: please report this with the module' }
        : { code: 'HC_ERR_WASM_INVALID', message: 'module is not valid WebAssembly: rebuild it with a standard toolchain and check it with wasm-validate' };
    }
  } catch (err) {
    error = isHomecoreError(err) ? { code: err.code, message: err.message } : { code: 'HC_ERR_INTERNAL', message: String(err) };
  }

  const signatureText = typeof manifest.module_signature === 'string' ? manifest.module_signature : undefined;
  const keyText = typeof manifest.publisher_key === 'string' ? manifest.publisher_key : undefined;
  let valid: boolean | null = null;
  if (signatureText !== undefined) {
    const key = keyText === undefined ? undefined : publicKeyFromString(keyText);
    const raw = decodeTagged(signatureText, 64);
    valid = key !== undefined && raw !== undefined && verifyModuleSignature(key, manifest.domain, hashHex, raw);
  }

  const signatureOf = (type: { params: readonly number[]; results: readonly number[] } | undefined) => (type === undefined ? null : formatSignature(type.params, type.results));
  const abi = layout?.exports.map((e) => e.name).find((n) => n.startsWith(ABI_VERSION_EXPORT_PREFIX));
  const abiVersion = abi === undefined ? null : Number.parseInt(abi.slice(ABI_VERSION_EXPORT_PREFIX.length), 10);
  const declared = layout?.memory;
  const policyPages = Math.min(host.limits.memoryPages, pluginLimits(host.limits, manifest).memoryPages);

  return {
    size: bytes.length,
    sha256: `sha256:${hashHex}`,
    abiVersion: abiVersion === null || Number.isNaN(abiVersion) ? null : abiVersion,
    imports: (layout?.imports ?? []).map((i) => ({
      module: i.module,
      name: i.name,
      kind: KIND_NAMES[i.kind] ?? String(i.kind),
      signature: i.kind === ExternKind.FUNC ? signatureOf(layout?.types[i.typeIndex]) : null,
    })),
    exports: (layout?.exports ?? []).map((e) => ({
      name: e.name,
      kind: KIND_NAMES[e.kind] ?? String(e.kind),
      signature: e.kind === ExternKind.FUNC && layout !== undefined ? signatureOf(functionType(layout, e.index)) : null,
    })),
    memory: declared === undefined ? null : { initial: declared.initial, maximum: declared.maximum ?? null, effectiveMaximum: Math.min(policyPages, declared.maximum ?? policyPages) },
    signature: { signed: signatureText !== undefined, valid, publisherKey: keyText ?? null, trusted: keyText === undefined ? null : host.trust.trustedKeys.has(keyText) },
    gate: { passed: error === null, error, warnings },
  };
}
