// The API server: one node:http server for REST under /api/ and the WebSocket upgrade at
// /api/websocket (the `ws` package, with `maxPayload` as the frame cap).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { WsConnection } from './connection.js';
import { handleRest } from './rest.js';
import { ServerState } from './state.js';
import type { ApiAddress, ApiServerOptions } from './types.js';

/** The WebSocket path, as in Home Assistant. */
export const WEBSOCKET_PATH = '/api/websocket';

/** A running (or ready to run) API server. */
export interface ApiServer {
  /** Starts listening; resolves to the address (with the real port when `port` was 0). Rejects HC_ERR_API_LISTEN. */
  listen(): Promise<ApiAddress>;
  /** Where it listens, or null before `listen()` and after `close()`. */
  readonly address: ApiAddress | null;
  /** `http://host:port`, or null when not listening. */
  readonly url: string | null;
  /** Open WebSocket connections. */
  readonly connections: number;
  /** Subscriptions held by all connections. */
  readonly subscriptions: number;
  /**
   * For hosts with their own HTTP server: answers a request (true) when it is under `/api/`,
   * false otherwise (the host answers it).
   */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** For hosts with their own HTTP server: takes an `upgrade` at `/api/websocket` (true), false otherwise. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Stops accepting, closes every WebSocket (1001, then terminated after 1 s) and HTTP connection, and stops listening to the core; resolves when all are closed. */
  close(): Promise<void>;
}

/**
 * Creates the Home Assistant API server over a core and a registry: nothing listens until
 * `listen()`. Bound to 127.0.0.1 unless `host` says otherwise.
 */
export function createApiServer(options: ApiServerOptions): ApiServer {
  const state = new ServerState(options);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8123;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new HomecoreError(ErrorCode.API_LISTEN, `createApiServer: port must be an integer from 0 to 65535, got ${String(port)}`, { details: { port } });
  }
  const wss = new WebSocketServer({ noServer: true, maxPayload: state.maxFrameBytes, clientTracking: true });
  const unlisten = options.core.listen((event) => {
    state.catalog.observe(event);
    state.hub.dispatch(event);
  });
  let http: Server | null = null;
  let address: ApiAddress | null = null;
  let closing: Promise<void> | null = null;

  const handleRequest = (req: IncomingMessage, res: ServerResponse): boolean => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path !== '/api' && !path.startsWith('/api/')) return false;
    if (closing !== null) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', Connection: 'close' }).end('503: Service Unavailable');
      return true;
    }
    if (path === WEBSOCKET_PATH) {
      res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('400: Bad Request (a WebSocket upgrade is expected here)');
      return true;
    }
    handleRest(state, req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('500: Internal Server Error');
      state.log({ level: 'warn', event: 'rest_error', message: error instanceof Error ? error.message : String(error) });
    });
    return true;
  };

  const handleUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== WEBSOCKET_PATH) return false;
    socket.on('error', () => socket.destroy());
    if (closing !== null) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return true;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new WsConnection(ws, req.socket.remoteAddress ?? 'unknown', state);
      state.connections.add(conn);
    });
    return true;
  };

  return {
    async listen(): Promise<ApiAddress> {
      if (address !== null) return address;
      if (closing !== null) throw new HomecoreError(ErrorCode.API_LISTEN, 'this API server was closed: create a new one');
      const server = createServer((req, res) => {
        if (!handleRequest(req, res)) res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('404: Not Found');
      });
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      });
      server.on('clientError', (_error, socket) => {
        if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
        else socket.destroy();
      });
      await new Promise<void>((resolve, reject) => {
        const onError = (error: NodeJS.ErrnoException) => {
          const why =
            error.code === 'EADDRINUSE'
              ? `port ${port} on ${host} is already in use: pick another port, or stop what holds it`
              : error.code === 'EADDRNOTAVAIL'
                ? `${host} is not an address of this machine: pick another host`
                : error.code === 'EACCES'
                  ? `listening on port ${port} needs privileges: pick a port above 1023`
                  : error.message;
          reject(new HomecoreError(ErrorCode.API_LISTEN, `the API server cannot listen on ${host}:${port}: ${why}`, { details: { host, port, errno: error.code ?? null }, cause: error }));
        };
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          resolve();
        });
      });
      http = server;
      const bound = server.address();
      address = typeof bound === 'object' && bound !== null ? { host, port: bound.port } : { host, port };
      state.log({ level: 'info', event: 'listening', message: `Home Assistant API on http://${formatHost(host)}:${address.port}/api/ (WebSocket ${WEBSOCKET_PATH})` });
      return address;
    },
    get address() {
      return address;
    },
    get url() {
      return address === null ? null : `http://${formatHost(address.host)}:${address.port}`;
    },
    get connections() {
      return state.connections.size;
    },
    get subscriptions() {
      return state.hub.size;
    },
    handleRequest,
    handleUpgrade,
    close(): Promise<void> {
      closing ??= (async () => {
        unlisten();
        const sockets = [...wss.clients];
        for (const conn of [...state.connections]) conn.close(1001, 'server shutting down');
        await Promise.all(
          sockets.map(
            (ws) =>
              new Promise<void>((resolve) => {
                if (ws.readyState === ws.CLOSED) resolve();
                else ws.once('close', () => resolve());
              }),
          ),
        );
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        const server = http;
        if (server !== null) {
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        }
        http = null;
        address = null;
        state.log({ level: 'info', event: 'closed', message: 'Home Assistant API closed' });
      })();
      return closing;
    },
  };
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
