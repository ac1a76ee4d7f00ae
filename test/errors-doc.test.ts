import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@homecore/errors';

// docs/errors.md documents every code, and nothing else: the two are kept in step here.
const doc = readFileSync(join(import.meta.dirname, '..', 'docs', 'errors.md'), 'utf8');

describe('docs/errors.md', () => {
  const documented = [...doc.matchAll(/^### `(HC_ERR_[A-Z0-9_]+)`/gm)].map((m) => m[1]);

  it('has a section for every error code', () => {
    const missing = Object.values(ErrorCode).filter((code) => !documented.includes(code));
    expect(missing).toEqual([]);
  });

  it('documents no code that does not exist, and none twice', () => {
    const codes = new Set<string>(Object.values(ErrorCode));
    expect(documented.filter((code) => !codes.has(code as string))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  it('says what to do for every code', () => {
    for (const section of doc.split(/^### /m).slice(1)) {
      expect(section, section.split('\n')[0]).toMatch(/\*\*Fix:\*\*/);
    }
  });
});
