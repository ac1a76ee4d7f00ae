import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homecore, pluginDir } from './helpers.js';
import { markerFile, marks, start, tickerCode, tickerManifest } from './serve-helpers.js';

describe('homecore serve --port', () => {
  it('serves Home Assistant REST API over the running hub to a token made by homecore token create, and closes it on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const created = await homecore('token', 'create', '--name', 'test client', '--data-dir', dataDir, '--json');
    expect(created.code).toBe(0);
    const { token, user_id: userId } = JSON.parse(created.stdout) as { token: string; user_id: string };
    expect(token).toMatch(/^hc_/);
    expect(userId).toBe('user:test client');
    const text = await homecore('token', 'create', '--name', 'second', '--data-dir', dataDir);
    expect(text.stdout).toMatch(/^hc_\S+\n\ncreated token "second"/);

    const mark = markerFile();
    const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
    const hub = start(['serve', dir, '--data-dir', dataDir, '--port', '0'], { MARK: mark });
    try {
      const at = await hub.waitFor(/Home Assistant API at http:\/\/127\.0\.0\.1:\d+/);
      const url = /Home Assistant API at (http:\/\/127\.0\.0\.1:\d+)/.exec(hub.stdout())![1]!;
      await hub.waitFor(/ticker +wrote sensor\.ticker = "v1"/, at);

      expect((await fetch(`${url}/api/states`)).status).toBe(401);
      const auth = { Authorization: `Bearer ${token}` };
      const states = (await (await fetch(`${url}/api/states`, { headers: auth })).json()) as { entity_id: string; state: string }[];
      expect(states.find((s) => s.entity_id === 'sensor.ticker')?.state).toBe('v1');
      // A state posted through the API reaches the core the plugins run on.
      const posted = await fetch(`${url}/api/states/sensor.outside`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ state: '12' }) });
      expect(posted.status).toBe(201);
      expect(((await (await fetch(`${url}/api/states/sensor.outside`, { headers: auth })).json()) as { state: string }).state).toBe('12');

      const status = JSON.parse((await homecore('status', '--data-dir', dataDir, '--json')).stdout) as { status: { api: string } };
      expect(status.status.api).toBe(url);

      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
      expect(marks(mark)).toEqual(['teardown ticker v1']);
      await expect(fetch(`${url}/api/`, { headers: auth })).rejects.toThrow();
    } finally {
      hub.child.kill('SIGKILL');
    }
  });

  it('exits 1 naming the address when the port is taken, with every plugin unloaded', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const mark = markerFile();
      const dir = pluginDir({ ticker: { 'manifest.json': tickerManifest('ticker'), 'index.js': tickerCode('ticker', 'v1') } });
      const hub = start(['serve', dir, '--data-dir', mkdtempSync(join(tmpdir(), 'homecore-data-')), '--port', String(port)], { MARK: mark });
      expect(await hub.exited).toBe(1);
      expect(hub.stderr()).toContain('[HC_ERR_API_LISTEN]');
      expect(marks(mark)).toEqual(['teardown ticker v1']);
    } finally {
      blocker.close();
    }
  });
});
