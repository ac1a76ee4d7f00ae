// A core, a registry with one small native plugin (through a runtime written here: runtime-native is
// on the same layer as this package), a token store in a temp dir and a listening API server.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type {
  ConfigEntry,
  DeliveredEvent,
  HomeCorePlugin,
  PluginCode,
  PluginContext,
  PluginInstance,
  PluginManifest,
  PluginRuntime,
  ServiceCall,
  StateChangedEvent,
} from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry } from '@homecore/registry';
import { createApiServer, fileTokenStore, type ApiLogEntry, type ApiServer, type ApiServerOptions } from '@homecore/api';

/** Runs plugin objects in process, the smallest PluginRuntime there is. */
export class ObjectRuntime implements PluginRuntime {
  readonly kind = 'native' as const;

  async load(code: PluginCode): Promise<PluginInstance> {
    const plugin = code as HomeCorePlugin;
    return {
      kind: 'native',
      hooks: {
        teardown: typeof plugin.teardown === 'function',
        stateChanged: typeof plugin.onStateChanged === 'function',
        event: typeof plugin.onEvent === 'function',
        serviceCall: typeof plugin.onServiceCall === 'function',
        configUpdate: typeof plugin.onConfigUpdate === 'function',
      },
      setup: async (ctx: PluginContext) => plugin.setup(ctx),
      teardown: async () => plugin.teardown?.(),
      handleEvent: (event: DeliveredEvent) =>
        event.event.event_type === 'state_changed' ? plugin.onStateChanged?.(event.event as unknown as StateChangedEvent) : plugin.onEvent?.(event.event),
      handleServiceCall: async (call: ServiceCall) => plugin.onServiceCall?.(call),
      handleConfigUpdate: async (entry: ConfigEntry) => {
        if (plugin.onConfigUpdate === undefined) return false;
        await plugin.onConfigUpdate(entry);
        return true;
      },
      stats: () => ({}),
      dispose: () => undefined,
    };
  }
}

/** Mirrors `input_number.target` to `sensor.echo`, and offers `echo.double` (returns twice `value`, writes `sensor.doubled`). */
export const echoManifest: PluginManifest = {
  domain: 'echo',
  name: 'Echo',
  version: '1.0.0',
  iot_class: 'calculated',
  runtime: 'native',
  permissions: ['state:read:input_number.target', 'state:write:sensor.echo', 'state:write:sensor.doubled'],
  subscriptions: { entities: ['input_number.target'] },
  services: [{ name: 'double', description: 'Doubles a number', schema: { type: 'object', properties: { value: { type: 'number', description: 'The number' } }, required: ['value'] } }],
} as unknown as PluginManifest;

export function echoPlugin(): HomeCorePlugin {
  let ctx: PluginContext;
  return {
    setup(context) {
      ctx = context;
      ctx.registerService('double', (call) => {
        const value = Number(call.data.value);
        ctx.setState('sensor.doubled', String(value * 2));
        return { doubled: value * 2 };
      });
    },
    onStateChanged(event) {
      const next = event.data.new_state;
      if (next !== null) ctx.setState('sensor.echo', next.state, { source: next.entity_id });
    },
  };
}

/** Everything a test needs, with one token already created. */
export async function startHub(options: Partial<ApiServerOptions> & { plugin?: boolean } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'homecore-api-'));
  const core = new InMemoryCore();
  const registry = new PluginRegistry({ core, runtimes: [new ObjectRuntime()] });
  if (options.plugin !== false) await registry.load(echoManifest, echoPlugin());
  const tokens = fileTokenStore(dataDir);
  const created = await tokens.create({ name: 'test client', user: 'alice' });
  const logs: ApiLogEntry[] = [];
  const server: ApiServer = createApiServer({ core, registry, tokens, port: 0, onLog: (e) => logs.push(e), ...options });
  const address = await server.listen();
  const base = `http://127.0.0.1:${address.port}`;
  const wsUrl = `ws://127.0.0.1:${address.port}/api/websocket`;
  return {
    dataDir,
    core,
    registry,
    tokens,
    token: created.token,
    server,
    base,
    wsUrl,
    logs,
    async stop() {
      await server.close();
      await registry.unloadAll();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw WebSocket client that collects every message, parsed. */
export class RawClient {
  readonly messages: unknown[] = [];
  readonly ws: WebSocket;
  closed: { code: number; reason: string } | undefined;
  private waiters: { test: (m: unknown) => boolean; resolve: (m: unknown) => void }[] = [];
  private closeWaiters: ((c: { code: number; reason: string }) => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const parsed = JSON.parse(data.toString()) as unknown;
      for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
        this.messages.push(m);
        for (const w of [...this.waiters]) {
          if (w.test(m)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(m);
          }
        }
      }
    });
    this.ws.on('error', () => undefined);
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.closeWaiters.splice(0)) w(this.closed);
    });
  }

  static async authed(url: string, token: string): Promise<RawClient> {
    const client = new RawClient(url);
    await client.next((m) => (m as { type?: string }).type === 'auth_required');
    client.sendJson({ type: 'auth', access_token: token });
    const reply = (await client.next((m) => ['auth_ok', 'auth_invalid'].includes((m as { type?: string }).type ?? ''))) as { type: string };
    if (reply.type !== 'auth_ok') throw new Error(`auth failed: ${JSON.stringify(reply)}`);
    return client;
  }

  sendJson(value: unknown): void {
    this.ws.send(JSON.stringify(value));
  }

  /** The first message so far, or next, that passes `test`. */
  next(test: (m: unknown) => boolean, timeoutMs = 5000): Promise<unknown> {
    const seen = this.messages.find(test);
    if (seen !== undefined) {
      this.messages.splice(this.messages.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(0, 500)}`)), timeoutMs);
      this.waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  /** The reply (result or pong) to command `id`. */
  reply(id: number): Promise<Record<string, unknown>> {
    return this.next((m) => (m as { id?: number; type?: string }).id === id && (m as { type?: string }).type !== 'event') as Promise<Record<string, unknown>>;
  }

  /** Sends a command with `id` and waits for its reply. */
  async command(id: number, type: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    this.sendJson({ id, type, ...fields });
    return this.reply(id);
  }

  event(id: number): Promise<Record<string, unknown>> {
    return this.next((m) => (m as { id?: number; type?: string }).id === id && (m as { type?: string }).type === 'event') as Promise<Record<string, unknown>>;
  }

  waitClosed(): Promise<{ code: number; reason: string }> {
    if (this.closed) return Promise.resolve(this.closed);
    return new Promise((resolve) => this.closeWaiters.push(resolve));
  }

  close(): void {
    this.ws.close();
  }
}
