import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('the kit under node:test', () => {
  it('runs a node:test file against the built package', () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build @homecore/testing first`);
    const result = spawnSync(process.execPath, ['--test', fileURLToPath(new URL('./fixtures/node-test-home.mjs', import.meta.url))], { encoding: 'utf8', timeout: 60_000 });
    expect(result.stdout).toMatch(/# pass 1/);
    expect(result.status).toBe(0);
  });
});
