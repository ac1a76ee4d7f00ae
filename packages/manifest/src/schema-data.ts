import { manifestSchemaJson } from './generated/schema-json.js';
import type { manifestSchema as TypeBoxManifestSchema } from './schema.js';

/**
 * The JSON Schema of a HOMECORE plugin manifest: Home Assistant's manifest.json plus HOMECORE's own
 * fields, with `$schema`, `$id`, `title` and a description on every field. Typed as the TypeBox
 * schema it is generated from (src/schema.ts); the value is plain data, so loading it loads no TypeBox.
 */
export const manifestSchema = manifestSchemaJson as unknown as typeof TypeBoxManifestSchema;
