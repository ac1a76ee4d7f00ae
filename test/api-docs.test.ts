import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Every export of every package carries TSDoc. Checked on the built declaration files, which are
// what users' editors show (`pnpm test` builds first).
const packagesDir = join(import.meta.dirname, '..', 'packages');

function undocumentedExports(declarations: string): string[] {
  const lines = declarations.split('\n');
  const exported = [...declarations.matchAll(/^export \{([^}]*)\};?$/gm)]
    .flatMap((m) => (m[1] ?? '').split(','))
    .map((s) => s.trim().replace(/^type /, ''))
    .filter(Boolean)
    .map((s) => s.split(/\s+as\s+/));
  const missing: string[] = [];
  for (const [local, name = local] of exported) {
    const declaration = new RegExp(`^(export )?(declare )?(abstract )?(class|function|const|let|interface|type|enum) ${local}\\b`);
    const at = lines.findIndex((line) => declaration.test(line));
    if (at < 0) continue; // re-exported from another package, which is checked on its own
    let above = at - 1;
    while (above >= 0 && (lines[above] ?? '').trim() === '') above--;
    if (!(lines[above] ?? '').trim().endsWith('*/')) missing.push(name ?? local ?? '?');
  }
  return missing;
}

describe('public API documentation', () => {
  for (const pkg of readdirSync(packagesDir)) {
    const file = join(packagesDir, pkg, 'dist', 'index.d.ts');
    if (!existsSync(join(packagesDir, pkg, 'package.json'))) continue;
    it(`@homecore/${pkg}: every export has TSDoc`, () => {
      if (!existsSync(file)) throw new Error(`${file} is missing: run "pnpm build" first`);
      expect(undocumentedExports(readFileSync(file, 'utf8'))).toEqual([]);
    });
  }

  it('notices an undocumented export', () => {
    const sample = ['/** Documented. */', 'declare function a(): void;', '', 'declare function b(): void;', 'export { a, b as c };'].join('\n');
    expect(undocumentedExports(sample)).toEqual(['c']);
  });
});
