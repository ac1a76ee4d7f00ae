// The load gate: every check that runs before any guest code, each failure a coded error that
// names the rule and what to fix.
import {
  ABI_VERSION_EXPORT,
  ABI_VERSION_EXPORT_PREFIX,
  ErrorCode,
  GuestExport,
  HOST_MODULE,
  HostImport,
  HomecoreError,
  type ErrorCodeValue,
  type PluginManifest,
} from '@homecore/core-traits';
import {
  BinaryFormatError,
  DEFAULT_SHAPE_LIMITS,
  ExternKind,
  ForbiddenFeatureError,
  ShapeLimitError,
  ValType,
  formatSignature,
  functionType,
  readModuleLayout,
  rewriteMemoryLimits,
  sameSignature,
  type ModuleLayout,
  type ModuleShapeLimits,
} from './binary.js';
import { METER_SLICE_BYTES, METER_SLICE_FUNCTIONS, meterBinary, meterBinaryInSlices, type MeterOptions } from './rewriter.js';
import type { PluginLimits, WasmHostLimits } from './options.js';
import { decodeTagged, parseModuleHash, publicKeyFromString, sha256Hex, verifyModuleSignature } from './signing.js';

const { I32, I64, F64 } = ValType;

/** Signatures of the v1 host imports, from abi.ts. */
export const HOST_IMPORT_SIGNATURES: Readonly<Record<string, readonly [readonly number[], readonly number[]]>> = {
  [HostImport.LOG]: [[I32, I32, I32], [I32]],
  [HostImport.STATE_GET]: [[I32, I32, I32, I32], [I32]],
  [HostImport.STATE_SET]: [[I32, I32, I32, I32, I32, I32], [I32]],
  [HostImport.SERVICE_CALL]: [[I32, I32, I32, I32, I32, I32], [I32]],
  [HostImport.EVENT_FIRE]: [[I32, I32, I32, I32], [I32]],
  [HostImport.SUBSCRIBE]: [[I32, I32, I32], [I32]],
  [HostImport.CONFIG_GET]: [[I32, I32], [I32]],
  [HostImport.CLOCK_NOW]: [[], [F64]],
};

/** Signatures of the guest exports the host calls. */
export const GUEST_EXPORT_SIGNATURES: Readonly<Record<string, readonly [readonly number[], readonly number[]]>> = {
  [GuestExport.ALLOC]: [[I32], [I32]],
  [GuestExport.FREE]: [[I32, I32], []],
  [GuestExport.SETUP]: [[I32, I32], [I32]],
  [GuestExport.TEARDOWN]: [[], [I32]],
  [GuestExport.ON_STATE_CHANGED]: [[I32, I32], [I32]],
  [GuestExport.ON_EVENT]: [[I32, I32], [I32]],
  [GuestExport.ON_SERVICE_CALL]: [[I32, I32], [I32]],
  [GuestExport.ON_CONFIG_UPDATE]: [[I32, I32], [I32]],
  [GuestExport.MIGRATE_ENTRY]: [[I32, I32], [I64]],
};

/** Prefix of the names the host adds to a module (fuel accessors); guests may not export them. */
export const RESERVED_EXPORT_PREFIX = '__homecore_';

const ABORT_SIGNATURE = [[I32, I32, I32, I32], []] as const;

/** What the gate hands on to metering and instantiation. */
export interface GatedModule {
  /** The bytes to meter: the original, or a copy with clamped memory limits. */
  readonly bytes: Uint8Array;
  /** sha256 hex of the original bytes. */
  readonly hashHex: string;
  /** The memory maximum in pages that applies. */
  readonly maxPages: number;
  /** Guest exports that exist. */
  readonly exportNames: ReadonlySet<string>;
  /** Whether the memory limits were rewritten. */
  readonly clamped: boolean;
  /** Functions the module defines. */
  readonly functions: number;
}

/** The trust settings the gate needs. */
export interface GateTrust {
  readonly mode: 'strict' | 'development';
  readonly trustedKeys: ReadonlySet<string>;
}

/** Inputs of `runLoadGate`. */
export interface GateInput {
  readonly bytes: Uint8Array;
  readonly manifest: PluginManifest;
  readonly trust: GateTrust;
  readonly host: WasmHostLimits;
  readonly limits: PluginLimits;
  readonly clampUnboundedMemory: boolean;
  readonly warn: (message: string) => void;
  /** Module shape limits (default `DEFAULT_SHAPE_LIMITS`). */
  readonly shape?: ModuleShapeLimits;
}

/** The feature set, for messages. */
export const ALLOWED_FEATURES = 'MVP + mutable-globals, sign-ext, bulk-memory, nontrapping-f2i and multivalue';

/** Runs every check of the load gate in order; throws the first failure as a coded HomecoreError. */
export function runLoadGate(input: GateInput): GatedModule {
  const { bytes, manifest, host } = input;
  const plugin = manifest.domain;
  const fail = (code: ErrorCodeValue, message: string, details?: Record<string, unknown>): never => {
    throw new HomecoreError(code, message, { plugin, hook: 'load', ...(details ? { details } : {}) });
  };

  if (bytes.length > host.maxModuleBytes) {
    fail(
      ErrorCode.WASM_TOO_LARGE,
      `module is ${bytes.length} bytes, above the host's maxModuleBytes of ${host.maxModuleBytes}: shrink it (build with -O and strip debug info) or raise the host limit`,
      { size: bytes.length, limit: host.maxModuleBytes },
    );
  }
  const hashHex = sha256Hex(bytes);
  checkHashAndSignature(input, hashHex, fail);

  let layout: ModuleLayout;
  try {
    layout = readModuleLayout(bytes, input.shape ?? DEFAULT_SHAPE_LIMITS);
  } catch (err) {
    throw binaryError(err, plugin);
  }
  const homecoreImports = checkImports(layout, fail);
  const exportNames = checkExports(layout, fail);
  const memory = checkMemory(input, layout, fail);
  checkRequiredImports(manifest, homecoreImports, fail);
  return { bytes: memory.bytes, hashHex, maxPages: memory.maxPages, exportNames, clamped: memory.clamped, functions: layout.functionTypes.length };
}

/** The metering options of every gated load besides the shape limits (part of the disk cache's key). */
// The host runs the start function itself, under the start budget (instance.ts).
export const GATED_METER_OPTIONS = Object.freeze({ startFuel: 0, exportStart: true });

/**
 * Meters gated bytes with the rewriter (the same pass checks every instruction against the
 * allowlist); refusals become coded errors naming the function and offset.
 */
export async function meterGated(gated: GatedModule, plugin: string, shape: ModuleShapeLimits = DEFAULT_SHAPE_LIMITS): Promise<Uint8Array> {
  const options = { ...GATED_METER_OPTIONS, shape };
  try {
    // A large module is metered in slices, handing the event loop back between them.
    const large = gated.bytes.length > METER_SLICE_BYTES || gated.functions > METER_SLICE_FUNCTIONS;
    return large ? await meterBinaryInSlices(gated.bytes, options) : meterBinary(gated.bytes, options);
  } catch (err) {
    throw binaryError(err, plugin);
  }
}

/**
 * Returns a metered copy of a module: the same code with fuel charges, plus an exported mutable
 * i32 global `FUEL_EXPORT` holding the fuel left (host-abi.md section 10). Throws
 * `HC_ERR_WASM_FEATURE_FORBIDDEN`, `HC_ERR_WASM_INVALID` or `HC_ERR_WASM_SHAPE_LIMIT`.
 */
export function meterModule(bytes: Uint8Array, options: MeterOptions = {}): Uint8Array {
  try {
    return meterBinary(bytes, options);
  } catch (err) {
    throw binaryError(err, undefined);
  }
}

/** Maps an error of the binary reader or the rewriter to the load gate's coded error. */
export function binaryError(err: unknown, plugin: string | undefined): HomecoreError {
  const options = { ...(plugin === undefined ? {} : { plugin }), hook: 'load', cause: err };
  if (err instanceof ShapeLimitError) {
    return new HomecoreError(
      ErrorCode.WASM_SHAPE_LIMIT,
      `module is beyond a shape limit (${err.message}): a plugin should be far below it; split or simplify the module, or raise the host's shape limit '${err.limit}'`,
      { ...options, details: { limit: err.limit, value: err.value, max: err.max } },
    );
  }
  if (err instanceof ForbiddenFeatureError) {
    return new HomecoreError(ErrorCode.WASM_FEATURE_FORBIDDEN, `module uses ${err.message}, which the sandbox does not allow: build for ${ALLOWED_FEATURES} only`, options);
  }
  if (err instanceof BinaryFormatError) {
    return new HomecoreError(ErrorCode.WASM_INVALID, `module is not a valid WebAssembly binary (${err.message}): rebuild it`, options);
  }
  if (err instanceof RangeError) {
    return new HomecoreError(ErrorCode.WASM_INVALID, `module could not be read (${err.message}): rebuild it`, options);
  }
  return err instanceof HomecoreError ? err : new HomecoreError(ErrorCode.INTERNAL, `reading the module failed: ${String(err)}`, options);
}

type Fail = (code: ErrorCodeValue, message: string, details?: Record<string, unknown>) => never;

function checkHashAndSignature(input: GateInput, hashHex: string, fail: Fail): void {
  const { manifest, trust, warn } = input;
  const strict = trust.mode === 'strict';
  if (manifest.module_hash === undefined) {
    if (strict) {
      fail(
        ErrorCode.WASM_HASH_MISMATCH,
        `manifest has no module_hash and the trust policy is strict: add "module_hash": "sha256:${hashHex}" (homecore sign does it)`,
      );
    }
  } else {
    const pinned = typeof manifest.module_hash === 'string' ? parseModuleHash(manifest.module_hash) : undefined;
    if (pinned === undefined) {
      fail(ErrorCode.WASM_HASH_MISMATCH, `manifest module_hash ${JSON.stringify(manifest.module_hash)} is not "sha256:<64 lowercase hex>": fix the manifest`);
    }
    if (pinned !== hashHex) {
      fail(
        ErrorCode.WASM_HASH_MISMATCH,
        `module bytes have sha256 ${hashHex} but the manifest pins ${String(manifest.module_hash)}: the file was changed or the manifest is stale; rebuild and re-sign`,
        { expected: pinned, actual: hashHex },
      );
    }
  }

  const { module_signature: signature, publisher_key: publisherKey } = manifest;
  if (signature === undefined) {
    if (strict) {
      fail(ErrorCode.WASM_UNSIGNED, 'module is unsigned and the trust policy is strict: sign it (module_signature + publisher_key) with a trusted publisher key');
    }
    warn(`plugin ${manifest.domain}: loading an unsigned wasm module (development trust policy)`);
    return;
  }
  if (typeof signature !== 'string' || typeof publisherKey !== 'string') {
    fail(ErrorCode.WASM_SIGNATURE_INVALID, 'module_signature needs a publisher_key ("ed25519:<base64 of 32 bytes>") next to it in the manifest');
  }
  const key = publicKeyFromString(publisherKey as string);
  if (key === undefined) {
    fail(ErrorCode.WASM_SIGNATURE_INVALID, `publisher_key ${JSON.stringify(publisherKey)} is not "ed25519:<base64 of the raw 32-byte public key>": fix the manifest`);
  }
  const raw = decodeTagged(signature as string, 64);
  if (raw === undefined) {
    fail(ErrorCode.WASM_SIGNATURE_INVALID, 'module_signature is not "ed25519:<base64 of the 64-byte signature>": re-sign the module');
  }
  if (!verifyModuleSignature(key as NonNullable<typeof key>, input.manifest.domain, hashHex, raw as Buffer)) {
    fail(
      ErrorCode.WASM_SIGNATURE_INVALID,
      'module_signature does not verify for these bytes, this domain and this publisher_key: the module was tampered with or signed for another plugin; re-sign it',
    );
  }
  if (!trust.trustedKeys.has(publisherKey as string)) {
    if (strict) {
      fail(
        ErrorCode.WASM_UNTRUSTED_KEY,
        `module is signed by ${String(publisherKey)}, which is not in the host's trustedKeys: add the key to the trust policy only if you trust its publisher`,
        { publisherKey },
      );
    }
    warn(`plugin ${manifest.domain}: module signed by an untrusted key ${String(publisherKey)} (development trust policy)`);
  }
}

function checkImports(layout: ModuleLayout, fail: Fail): Set<string> {
  const homecore = new Set<string>();
  const kindName = ['function', 'table', 'memory', 'global', 'tag'];
  for (const imp of layout.imports) {
    const label = `${imp.module}.${imp.name}`;
    if (imp.kind !== ExternKind.FUNC) {
      fail(
        ErrorCode.WASM_IMPORT_FORBIDDEN,
        `module imports a ${kindName[imp.kind] ?? 'value'} '${label}': the host supplies only functions; define the ${kindName[imp.kind]} inside the module and export memory`,
        { import: label },
      );
    }
    const type = layout.types[imp.typeIndex];
    if (imp.module === 'env' && imp.name === 'abort') {
      if (!sameSignature(type, ...ABORT_SIGNATURE)) {
        fail(ErrorCode.WASM_IMPORT_FORBIDDEN, `import 'env.abort' must have signature ${formatSignature(...ABORT_SIGNATURE)}`, { import: label });
      }
      continue;
    }
    const expected = imp.module === HOST_MODULE ? HOST_IMPORT_SIGNATURES[imp.name as string] : undefined;
    if (expected === undefined) {
      fail(
        ErrorCode.WASM_IMPORT_FORBIDDEN,
        `module imports '${label}', which the host does not provide: import only ${HOST_MODULE}.{${Object.keys(HOST_IMPORT_SIGNATURES).join(', ')}} and env.abort (no WASI)`,
        { import: label },
      );
    }
    if (!sameSignature(type, ...(expected as NonNullable<typeof expected>))) {
      fail(
        ErrorCode.WASM_IMPORT_FORBIDDEN,
        `import '${label}' has signature ${type ? formatSignature(type.params, type.results) : '?'} but host ABI v1 defines ${formatSignature(...(expected as NonNullable<typeof expected>))}`,
        { import: label },
      );
    }
    homecore.add(imp.name);
  }
  return homecore;
}

function checkExports(layout: ModuleLayout, fail: Fail): Set<string> {
  const names = new Set(layout.exports.map((e) => e.name));
  const markers = layout.exports.filter((e) => e.name.startsWith(ABI_VERSION_EXPORT_PREFIX)).map((e) => e.name);
  if (markers.length === 0) {
    fail(ErrorCode.WASM_ABI_VERSION, `module has no ABI version marker: export a function named '${ABI_VERSION_EXPORT}' (see docs/host-abi.md)`);
  }
  if (markers.length > 1 || markers[0] !== ABI_VERSION_EXPORT) {
    fail(
      ErrorCode.WASM_ABI_VERSION,
      `module declares ${markers.map((m) => `'${m}'`).join(' and ')} but this host speaks only '${ABI_VERSION_EXPORT}': rebuild against host ABI v1`,
      { markers },
    );
  }
  const marker = layout.exports.find((e) => e.name === ABI_VERSION_EXPORT);
  if (marker !== undefined && marker.kind !== ExternKind.FUNC) {
    fail(ErrorCode.WASM_ABI_VERSION, `'${ABI_VERSION_EXPORT}' must be an exported function (host-abi.md section 2), not a ${['function', 'table', 'memory', 'global', 'tag'][marker.kind] ?? 'value'}`);
  }
  const reserved = layout.exports.find((e) => e.name.startsWith(RESERVED_EXPORT_PREFIX));
  if (reserved !== undefined) {
    fail(ErrorCode.WASM_INVALID, `export '${reserved.name}' uses the prefix '${RESERVED_EXPORT_PREFIX}' reserved for the host: rename it`);
  }
  const memory = layout.exports.find((e) => e.name === GuestExport.MEMORY);
  if (memory === undefined || memory.kind !== ExternKind.MEMORY) {
    fail(ErrorCode.WASM_EXPORT_MISSING, `module must export its linear memory as '${GuestExport.MEMORY}'`);
  }
  for (const [name, signature] of Object.entries(GUEST_EXPORT_SIGNATURES)) {
    const exp = layout.exports.find((e) => e.name === name);
    const required = name === GuestExport.ALLOC || name === GuestExport.FREE;
    if (exp === undefined) {
      if (required) {
        fail(ErrorCode.WASM_EXPORT_MISSING, `module must export '${name}' ${formatSignature(...signature)} (the guest allocator, see docs/host-abi.md section 4)`);
      }
      continue;
    }
    const type = exp.kind === ExternKind.FUNC ? functionType(layout, exp.index) : undefined;
    if (!sameSignature(type, ...signature)) {
      fail(
        ErrorCode.WASM_EXPORT_MISSING,
        `export '${name}' must be a function ${formatSignature(...signature)}${type ? `, not ${formatSignature(type.params, type.results)}` : ''}`,
      );
    }
  }
  return names;
}

function checkMemory(input: GateInput, layout: ModuleLayout, fail: Fail): { bytes: Uint8Array; maxPages: number; clamped: boolean } {
  const decl = layout.memory;
  if (decl === undefined) {
    fail(ErrorCode.WASM_EXPORT_MISSING, `module defines no memory: define one and export it as '${GuestExport.MEMORY}'`);
  }
  const memory = decl as NonNullable<typeof decl>;
  const policy = input.limits.memoryPages;
  if (memory.initial > policy) {
    fail(
      ErrorCode.WASM_MEMORY_POLICY,
      `module needs ${memory.initial} initial memory pages but the limit is ${policy} (the stricter of the host's ${input.host.memoryPages} and the manifest's limits.memory_pages): shrink its initial memory or raise limits.memory_pages`,
      { initial: memory.initial, limit: policy },
    );
  }
  if (memory.maximum === undefined && !input.clampUnboundedMemory) {
    fail(
      ErrorCode.WASM_MEMORY_POLICY,
      `module declares no memory maximum and this host refuses unbounded memories: build with a maximum of at most ${policy} pages (AssemblyScript: --maximumMemory ${policy})`,
      { limit: policy },
    );
  }
  const maxPages = Math.min(policy, memory.maximum ?? policy);
  if (memory.maximum === maxPages) return { bytes: input.bytes, maxPages, clamped: false };
  return { bytes: rewriteMemoryLimits(input.bytes, memory, maxPages), maxPages, clamped: true };
}

function checkRequiredImports(manifest: PluginManifest, actual: Set<string>, fail: Fail): void {
  const declared = manifest.host_imports_required;
  if (declared === undefined) return;
  const wanted = new Set<string>(declared);
  const missing = [...actual].filter((n) => !wanted.has(n)).sort();
  const extra = [...wanted].filter((n) => !actual.has(n)).sort();
  if (missing.length === 0 && extra.length === 0) return;
  const parts: string[] = [];
  if (missing.length > 0) parts.push(`the module imports ${missing.join(', ')} not listed`);
  if (extra.length > 0) parts.push(`the manifest lists ${extra.join(', ')} the module does not import`);
  fail(
    ErrorCode.WASM_IMPORTS_MISMATCH,
    `host_imports_required does not match the module's homecore imports: ${parts.join('; ')}. Set it to ${JSON.stringify([...actual].sort())}`,
    { missing, extra },
  );
}
