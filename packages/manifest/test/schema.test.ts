import { manifestSchema } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';

describe('the published JSON Schema', () => {
  it('matches schema/manifest.schema.json (run the package build to regenerate it)', async () => {
    const { $schema, $id, title, description, ...rest } = manifestSchema;
    const file = `${JSON.stringify({ $schema, $id, title, description, ...rest }, null, 2)}\n`;
    await expect(file).toMatchFileSnapshot('../schema/manifest.schema.json');
  });

  it('identifies itself and documents every field', () => {
    expect(manifestSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(manifestSchema.$id).toMatch(/^urn:homecore:/);
    for (const [key, property] of Object.entries(manifestSchema.properties)) {
      expect(typeof (property as { description?: unknown }).description, key).toBe('string');
    }
  });
});

describe('the generated validators and schema data', () => {
  it('match the TypeBox source (run the package build to regenerate them)', async () => {
    // The build generates them from src/schema.ts; this renders them again from the source.
    const { generatedFiles } = await import('../src/generate-source.js');
    const { readFileSync } = await import('node:fs');
    for (const [path, text] of Object.entries(generatedFiles())) {
      expect(readFileSync(new URL(`../${path}`, import.meta.url), 'utf8'), path).toBe(text);
    }
  });
});
