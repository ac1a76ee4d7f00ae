import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@homecore/core-traits';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

let base: string;
let root: string;

function plugin(folder: string, content: unknown, files: Record<string, string> = { 'index.js': 'export default {}' }) {
  const dir = join(root, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), typeof content === 'string' ? content : JSON.stringify(content));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hc-registry-'));
  root = join(base, 'plugins');
  mkdirSync(root);
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

describe('discovery', () => {
  it('finds plugin folders with their entry and config, sorted by domain', async () => {
    const { registry } = setup();
    plugin('zeta', manifest('zeta'));
    plugin('alpha', manifest('alpha', { entry: 'lib/main.js' }), { 'lib/.keep': '' });
    writeFileSync(join(root, 'alpha', 'lib', 'main.js'), 'export default {}');
    writeFileSync(join(root, 'zeta', 'config.json'), JSON.stringify({ title: 'Zeta', data: { a: 1 }, options: { b: 2 } }));
    mkdirSync(join(root, 'not_a_plugin'));
    writeFileSync(join(root, 'README.md'), 'hi');
    const report = await registry.discover(root);
    expect(report.errors).toEqual([]);
    expect(report.plugins.map((p) => p.manifest.domain)).toEqual(['alpha', 'zeta']);
    expect(report.plugins[0]?.code).toBe(join(report.plugins[0]!.dir, 'lib', 'main.js'));
    expect(report.plugins[1]?.config).toEqual({ title: 'Zeta', data: { a: 1 }, options: { b: 2 } });
    expect(report.plugins[0]?.config).toBeUndefined();
    expect(registry.list()).toEqual([]);
  });

  it('reports each bad folder with a coded error and keeps the others', async () => {
    const { registry } = setup();
    plugin('good', manifest('good'));
    plugin('bad_json', '{ "domain": "bad_json", ');
    plugin('bad_manifest', { domain: 'bad_manifest' });
    plugin('traversal', manifest('traversal', { entry: '../good/index.js' }));
    plugin('no_entry', manifest('no_entry'), {});
    plugin('bad_config', manifest('bad_config'), { 'index.js': '', 'config.json': '{"data": 3}' });
    const report = await registry.discover(root);
    expect(report.plugins.map((p) => p.manifest.domain)).toEqual(['good']);
    const codes = Object.fromEntries(report.errors.map((e) => [String(e.details?.folder ?? '').split(/[\\/]/).pop(), e.code]));
    const messages = report.errors.map((e) => e.message).join('\n');
    expect(messages).toContain(join('bad_json', 'manifest.json'));
    expect(messages).toContain(join('bad_manifest', 'manifest.json'));
    expect(report.errors.map((e) => e.code).sort()).toEqual(
      [
        ErrorCode.CONFIG_INVALID,
        ErrorCode.ENTRY_NOT_FOUND,
        ErrorCode.MANIFEST_INVALID,
        ErrorCode.MANIFEST_JSON,
        ErrorCode.PATH_OUTSIDE_ROOT,
      ].sort(),
    );
    expect(codes.traversal).toBe(ErrorCode.PATH_OUTSIDE_ROOT);
    expect(codes.no_entry).toBe(ErrorCode.ENTRY_NOT_FOUND);
    expect(codes.bad_config).toBe(ErrorCode.CONFIG_INVALID);
  });

  it('refuses symlinks that point outside the directory', async () => {
    const { registry } = setup();
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'manifest.json'), JSON.stringify(manifest('escapee')));
    writeFileSync(join(outside, 'index.js'), '');
    symlinkSync(outside, join(root, 'escapee'), 'dir');
    plugin('sneaky', manifest('sneaky'), {});
    symlinkSync(join(outside, 'index.js'), join(root, 'sneaky', 'index.js'));
    const report = await registry.discover(root);
    expect(report.plugins).toEqual([]);
    expect(report.errors.map((e) => e.code)).toEqual([ErrorCode.PATH_OUTSIDE_ROOT, ErrorCode.PATH_OUTSIDE_ROOT]);
    expect(report.errors[0]?.message).toContain('escapee');
  });

  it('skips folders without a manifest.json silently, even when they link outside the directory', async () => {
    const { registry } = setup();
    const outside = join(base, 'shared_modules');
    mkdirSync(join(outside, 'left-pad'), { recursive: true });
    writeFileSync(join(outside, 'left-pad', 'index.js'), '');
    symlinkSync(outside, join(root, 'node_modules'), 'dir');
    symlinkSync(join(base, 'gone'), join(root, 'dangling'), 'dir');
    plugin('good', manifest('good'));
    const report = await registry.discover(root);
    expect(report.errors).toEqual([]);
    expect(report.warnings.filter((w) => /node_modules|dangling/.test(w))).toEqual([]);
    expect(report.plugins.map((p) => p.manifest.domain)).toEqual(['good']);
    const loaded = await registry.loadDirectory(root);
    expect(loaded).toMatchObject({ loaded: ['good'], errors: [] });
  });

  it('refuses duplicate domains, naming both folders, and warns about folder names', async () => {
    const { registry } = setup();
    plugin('lights', manifest('lights'));
    plugin('lights_copy', manifest('lights'));
    plugin('misnamed', manifest('other_name'));
    const report = await registry.discover(root);
    expect(report.plugins.map((p) => [p.manifest.domain, p.dir.split(/[\\/]/).pop()])).toEqual([
      ['lights', 'lights'],
      ['other_name', 'misnamed'],
    ]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ code: ErrorCode.DUPLICATE_PLUGIN });
    expect(report.errors[0]?.message).toContain('lights_copy');
    expect(report.errors[0]?.message).toContain(join(root, 'lights'));
    expect(report.warnings.some((w) => w.includes('misnamed') && w.includes('other_name'))).toBe(true);
  });

  it('a missing directory is a coded error, not a crash', async () => {
    const { registry } = setup();
    const report = await registry.discover(join(base, 'nope'));
    expect(report.errors.map((e) => e.code)).toEqual([ErrorCode.PLUGIN_FOLDER_INVALID]);
  });

  it('loadDirectory loads what it found with its config and reports the rest', async () => {
    const { registry, runtime } = setup();
    plugin('good', manifest('good'), { 'index.js': '', 'config.json': JSON.stringify({ title: 'Good one', options: { x: 1 } }) });
    plugin('child', manifest('child', { dependencies: ['good'] }));
    plugin('broken', '[');
    const report = await registry.loadDirectory(root);
    expect(report.loaded.sort()).toEqual(['child', 'good']);
    expect(report.errors.map((e) => e.code)).toEqual([ErrorCode.MANIFEST_JSON]);
    expect(registry.getConfig('good')).toMatchObject({ title: 'Good one', options: { x: 1 } });
    expect(runtime.loadedCode).toContain(join(realpathSync(root), 'good', 'index.js'));
  });
});

describe('discoverFolder: one plugin folder as a directory of one', () => {
  it('reads only that folder: a sibling with the same domain or a broken manifest changes nothing', async () => {
    const own = plugin('project', manifest('alpha'));
    plugin('alpha', manifest('alpha'));
    plugin('broken', '{ not json');
    const { registry } = setup();
    const report = await registry.discoverFolder(own);
    expect(report.errors).toEqual([]);
    expect(report.plugins.map((p) => [p.manifest.domain, p.dir])).toEqual([['alpha', realpathSync(own)]]);
    expect(report.warnings.some((w) => w.includes('folder name differs from the domain'))).toBe(true);
    // The whole directory, by contrast, keeps the folder named after the domain.
    const all = await registry.discover(root);
    expect(all.plugins.map((p) => p.dir)).toEqual([realpathSync(join(root, 'alpha'))]);
  });

  it('names the folder and the file when it is not a plugin', async () => {
    const { registry } = setup();
    const missing = await registry.discoverFolder(join(root, 'nothing-here'));
    expect(missing.plugins).toEqual([]);
    expect(missing.errors.map((e) => e.code)).toEqual([ErrorCode.PLUGIN_FOLDER_INVALID]);
    expect(missing.errors[0]!.message).toContain('nothing-here');
    const bad = plugin('bad', '{ not json');
    const broken = await registry.discoverFolder(bad);
    expect(broken.errors.map((e) => e.code)).toEqual([ErrorCode.MANIFEST_JSON]);
    expect(broken.errors[0]!.message).toContain(join(realpathSync(bad), 'manifest.json'));
  });
});
