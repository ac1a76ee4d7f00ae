// Generates, from the TypeBox schema in src/schema.ts, what the package loads at run time without
// TypeBox: the JSON Schema (schema/manifest.schema.json and src/generated/schema-json.ts) and the
// compiled validators for custom and core manifests (src/generated/check-*.ts). A test checks the
// generated files match the source, so a schema change must be regenerated (the build does it).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'tsup';

const root = new URL('..', import.meta.url);
// Inside the package, so the built source resolves typebox from the package's own node_modules.
mkdirSync(new URL('../node_modules/.cache', import.meta.url), { recursive: true });
const out = mkdtempSync(join(new URL('../node_modules/.cache/', import.meta.url).pathname, 'generate-'));
try {
  await build({ entry: { 'generate-source': 'src/generate-source.ts' }, outDir: out, format: ['esm'], target: 'node20', dts: false, silent: true, clean: false, config: false });
  const { generatedFiles } = await import(pathToFileURL(join(out, 'generate-source.js')).href);
  for (const [path, text] of Object.entries(generatedFiles())) {
    const target = new URL(path, root);
    mkdirSync(new URL('.', target), { recursive: true });
    writeFileSync(target, text);
    console.log(`wrote ${path}`);
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
