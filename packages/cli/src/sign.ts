import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { parseManifest } from '@homecore/manifest';
import { usageError } from './usage.js';
import { importWasmRuntime } from './wasm.js';

async function wasmRuntime() {
  const wasm = await importWasmRuntime();
  if (wasm === undefined) throw new HomecoreError(ErrorCode.RUNTIME_UNAVAILABLE, 'signing wasm modules needs @homecore/runtime-wasm: install it next to @homecore/cli');
  return wasm;
}

/**
 * `homecore sign`: pins and signs a module in its manifest (module_hash, module_signature,
 * publisher_key), keeping every other field as it was. Returns the fields written.
 */
export async function signPlugin(wasmPath: string, keyPath: string, manifestPath: string): Promise<Record<string, string>> {
  const wasm = await wasmRuntime();
  const read = async (path: string, what: string) => {
    try {
      return await readFile(resolve(path));
    } catch {
      throw usageError(`${what} ${path} cannot be read`);
    }
  };
  const bytes = await read(wasmPath, 'wasm module');
  const key = (await read(keyPath, '--key')).toString('utf8');
  const text = (await read(manifestPath, '--manifest')).toString('utf8');
  const { manifest } = parseManifest(text, manifestPath);
  let fields;
  try {
    fields = wasm.signModule(new Uint8Array(bytes), manifest.domain, key);
  } catch (err) {
    throw usageError(`--key ${keyPath} is not an Ed25519 private key in PEM (${(err as Error).message}); create one with "homecore keygen <dir>"`);
  }
  const updated = { ...(JSON.parse(text) as Record<string, unknown>), ...fields };
  await writeFile(resolve(manifestPath), `${JSON.stringify(updated, null, 2)}\n`);
  return { ...fields };
}

/** `homecore keygen`: writes a new publisher key pair into `dir`; refuses to overwrite one. */
export async function generateKeys(dir: string): Promise<{ privateKeyFile: string; publicKeyFile: string; publisherKey: string }> {
  const wasm = await wasmRuntime();
  const privateKeyFile = join(resolve(dir), 'publisher.key.pem');
  const publicKeyFile = join(resolve(dir), 'publisher.pub');
  if (existsSync(privateKeyFile) || existsSync(publicKeyFile)) throw usageError(`${dir} already holds a publisher key; keygen never overwrites one`);
  const keys = wasm.generatePublisherKeys();
  await mkdir(resolve(dir), { recursive: true });
  await writeFile(privateKeyFile, keys.privateKeyPem, { mode: 0o600 });
  await writeFile(publicKeyFile, `${keys.publisherKey}\n`);
  return { privateKeyFile, publicKeyFile, publisherKey: keys.publisherKey };
}
