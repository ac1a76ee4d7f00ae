import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const pkgDir = join(import.meta.dirname, '..');
const readme = readFileSync(join(pkgDir, 'README.md'), 'utf8');
const asc = createRequire(join(pkgDir, 'package.json')).resolve('assemblyscript/bin/asc.js');

describe('the README, outside the repository', () => {
  it('compiles its example with its asc command against the package installed in node_modules', () => {
    const example = /```ts\n\/\/ (assembly\/heat\.ts)\n([\s\S]*?)```/.exec(readme);
    const command = /^npx asc (.+)$/m.exec(readme);
    expect(example).not.toBeNull();
    expect(command).not.toBeNull();
    // A project as `npm install` leaves it: the package's published files copied into node_modules.
    const project = mkdtempSync(join(tmpdir(), 'homecore-as-readme-'));
    const installed = join(project, 'node_modules/@homecore/sdk-assemblyscript');
    mkdirSync(installed, { recursive: true });
    const files = (JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { files: string[] }).files;
    expect(files).toContain('assembly');
    cpSync(join(pkgDir, 'assembly'), join(installed, 'assembly'), { recursive: true });
    cpSync(join(pkgDir, 'package.json'), join(installed, 'package.json'));
    mkdirSync(join(project, 'assembly'));
    writeFileSync(join(project, example![1]!), example![2]!);

    const result = spawnSync(process.execPath, [asc, ...command![1]!.split(/\s+/)], { cwd: project, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const module = new WebAssembly.Module(readFileSync(join(project, 'build/heat.wasm')));
    expect(WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort()).toEqual(['env.abort', 'homecore.hc_state_set']);
    expect(WebAssembly.Module.exports(module).map((e) => e.name)).toEqual(expect.arrayContaining(['homecore_abi_version_1', 'hc_alloc', 'hc_free', 'hc_on_state_changed', 'memory']));
  }, 120_000);
});
