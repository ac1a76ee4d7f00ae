// Writes schema/manifest.schema.json from the built package, so editors can complete manifests.
// A test compares the file with the schema object, so a schema change must be regenerated.
import { writeFileSync, mkdirSync } from 'node:fs';
import { manifestSchema } from '../dist/index.js';

const target = new URL('../schema/manifest.schema.json', import.meta.url);
mkdirSync(new URL('.', target), { recursive: true });
// Identification keys first, as editors and readers expect them at the top.
const { $schema, $id, title, description, ...rest } = manifestSchema;
const ordered = { $schema, $id, title, description, ...rest };
writeFileSync(target, `${JSON.stringify(ordered, null, 2)}\n`);
console.log('wrote schema/manifest.schema.json');
