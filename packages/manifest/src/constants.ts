// The manifest's constants, without TypeBox: importing them (or validating a manifest) loads no
// schema-building code; the TypeBox schema in schema.ts is the source the build generates from.

/** HA's domain slug (homeassistant/core.py): lowercase letters, digits, single underscores inside. */
export const DOMAIN_PATTERN = '^(?!.+__)(?!_)[\\da-z_]+(?<!_)$';

/** The runtime kinds a plugin can ask for. */
export const RUNTIME_KINDS = ['native', 'wasm'] as const;

/** The entry file assumed for each runtime kind when a manifest names none. */
export const DEFAULT_ENTRIES: Readonly<Record<(typeof RUNTIME_KINDS)[number], string>> = Object.freeze({
  native: 'index.js',
  wasm: 'plugin.wasm',
});

/** Host ABI v1 imports a wasm plugin may declare in `host_imports_required` (mirrors core-traits' abi.ts). */
export const HOST_IMPORT_NAMES = [
  'hc_log',
  'hc_state_get',
  'hc_state_set',
  'hc_service_call',
  'hc_event_fire',
  'hc_subscribe',
  'hc_config_get',
  'hc_clock_now',
] as const;

/** The actions a permission claim may name (same grammar as core-traits' PERMISSION_CLAIM_REGEX). */
export const PERMISSION_ACTION_NAMES = ['state:read', 'state:write', 'service:call', 'event:fire', 'event:subscribe'] as const;
export const PERMISSION_PATTERN = '^(state:read|state:write|service:call|event:fire|event:subscribe):([A-Za-z0-9_.*:-]+)$';

/** HA's integration types (`virtual` only for virtual integrations). */
export const INTEGRATION_TYPES = ['device', 'entity', 'hardware', 'helper', 'hub', 'service', 'system', 'virtual'] as const;
/** HA's IoT classes. */
export const IOT_CLASSES = ['assumed_state', 'calculated', 'cloud_polling', 'cloud_push', 'local_polling', 'local_push'] as const;
/** HA's quality scale tiers and special values. */
export const QUALITY_SCALES = ['bronze', 'silver', 'gold', 'platinum', 'custom', 'no_score', 'internal', 'legacy'] as const;

