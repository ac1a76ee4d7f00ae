import { ErrorCode, HomecoreError } from '@homecore/errors';
import { Check as checkCore } from './generated/check-core.js';
import { Check as checkCustom } from './generated/check-custom.js';
import { explainSchema } from './check.js';
import { type ManifestMode, checkHomeAssistantRules, wantsIotClass } from './hassfest.js';
import { type ManifestIssue, childPointer, show } from './issues.js';
import { jsonErrorOffset } from './json-position.js';
import { checkPatternLimits } from './pattern.js';
import { checkReservedEventClaims } from './reserved.js';
import { DEFAULT_ENTRIES, DOMAIN_PATTERN } from './constants.js';
import { manifestSchemaJson } from './generated/schema-json.js';
import type { ManifestShape } from './schema.js';
import { isHomeAssistantVersion } from './version.js';

/** A manifest that passed validation. Unknown keys are kept as they were. */
export type PluginManifest = ManifestShape & { [key: string]: unknown };

/** A validated manifest with HOMECORE's defaults filled in: `runtime` and `entry` are always present. */
export type ResolvedManifest = PluginManifest & { runtime: 'native' | 'wasm'; entry: string };

/** A manifest that passed validation in core mode: like ResolvedManifest, but never with a `version`. */
export type CoreManifest = Omit<ManifestShape, 'version'> & { version?: undefined; runtime: 'native' | 'wasm'; entry: string; [key: string]: unknown };

/** How validateManifest and parseManifest judge a manifest. */
export interface ManifestValidationOptions {
  /**
   * `"custom"` (the default): a HOMECORE plugin, under Home Assistant's rules for custom integrations
   * (`version` required). `"core"`: one of Home Assistant's core integrations, under hassfest's core
   * rules (no `version`, `issue_tracker` or `import_executor`; `documentation` on HA's site and
   * `codeowners` required; pinned requirements; virtual integrations).
   */
  mode?: ManifestMode;
}

/** The manifest type a mode validates to: CoreManifest for `"core"`, ResolvedManifest otherwise. */
export type ManifestFor<M extends ManifestMode | undefined> = M extends 'core' ? CoreManifest : ResolvedManifest;

/** The outcome of validateManifest: every error and warning, and the manifest when there are no errors. */
export type ManifestValidation<M = ResolvedManifest> =
  | { ok: true; manifest: M; errors: []; warnings: ManifestIssue[] }
  | { ok: false; errors: ManifestIssue[]; warnings: ManifestIssue[] };

/** A manifest returned by parseManifest, with the warnings worth logging. */
export interface ParsedManifest<M = ResolvedManifest> {
  /** The validated manifest with defaults filled in. */
  manifest: M;
  /** Problems that do not stop the plugin from loading (missing recommended fields, unknown keys). */
  warnings: ManifestIssue[];
}

// The validators are generated from the TypeBox schema at build time (scripts/generate.mjs):
// validating loads no TypeBox. Core integrations have no version: the core check makes it optional.
const checks = { custom: checkCustom as (value: unknown) => boolean, core: checkCore as (value: unknown) => boolean };
const schemaProperties = manifestSchemaJson.properties as Record<string, Fields>;
const coreSchemaJson: Fields = { ...manifestSchemaJson, required: (manifestSchemaJson.required as string[]).filter((key) => key !== 'version') };
const KNOWN_KEYS: ReadonlySet<string> = new Set(Object.keys(schemaProperties));
const DOMAIN_REGEX = new RegExp(DOMAIN_PATTERN);
const MODES: ReadonlySet<unknown> = new Set(['custom', 'core']);
const RECOMMENDED = [
  ['documentation', 'add "documentation" with an https URL of the plugin\'s docs (Home Assistant requires it of custom integrations)'],
  ['codeowners', 'add "codeowners", e.g. ["@your-github-user"] (Home Assistant requires it of custom integrations)'],
  ['iot_class', 'add "iot_class", e.g. "local_push" (Home Assistant requires it of custom integrations)'],
] as const;
const CORE_IOT_CLASS = 'add "iot_class", e.g. "local_push" (newer hassfest requires it of core integrations, except virtual ones and entity-platform or system domains)';
const ED25519_BYTES = { module_signature: [64, 'signature'], publisher_key: [32, 'public key'] } as const;

type Fields = Record<string, unknown>;

const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/**
 * Validates a manifest and reports every problem at once, each with a JSON pointer, the rule broken
 * and what to fix. Never throws. On success the manifest comes back with `runtime` and `entry` filled in
 * and unknown keys kept (each reported as a warning). `options.mode` picks HOMECORE plugin (custom
 * integration) rules, the default, or Home Assistant core rules.
 */
export function validateManifest<M extends ManifestMode | undefined = undefined>(
  input: unknown,
  options: { mode?: M } = {},
): ManifestValidation<ManifestFor<M>> {
  const errors: ManifestIssue[] = [];
  const warnings: ManifestIssue[] = [];
  const mode: unknown = options?.mode ?? 'custom';
  if (!MODES.has(mode)) {
    const message = `unknown validation mode ${show(mode)}: use "custom" (HOMECORE plugins, the default) or "core" (Home Assistant core integrations)`;
    return { ok: false, errors: [{ pointer: '', rule: 'mode', message }], warnings };
  }
  try {
    if (!checks[mode as ManifestMode](input)) {
      explainSchema(mode === 'core' ? coreSchemaJson : (manifestSchemaJson as Fields), input, '', errors);
      // The explainer covers every keyword the schema uses; if it ever finds nothing, still refuse.
      if (errors.length === 0) errors.push({ pointer: '', rule: 'schema', message: 'does not match the manifest schema (schema/manifest.schema.json)' });
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      return { ok: false, errors, warnings };
    }
    checkFields(input as Fields, mode as ManifestMode, errors, warnings);
  } catch (cause) {
    // Only exotic inputs (proxies, throwing getters) get here; JSON data never does.
    errors.push({ pointer: '', rule: 'unreadable', message: `the manifest could not be read (${cause instanceof Error ? cause.message : String(cause)}): pass plain JSON data` });
  }
  if (errors.length > 0) return { ok: false, errors, warnings };
  const fields = input as Fields;
  const runtime = fields.runtime === 'wasm' ? 'wasm' : 'native';
  const entry = typeof fields.entry === 'string' ? fields.entry : DEFAULT_ENTRIES[runtime];
  const manifest = { ...fields, runtime, entry } as ManifestFor<M>;
  return { ok: true, manifest, errors: [], warnings };
}

// Rules JSON Schema cannot express: versions, cross-field rules, entry paths, key lengths, warnings.
// Each guards its own types, because it also runs on input that failed the schema.
function checkFields(fields: Fields, mode: ManifestMode, errors: ManifestIssue[], warnings: ManifestIssue[]): void {
  for (const key of Object.keys(fields)) {
    if (!KNOWN_KEYS.has(key)) warnings.push({ pointer: childPointer('', key), rule: 'unknown-key', message: unknownKeyMessage(key) });
  }
  // Asked of custom integrations only where hassfest does not forbid the key: a virtual integration
  // has none of them (and is refused in custom mode anyway), an entity-platform domain no iot_class.
  if (mode === 'custom' && fields.integration_type !== 'virtual') {
    for (const [key, fix] of RECOMMENDED) {
      if (fields[key] === undefined && (key !== 'iot_class' || wantsIotClass(fields))) {
        warnings.push({ pointer: childPointer('', key), rule: 'recommended', message: fix });
      }
    }
  } else if (mode === 'core' && fields.iot_class === undefined && wantsIotClass(fields)) {
    warnings.push({ pointer: '/iot_class', rule: 'recommended', message: CORE_IOT_CLASS });
  }

  const { version } = fields;
  if (mode === 'custom' && typeof version === 'string' && version.length > 0 && !isHomeAssistantVersion(version)) {
    errors.push({
      pointer: '/version',
      rule: 'version',
      message: `${show(version)} is not a version Home Assistant accepts: use SemVer like "1.2.3", CalVer like "2024.1.0", PEP 440 like "1.0.post1" or a dotted number like "1.2"`,
    });
  }

  checkHomeAssistantRules(fields, mode, errors, warnings);

  checkDependencies(fields, errors);
  checkEntry(fields, errors);
  checkSigning(fields, errors);
  checkPatternLimits(fields, errors);
  checkReservedEventClaims(fields, warnings);

  if (Array.isArray(fields.services)) {
    const seen = new Map<string, number>();
    fields.services.forEach((service: unknown, index) => {
      const name = typeof service === 'object' && service !== null ? (service as Fields).name : undefined;
      if (typeof name !== 'string') return;
      const first = seen.get(name);
      if (first === undefined) seen.set(name, index);
      else errors.push({ pointer: `/services/${index}/name`, rule: 'unique-name', message: `service ${show(name)} is already declared at /services/${first}: give each service a unique name` });
    });
  }

  if (Array.isArray(fields.mqtt) && fields.mqtt.length > 0 && !(isStringList(fields.dependencies) && fields.dependencies.includes('mqtt'))) {
    warnings.push({ pointer: '/dependencies', rule: 'mqtt-dependency', message: 'the plugin has mqtt discovery matchers: add "mqtt" to dependencies' });
  }
  if (fields.runtime === 'wasm' && fields.isolation !== undefined && fields.isolation !== 'none') {
    warnings.push({ pointer: '/isolation', rule: 'runtime-mismatch', message: 'isolation applies to native plugins (a wasm plugin is sandboxed at every level; the host decides its preemption backstop): remove it' });
  }
  if (fields.runtime !== 'wasm' && fields.host_imports_required !== undefined) {
    warnings.push({ pointer: '/host_imports_required', rule: 'runtime-mismatch', message: 'host_imports_required only applies to wasm plugins: remove it or set runtime to "wasm"' });
  }
}

function checkDependencies(fields: Fields, errors: ManifestIssue[]): void {
  const { domain, dependencies, after_dependencies: afterDependencies } = fields;
  const hard = isStringList(dependencies) ? dependencies : [];
  const soft = isStringList(afterDependencies) ? afterDependencies : [];
  if (typeof domain === 'string') {
    for (const [list, key] of [[hard, 'dependencies'], [soft, 'after_dependencies']] as const) {
      list.forEach((item, index) => {
        if (item === domain) errors.push({ pointer: `/${key}/${index}`, rule: 'self-dependency', message: `a plugin cannot depend on itself: remove ${show(domain)} from ${key}` });
      });
    }
  }
  if (hard.length > 0 && soft.length > 0) {
    const hardSet = new Set(hard);
    soft.forEach((item, index) => {
      if (hardSet.has(item) && item !== domain) {
        errors.push({
          pointer: `/after_dependencies/${index}`,
          rule: 'disjoint',
          message: `${show(item)} is in both dependencies and after_dependencies: keep it only in dependencies (must be set up first) or only in after_dependencies (ordering only)`,
        });
      }
    });
  }
}

function checkEntry(fields: Fields, errors: ManifestIssue[]): void {
  const { entry } = fields;
  if (typeof entry !== 'string' || entry.length === 0) return;
  const push = (rule: string, fix: string) => errors.push({ pointer: '/entry', rule, message: `${show(entry)} is not allowed: ${fix}` });
  if (entry.includes('\\')) push('entry-path', 'use forward slashes (a POSIX path)');
  else if (entry.startsWith('/') || /^[A-Za-z]:/.test(entry)) push('entry-path', 'use a path relative to the plugin folder, e.g. "dist/index.js"');
  else if (entry.split('/').includes('..')) push('entry-path', 'remove ".." segments: the entry must stay inside the plugin folder');
  else if (entry.endsWith('/') || entry.includes('\0')) push('entry-path', 'name a file inside the plugin folder, e.g. "index.js"');
  else if (fields.runtime === 'wasm' && !entry.endsWith('.wasm')) push('entry-extension', 'a wasm plugin\'s entry is a .wasm file, e.g. "plugin.wasm"');
  else if (fields.runtime !== 'wasm' && entry.endsWith('.wasm')) push('entry-extension', 'a .wasm entry needs "runtime": "wasm"; a native plugin\'s entry is an ES module');
}

function checkSigning(fields: Fields, errors: ManifestIssue[]): void {
  for (const key of ['module_signature', 'publisher_key'] as const) {
    const value = fields[key];
    if (typeof value !== 'string' || !value.startsWith('ed25519:')) continue;
    const [bytes, what] = ED25519_BYTES[key];
    const encoded = value.slice('ed25519:'.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) continue; // the schema's pattern already reports it
    const decoded = Buffer.from(encoded, 'base64');
    if (decoded.length !== bytes || decoded.toString('base64') !== encoded) {
      errors.push({ pointer: `/${key}`, rule: 'base64-length', message: `decodes to ${decoded.length} bytes: an Ed25519 ${what} is ${bytes} bytes, written as "ed25519:" plus ${Math.ceil(bytes / 3) * 4} base64 characters` });
    }
  }
  if (fields.module_signature !== undefined) {
    const missing = (['module_hash', 'publisher_key'] as const).filter((key) => fields[key] === undefined);
    if (missing.length > 0) {
      errors.push({ pointer: '/module_signature', rule: 'signature-requires', message: `a module_signature needs ${missing.join(' and ')}: add ${missing.length > 1 ? 'them' : 'it'} or remove the signature` });
    }
  }
}

function unknownKeyMessage(key: string): string {
  let best: string | undefined;
  let bestDistance = 3;
  if (key.length < 64) {
    for (const known of KNOWN_KEYS) {
      const distance = editDistance(key.toLowerCase(), known);
      if (distance < bestDistance) {
        best = known;
        bestDistance = distance;
      }
    }
  }
  const guess = best === undefined ? 'check its spelling' : `did you mean "${best}"?`;
  return `unknown key ${show(key)} is kept but neither HOMECORE nor Home Assistant uses it: ${guess}`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Parses and validates a manifest given as an object or as JSON text. `source` (a file path) names the
 * manifest in messages; `options.mode` is validateManifest's. Throws HomecoreError HC_ERR_MANIFEST_JSON
 * for invalid JSON text and HC_ERR_MANIFEST_INVALID (details: `{ source, errors, warnings }`) for an
 * invalid manifest; never throws anything else.
 */
export function parseManifest<M extends ManifestMode | undefined = undefined>(
  input: unknown,
  source?: string,
  options: { mode?: M } = {},
): ParsedManifest<ManifestFor<M>> {
  const name = source ?? 'manifest';
  let value = input;
  if (typeof input === 'string') {
    const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input; // editors may write a BOM
    try {
      value = JSON.parse(text);
    } catch (cause) {
      throw jsonError(text, name, source, cause);
    }
  }
  const result = validateManifest(value, options);
  if (result.ok) return { manifest: result.manifest, warnings: result.warnings };
  const domain = typeof value === 'object' && value !== null ? (value as Fields).domain : undefined;
  const plugin = typeof domain === 'string' && DOMAIN_REGEX.test(domain) && domain.length <= 100 ? domain : undefined;
  const listed = result.errors.map((issue) => `  ${issue.pointer || '(root)'}: ${issue.message}`).join('\n');
  const count = result.errors.length;
  throw new HomecoreError(
    ErrorCode.MANIFEST_INVALID,
    `${name}${plugin === undefined ? '' : ` (plugin ${plugin})`} has ${count} problem${count === 1 ? '' : 's'}; fix ${count === 1 ? 'it' : 'them'}:\n${listed}`,
    { ...(plugin === undefined ? {} : { plugin }), details: { source, errors: result.errors, warnings: result.warnings } },
  );
}

function jsonError(text: string, name: string, source: string | undefined, cause: unknown): HomecoreError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  const reported = /position (\d+)/.exec(reason);
  const offset = reported !== null ? Number(reported[1]) : jsonErrorOffset(text);
  let where = ' at the end of the text';
  const details: Record<string, unknown> = { source };
  if (offset !== undefined && offset < text.length) {
    const before = text.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    where = ` at line ${line}, column ${column} (position ${offset})`;
    Object.assign(details, { position: offset, line, column });
  } else {
    Object.assign(details, { position: text.length });
  }
  const summary = reason.length > 200 ? `${reason.slice(0, 200)}…` : reason;
  return new HomecoreError(ErrorCode.MANIFEST_JSON, `${name} is not valid JSON${where} (${summary}): fix the JSON syntax`, { details, cause });
}
