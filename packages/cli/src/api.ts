import type * as ApiModule from '@homecore/api';
import type { HostCore } from '@homecore/core-traits';
import type { PluginRegistry } from '@homecore/registry';
import { usageError } from './usage.js';

type Api = typeof ApiModule;

/** The API package if it is installed: `homecore serve --port` and `homecore token` need it. */
export async function importApi(): Promise<Api | undefined> {
  try {
    return await import('@homecore/api');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if ((code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((err as Error).message).includes('@homecore/api')) {
      return undefined;
    }
    throw err;
  }
}

/** The API package, or a usage error saying that `what` needs it. */
export async function requireApi(what: string): Promise<Api> {
  const api = await importApi();
  if (api === undefined) throw usageError(`${what}: the API server is not installed; install @homecore/api next to @homecore/cli`);
  return api;
}

/** Where the API listens (`--port`, `--host`). */
export interface ApiListen {
  port: number;
  host: string;
}

/** A listening API server. */
export interface MountedApi {
  /** `http://host:port`. */
  readonly url: string;
  /** Stops accepting and closes every connection. */
  close(): Promise<void>;
}

/** Creates the Home Assistant API over the hub, with the data directory's tokens, and starts listening. */
export async function mountApi(
  api: Api,
  hub: { core: HostCore; registry: PluginRegistry; dataDir: string },
  listen: ApiListen,
  log: (line: string) => void,
): Promise<MountedApi> {
  const server = api.createApiServer({
    core: hub.core,
    registry: hub.registry,
    tokens: api.fileTokenStore(hub.dataDir),
    host: listen.host,
    port: listen.port,
    onLog: (entry) => log(`api ${entry.event}${entry.client ? ` ${entry.client}` : ''}${entry.user ? ` (${entry.user})` : ''}: ${entry.message}`),
  });
  await server.listen();
  return { url: server.url ?? `http://${listen.host}:${listen.port}`, close: () => server.close() };
}
