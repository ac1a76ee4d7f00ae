import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { Errors } from 'typebox/schema';

/**
 * Checks config entry `data` against a manifest's `config_schema` (a raw JSON Schema, evaluated
 * by TypeBox). Throws `HC_ERR_CONFIG_INVALID` listing every problem with its JSON pointer.
 */
export function checkConfigData(plugin: string, schema: Record<string, unknown> | undefined, data: unknown): void {
  if (schema === undefined) return;
  let problems: { pointer: string; message: string }[];
  try {
    const [ok, errors] = Errors(schema as Parameters<typeof Errors>[0], data);
    if (ok) return;
    problems = errors
      // TypeBox reports `additionalProperties: false` twice; keep the one that names the key.
      .filter((e) => e.keyword !== 'boolean')
      .map((e) => ({ pointer: e.instancePath === '' ? '/' : e.instancePath, message: describe(e) }));
  } catch (error) {
    throw new HomecoreError(
      ErrorCode.CONFIG_INVALID,
      'the manifest\'s config_schema could not be evaluated: fix config_schema so it is a valid JSON Schema',
      { plugin, cause: error },
    );
  }
  if (problems.length === 0) problems = [{ pointer: '/', message: 'does not match config_schema' }];
  throw new HomecoreError(
    ErrorCode.CONFIG_INVALID,
    `config entry data does not match the manifest's config_schema: ` +
      problems.map((p) => `${p.pointer} ${p.message}`).join('; ') +
      ': fix the config data (or the schema)',
    { plugin, details: { problems } },
  );
}

function describe(error: { keyword: string; message: string; params: unknown }): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties' && Array.isArray(params.additionalProperties)) {
    return `has unknown properties ${params.additionalProperties.map((k) => JSON.stringify(k)).join(', ')}`;
  }
  return error.message;
}
