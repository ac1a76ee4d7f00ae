import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { usageError } from './usage.js';

/** Reads `--trust-key` values: a key string `ed25519:<base64>` or a file holding one. */
export function readTrustKeys(values: readonly string[], cwd: string): string[] {
  return values.map((value) => {
    if (value.startsWith('ed25519:')) return value;
    let text: string;
    try {
      text = readFileSync(resolve(cwd, value), 'utf8');
    } catch {
      throw usageError(`--trust-key ${JSON.stringify(value)} is neither a key ("ed25519:<base64>") nor a readable file`);
    }
    const key = text.trim();
    if (!key.startsWith('ed25519:')) throw usageError(`--trust-key file ${value} must hold one key written as "ed25519:<base64>"`);
    return key;
  });
}
