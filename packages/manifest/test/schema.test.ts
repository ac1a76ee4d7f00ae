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
