import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const packageDir = join(import.meta.dirname, '..');
const committedBin = join(packageDir, 'bin', 'homecore.js');

describe('the installed homecore command', () => {
  it('is the committed bin/homecore.js, which runs the built command', () => {
    const installed = join(packageDir, '..', '..', 'node_modules', '.bin', 'homecore');
    const result = spawnSync(installed, ['--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(result.status).toBe(0);
  });

  it('says to build the package when dist/ is missing', () => {
    const copy = mkdtempSync(join(tmpdir(), 'homecore-bin-'));
    mkdirSync(join(copy, 'bin'));
    copyFileSync(committedBin, join(copy, 'bin', 'homecore.js'));
    const result = spawnSync(process.execPath, [join(copy, 'bin', 'homecore.js'), '--version'], { encoding: 'utf8', timeout: 20_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toBe('homecore: @homecore/cli is not built (dist/bin.js is missing): run "pnpm build" in the repository, or reinstall the package\n');
  });
});
