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
  const report = await wasm.inspectModule(bytes, {
    ...(options.manifest === undefined ? {} : { manifest: parseManifest(options.manifest, '--manifest').manifest }),
    trust: { mode: options.allowUnsigned ? 'development' : 'strict', trustedKeys: options.trustedKeys },
  });
  return { ...report, passesGate: report.gate.passed, text: formatInspection(report) };
}

function formatInspection(r: ModuleInspection): string {
  const lines = [
    `size        ${r.size} bytes`,
    `sha256      ${r.sha256}`,
    `ABI        ${r.abiVersion === null ? ' none (no homecore_abi_version_<N> export)' : ` v${r.abiVersion}`}`,
    `memory      ${r.memory === null ? 'none defined' : `initial ${r.memory.initial} pages, maximum ${r.memory.maximum ?? 'none'}${r.memory.effectiveMaximum === null ? '' : `, effective ${r.memory.effectiveMaximum} pages`}`}`,
    `signed      ${!r.signature.signed ? 'no' : `yes, ${r.signature.valid ? 'valid' : 'INVALID'}${r.signature.publisherKey ? ` by ${r.signature.publisherKey}` : ''}${r.signature.trusted === null ? '' : r.signature.trusted ? ' (trusted)' : ' (not trusted)'}`}`,
    '',
    `imports (${r.imports.length})`,
    ...r.imports.map((i) => `  ${i.module}.${i.name}  ${i.kind}${i.signature ? ` ${i.signature}` : ''}`),
    `exports (${r.exports.length})`,
    ...r.exports.map((e) => `  ${e.name}  ${e.kind}${e.signature ? ` ${e.signature}` : ''}`),
    '',
    r.gate.passed ? 'load gate   PASSED' : `load gate   FAILED: ${r.gate.error?.message ?? 'unknown reason'} [${r.gate.error?.code ?? '?'}]`,
    ...r.gate.warnings.map((w) => `  warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
