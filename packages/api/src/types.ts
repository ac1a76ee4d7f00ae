import type { HostCore, JsonValue } from '@homecore/core-traits';
import type { PluginRegistry } from '@homecore/registry';
import type { AuthRateLimit } from './rate-limit.js';
import type { TokenVerifier } from './tokens.js';

/** Home Assistant's `get_config` / `GET /api/config` fields a host may set. */
export interface HaConfigOverrides {
  location_name?: string;
  latitude?: number;
  longitude?: number;
  elevation?: number;
  radius?: number;
  time_zone?: string;
  currency?: string;
  country?: string | null;
  language?: string;
  unit_system?: Record<string, string>;
  external_url?: string | null;
  internal_url?: string | null;
  config_dir?: string;
}

/** One line of what the server did, for the host's log. */
export interface ApiLogEntry {
  readonly level: 'info' | 'warn';
  /** `ws_connected`, `ws_closed`, `auth_failed`, `auth_rate_limited`, `slow_client_dropped`, `invalid_json`, `frame_too_large`, `listening`, `closed`. */
  readonly event: string;
  /** The client address, when there is one. */
  readonly client?: string;
  /** The token's user, once known. */
  readonly user?: string;
  readonly message: string;
}

/** Options of `createApiServer`. */
export interface ApiServerOptions {
  /** The core states, events and services come from. */
  core: HostCore;
  /** The plugin registry, for the `homecore/*` commands and the loaded components. */
  registry: PluginRegistry;
  /** Who a presented access token belongs to: `fileTokenStore(dataDir)` or any `TokenVerifier`. */
  tokens: TokenVerifier;
  /** Address to listen on (default `127.0.0.1`: only this machine). */
  host?: string;
  /** Port (default 8123, Home Assistant's; 0 picks a free one). */
  port?: number;
  /** Largest WebSocket frame or REST body accepted, in bytes (default 4 MiB, aiohttp's default); a larger frame closes the connection with 1009. */
  maxFrameBytes?: number;
  /** Bytes a connection may have waiting to be sent before it is dropped as a client that does not read (default 4 MiB). */
  maxBufferedBytes?: number;
  /** Subscriptions one connection may hold at once (default 1000); more are refused with `not_allowed`. */
  maxSubscriptions?: number;
  /** How long a new connection may take to authenticate (default 10 000 ms, Home Assistant's). */
  authTimeoutMs?: number;
  /** Failed logins per client address (default 5 per 60 s). */
  authRateLimit?: AuthRateLimit;
  /** `get_config` fields (location name, coordinates, time zone, units...). */
  config?: HaConfigOverrides;
  /** The `ha_version` sent to clients (default HA_API_VERSION); clients enable features by it. */
  haVersion?: string;
  /** Services registered before the server was created, by domain (the catalog follows the bus from then on). */
  services?: () => Readonly<Record<string, readonly string[]>>;
  /** Receives what the server did (connections, refused logins, dropped clients). */
  onLog?: (entry: ApiLogEntry) => void;
  /** Time source for the rate limit (default Date.now). */
  now?: () => number;
}

/** Where the server listens. */
export interface ApiAddress {
  readonly host: string;
  readonly port: number;
}

/** A JSON object. */
export type JsonRecord = Record<string, JsonValue>;
