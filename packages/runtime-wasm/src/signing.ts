import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** The first line of every signed message; the version lets the format change later. */
export const SIGNED_MESSAGE_PREFIX = 'homecore-module-v1';

const KEY_PREFIX = 'ed25519:';
const HASH_PREFIX = 'sha256:';
// SPKI DER header of an Ed25519 public key; the raw 32 bytes follow it.
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** The three manifest fields that pin and sign a module. */
export interface ModuleSignature {
  /** `sha256:<64 lowercase hex>` of the module bytes. */
  module_hash: string;
  /** `ed25519:<base64 of the 64-byte signature>`. */
  module_signature: string;
  /** `ed25519:<base64 of the raw 32-byte public key>`. */
  publisher_key: string;
}

/** A new Ed25519 key pair for signing modules, with the public key in manifest form. */
export interface PublisherKeys {
  /** The private key; keep it out of the repository. */
  privateKey: KeyObject;
  /** The private key as PKCS#8 PEM, for storing. */
  privateKeyPem: string;
  /** `ed25519:<base64 of the raw 32-byte public key>`, for `publisher_key` and `trustedKeys`. */
  publisherKey: string;
}

/** Lowercase hex sha256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The exact bytes a publisher signs: `homecore-module-v1\n<domain>\n<sha256 hex>` in UTF-8. */
export function signedMessage(domain: string, hashHex: string): Buffer {
  return Buffer.from(`${SIGNED_MESSAGE_PREFIX}\n${domain}\n${hashHex}`, 'utf8');
}

/** Signs module bytes for `domain`; returns the manifest fields `module_hash`, `module_signature`, `publisher_key`. */
export function signModule(bytes: Uint8Array, domain: string, privateKey: KeyObject | string): ModuleSignature {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('signModule needs an Ed25519 private key');
  const hashHex = sha256Hex(bytes);
  const signature = sign(null, signedMessage(domain, hashHex), key);
  return {
    module_hash: HASH_PREFIX + hashHex,
    module_signature: KEY_PREFIX + signature.toString('base64'),
    publisher_key: publisherKeyOf(createPublicKey(key)),
  };
}

/** Generates an Ed25519 key pair for signing modules. */
export function generatePublisherKeys(): PublisherKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publisherKey: publisherKeyOf(publicKey),
  };
}

function publisherKeyOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return KEY_PREFIX + der.subarray(SPKI_ED25519_PREFIX.length).toString('base64');
}

/** Parses `sha256:<hex>` (or bare hex) into lowercase hex, or undefined when malformed. */
export function parseModuleHash(value: string): string | undefined {
  const hex = value.startsWith(HASH_PREFIX) ? value.slice(HASH_PREFIX.length) : value;
  return /^[0-9a-fA-F]{64}$/.test(hex) ? hex.toLowerCase() : undefined;
}

/** Decodes `ed25519:<base64>` of exactly `length` bytes, or undefined when malformed. */
export function decodeTagged(value: string, length: number): Buffer | undefined {
  if (!value.startsWith(KEY_PREFIX)) return undefined;
  const text = value.slice(KEY_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const raw = Buffer.from(text, 'base64');
  return raw.length === length ? raw : undefined;
}

const keyCache = new Map<string, KeyObject>();

/** The KeyObject of a `publisher_key` string (cached: parsing costs as much as verifying), or undefined when malformed. */
export function publicKeyFromString(publisherKey: string): KeyObject | undefined {
  const cached = keyCache.get(publisherKey);
  if (cached !== undefined) return cached;
  const raw = decodeTagged(publisherKey, 32);
  if (raw === undefined) return undefined;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
  if (keyCache.size >= 1024) keyCache.clear();
  keyCache.set(publisherKey, key);
  return key;
}

/** True when `signature` (`ed25519:<base64>`) signs `domain` + `hashHex` under `key`. */
export function verifyModuleSignature(key: KeyObject, domain: string, hashHex: string, signature: Buffer): boolean {
  try {
    return verify(null, signedMessage(domain, hashHex), key, signature);
  } catch {
    return false;
  }
}
