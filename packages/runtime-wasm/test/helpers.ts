// Shared test fixtures: WAT compilation, manifests, a stub plugin context and delivered events.
import {
  ErrorCode,
  HomecoreError,
  PermissionSet,
  type BusEvent,
  type ConfigEntry,
  type DeliveredEvent,
  type EntityState,
  type JsonValue,
  type PluginContext,
  type PluginManifest,
} from '@homecore/core-traits';
import { WasmRuntime, type WasmRuntimeOptions } from '@homecore/runtime-wasm';

const wabt = await (await import('wabt')).default();

/** Compiles WAT text to wasm bytes (with the features hostile modules need). */
export function wat(source: string, features: Record<string, boolean> = {}): Uint8Array {
  const module = wabt.parseWat('test.wat', source, { threads: true, simd: true, multi_memory: true, ...features } as Parameters<typeof wabt.parseWat>[2]);
  try {
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

/** Signatures of the host imports, in WAT. */
export const IMPORT_WAT: Record<string, string> = {
  hc_log: '(param i32 i32 i32) (result i32)',
  hc_state_get: '(param i32 i32 i32 i32) (result i32)',
  hc_state_set: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  hc_service_call: '(param i32 i32 i32 i32 i32 i32) (result i32)',
  hc_event_fire: '(param i32 i32 i32 i32) (result i32)',
  hc_subscribe: '(param i32 i32 i32) (result i32)',
  hc_config_get: '(param i32 i32) (result i32)',
  hc_clock_now: '(result f64)',
};

/** Fixed strings in every guest built by `guest()`: [offset, length]. */
export const S = {
  entity: [16, 14], // sensor.kitchen
  on: [48, 2], // on
  attrs: [64, 12], // {"unit":"C"}
  badUtf8: [96, 2],
  badJson: [112, 9],
  light: [128, 5],
  turnOn: [144, 7],
  myEvent: [160, 8],
  array: [176, 5], // [1,2]
  badEntity: [192, 10],
  pattern: [208, 8], // sensor.*
} as const;

/** Pages of the guest's memory, and its size in bytes. */
export const GUEST_BYTES = 65_536;

export interface GuestOptions {
  /** Host imports to declare (all by default). */
  imports?: string[];
  /** Extra WAT inside the module. */
  body?: string;
  /** Extra imports, placed before every definition. */
  head?: string;
  /** The memory declaration (default `(memory (export "memory") 1 1)`). */
  memory?: string;
  /** Leave out the ABI marker, or use another one. */
  marker?: string | null;
}

/** A well-behaved guest skeleton: allocator, marker, memory and fixed strings, plus `body`. */
export function guest(options: GuestOptions = {}): string {
  const imports = (options.imports ?? Object.keys(IMPORT_WAT))
    .map((name) => `(import "homecore" "${name}" (func $${name} ${IMPORT_WAT[name]}))`)
    .join('\n  ');
  const marker = options.marker === null ? '' : `(func (export "${options.marker ?? 'homecore_abi_version_1'}"))`;
  return `(module
  ${imports}
  ${options.head ?? ''}
  ${options.memory ?? '(memory (export "memory") 1 1)'}
  (data (i32.const 16) "sensor.kitchen")
  (data (i32.const 48) "on")
  (data (i32.const 64) "{\\"unit\\":\\"C\\"}")
  (data (i32.const 96) "\\ff\\fe")
  (data (i32.const 112) "{bad json")
  (data (i32.const 128) "light")
  (data (i32.const 144) "turn_on")
  (data (i32.const 160) "my_event")
  (data (i32.const 176) "[1,2]")
  (data (i32.const 192) "Sensor.BAD")
  (data (i32.const 208) "sensor.*")
  (global $bump (mut i32) (i32.const 4096))
  ${marker}
  (func (export "hc_alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $bump))
    (global.set $bump (i32.add (local.get $p) (local.get $n)))
    (local.get $p))
  (func (export "hc_free") (param i32 i32) (global.set $bump (i32.const 4096)))
  ${options.body ?? ''}
)`;
}

/** A guest whose `hc_on_event` returns the result of `expr` (an i32 WAT expression). */
export function probe(expr: string, imports?: string[]): Uint8Array {
  return wat(guest({ imports, body: `(func (export "hc_on_event") (param i32 i32) (result i32) ${expr})` }));
}

/** A manifest for a wasm plugin. */
export function manifest(overrides: object = {}): PluginManifest {
  return {
    domain: 'probe',
    name: 'Probe',
    version: '1.0.0',
    runtime: 'wasm',
    permissions: ['state:read:sensor.*', 'state:write:sensor.*', 'service:call:light.turn_on', 'event:fire:my_event', 'event:subscribe:*'],
    ...overrides,
  };
}

/** A development-policy runtime whose warnings are collected. */
export function devRuntime(options: Partial<WasmRuntimeOptions> = {}): { runtime: WasmRuntime; warnings: string[] } {
  const warnings: string[] = [];
  const runtime = new WasmRuntime({ trust: { mode: 'development' }, warn: (m) => warnings.push(m), ...options });
  return { runtime, warnings };
}

/** A config entry in HA's shape. */
export function configEntry(domain = 'probe', options: Record<string, JsonValue> = {}): ConfigEntry {
  return {
    entry_id: '01JTESTENTRY',
    domain,
    title: domain,
    data: {},
    options,
    source: 'user',
    unique_id: null,
    version: 1,
    minor_version: 1,
    disabled_by: null,
    pref_disable_new_entities: false,
    pref_disable_polling: false,
    created_at: '2025-01-01T00:00:00.000000+00:00',
    modified_at: '2025-01-01T00:00:00.000000+00:00',
    state: 'setup_in_progress',
    reason: null,
  };
}

const CONTEXT = { id: '01JTESTCONTEXT', parent_id: null, user_id: null };

/** A state object. */
export function entityState(entityId: string, state: string, attributes: Record<string, JsonValue> = {}): EntityState {
  const at = '2025-01-01T00:00:00.000000+00:00';
  return { entity_id: entityId, state, attributes, last_changed: at, last_reported: at, last_updated: at, context: CONTEXT };
}

/** A delivered event that counts its serialisations. */
export function delivered(eventType: string, data: Record<string, unknown> = {}): DeliveredEvent & { serialisations: number } {
  const event: BusEvent = { event_type: eventType, data, origin: 'LOCAL', time_fired: '2025-01-01T00:00:00.000000+00:00', context: CONTEXT };
  let json: string | undefined;
  let bytes: Uint8Array | undefined;
  const out = {
    event,
    serialisations: 0,
    json(): string {
      if (json === undefined) {
        out.serialisations++;
        json = JSON.stringify(event);
      }
      return json;
    },
    bytes(): Uint8Array {
      bytes ??= new TextEncoder().encode(out.json());
      return bytes;
    },
  };
  return out;
}

/** What a stub context recorded. */
export interface StubRecord {
  logs: { level: string; message: string }[];
  states: Map<string, EntityState>;
  events: { type: string; data: Record<string, JsonValue> }[];
  serviceCalls: { domain: string; service: string; data: Record<string, JsonValue> }[];
  subscriptions: { entities?: readonly string[]; events?: readonly string[] }[];
  unsubscribed: number;
  denied: string[];
}

/** A PluginContext that enforces the manifest's permissions like the registry's (throwing PERMISSION_DENIED) and records everything. */
export function stubContext(m: PluginManifest = manifest(), onWrite?: (entityId: string) => void): { ctx: PluginContext; record: StubRecord } {
  const permissions = PermissionSet.parse(m.permissions ?? []);
  const record: StubRecord = { logs: [], states: new Map(), events: [], serviceCalls: [], subscriptions: [], unsubscribed: 0, denied: [] };
  const need = (action: Parameters<PermissionSet['allows']>[0], target: string): void => {
    if (!permissions.allows(action, target)) {
      record.denied.push(`${action}:${target}`);
      throw new HomecoreError(ErrorCode.PERMISSION_DENIED, `${action} ${target} is not granted`, { plugin: m.domain });
    }
  };
  const log = (level: string) => (message: string) => void record.logs.push({ level, message });
  const ctx: PluginContext = {
    pluginId: m.domain,
    manifest: m,
    configEntry: configEntry(m.domain),
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    signal: new AbortController().signal,
    now: () => 1_700_000_000_000,
    getState(entityId) {
      need('state:read', entityId);
      return record.states.get(entityId);
    },
    getStates: () => [...record.states.values()],
    setState(entityId, state, attributes = {}) {
      need('state:write', entityId);
      const s = entityState(entityId, state, attributes);
      record.states.set(entityId, s);
      onWrite?.(entityId);
      return s;
    },
    removeState: (entityId) => record.states.delete(entityId),
    async callService(domain, service, data = {}) {
      need('service:call', `${domain}.${service}`);
      record.serviceCalls.push({ domain, service, data });
      if (service === 'explode') throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, 'no such service');
      return undefined;
    },
    registerService: () => () => undefined,
    callLater: () => () => undefined,
    fireEvent(type, data = {}) {
      need('event:fire', type);
      record.events.push({ type, data });
    },
    subscribe(subscription) {
      for (const p of subscription.entities ?? []) need('state:read', p);
      for (const p of subscription.events ?? []) need('event:subscribe', p);
      record.subscriptions.push(subscription);
      return () => void record.unsubscribed++;
    },
  };
  return { ctx, record };
}

/** Resolves to the thrown error, or fails the test when nothing is thrown. */
export async function rejection(promise: unknown): Promise<HomecoreError> {
  try {
    await promise;
  } catch (err) {
    return err as HomecoreError;
  }
  throw new Error('expected a rejection');
}

/** The status a probe returned: 0 when the call resolved, else the WASM_STATUS details. */
export async function statusOf(promise: unknown): Promise<number> {
  try {
    await promise;
    return 0;
  } catch (err) {
    const e = err as HomecoreError;
    if (e.code !== 'HC_ERR_WASM_STATUS') throw err;
    return (e.details as { status: number }).status;
  }
}
