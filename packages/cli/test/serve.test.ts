import { cpSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STATUS_FILE, jsonOutput, startServe } from '@homecore/cli';
import { JsonFileStore } from '@homecore/registry';
import { homecore, manifest, pluginDir } from './helpers.js';
import { markerFile, marks, start, tickerCode, tickerManifest } from './serve-helpers.js';

describe('homecore serve in its own process', () => {
  it('loads every plugin, drives them with time_changed, shows them in status, and on SIGTERM runs every teardown (dependents first) and exits 0', async () => {
    const mark = markerFile();
    const dir = pluginDir({
      base: { 'manifest.json': tickerManifest('base'), 'index.js': tickerCode('base', 'v1') },
      child: { 'manifest.json': tickerManifest('child', { dependencies: ['base'] }), 'index.js': tickerCode('child', 'v1') },
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const hub = start(['serve', dir, '--data-dir', dataDir], { MARK: mark });
    await hub.waitFor(/running 2 of 2 plugin\(s\)/);
    // The real clock's time_changed ticks reach both plugins.
    await hub.waitFor(/child +wrote sensor\.child = "v1"/);
    await hub.waitFor(/base +wrote sensor\.base = "v1"/);

    const status = await homecore('status', '--data-dir', dataDir);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^serve is running \(pid \d+/);
    expect(status.stdout).toMatch(/base +1\.0\.0 +native +loaded +ok/);
    expect(status.stdout).toMatch(/child +1\.0\.0 +native +loaded +ok/);
    const json = JSON.parse((await homecore('status', '--data-dir', dataDir, '--json')).stdout) as {
      running: boolean;
      status: { plugins: { plugin: string; state: string; entryId: string }[]; entries: { domain: string; entryId: string; state: string }[] };
    };
    expect(json.running).toBe(true);
    expect(json.status.plugins.map((p) => [p.plugin, p.state])).toEqual([['base', 'loaded'], ['child', 'loaded']]);
    expect(json.status.entries.map((e) => [e.domain, e.state]).sort()).toEqual([['base', 'loaded'], ['child', 'loaded']]);
    expect(json.status.entries.find((e) => e.domain === 'base')?.entryId).toBe(json.status.plugins[0]!.entryId);

    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    expect(marks(mark)).toEqual(['teardown child v1', 'teardown base v1']);
    expect(hub.stdout()).toContain('stopped: every plugin unloaded');
    expect(hub.stderr()).toContain('SIGTERM received, shutting down');

    const after = await homecore('status', '--data-dir', dataDir);
    expect(after.code).toBe(1);
    expect(after.stdout).toMatch(/^serve is not running: it stopped at /);
  });

  it('runs native plugins in worker threads with --isolation worker, and their teardowns run on SIGTERM', async () => {
    const mark = markerFile();
    const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const hub = start(['serve', dir, '--data-dir', dataDir, '--isolation', 'worker'], { MARK: mark });
    await hub.waitFor(/ticker +wrote sensor\.ticker = "v1"/);
    expect((await homecore('status', '--data-dir', dataDir)).stdout).toMatch(/ticker +1\.0\.0 +native \(worker\) +loaded/);
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    expect(marks(mark)).toEqual(['teardown ticker v1']);
  });

  it('exits at once with a non-zero status on a second signal while teardowns still run', async () => {
    const dir = pluginDir({
      stuck: { 'manifest.json': manifest('stuck'), 'index.js': 'export default { setup() {}, teardown() { return new Promise(() => {}); } };' },
    });
    const hub = start(['serve', dir, '--data-dir', mkdtempSync(join(tmpdir(), 'homecore-data-'))]);
    await hub.waitFor(/running 1 of 1 plugin\(s\)/);
    hub.child.kill('SIGINT');
    await hub.waitFor(/stopping: no more changes are taken/);
    hub.child.kill('SIGINT');
    expect(await hub.exited).toBe(130);
    expect(hub.stderr()).toContain('second SIGINT, exiting at once');
    expect(hub.stdout()).not.toContain('stopped: every plugin unloaded');
  });

  it('status says serve is gone when its process was killed without a clean stop', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const hub = start(['serve', pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } }), '--data-dir', dataDir], { MARK: markerFile() });
    await hub.waitFor(/running 1 of 1 plugin\(s\)/);
    hub.child.kill('SIGKILL');
    await hub.exited;
    const status = await homecore('status', '--data-dir', dataDir);
    expect(status.code).toBe(1);
    expect(status.stdout).toMatch(/^serve is not running: process \d+ is gone without stopping cleanly/);
    expect(status.stdout).toMatch(/ticker +1\.0\.0 +native +loaded/);
  });

  it('logs JSON lines with --json, and defaults the data directory to .homecore next to the plugins', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'homecore-serve-'));
    const dir = join(parent, 'plugins');
    mkdirSync(dir);
    const one = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    cpSync(join(one, 'ticker'), join(dir, 'ticker'), { recursive: true });
    const hub = start(['serve', dir, '--json'], { MARK: markerFile(), HOMECORE_DATA_DIR: '' });
    await hub.waitFor(/"type":"state_written"/);
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    const records = hub
      .stdout()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; type?: string; plugin?: string; message?: string });
    expect(records.find((r) => r.kind === 'activity' && r.type === 'plugin_loaded')?.plugin).toBe('ticker');
    expect(records.some((r) => r.kind === 'activity' && r.type === 'plugin_unloaded')).toBe(true);
    expect(records.find((r) => r.kind === 'note' && r.message?.startsWith('serving '))?.message).toContain(join(parent, '.homecore'));
    const status = await homecore('status', '--data-dir', join(parent, '.homecore'));
    expect(status.stdout).toMatch(/^serve is not running: it stopped at /);
    expect(status.stdout).toContain('no plugin is loaded');
  });
});

describe('startServe in process', () => {
  const quiet = (lines: string[]) => (elapsed: () => number) => jsonOutput((t) => void lines.push(t), elapsed);

  it('keeps config entry ids across a restart, in the data directory', async () => {
    const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const options = { dir, output: quiet([]), trustedKeys: [], allowUnsigned: false, dataDir, statusRefreshMs: 60_000 };
    process.env.MARK = markerFile();
    const first = await startServe(options);
    const id = first.registry.getConfig('ticker')?.entry_id;
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    expect(await first.close()).toBe(0);
    expect(existsSync(join(dataDir, '.storage', 'core.config_entries'))).toBe(true);
    const second = await startServe(options);
    expect(second.registry.getConfig('ticker')?.entry_id).toBe(id);
    expect(await second.close()).toBe(0);
  });

  it('shows each config entry of a plugin with several in the status, and brings both back after a restart', async () => {
    const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    process.env.MARK = markerFile();
    const options = { dir, output: quiet([]), trustedKeys: [], allowUnsigned: false, dataDir, statusRefreshMs: 60_000 };
    const first = await startServe(options);
    const second = await first.registry.addEntry('ticker', { title: 'Second ticker' });
    expect(await first.close()).toBe(0);
    const hub = await startServe(options);
    expect((await hub.registry.entries('ticker')).map((e) => [e.entry_id, e.state])).toContainEqual([second.entry_id, 'loaded']);
    const status = await homecore('status', '--data-dir', dataDir);
    expect(status.stdout).toContain(`ticker: entry ${second.entry_id} "Second ticker" loaded`);
    expect(await hub.close()).toBe(0);
  });

  it('shows progress while setups are still running', async () => {
    const dir = pluginDir({
      slow: { 'manifest.json': manifest('slow'), 'index.js': 'export default { setup() { return new Promise((r) => setTimeout(r, 2500)); } };' },
    });
    const lines: string[] = [];
    const hub = await startServe({ dir, output: quiet(lines), trustedKeys: [], allowUnsigned: false, dataDir: mkdtempSync(join(tmpdir(), 'homecore-data-')) });
    const notes = lines.map((l) => JSON.parse(l) as { kind: string; message?: string }).filter((r) => r.kind === 'note').map((r) => r.message);
    expect(notes).toContain('loading 1 plugin folder(s)');
    expect(notes).toContain('still loading: 0 of 1 set up');
    expect(hub.registry.get('slow')?.state).toBe('loaded');
    expect(await hub.close()).toBe(0);
  });

  it('gives up on plugins still unloading at the shutdown deadline, names them, and closes with 1', async () => {
    const dir = pluginDir({
      stuck: { 'manifest.json': manifest('stuck', { limits: { teardown_timeout_ms: 5000 } }), 'index.js': 'export default { setup() {}, teardown() { return new Promise(() => {}); } };' },
    });
    const lines: string[] = [];
    const hub = await startServe({ dir, output: quiet(lines), trustedKeys: [], allowUnsigned: false, dataDir: mkdtempSync(join(tmpdir(), 'homecore-data-')), shutdownTimeoutMs: 200 });
    expect(hub.registry.get('stuck')?.state).toBe('loaded');
    const closing = hub.close();
    expect(hub.close()).toBe(closing);
    expect(await closing).toBe(1);
    const error = lines.map((l) => JSON.parse(l) as { kind: string; code?: string; message?: string }).find((r) => r.kind === 'error');
    expect(error).toMatchObject({ code: 'HC_ERR_SHUTDOWN_TIMEOUT' });
    expect(error?.message).toContain('(stuck)');
    const status = await homecore('status', '--data-dir', hub.dataDir);
    expect(status.stdout).toMatch(/^serve is not running: it stopped at /);
  });
});

describe('homecore serve and status on the command line', () => {
  it('refuses --host without --port, a bad port, and token create without a name', async () => {
    const dir = pluginDir({});
    const host = await homecore('serve', dir, '--host', '0.0.0.0');
    expect(host.code).toBe(2);
    expect(host.stderr).toContain('give --port too');
    const bad = await homecore('serve', dir, '--port', 'http');
    expect(bad.stderr).toContain('--port takes a TCP port');
    const token = await homecore('token', 'create', '--data-dir', mkdtempSync(join(tmpdir(), 'homecore-data-')));
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('needs --name');
  });

  it('refuses a plugins directory that does not exist', async () => {
    const result = await homecore('serve', join(tmpdir(), 'no-such-homecore-dir'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('does not exist or is not a directory');
  });

  it('status calls a file not refreshed for three intervals stale, even while its process lives', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const old = new Date(Date.now() - 60_000).toISOString();
    const status = { state: 'running', pid: process.pid, startedAt: old, updatedAt: old, refreshMs: 2000, pluginsDir: '/p', dataDir, watch: false, api: null, events: 0, plugins: [], entries: [] };
    await new JsonFileStore({ file: join(dataDir, STATUS_FILE), format: 'homecore.status', label: 'serve status', parse: (v) => v }).save({ serve: status });
    const result = await homecore('status', '--data-dir', dataDir);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^the status is stale: process \d+ last refreshed it 60 s ago/);
  });

  it('status says so when serve never ran with the data directory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const result = await homecore('status', '--data-dir', dataDir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('[HC_ERR_SERVE_NOT_RUNNING]');
    const json = await homecore('status', '--data-dir', dataDir, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ kind: 'error', code: 'HC_ERR_SERVE_NOT_RUNNING' });
  });
});
