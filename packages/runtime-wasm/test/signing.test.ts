import { createPublicKey, verify } from 'node:crypto';
import { ErrorCode } from '@homecore/core-traits';
import { WasmRuntime, generatePublisherKeys, sha256Hex, signModule, signedMessage } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { guest, manifest, rejection, wat } from './helpers.js';

const bytes = wat(guest({ imports: [] }));
const publisher = generatePublisherKeys();
const stranger = generatePublisherKeys();

function strict(trustedKeys = [publisher.publisherKey]): WasmRuntime {
  return new WasmRuntime({ trust: { mode: 'strict', trustedKeys }, warn: () => undefined });
}

describe('signing format', () => {
  test('signModule produces the documented fields', () => {
    const signed = signModule(bytes, 'probe', publisher.privateKey);
    expect(signed.module_hash).toBe(`sha256:${sha256Hex(bytes)}`);
    expect(signed.publisher_key).toBe(publisher.publisherKey);
    expect(signed.publisher_key).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
    const raw = Buffer.from(signed.module_signature.slice('ed25519:'.length), 'base64');
    expect(raw.length).toBe(64);
    // Verifiable by anyone from the documented message and the raw key.
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(signed.publisher_key.slice(8), 'base64')]);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    const message = Buffer.from(`homecore-module-v1\nprobe\n${sha256Hex(bytes)}`, 'utf8');
    expect(signedMessage('probe', sha256Hex(bytes)).equals(message)).toBe(true);
    expect(verify(null, message, key, raw)).toBe(true);
  });

  test('signModule accepts a PEM private key', () => {
    expect(signModule(bytes, 'probe', publisher.privateKeyPem)).toEqual(signModule(bytes, 'probe', publisher.privateKey));
  });
});

describe('strict trust policy', () => {
  test('loads a module signed by a trusted key', async () => {
    const instance = await strict().load(bytes, manifest(signModule(bytes, 'probe', publisher.privateKey)));
    expect(instance.kind).toBe('wasm');
  });

  test('refuses tampered bytes every time', async () => {
    const fields = signModule(bytes, 'probe', publisher.privateKey);
    const tampered = bytes.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1;
    for (let i = 0; i < 3; i++) {
      expect((await rejection(strict().load(tampered, manifest(fields)))).code).toBe(ErrorCode.WASM_HASH_MISMATCH);
    }
    // With the hash updated to the tampered bytes, the signature no longer verifies.
    const rehashed = { ...fields, module_hash: `sha256:${sha256Hex(tampered)}` };
    expect((await rejection(strict().load(tampered, manifest(rehashed)))).code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
  });

  test('refuses a signature made for another domain', async () => {
    const fields = signModule(bytes, 'other_plugin', publisher.privateKey);
    expect((await rejection(strict().load(bytes, manifest(fields)))).code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
  });

  test('refuses a signature checked against the wrong key', async () => {
    const fields = { ...signModule(bytes, 'probe', publisher.privateKey), publisher_key: stranger.publisherKey };
    expect((await rejection(strict([stranger.publisherKey]).load(bytes, manifest(fields)))).code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
  });

  test('refuses a valid signature by a key the host does not trust', async () => {
    const err = await rejection(strict().load(bytes, manifest(signModule(bytes, 'probe', stranger.privateKey))));
    expect(err.code).toBe(ErrorCode.WASM_UNTRUSTED_KEY);
    expect(err.message).toContain(stranger.publisherKey);
  });

  test('refuses an unsigned module, and one without a hash', async () => {
    const hashOnly = { module_hash: `sha256:${sha256Hex(bytes)}` };
    expect((await rejection(strict().load(bytes, manifest(hashOnly)))).code).toBe(ErrorCode.WASM_UNSIGNED);
    expect((await rejection(strict().load(bytes, manifest()))).code).toBe(ErrorCode.WASM_HASH_MISMATCH);
  });

  test('refuses malformed signature fields with a message naming them', async () => {
    const fields = signModule(bytes, 'probe', publisher.privateKey);
    const badKey = await rejection(strict().load(bytes, manifest({ ...fields, publisher_key: 'ed25519:AAAA' })));
    expect(badKey.code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
    expect(badKey.message).toContain('publisher_key');
    const badSig = await rejection(strict().load(bytes, manifest({ ...fields, module_signature: 'ed25519:!!' })));
    expect(badSig.code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
    const noKey = await rejection(strict().load(bytes, manifest({ ...fields, publisher_key: undefined })));
    expect(noKey.code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
  });
});

describe('development trust policy', () => {
  function dev(): { runtime: WasmRuntime; warnings: string[] } {
    const warnings: string[] = [];
    return { runtime: new WasmRuntime({ trust: { mode: 'development' }, warn: (m) => warnings.push(m) }), warnings };
  }

  test('allows an unsigned module with a warning', async () => {
    const { runtime, warnings } = dev();
    await runtime.load(bytes, manifest());
    expect(warnings).toEqual([expect.stringContaining('unsigned')]);
  });

  test('a load option warn receives the warning instead', async () => {
    const { runtime, warnings } = dev();
    const mine: string[] = [];
    await runtime.load(bytes, manifest(), { warn: (m) => mine.push(m) });
    expect(mine).toHaveLength(1);
    expect(warnings).toHaveLength(0);
  });

  test('allows an untrusted key with a warning, but a bad signature or hash is still refused', async () => {
    const { runtime, warnings } = dev();
    await runtime.load(bytes, manifest(signModule(bytes, 'probe', stranger.privateKey)));
    expect(warnings).toEqual([expect.stringContaining('untrusted key')]);
    const forged = { ...signModule(bytes, 'other', stranger.privateKey), module_hash: undefined };
    expect((await rejection(runtime.load(bytes, manifest(forged)))).code).toBe(ErrorCode.WASM_SIGNATURE_INVALID);
    expect((await rejection(runtime.load(bytes, manifest({ module_hash: `sha256:${'a'.repeat(64)}` })))).code).toBe(ErrorCode.WASM_HASH_MISMATCH);
  });
});
