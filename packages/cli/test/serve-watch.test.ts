import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homecore, pluginDir } from './helpers.js';
import { markerFile, marks, start, tickerCode, tickerManifest } from './serve-helpers.js';

async function pluginsInStatus(dataDir: string): Promise<string[]> {
  const result = await homecore('status', '--data-dir', dataDir, '--json');
  return (JSON.parse(result.stdout) as { status: { plugins: { plugin: string; state: string }[] } }).status.plugins.map((p) => `${p.plugin}:${p.state}`);
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('homecore serve --watch', () => {
  it('reloads an edited plugin, keeps the running version through a broken edit, loads a new folder and unloads a removed one', async () => {
    const mark = markerFile();
    const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const hub = start(['serve', dir, '--watch', '--data-dir', dataDir], { MARK: mark });
    try {
      let at = await hub.waitFor(/running 1 of 1 plugin\(s\)/);
      at = await hub.waitFor(/ticker +wrote sensor\.ticker = "v1"/, at);

      // An edit of the code: reloaded through the load gate, the new behaviour answers.
      writeFileSync(join(dir, 'ticker', 'index.js'), tickerCode('ticker', 'v2'));
      at = await hub.waitFor(/ticker: changed, reloading ticker/, at);
      at = await hub.waitFor(/ticker +reloaded/, at);
      at = await hub.waitFor(/ticker +wrote sensor\.ticker = "v2"/, at);
      expect(marks(mark)).toEqual(['teardown ticker v1']);

      // A broken edit: the reload is refused with the reason, and v2 keeps answering.
      writeFileSync(join(dir, 'ticker', 'index.js'), 'export default {{ not javascript');
      at = await hub.waitFor(/ticker +reload failed, old version kept: .*SyntaxError/, at);
      at = await hub.waitFor(/ticker +wrote sensor\.ticker = "v2"/, at);
      // So does a broken manifest.
      writeFileSync(join(dir, 'ticker', 'manifest.json'), '{ "domain": "ticker", ');
      at = await hub.waitFor(/ticker +reload failed, old version kept: .*manifest\.json/, at);
      at = await hub.waitFor(/ticker +wrote sensor\.ticker = "v2"/, at);
      expect(marks(mark)).toEqual(['teardown ticker v1']);

      // A new folder (moved in whole, as a deploy would) loads.
      const staging = pluginDir({ fresh: { 'manifest.json': tickerManifest('fresh'), 'index.js': tickerCode('fresh', 'v1') } });
      renameSync(join(staging, 'fresh'), join(dir, 'fresh'));
      at = await hub.waitFor(/fresh: new plugin folder, loading fresh/, at);
      at = await hub.waitFor(/fresh +loaded \(native\)/, at);
      at = await hub.waitFor(/fresh +wrote sensor\.fresh = "v1"/, at);
      expect(await until(() => pluginsInStatus(dataDir), (p) => p.includes('fresh:loaded'))).toEqual(['fresh:loaded', 'ticker:loaded']);

      // A removed folder unloads, with its teardown.
      rmSync(join(dir, 'fresh'), { recursive: true });
      at = await hub.waitFor(/fresh: plugin folder removed, unloading fresh/, at);
      await hub.waitFor(/fresh +unloaded/, at);
      expect(marks(mark)).toEqual(['teardown ticker v1', 'teardown fresh v1']);
      expect(await until(() => pluginsInStatus(dataDir), (p) => !p.includes('fresh:loaded'))).toEqual(['ticker:loaded']);

      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
      expect(marks(mark)).toEqual(['teardown ticker v1', 'teardown fresh v1', 'teardown ticker v2']);
    } finally {
      hub.child.kill('SIGKILL');
    }
  });

  it('loads a folder that was broken at start once it is fixed, and brings back dependents of a folder that returns', async () => {
    const mark = markerFile();
    const dir = pluginDir({
      base: { 'manifest.json': tickerManifest('base'), 'index.js': tickerCode('base', 'v1') },
      child: { 'manifest.json': tickerManifest('child', { dependencies: ['base'] }), 'index.js': tickerCode('child', 'v1') },
      later: { 'manifest.json': '{ "domain": "later" ', 'index.js': tickerCode('later', 'v1') },
    });
    const hub = start(['serve', dir, '--watch', '--data-dir', mkdtempSync(join(tmpdir(), 'homecore-data-'))], { MARK: mark });
    try {
      let at = await hub.waitFor(/running 2 of 2 plugin\(s\)/);
      expect(hub.stdout()).toMatch(/error .*later.*manifest\.json/);

      writeFileSync(join(dir, 'later', 'manifest.json'), JSON.stringify(tickerManifest('later')));
      at = await hub.waitFor(/later +loaded \(native\)/, at);

      // Removing base unloads child with it; putting base back loads both.
      const aside = mkdtempSync(join(tmpdir(), 'homecore-aside-'));
      renameSync(join(dir, 'base'), join(aside, 'base'));
      at = await hub.waitFor(/base: plugin folder removed, unloading base/, at);
      at = await hub.waitFor(/base +unloaded/, at);
      expect(marks(mark)).toEqual(['teardown child v1', 'teardown base v1']);
      renameSync(join(aside, 'base'), join(dir, 'base'));
      at = await hub.waitFor(/child: its dependencies are back, loading it again/, at);
      await hub.waitFor(/child +wrote sensor\.child = "v1"/, at);
      expect(hub.stdout().slice(at)).not.toMatch(/error/);

      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    } finally {
      hub.child.kill('SIGKILL');
    }
  });
});
