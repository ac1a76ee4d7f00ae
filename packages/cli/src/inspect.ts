import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { parseManifest } from '@homecore/manifest';
import type { ModuleInspection } from '@homecore/runtime-wasm';
import { importWasmRuntime } from './wasm.js';

/** The report of `homecore inspect`. */
export interface InspectReport extends ModuleInspection {
  passesGate: boolean;
  text: string;
}

/** Inspects a wasm module with the runtime's own gate; needs `@homecore/runtime-wasm`. */
export async function inspectWasm(
  bytes: Uint8Array,
  options: { manifest: unknown; trustedKeys: string[]; allowUnsigned: boolean },
): Promise<InspectReport> {
  const wasm = await importWasmRuntime();
  if (wasm === undefined) {
    throw new HomecoreError(ErrorCode.RUNTIME_UNAVAILABLE, 'inspecting wasm modules needs @homecore/runtime-wasm: install it next to @homecore/cli');
  }
  if (options.manifest === undefined) {
    // Without a manifest there is no pin or signature to judge: check the module's structure only.
    const report = await wasm.inspectModule(bytes, { trust: { mode: 'development' } });
    const structural = { ...report, gate: { ...report.gate, warnings: [] } };
    return { ...structural, passesGate: report.gate.passed, text: formatInspection(structural, false) };
  }
  const report = await wasm.inspectModule(bytes, {
    manifest: parseManifest(options.manifest, '--manifest').manifest,
    trust: { mode: options.allowUnsigned ? 'development' : 'strict', trustedKeys: options.trustedKeys },
  });
  return { ...report, passesGate: report.gate.passed, text: formatInspection(report, true) };
}

function formatInspection(r: ModuleInspection, withManifest: boolean): string {
  const lines = [
    `size        ${r.size} bytes`,
    `sha256      ${r.sha256}`,
    `ABI        ${r.abiVersion === null ? ' none (no homecore_abi_version_<N> export)' : ` v${r.abiVersion}`}`,
    `memory      ${r.memory === null ? 'none defined' : `initial ${r.memory.initial} pages, maximum ${r.memory.maximum ?? 'none'}${r.memory.effectiveMaximum === null ? '' : `, effective ${r.memory.effectiveMaximum} pages`}`}`,
    `signed      ${!withManifest ? 'not checked (give --manifest to check the hash and signature)' : !r.signature.signed ? 'no' : `yes, ${r.signature.valid ? 'valid' : 'INVALID'}${r.signature.publisherKey ? ` by ${r.signature.publisherKey}` : ''}${r.signature.trusted === null ? '' : r.signature.trusted ? ' (trusted)' : ' (not trusted)'}`}`,
    '',
    `imports (${r.imports.length})`,
    ...r.imports.map((i) => `  ${i.module}.${i.name}  ${i.kind}${i.signature ? ` ${i.signature}` : ''}`),
    `exports (${r.exports.length})`,
    ...r.exports.map((e) => `  ${e.name}  ${e.kind}${e.signature ? ` ${e.signature}` : ''}`),
    '',
    r.gate.passed ? `load gate   PASSED${withManifest ? '' : ' (structure only: imports, exports, ABI version, features, memory)'}` : `load gate   FAILED: ${r.gate.error?.message ?? 'unknown reason'} [${r.gate.error?.code ?? '?'}]`,
    ...r.gate.warnings.map((w) => `  warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
