import { type ManifestIssue, childPointer, show } from './issues.js';
import { manifestSchemaJson } from './generated/schema-json.js';
import { PYTHON_SPACE_CLASS, versionStrategy } from './version.js';

// Home Assistant's own manifest rules that JSON Schema cannot say, from hassfest
// (script/hassfest/manifest.py and requirements.py): what differs between core and custom
// integrations, the virtual-integration schema, and the domains that must not have an iot_class.

/** Who the manifest is for: a HOMECORE plugin (HA's custom-integration rules) or one of HA's core integrations. */
export type ManifestMode = 'custom' | 'core';

type Fields = Record<string, unknown>;

/**
 * Domains hassfest says must not have an `iot_class`: entity platforms and system or helper domains.
 * The union of hassfest's list over the years (a domain it names in one release is named in all
 * later ones while it exists), so manifests of any Home Assistant release are judged by their own.
 */
export const NO_IOT_CLASS_DOMAINS: ReadonlySet<string> = new Set([
  // homeassistant.const.Platform
  'ai_task', 'air_quality', 'alarm_control_panel', 'assist_satellite', 'binary_sensor', 'button', 'calendar', 'camera',
  'climate', 'conversation', 'cover', 'date', 'datetime', 'device_tracker', 'event', 'fan', 'geo_location', 'humidifier',
  'image', 'image_processing', 'infrared', 'lawn_mower', 'light', 'lock', 'media_player', 'notify', 'number',
  'radio_frequency', 'remote', 'scene', 'select', 'sensor', 'siren', 'stt', 'switch', 'text', 'time', 'todo', 'tts',
  'update', 'vacuum', 'valve', 'wake_word', 'water_heater', 'weather',
  // named in hassfest's list
  'api', 'application_credentials', 'auth', 'automation', 'battery', 'blueprint', 'brands', 'color_extractor', 'config',
  'configurator', 'counter', 'default_config', 'device_automation', 'diagnostics', 'discovery', 'door', 'doorbell',
  'downloader', 'ffmpeg', 'file_upload', 'frontend', 'garage_door', 'gate', 'hardkernel', 'hardware', 'history',
  'homeassistant', 'homeassistant_alerts', 'homeassistant_connect_zbt2', 'homeassistant_green', 'homeassistant_hardware',
  'homeassistant_sky_connect', 'homeassistant_yellow', 'humidity', 'illuminance', 'image_upload', 'input_boolean',
  'input_button', 'input_datetime', 'input_number', 'input_select', 'input_text', 'intent', 'intent_script', 'logbook',
  'logger', 'lovelace', 'mailbox', 'map', 'map_tiles', 'media_source', 'moisture', 'motion', 'my', 'occupancy',
  'onboarding', 'panel_custom', 'panel_iframe', 'plant', 'power', 'profiler', 'proxy', 'python_script', 'raspberry_pi',
  'recovery_mode', 'repairs', 'safe_mode', 'schedule', 'script', 'search', 'system_health', 'system_log', 'tag',
  'temperature', 'timer', 'trace', 'vibration', 'web_rtc', 'webhook', 'websocket_api', 'window', 'zone',
]);

/** The keys Home Assistant's virtual-integration schema allows (plus `$schema`, which HOMECORE always accepts). */
const VIRTUAL_KEYS: ReadonlySet<string> = new Set(['$schema', 'domain', 'name', 'integration_type', 'supported_by', 'iot_standards']);
/** Keys hassfest's core schema does not have: only custom integrations may carry them. */
const CUSTOM_ONLY_KEYS = ['version', 'issue_tracker', 'import_executor'] as const;
const CORE_DOCUMENTATION_BASE = 'https://www.home-assistant.io/integrations';
const CORE_DOCUMENTATION_EXCEPTIONS: ReadonlySet<string> = new Set(['https://www.home-assistant.io/hassio']);
const KNOWN_KEYS: ReadonlySet<string> = new Set(Object.keys(manifestSchemaJson.properties as Record<string, unknown>));
const HIGH_QUALITY: ReadonlySet<unknown> = new Set(['silver', 'gold', 'platinum']);
const DEPRECATED_ZEROCONF_KEYS = ['macaddress', 'manufacturer', 'model'] as const;

// requirements.py: an optional pip option, the package, operators, the rest. Python's `.` is any
// character but "\n", and `$` also matches before one final "\n".
const SPECIFIER = '(==|>=|<=|~=|!=|<|>|===)';
const PACKAGE_REGEX = new RegExp(`^(?:--[^\\n]+[${PYTHON_SPACE_CLASS}])?([-_,.\\[\\]\\p{L}\\p{N}]+)${SPECIFIER}*([^\\n]*)\\n?$`, 'u');
const VERSION_PART_REGEX = new RegExp(`^${SPECIFIER}?([^\\n]*)\\n?$`, 'u');

/** The rules hassfest applies to one manifest, given how its shape was judged. Appends to `errors` and `warnings`. */
export function checkHomeAssistantRules(fields: Fields, mode: ManifestMode, errors: ManifestIssue[], warnings: ManifestIssue[]): void {
  const virtual = fields.integration_type === 'virtual';
  if (virtual) {
    checkVirtual(fields, mode, errors);
  } else {
    for (const key of ['supported_by', 'iot_standards'] as const) {
      if (fields[key] !== undefined) {
        errors.push({ pointer: `/${key}`, rule: 'virtual-only', message: `${key} is only for virtual integrations: remove it, or set "integration_type": "virtual" (and drop the integration's other keys)` });
      }
    }
  }

  if (mode === 'core') {
    for (const key of CUSTOM_ONLY_KEYS) {
      if (fields[key] !== undefined && !virtual) {
        errors.push({ pointer: `/${key}`, rule: 'core-forbidden', message: `Home Assistant's core integrations have no ${key} (hassfest allows it only in custom integrations): remove it, or validate the manifest as a custom integration` });
      }
    }
    if (!virtual) checkCore(fields, errors, warnings);
  } else {
    const { documentation } = fields;
    if (typeof documentation === 'string' && documentation.startsWith(CORE_DOCUMENTATION_BASE)) {
      warnings.push({ pointer: '/documentation', rule: 'documentation-url', message: `${show(documentation)} is Home Assistant's documentation of its core integrations, which hassfest refuses for a custom integration: point it at the plugin's own docs` });
    }
  }

  const domain = typeof fields.domain === 'string' ? fields.domain : undefined;
  if (!virtual && domain !== undefined && NO_IOT_CLASS_DOMAINS.has(domain) && fields.iot_class !== undefined) {
    errors.push({ pointer: '/iot_class', rule: 'iot-class', message: `Home Assistant says the ${show(domain)} domain (an entity platform or a system domain) has no IoT class: remove iot_class` });
  }

  if (!virtual && HIGH_QUALITY.has(fields.quality_scale) && (fields.codeowners === undefined || (Array.isArray(fields.codeowners) && fields.codeowners.length === 0))) {
    if (!(mode === 'core' && fields.codeowners === undefined)) {
      errors.push({ pointer: '/codeowners', rule: 'minItems', message: `quality_scale ${show(fields.quality_scale)} needs at least one code owner: add one, e.g. "@your-github-user"` });
    }
  }

  for (const key of ['zeroconf', 'dhcp'] as const) {
    const matchers = fields[key];
    if (!Array.isArray(matchers)) continue;
    matchers.forEach((matcher: unknown, index) => {
      if (typeof matcher !== 'object' || matcher === null || Array.isArray(matcher)) return;
      const at = `/${key}/${index}`;
      const { macaddress } = matcher as Fields;
      if (typeof macaddress === 'string' && !macaddress.includes('*')) {
        warnings.push({
          pointer: `${at}/macaddress`,
          rule: 'wildcard',
          message: `${show(macaddress)} has no "*": it is matched against the whole MAC address, so a prefix alone never matches; write ${show(`${macaddress}*`)} (newer hassfest requires the wildcard)`,
        });
      }
      if (key !== 'zeroconf') return;
      for (const deprecated of DEPRECATED_ZEROCONF_KEYS) {
        if (Object.hasOwn(matcher, deprecated)) {
          warnings.push({
            pointer: childPointer(at, deprecated),
            rule: 'deprecated',
            message: `zeroconf ${deprecated} is deprecated: Home Assistant still matches it (it moves it into "properties"); write it as properties.${deprecated}, in lowercase`,
          });
        }
      }
    });
  }
}

/** Whether Home Assistant requires an iot_class of this manifest (all but virtual integrations and NO_IOT_CLASS domains). */
export function wantsIotClass(fields: Fields): boolean {
  if (fields.integration_type === 'virtual') return false;
  return !(typeof fields.domain === 'string' && NO_IOT_CLASS_DOMAINS.has(fields.domain));
}

function checkVirtual(fields: Fields, mode: ManifestMode, errors: ManifestIssue[]): void {
  if (mode === 'custom') {
    errors.push({
      pointer: '/integration_type',
      rule: 'virtual-custom',
      message: '"virtual" is only for Home Assistant core\'s brand entries (hassfest refuses it in a custom integration) and leaves a plugin nothing to load: use the type that fits, e.g. "hub", "device" or "service", or validate the manifest as a core integration',
    });
    return;
  }
  for (const key of Object.keys(fields)) {
    if (VIRTUAL_KEYS.has(key) || !KNOWN_KEYS.has(key)) continue;
    errors.push({
      pointer: childPointer('', key),
      rule: 'virtual',
      message: `a virtual integration cannot have ${show(key)}: Home Assistant's virtual schema allows only domain, name, integration_type and one of supported_by or iot_standards; remove it`,
    });
  }
  if (fields.supported_by !== undefined && fields.iot_standards !== undefined) {
    errors.push({ pointer: '/iot_standards', rule: 'exclusive', message: 'a virtual integration names either supported_by (the integration that supports the brand) or iot_standards, not both: remove one' });
  }
}

function checkCore(fields: Fields, errors: ManifestIssue[], warnings: ManifestIssue[]): void {
  for (const key of ['documentation', 'codeowners'] as const) {
    if (fields[key] === undefined) {
      errors.push({ pointer: `/${key}`, rule: 'required', message: `add the required field "${key}": Home Assistant requires it of every core integration` });
    }
  }
  const { documentation, requirements } = fields;
  if (typeof documentation === 'string' && !CORE_DOCUMENTATION_EXCEPTIONS.has(documentation) && !documentation.startsWith(CORE_DOCUMENTATION_BASE)) {
    errors.push({ pointer: '/documentation', rule: 'documentation-url', message: `${show(documentation)} is not on Home Assistant's site: a core integration's documentation starts with ${CORE_DOCUMENTATION_BASE}` });
  }
  if (Array.isArray(requirements)) {
    requirements.forEach((requirement: unknown, index) => {
      if (typeof requirement !== 'string' || requirement.length === 0) return; // the schema reports it
      const problem = coreRequirementProblem(requirement);
      if (problem === undefined) return;
      const issue = { pointer: `/requirements/${index}`, rule: 'requirement', message: `${show(requirement)} ${problem.message}` };
      (problem.fatal ? errors : warnings).push(issue);
    });
  }
}

/**
 * Why hassfest refuses a core integration's requirement (requirements.py's format check), or
 * undefined when it passes. An unparseable pinned version is not fatal: hassfest did not check that in
 * early 2021, and core manifests of that time pin versions such as "1.0.3a".
 */
export function coreRequirementProblem(requirement: string): { message: string; fatal: boolean } | undefined {
  const fatal = (message: string) => ({ message, fatal: true });
  if (requirement.includes(' ')) return fatal('contains a space: write it without spaces, e.g. "aiohue==4.7.1"');
  const match = PACKAGE_REGEX.exec(requirement);
  if (match === null) return fatal('is not a package requirement: write "<package>==<version>", e.g. "aiohue==4.7.1"');
  const [, , operator, version = ''] = match;
  if (operator !== '==') return fatal('is not pinned: a core integration pins each requirement as "<package>==<version>"');
  if (version === '') return undefined;
  for (const part of (version.split(';', 1)[0] ?? '').split(',')) {
    const parsed = VERSION_PART_REGEX.exec(part);
    if (parsed !== null && versionStrategy(parsed[2] ?? '') === undefined) {
      return { message: `pins a version newer hassfest cannot parse (${show(version)}): pin one like "1.2.3"`, fatal: false };
    }
  }
  return undefined;
}
