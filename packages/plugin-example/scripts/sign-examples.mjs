// Pins and signs the wasm plugins of the examples (smart home and sandbox) with the committed DEMO
// key: writes module_hash, module_signature and publisher_key into each wasm folder's manifest.json.
// Run after `pnpm --filter @homecore/plugin-example build` (which stages plugin.wasm into the folders).
// Format (docs/host-abi.md, "Signing and hashing"):
//   module_hash      = "sha256:" + hex sha256 of the bytes
//   module_signature = "ed25519:" + base64 Ed25519 signature of "homecore-module-v1\n<domain>\n<sha256 hex>"
//   publisher_key    = "ed25519:" + base64 of the raw 32-byte public key
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const home = fileURLToPath(new URL('../../../examples/smart-home/', import.meta.url));
const privateKey = createPrivateKey(await readFile(join(home, 'keys/demo-publisher.key.pem')));
const rawPublicKey = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(-32);
const publisherKey = `ed25519:${rawPublicKey.toString('base64')}`;
await writeFile(join(home, 'keys/demo-publisher.pub'), `${publisherKey}\n`);

const sandbox = fileURLToPath(new URL('../../../examples/sandbox/', import.meta.url));
const folders = [];
for (const root of [home, sandbox]) {
  for (const entry of await readdir(root, { withFileTypes: true })) if (entry.isDirectory()) folders.push({ root, name: entry.name });
}

for (const entry of folders) {
  const manifestPath = join(entry.root, entry.name, 'manifest.json');
  let manifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch {
    continue; // not a plugin folder
  }
  if (manifest.runtime !== 'wasm') continue;
  const wasmPath = join(entry.root, entry.name, manifest.entry ?? 'plugin.wasm');
  let bytes;
  try {
    bytes = await readFile(wasmPath);
  } catch {
    throw new Error(`${wasmPath} is missing: run \`pnpm --filter @homecore/plugin-example build\` first`);
  }
  const hashHex = createHash('sha256').update(bytes).digest('hex');
  const message = Buffer.from(`homecore-module-v1\n${manifest.domain}\n${hashHex}`, 'utf8');
  manifest.module_hash = `sha256:${hashHex}`;
  manifest.module_signature = `ed25519:${sign(null, message, privateKey).toString('base64')}`;
  manifest.publisher_key = publisherKey;
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log(`signed ${entry.name}/${manifest.entry ?? 'plugin.wasm'} as ${manifest.domain} (sha256:${hashHex.slice(0, 12)}...)`);
}
