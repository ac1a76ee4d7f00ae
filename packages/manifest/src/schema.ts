// The source of the manifest's schema. Nothing imports it at run time: the build generates the JSON
// Schema and the validators from it (scripts/generate.mjs), so loading the package loads no TypeBox.
import Type, { type Static, type TSchema } from 'typebox';
import {
  DOMAIN_PATTERN,
  HOST_IMPORT_NAMES,
  INTEGRATION_TYPES,
  IOT_CLASSES,
  PERMISSION_ACTION_NAMES,
  PERMISSION_PATTERN,
  QUALITY_SCALES,
  RUNTIME_KINDS,
} from './constants.js';

const DOMAIN_HINT = 'use lowercase letters, digits and single underscores, not at the start or end (e.g. "hue_bridge")';
const HTTPS_URL_PATTERN = '^https://[^\\s/?#]+[^\\s]*$';
const HTTPS_HINT = 'use an absolute https:// URL';
const LOWERCASE_PATTERN = '^[^A-Z]*$';
const UPPERCASE_PATTERN = '^[^a-z]*$';

// Extra keywords `patternErrorMessage` / `errorMessage` are understood by editors (VS Code) and by
// validateManifest, which uses them to say what to fix.
const text = (description: string, options: Record<string, unknown> = {}) =>
  Type.String({ minLength: 1, description, ...options });
const matching = (pattern: string, hint: string, description: string) =>
  Type.String({ pattern, patternErrorMessage: hint, description });
const domain = (description: string) => matching(DOMAIN_PATTERN, DOMAIN_HINT, description);
const httpsUrl = (description: string) => matching(HTTPS_URL_PATTERN, HTTPS_HINT, description);
const lowercase = (description: string) => matching(LOWERCASE_PATTERN, 'write it in lowercase', description);
const uppercase = (description: string) => matching(UPPERCASE_PATTERN, 'write it in uppercase', description);
const list = <T extends TSchema>(items: T, description: string, options: Record<string, unknown> = {}) =>
  Type.Array(items, { description, ...options });
const closed = <P extends Record<string, TSchema>>(properties: P, description: string, options: Record<string, unknown> = {}) =>
  Type.Object(properties, { additionalProperties: false, description, ...options });
const opt = Type.Optional;
const positiveInt = (description: string, maximum = Number.MAX_SAFE_INTEGER) =>
  Type.Integer({ minimum: 1, maximum, description });

const bluetoothMatcher = closed(
  {
    connectable: opt(Type.Boolean({ description: 'Match only connectable devices (HA default true).' })),
    service_uuid: opt(lowercase('A 128-bit service UUID, lowercase.')),
    service_data_uuid: opt(lowercase('A service data UUID, lowercase.')),
    local_name: opt(
      matching(
        '^[^*?\\[]{3}',
        'start it with at least 3 literal characters: a wildcard (*, ?, [) may only come after them',
        'The advertised local name, an fnmatch glob; no wildcard in the first 3 characters.',
      ),
    ),
    manufacturer_id: opt(Type.Integer({ minimum: 0, maximum: 65535, description: 'Bluetooth SIG company identifier.' })),
    manufacturer_data_start: opt(
      list(Type.Integer({ minimum: 0, maximum: 255 }), 'The first bytes of the manufacturer data, each 0-255.'),
    ),
  },
  'One Bluetooth matcher: every key given must match.',
);

const zeroconfMatcher = Type.Union(
  [
    text('A service type, e.g. "_hue._tcp.local.".'),
    closed(
      {
        type: text('The service type, e.g. "_hue._tcp.local.".'),
        name: opt(lowercase('The instance name, an fnmatch glob, lowercase.')),
        macaddress: opt(uppercase('Deprecated (HA moves it into `properties`): the MAC address glob, uppercase, with a "*".')),
        manufacturer: opt(lowercase('Deprecated (HA moves it into `properties`): the manufacturer glob, lowercase.')),
        model: opt(lowercase('Deprecated (HA moves it into `properties`): the model glob, lowercase.')),
        properties: opt(
          Type.Record(Type.String(), lowercase('A TXT property value, lowercase glob.'), {
            description: 'TXT record properties to match, values lowercase.',
          }),
        ),
      },
      'A zeroconf matcher with a required service type.',
    ),
  ],
  { description: 'A zeroconf service type, or an object with a required `type`.', errorMessage: 'use a service type string or an object with a `type`' },
);

const previewFeature = closed(
  {
    feedback_url: opt(httpsUrl('Where users give feedback on the feature.')),
    learn_more_url: opt(httpsUrl('Where users learn about the feature.')),
    report_issue_url: opt(httpsUrl('Where users report problems with the feature.')),
  },
  'Links for one preview feature.',
);

const service = closed(
  {
    name: domain('The service name (a slug); called as `<domain>.<name>`.'),
    description: opt(Type.String({ description: 'What the service does, for people.' })),
    schema: opt(Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema for the service call data.' })),
  },
  'A service the plugin registers.',
);

// The top level is open (unknown keys are reported as warnings and kept); nested objects are closed.
const schema = Type.Object(
  {
    $schema: opt(
      Type.String({
        description: 'Where editors find this file\'s JSON Schema, e.g. "./node_modules/@homecore/manifest/schema/manifest.schema.json"; ignored by HOMECORE (Home Assistant\'s hassfest does not know it).',
      }),
    ),
    // Home Assistant fields
    domain: domain('The plugin id, HA\'s domain slug: lowercase letters, digits and single underscores, matching the plugin folder name.'),
    name: text('The display name.'),
    version: text(
      'The plugin version, any Home Assistant accepts (AwesomeVersion): SemVer ("1.2.3", "1.2.3-beta.1"), CalVer ("2024.1.0", "2023.1.0b1"), SimpleVer ("1.2", "1.2.3.4"), BuildVer ("7") or PEP 440 ("1.0.post1", "1!2.0", "1.0.dev3"), optionally with a "v" prefix. Required of HOMECORE plugins; Home Assistant\'s core integrations have none.',
    ),
    integration_type: opt(Type.Enum([...INTEGRATION_TYPES], { description: 'HA\'s integration type (HA default "hub").' })),
    config_flow: opt(Type.Boolean({ description: 'The plugin can be set up from the UI with a config flow.' })),
    single_config_entry: opt(Type.Boolean({ description: 'At most one config entry may exist.' })),
    config_entry_version: opt(positiveInt('HOMECORE: the config entry version the plugin writes (HA\'s ConfigFlow.VERSION); an older stored entry is migrated first. Default 1.')),
    config_entry_minor_version: opt(positiveInt('HOMECORE: the config entry minor version the plugin writes (HA\'s ConfigFlow.MINOR_VERSION). Default 1.')),
    documentation: opt(httpsUrl('Documentation URL (https). Recommended: HA requires it of custom integrations.')),
    issue_tracker: opt(httpsUrl('Issue tracker URL (https).')),
    codeowners: opt(
      list(
        matching('^@\\S+$', 'use a GitHub user like "@alice" or a team like "@org/team"', 'A GitHub handle: a user "@user" or a team "@org/team" (HA: starts with "@").'),
        'GitHub users or teams that own the code. Recommended: HA requires it of custom integrations.',
        { uniqueItems: true },
      ),
    ),
    requirements: opt(list(text('A package requirement specifier.'), 'Packages the plugin needs (HA: pip specifiers).')),
    dependencies: opt(list(domain('A plugin domain.'), 'Plugins set up before this one; if one fails this one does not start. Disjoint from after_dependencies.', { uniqueItems: true })),
    after_dependencies: opt(list(domain('A plugin domain.'), 'Plugins set up before this one when they load anyway (ordering only). Disjoint from dependencies.', { uniqueItems: true })),
    loggers: opt(list(text('A logger name.'), 'Logger names used by the requirements.')),
    iot_class: opt(Type.Enum([...IOT_CLASSES], { description: 'How the plugin talks to devices. Recommended: HA requires it of custom integrations.' })),
    quality_scale: opt(Type.Enum([...QUALITY_SCALES], { description: 'HA\'s quality scale tier.' })),
    disabled: opt(text('When present the plugin is disabled; the value says why.')),
    import_executor: opt(Type.Boolean({ description: 'HA: import the module off the event loop (HA default true).' })),
    preview_features: opt(
      Type.Record(Type.String({ pattern: DOMAIN_PATTERN }), previewFeature, {
        additionalProperties: false,
        description: 'Preview ("labs") features by slug, each with optional links.' }),
    ),
    supported_by: opt(domain('Virtual integrations only (core): the integration that supports this brand; not with iot_standards.')),
    iot_standards: opt(list(Type.Enum(['homekit', 'zigbee', 'zwave']), 'Virtual integrations only (core): IoT standards the brand supports; not with supported_by.')),
    bluetooth: opt(list(bluetoothMatcher, 'Bluetooth discovery matchers; a device matching any one starts discovery.')),
    zeroconf: opt(list(zeroconfMatcher, 'Zeroconf (mDNS) discovery matchers.')),
    ssdp: opt(
      list(
        Type.Record(Type.String(), Type.String(), { minProperties: 1, description: 'SSDP headers or UPnP fields to match, e.g. {"st": "..."}.' }),
        'SSDP discovery matchers; each must name at least one field.',
      ),
    ),
    homekit: opt(closed({ models: opt(list(Type.String(), 'Model name prefixes.')) }, 'HomeKit discovery by model name prefix.')),
    dhcp: opt(
      list(
        closed(
          {
            hostname: opt(lowercase('Host name glob, lowercase.')),
            macaddress: opt(uppercase('MAC address glob, uppercase hex without separators, with a "*", e.g. "B8B7F1*".')),
            registered_devices: opt(Type.Boolean({ description: 'Match MAC addresses already in the device registry.' })),
          },
          'One DHCP matcher.',
        ),
        'DHCP discovery matchers.',
      ),
    ),
    usb: opt(
      list(
        closed(
          {
            vid: opt(uppercase('USB vendor id, uppercase hex.')),
            pid: opt(uppercase('USB product id, uppercase hex.')),
            serial_number: opt(lowercase('Serial number glob, lowercase.')),
            manufacturer: opt(lowercase('Manufacturer glob, lowercase.')),
            description: opt(lowercase('Description glob, lowercase.')),
            known_devices: opt(list(Type.String(), 'Known devices, for documentation only.')),
          },
          'One USB matcher.',
        ),
        'USB discovery matchers.',
      ),
    ),
    mqtt: opt(list(text('An MQTT topic filter.'), 'MQTT discovery topic filters (list "mqtt" in dependencies too).')),

    // HOMECORE fields
    runtime: opt(
      Type.Enum([...RUNTIME_KINDS], {
        default: 'native',
        description: 'HOMECORE: how the plugin runs: "native" (an ES module in the host process) or "wasm" (a sandboxed WebAssembly module). Default "native".',
      }),
    ),
    isolation: opt(
      Type.Enum(['none', 'worker', 'process'], {
        default: 'none',
        description:
          'HOMECORE (native): where the plugin runs: "none" (in the host process), "worker" (a worker thread the host can stop) or "process" (a child Node process with Node\'s permission model). The host\'s policy may raise it, never lower it. Default "none".',
      }),
    ),
    entry: opt(
      Type.String({
        minLength: 1,
        description:
          'HOMECORE: the entry file, a relative POSIX path inside the plugin folder (no "..", no backslashes): an ES module for native, a .wasm file for wasm. Default "index.js" (native) or "plugin.wasm" (wasm).',
      }),
    ),
    module_hash: opt(matching('^sha256:[0-9a-f]{64}$', 'write "sha256:" followed by 64 lowercase hex digits', 'HOMECORE: the entry file\'s SHA-256, "sha256:<64 lowercase hex>"; the load gate refuses a module that does not match.')),
    module_signature: opt(
      matching('^ed25519:[A-Za-z0-9+/]+={0,2}$', 'write "ed25519:" followed by the base64 of the 64-byte signature', 'HOMECORE: Ed25519 signature of module_hash, "ed25519:<base64 of 64 bytes>"; needs module_hash and publisher_key.'),
    ),
    publisher_key: opt(
      matching('^ed25519:[A-Za-z0-9+/]+={0,2}$', 'write "ed25519:" followed by the base64 of the 32-byte public key', 'HOMECORE: the publisher\'s Ed25519 public key, "ed25519:<base64 of 32 bytes>"; the host\'s trust policy decides whether it is trusted.'),
    ),
    min_homecore_version: opt(
      matching(
        '^\\d+\\.\\d+\\.\\d+(?:-[0-9A-Za-z.-]+)?(?:\\+[0-9A-Za-z.-]+)?$',
        'use a SemVer version like "1.2.0"',
        'HOMECORE: the lowest HOMECORE version the plugin runs on (SemVer).',
      ),
    ),
    host_imports_required: opt(
      list(Type.Enum([...HOST_IMPORT_NAMES]), 'HOMECORE (wasm): the host ABI v1 imports the module uses; the load gate checks the module imports no others.', { uniqueItems: true }),
    ),
    permissions: opt(
      list(
        matching(
          PERMISSION_PATTERN,
          `write "<action>:<pattern>" with action one of ${PERMISSION_ACTION_NAMES.join(', ')} and a pattern of letters, digits, _ . * : - (e.g. "state:write:light.*")`,
          'A claim "<action>:<pattern>", e.g. "state:read:sensor.*" or "service:call:light.turn_on".',
        ),
        'HOMECORE: what the plugin may do (read or write states, call services, fire or subscribe to events); everything else is denied.',
        { uniqueItems: true },
      ),
    ),
    limits: opt(
      closed(
        {
          memory_pages: opt(positiveInt('Maximum wasm linear memory in 64 KiB pages (1-65536).', 65536)),
          memory_mb: opt(positiveInt('Heap limit of an isolated native plugin (worker or process), in MiB; the host caps it.', 65536)),
          fuel_per_call: opt(positiveInt('CPU budget per wasm call, in fuel units.')),
          payload_bytes: opt(positiveInt('Largest payload passed across the host ABI, in bytes.')),
          host_calls_per_event: opt(positiveInt('Most host calls one event handler may make.')),
          bytes_written_per_event: opt(positiveInt('Most bytes of state one event handler may write.')),
          setup_timeout_ms: opt(positiveInt('Setup timeout in milliseconds.')),
          teardown_timeout_ms: opt(positiveInt('Teardown timeout in milliseconds.')),
          handler_timeout_ms: opt(
            positiveInt('Longest an event handler, a service call routed to the plugin or a config update may take, in milliseconds.'),
          ),
          queue_capacity: opt(positiveInt('Capacity of the plugin\'s event queue.')),
          writes_per_second: opt(positiveInt('State writes and removes per second (a token bucket holding one second\'s budget).')),
          events_per_second: opt(positiveInt('Events fired per second (a token bucket holding one second\'s budget).')),
          service_calls_per_second: opt(positiveInt('Service calls per second (a token bucket holding one second\'s budget).')),
          state_bytes: opt(positiveInt('Largest state plus attributes of one write, as UTF-8 JSON bytes.')),
          entities: opt(positiveInt('Most entities the plugin may create (and so own) at once.')),
          subscriptions: opt(positiveInt('Most subscription patterns the plugin may add at run time (ctx.subscribe, hc_subscribe).')),
          subscription_bytes: opt(positiveInt('Most bytes of subscription patterns the plugin may add at run time.')),
          timers: opt(positiveInt('Most ctx.callLater timers pending at once.')),
          pending_service_calls: opt(positiveInt('Most service calls the plugin may have in flight at once.')),
        },
        'HOMECORE: resource limits the plugin asks for; the host may lower them (the stricter wins).',
      ),
    ),
    services: opt(list(service, 'HOMECORE: services the plugin registers, with unique names.')),
    subscriptions: opt(
      closed(
        {
          entities: opt(
            list(
              matching('^(?:\\*|[a-z0-9_*]+\\.[a-z0-9_*]+)$', 'use an entity id like "sensor.kitchen" or a pattern like "sensor.*"', 'An entity id or a pattern with *.'),
              'Entity ids or patterns whose state changes the plugin receives.',
              { uniqueItems: true },
            ),
          ),
          events: opt(
            list(
              matching('^[A-Za-z0-9_.:*-]+$', 'use an event type like "call_service" or a pattern like "zha_*"', 'An event type or a pattern with *.'),
              'Event types or patterns the plugin receives.',
              { uniqueItems: true },
            ),
          ),
        },
        'HOMECORE: what the plugin receives; delivery also needs read permission.',
      ),
    ),
    config_schema: opt(Type.Record(Type.String(), Type.Unknown(), { description: 'HOMECORE: a JSON Schema for the config entry\'s `data`, checked before setup.' })),
    cog_id: opt(text('HOMECORE: the plugin\'s id in the cog registry.')),
    cog_publisher: opt(text('HOMECORE: the publisher\'s id in the cog registry.')),
  },
  {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:homecore:schema:plugin-manifest:1',
    title: 'HOMECORE plugin manifest',
    description:
      'A HOMECORE plugin manifest (manifest.json): Home Assistant\'s manifest.json plus HOMECORE\'s runtime, entry, integrity, permission and limit fields. Unknown keys are reported as warnings.',
  },
);

/**
 * The TypeBox schema of a HOMECORE plugin manifest: Home Assistant's manifest.json plus HOMECORE's
 * own fields, as plain JSON Schema with `$schema`, `$id`, `title` and a description on every field.
 */
export const manifestSchema = schema as typeof schema & { $schema: string; $id: string; title: string; description: string };

/** The schema's static type: the shape of a manifest that passes the schema. */
export type ManifestShape = Static<typeof manifestSchema>;
