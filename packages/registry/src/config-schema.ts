import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import type { Errors as TypeBoxErrors } from 'typebox/schema';

// TypeBox's evaluator loads about 2,000 ES modules (200-250 ms): imported only once a manifest
// declares a schema, awaited before any check of it, so a home (or a test file) without schemas
// never pays for it.
let evaluate: typeof TypeBoxErrors | undefined;
let loading: Promise<void> | undefined;

/** Loads the schema evaluator if `manifest` declares a config or service schema; checks of that manifest are synchronous after it. */
export function prepareSchemas(manifest: { config_schema?: unknown; services?: readonly { schema?: unknown }[] | undefined }): Promise<void> | undefined {
  if (evaluate !== undefined) return undefined;
  const declares = manifest.config_schema !== undefined || (manifest.services ?? []).some((s) => s.schema !== undefined);
  if (!declares) return undefined;
  loading ??= import('typebox/schema').then((m) => {
    evaluate = m.Errors;
  });
  return loading;
}

/** One way a value breaks a schema: where (a JSON pointer, `/` for the root) and what. */
export interface SchemaProblem {
  pointer: string;
  message: string;
}

/**
 * The problems of `value` against a raw JSON Schema (evaluated by TypeBox): empty when it
 * matches; `{ broken }` with the evaluator's error when the schema itself cannot be evaluated.
 */
function schemaProblems(schema: Record<string, unknown>, value: unknown): SchemaProblem[] | { broken: unknown } {
  if (evaluate === undefined) {
    // prepareSchemas was not awaited for this manifest: a bug in the registry, never the plugin's fault.
    return { broken: new Error('the schema evaluator was not loaded before a schema check (prepareSchemas)') };
  }
  try {
    const [ok, errors] = evaluate(schema as Parameters<typeof TypeBoxErrors>[0], value);
    if (ok) return [];
    const problems = errors
      // TypeBox reports `additionalProperties: false` twice; keep the one that names the key.
      .filter((e) => e.keyword !== 'boolean')
      .map((e) => ({ pointer: e.instancePath === '' ? '/' : e.instancePath, message: describe(e) }));
    return problems.length > 0 ? problems : [{ pointer: '/', message: 'does not match the schema' }];
  } catch (broken) {
    return { broken };
  }
}

function listed(problems: SchemaProblem[]): string {
  return problems.map((p) => `${p.pointer} ${p.message}`).join('; ');
}

/**
 * Checks config entry `data` against a manifest's `config_schema`. Throws `HC_ERR_CONFIG_INVALID`
 * listing every problem with its JSON pointer.
 */
export function checkConfigData(plugin: string, schema: Record<string, unknown> | undefined, data: unknown): void {
  if (schema === undefined) return;
  const problems = schemaProblems(schema, data);
  if (!Array.isArray(problems)) {
    throw new HomecoreError(
      ErrorCode.CONFIG_INVALID,
      'the manifest\'s config_schema could not be evaluated: fix config_schema so it is a valid JSON Schema',
      { plugin, cause: problems.broken },
    );
  }
  if (problems.length === 0) return;
  throw new HomecoreError(
    ErrorCode.CONFIG_INVALID,
    `config entry data does not match the manifest's config_schema: ${listed(problems)}: fix the config data (or the schema)`,
    { plugin, details: { problems } },
  );
}

/**
 * Checks a service call's data against the schema the manifest declares for the service
 * (`services[].schema`). Throws `HC_ERR_SERVICE_INVALID` naming the service and every problem.
 */
export function checkServiceData(plugin: string, service: string, schema: Record<string, unknown> | undefined, data: unknown): void {
  if (schema === undefined) return;
  const name = `${plugin}.${service}`;
  const problems = schemaProblems(schema, data);
  if (!Array.isArray(problems)) {
    throw new HomecoreError(
      ErrorCode.SERVICE_INVALID,
      `the schema of service ${name} in the manifest could not be evaluated: fix services[].schema so it is a valid JSON Schema`,
      { plugin, hook: 'onServiceCall', details: { service: name }, cause: problems.broken },
    );
  }
  if (problems.length === 0) return;
  throw new HomecoreError(
    ErrorCode.SERVICE_INVALID,
    `service ${name} was called with data that does not match its schema: ${listed(problems)}: ` +
      `call it with data matching services[].schema of ${plugin}'s manifest`,
    { plugin, hook: 'onServiceCall', details: { service: name, problems } },
  );
}

function describe(error: { keyword: string; message: string; params: unknown }): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
    return `has unknown properties ${params.additionalProperties.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return error.message;
}
