import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Guards the shape of the workspace: package hygiene and a dependency graph that points down.
const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');

interface PackageJson {
  name: string;
  private?: boolean;
  type?: string;
  sideEffects?: boolean;
  exports?: Record<string, unknown>;
  types?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  repository?: { type?: string; url?: string; directory?: string };
}

const packages = readdirSync(packagesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(packagesDir, d.name, 'package.json')))
  .map((d) => ({
    dir: join(packagesDir, d.name),
    json: JSON.parse(readFileSync(join(packagesDir, d.name, 'package.json'), 'utf8')) as PackageJson,
  }));
const byName = new Map(packages.map((p) => [p.json.name, p]));

// Lower layers never depend on higher ones; a package may only depend on strictly lower layers.
const layer: Record<string, number> = {
  '@homecore/errors': 0,
  '@homecore/sdk-assemblyscript': 0,
  '@homecore/manifest': 1,
  '@homecore/core-traits': 2,
  '@homecore/core': 3,
  '@homecore/isolation': 3,
  '@homecore/registry': 4,
  '@homecore/runtime-native': 5,
  '@homecore/runtime-wasm': 5,
  '@homecore/api': 5,
  // The examples' tests use the test kit, as a plugin author's would.
  '@homecore/plugin-example': 7,
  '@homecore/cli': 7,
  '@homecore/testing': 6,
};

const internalDeps = (p: PackageJson, kinds: ('dependencies' | 'devDependencies' | 'peerDependencies')[]) =>
  kinds.flatMap((k) => Object.keys(p[k] ?? {})).filter((d) => d.startsWith('@homecore/'));

describe('workspace packages', () => {
  it('every package has a layer in the graph', () => {
    expect(packages.map((p) => p.json.name).sort()).toEqual(Object.keys(layer).sort());
  });

  for (const { dir, json } of packages) {
    it(`${json.name} has src/, test/, a README with an install line and an example, and publishable package.json fields`, () => {
      expect(existsSync(join(dir, 'src', 'index.ts'))).toBe(true);
      expect(readdirSync(join(dir, 'test')).some((f) => f.endsWith('.test.ts'))).toBe(true);
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      expect(readme).toMatch(/^# @homecore\//);
      expect(readme).toMatch(new RegExp(`(install|add)( -D)? ${json.name}`));
      expect(readme).toMatch(/```(ts|js|typescript|json|sh)\n/);
      expect(json.type).toBe('module');
      expect(json.sideEffects).toBe(false);
      expect(json.exports?.['.']).toBeDefined();
      expect(json.types).toBe('./dist/index.d.ts');
      expect(json.files).toContain('dist');
      // What a registry page links to, and the license file npm ships beside the code.
      expect(json.repository).toMatchObject({ type: 'git', url: expect.stringMatching(/^git\+https:\/\//), directory: `packages/${dir.split('/').pop()}` });
      expect(existsSync(join(dir, 'LICENSE'))).toBe(true);
    });
  }

  it("package READMEs link only to what works on the registry's page: absolute repository URLs of files that exist, or files in the package", () => {
    const broken: string[] = [];
    for (const { dir, json } of packages) {
      const readme = readFileSync(join(dir, 'README.md'), 'utf8');
      const repo = (json.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
      for (const [, target] of readme.matchAll(/\]\(([^)\s]+)\)/g)) {
        const path = target!.split('#')[0]!;
        if (path === '' || /^mailto:/.test(path)) continue;
        if (path.startsWith(`${repo}/blob/main/`) || path.startsWith(`${repo}/tree/main/`)) {
          if (!existsSync(join(root, path.slice(`${repo}/blob/main/`.length)))) broken.push(`${json.name}: ${target} (no such file in the repository)`);
        } else if (!/^https?:\/\//.test(path) && (path.startsWith('..') || !existsSync(join(dir, path)))) {
          broken.push(`${json.name}: ${target} (a relative link outside the package breaks on npmjs.com: use ${repo}/blob/main/...)`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('every package build is cached by turborepo (no package turns the cache off)', () => {
    const uncached = packages
      .filter(({ dir }) => existsSync(join(dir, 'turbo.json')))
      .filter(({ dir }) => (JSON.parse(readFileSync(join(dir, 'turbo.json'), 'utf8')) as { tasks?: { build?: { cache?: boolean } } }).tasks?.build?.cache === false)
      .map(({ json }) => json.name);
    expect(uncached).toEqual([]);
  });

  it('dependencies point down the layers, so the graph has no cycles', () => {
    const wrong: string[] = [];
    for (const { json } of packages) {
      for (const dep of internalDeps(json, ['dependencies', 'devDependencies', 'peerDependencies'])) {
        if (!byName.has(dep)) wrong.push(`${json.name} -> ${dep} (no such package)`);
        else if ((layer[dep] ?? 99) >= (layer[json.name] ?? -1)) wrong.push(`${json.name} -> ${dep}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('installing @homecore/runtime-native alone installs nothing wasm-related', () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const walk = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const pkg = byName.get(name);
      if (!pkg) return;
      for (const dep of Object.keys(pkg.json.dependencies ?? {})) {
        if (dep.startsWith('@homecore/')) walk(dep);
        else external.add(dep);
      }
    };
    walk('@homecore/runtime-native');
    expect([...seen]).not.toContain('@homecore/runtime-wasm');
    expect([...external].filter((d) => /binaryen|assemblyscript|wabt/.test(d))).toEqual([]);
  });

  it('@homecore/runtime-wasm installs without binaryen or any other external package: the metering rewriter is its own', () => {
    const seen = new Set<string>();
    const external = new Set<string>();
    const walk = (name: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      for (const dep of Object.keys(byName.get(name)?.json.dependencies ?? {})) {
        if (dep.startsWith('@homecore/')) walk(dep);
        else external.add(dep);
      }
    };
    walk('@homecore/runtime-wasm');
    expect([...external].filter((d) => /binaryen|wabt|assemblyscript/.test(d))).toEqual([]);
  });

  it('the design card holds: core-traits and runtime-wasm depend only on what the card allows', () => {
    const runtimeDeps = (name: string) => internalDeps(byName.get(name)!.json, ['dependencies']).sort();
    expect(runtimeDeps('@homecore/manifest')).toEqual(['@homecore/errors']);
    expect(runtimeDeps('@homecore/core-traits')).toEqual(['@homecore/errors', '@homecore/manifest']);
    expect(runtimeDeps('@homecore/runtime-wasm')).toEqual(['@homecore/core-traits']);
    expect(runtimeDeps('@homecore/registry')).toEqual(['@homecore/core-traits', '@homecore/manifest']);
  });
});
