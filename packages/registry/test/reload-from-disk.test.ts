import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@homecore/core-traits';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

let base: string;
let root: string;

function write(folder: string, file: string, content: unknown) {
  mkdirSync(join(root, folder), { recursive: true });
  writeFileSync(join(root, folder, file), typeof content === 'string' ? content : JSON.stringify(content));
}

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'hc-reload-disk-'));
  root = join(base, 'plugins');
  mkdirSync(root);
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

const schema = { type: 'object', properties: { port: { type: 'integer' } } };

describe('reload(id) of a plugin loaded from a folder', () => {
  it('re-reads manifest.json, config.json and the entry from disk', async () => {
    const { registry, runtime } = setup();
    write('lamp', 'manifest.json', manifest('lamp', { config_schema: schema }));
    write('lamp', 'index.js', 'export default {}');
    write('lamp', 'config.json', { data: { port: 1 } });
    const report = await registry.loadDirectory(root);
    expect(report.loaded).toEqual(['lamp']);

    write('lamp', 'manifest.json', manifest('lamp', { version: '1.1.0', entry: 'v2.js', config_schema: schema }));
    write('lamp', 'v2.js', 'export default {}');
    write('lamp', 'config.json', { title: 'Lamp', data: { port: 2 }, options: { dim: true } });
    await registry.reload('lamp');
    expect(registry.get('lamp')).toMatchObject({ state: 'loaded', manifest: { version: '1.1.0' } });
    expect(String(runtime.loadedCode.at(-1))).toMatch(/v2\.js$/);
    expect(registry.getConfig('lamp')).toMatchObject({ title: 'Lamp', data: { port: 2 }, options: { dim: true } });
  });

  it('keeps the old version when the folder now holds another domain, an invalid manifest or bad config', async () => {
    const { registry } = setup();
    write('lamp', 'manifest.json', manifest('lamp', { config_schema: schema }));
    write('lamp', 'index.js', 'export default {}');
    await registry.loadDirectory(root);

    write('lamp', 'manifest.json', manifest('other'));
    await expect(registry.reload('lamp')).rejects.toMatchObject({ code: ErrorCode.RELOAD_FAILED, message: expect.stringContaining('other') });
    write('lamp', 'manifest.json', '{ "domain": "lamp", ');
    await expect(registry.reload('lamp')).rejects.toMatchObject({
      code: ErrorCode.RELOAD_FAILED,
      cause: expect.objectContaining({ code: expect.stringMatching(/^HC_ERR_MANIFEST/) }),
    });
    write('lamp', 'manifest.json', manifest('lamp', { version: '2.0.0', config_schema: schema }));
    write('lamp', 'config.json', { data: { port: 'eighty' } });
    await expect(registry.reload('lamp')).rejects.toMatchObject({
      code: ErrorCode.RELOAD_FAILED,
      cause: expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }),
    });
    expect(registry.get('lamp')).toMatchObject({ state: 'loaded', manifest: { version: '1.0.0' } });
    expect(registry.getConfig('lamp')?.data).toEqual({});
  });

  it('a plugin loaded from code keeps reloading its own code', async () => {
    const { registry, runtime } = setup();
    const code = { setup() {} };
    await registry.load(manifest('inline'), code);
    await registry.reload('inline');
    expect(runtime.loadedCode).toEqual([code, code]);
  });
});
