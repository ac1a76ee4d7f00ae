// Starting, mounting and stopping the server.
import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { InMemoryCore } from '@homecore/core';
import { MemoryStore, PluginRegistry } from '@homecore/registry';
import { TokenStore, createApiServer } from '@homecore/api';
import { ObjectRuntime, RawClient, startHub } from './helpers.js';

let hub: Awaited<ReturnType<typeof startHub>> | undefined;

afterEach(async () => {
  await hub?.stop();
  hub = undefined;
});

function parts() {
  const core = new InMemoryCore();
  return { core, registry: new PluginRegistry({ core, runtimes: [new ObjectRuntime()] }), tokens: new TokenStore(new MemoryStore()) };
}

describe('API server lifecycle', () => {
  it('binds 127.0.0.1 by default and reports a port in use as HC_ERR_API_LISTEN', async () => {
    hub = await startHub();
    expect(hub.server.address).toMatchObject({ host: '127.0.0.1' });
    expect(hub.server.url).toBe(hub.base);
    const second = createApiServer({ ...parts(), port: hub.server.address!.port });
    await expect(second.listen()).rejects.toMatchObject({ code: 'HC_ERR_API_LISTEN', message: expect.stringMatching(/already in use/) });
    await second.close();
  });

  it('refuses bad limits and ports with HC_ERR_API_LISTEN', () => {
    expect(() => createApiServer({ ...parts(), port: 70000 })).toThrow(expect.objectContaining({ code: 'HC_ERR_API_LISTEN' }));
    expect(() => createApiServer({ ...parts(), maxFrameBytes: 0 })).toThrow(expect.objectContaining({ code: 'HC_ERR_API_LISTEN' }));
  });

  it("mounts into a host's own HTTP server (handleRequest / handleUpgrade), leaving other paths to the host", async () => {
    const p = parts();
    const { token } = await p.tokens.create({ name: 'mounted' });
    const api = createApiServer({ ...p, port: 0 });
    const http = createServer((req, res) => {
      if (!api.handleRequest(req, res)) res.end('host page');
    });
    http.on('upgrade', (req, socket, head) => {
      if (!api.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const port = (http.address() as { port: number }).port;
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('host page');
      const res = await fetch(`http://127.0.0.1:${port}/api/`, { headers: { Authorization: `Bearer ${token}` } });
      expect(await res.json()).toEqual({ message: 'API running.' });
      const client = await RawClient.authed(`ws://127.0.0.1:${port}/api/websocket`, token);
      expect(await client.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
      await api.close();
      expect((await client.waitClosed()).code).toBe(1001);
    } finally {
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('close() is idempotent, and a closed server cannot listen again', async () => {
    hub = await startHub();
    await hub.server.close();
    await hub.server.close();
    expect(hub.server.connections).toBe(0);
    await expect(hub.server.listen()).rejects.toMatchObject({ code: 'HC_ERR_API_LISTEN' });
  });
});
