// What the WebSocket connections and the REST routes share: the core, the registry, the token store,
// the failed-login limiter, the event hub and the service catalog.
import { ErrorCode, HOMECORE_VERSION, HomecoreError, type ConfigEntry, type HostCore } from '@homecore/core-traits';
import type { PluginRegistry, PluginSummary } from '@homecore/registry';
import { ServiceCatalog } from './catalog.js';
import { EventHub } from './hub.js';
import { HA_API_VERSION } from './protocol.js';
import { FailureLimiter } from './rate-limit.js';
import type { TokenVerifier } from './tokens.js';
import type { ApiLogEntry, ApiServerOptions, HaConfigOverrides } from './types.js';

/** Default limits, documented in docs/serving.md. */
export const API_LIMIT_DEFAULTS = Object.freeze({
  maxFrameBytes: 4 * 1024 * 1024,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxSubscriptions: 1000,
  authTimeoutMs: 10_000,
  authMaxFailures: 5,
  authWindowMs: 60_000,
});

/** A plugin as `homecore/plugins` lists it: the registry's summary with its config entries. */
export interface PluginListing {
  id: string;
  name: string;
  version: string | null;
  runtime: string;
  state: string;
  health: string;
  reason: string | null;
  entries: ConfigEntry[];
}

export class ServerState {
  readonly core: HostCore;
  readonly registry: PluginRegistry;
  readonly tokens: TokenVerifier;
  readonly limiter: FailureLimiter;
  readonly hub = new EventHub();
  readonly catalog: ServiceCatalog;
  readonly haVersion: string;
  readonly maxFrameBytes: number;
  readonly maxBufferedBytes: number;
  readonly maxSubscriptions: number;
  readonly authTimeoutMs: number;
  private readonly config: HaConfigOverrides;
  private readonly onLog: ((entry: ApiLogEntry) => void) | undefined;
  readonly connections = new Set<{ close(code: number, reason: string): void }>();

  constructor(options: ApiServerOptions) {
    this.core = options.core;
    this.registry = options.registry;
    this.tokens = options.tokens;
    this.limiter = new FailureLimiter(options.authRateLimit, options.now);
    const has = (options.core as { hasService?: unknown }).hasService;
    this.catalog = new ServiceCatalog(
      options.registry,
      options.services,
      typeof has === 'function' ? (d, s) => (has as (d: string, s: string) => boolean).call(options.core, d, s) : undefined,
    );
    this.haVersion = options.haVersion ?? HA_API_VERSION;
    this.maxFrameBytes = positive(options.maxFrameBytes, API_LIMIT_DEFAULTS.maxFrameBytes, 'maxFrameBytes');
    this.maxBufferedBytes = positive(options.maxBufferedBytes, API_LIMIT_DEFAULTS.maxBufferedBytes, 'maxBufferedBytes');
    this.maxSubscriptions = positive(options.maxSubscriptions, API_LIMIT_DEFAULTS.maxSubscriptions, 'maxSubscriptions');
    this.authTimeoutMs = positive(options.authTimeoutMs, API_LIMIT_DEFAULTS.authTimeoutMs, 'authTimeoutMs');
    this.config = { ...(options.config ?? {}) };
    this.onLog = options.onLog;
  }

  log(entry: ApiLogEntry): void {
    try {
      this.onLog?.(entry);
    } catch {
      // A throwing log sink must not break a connection.
    }
  }

  forget(conn: { close(code: number, reason: string): void }): void {
    this.connections.delete(conn);
  }

  /** Home Assistant's `hass.config.as_dict()` with HOMECORE's values. */
  haConfig(): Record<string, unknown> {
    const c = this.config;
    const components = ['api', 'websocket_api', ...this.registry.list().filter((p) => p.state === 'loaded').map((p) => p.id)];
    return {
      allowlist_external_dirs: [],
      allowlist_external_urls: [],
      components: [...new Set(components)].sort(),
      config_dir: c.config_dir ?? '',
      config_source: 'storage',
      country: c.country ?? null,
      currency: c.currency ?? 'EUR',
      debug: false,
      elevation: c.elevation ?? 0,
      external_url: c.external_url ?? null,
      internal_url: c.internal_url ?? null,
      language: c.language ?? 'en',
      latitude: c.latitude ?? 0,
      location_name: c.location_name ?? 'Home',
      longitude: c.longitude ?? 0,
      radius: c.radius ?? 100,
      recovery_mode: false,
      safe_mode: false,
      state: 'RUNNING',
      time_zone: c.time_zone ?? 'UTC',
      unit_system: c.unit_system ?? {
        length: 'km',
        accumulated_precipitation: 'mm',
        area: 'm²',
        mass: 'g',
        pressure: 'Pa',
        temperature: '°C',
        volume: 'L',
        wind_speed: 'm/s',
      },
      version: this.haVersion,
      whitelist_external_dirs: [],
      homecore_version: HOMECORE_VERSION,
    };
  }

  /** Every plugin with health and its config entries (`homecore/plugins`). */
  async plugins(): Promise<PluginListing[]> {
    const entries = await this.registry.entries();
    return this.registry.list().map((p) => this.listing(p, entries));
  }

  /** One plugin's listing, or null. */
  async plugin(id: string): Promise<PluginListing | null> {
    const p = this.registry.get(id);
    return p === undefined ? null : this.listing(p, await this.registry.entries(id));
  }

  /** Throws HC_ERR_PLUGIN_NOT_FOUND (`not_found` on the wire) for an unknown plugin. */
  requirePlugin(id: string): void {
    if (this.registry.get(id) === undefined) {
      throw new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `no plugin ${JSON.stringify(id)} is loaded: homecore/plugins lists them`, { plugin: id });
    }
  }

  private listing(p: PluginSummary, entries: readonly ConfigEntry[]): PluginListing {
    return {
      id: p.id,
      name: p.manifest.name,
      version: p.manifest.version ?? null,
      runtime: p.runtime,
      state: p.state,
      health: p.health,
      reason: p.reason,
      entries: entries.filter((e) => e.domain === p.id),
    };
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new HomecoreError(ErrorCode.API_LISTEN, `createApiServer: ${name} must be a positive number, got ${String(value)}`, { details: { [name]: value } });
  }
  return value;
}
