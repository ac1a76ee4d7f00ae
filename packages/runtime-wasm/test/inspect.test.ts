import { generatePublisherKeys, inspectModule, sha256Hex, signModule } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { guest, manifest, wat } from './helpers.js';

const bytes = wat(guest({ imports: ['hc_log', 'hc_state_set'] }));

describe('inspectModule', () => {
  test('describes imports, exports, ABI version, memory and hash without running the module', async () => {
    const report = await inspectModule(bytes, { trust: { mode: 'development' } });
    expect(report.size).toBe(bytes.length);
    expect(report.sha256).toBe(`sha256:${sha256Hex(bytes)}`);
    expect(report.abiVersion).toBe(1);
    expect(report.imports).toContainEqual({ module: 'homecore', name: 'hc_log', kind: 'func', signature: '(i32, i32, i32) -> i32' });
    expect(report.imports).toContainEqual({ module: 'homecore', name: 'hc_state_set', kind: 'func', signature: '(i32, i32, i32, i32, i32, i32) -> i32' });
    expect(report.exports).toContainEqual({ name: 'hc_alloc', kind: 'func', signature: '(i32) -> i32' });
    expect(report.exports).toContainEqual({ name: 'memory', kind: 'memory', signature: null });
    expect(report.memory?.initial).toBeGreaterThan(0);
    expect(report.signature).toEqual({ signed: false, valid: null, publisherKey: null, trusted: null });
    expect(report.gate.passed).toBe(true);
    expect(report.gate.warnings.join('\n')).toContain('unsigned');
  });

  test('judges the signature against the trust policy', async () => {
    const keys = generatePublisherKeys();
    const signed = manifest(signModule(bytes, 'probe', keys.privateKey));
    const trusted = await inspectModule(bytes, { manifest: signed, trust: { mode: 'strict', trustedKeys: [keys.publisherKey] } });
    expect(trusted.signature).toEqual({ signed: true, valid: true, publisherKey: keys.publisherKey, trusted: true });
    expect(trusted.gate.passed).toBe(true);

    const untrusted = await inspectModule(bytes, { manifest: signed, trust: { mode: 'strict' } });
    expect(untrusted.signature.trusted).toBe(false);
    expect(untrusted.gate).toMatchObject({ passed: false, error: { code: 'HC_ERR_WASM_UNTRUSTED_KEY' } });

    const tampered = bytes.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    const report = await inspectModule(tampered, { manifest: signed, trust: { mode: 'strict', trustedKeys: [keys.publisherKey] } });
    expect(report.signature.valid).toBe(false);
    expect(report.gate.error?.code).toBe('HC_ERR_WASM_HASH_MISMATCH');
  });

  test('reports, never throws, for bytes that are not wasm', async () => {
    const report = await inspectModule(new TextEncoder().encode('definitely not wasm'), { trust: { mode: 'development' } });
    expect(report.abiVersion).toBeNull();
    expect(report.imports).toEqual([]);
    expect(report.memory).toBeNull();
    expect(report.gate).toMatchObject({ passed: false, error: { code: 'HC_ERR_WASM_INVALID' } });
  });

  test('under the default strict policy an unpinned module fails the gate', async () => {
    const report = await inspectModule(bytes);
    expect(report.gate.error?.code).toBe('HC_ERR_WASM_HASH_MISMATCH');
    expect(report.gate.error?.message).toContain('homecore sign');
  });
});
