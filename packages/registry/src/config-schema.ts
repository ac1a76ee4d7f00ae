import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { Errors } from 'typebox/schema';

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
  try {
    const [ok, errors] = Errors(schema as Parameters<typeof Errors>[0], value);
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
