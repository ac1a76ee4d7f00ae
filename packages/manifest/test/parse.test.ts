import { ErrorCode, HomecoreError } from '@homecore/errors';
import { parseManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest } from './helpers.js';

function thrown(run: () => unknown): HomecoreError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(HomecoreError);
    return error as HomecoreError;
  }
  throw new Error('expected a HomecoreError');
}

describe('parseManifest', () => {
  it('parses JSON text and returns the manifest with defaults and warnings', () => {
    const { manifest, warnings } = parseManifest('\uFEFF{"domain":"lamp","name":"Lamp","version":"1.0.0","extra":1}', 'plugins/lamp/manifest.json');
    expect(manifest).toEqual({ domain: 'lamp', name: 'Lamp', version: '1.0.0', extra: 1, runtime: 'native', entry: 'index.js' });
    expect(warnings.map((w) => w.pointer)).toContain('/extra');
  });

  it('accepts an object', () => {
    expect(parseManifest(baseManifest()).manifest.domain).toBe('hue_bridge');
  });

  it.each([
    ['{"domain": }', 'line 1, column 12'],
    ['{\n  "domain": "x",\n  "name": "y"\n  "version": "1"\n}', 'line 4, column 3'],
    ['{"domain": "x"', 'at the end of the text'],
    ['', 'at the end of the text'],
    ["{'domain': 'x'}", 'line 1, column 2'],
    ['{"a": [1, 2,]}', 'line 1, column 13'],
  ])('rejects invalid JSON %j naming the source and position', (text, where) => {
    const error = thrown(() => parseManifest(text, 'plugins/x/manifest.json'));
    expect(error.code).toBe(ErrorCode.MANIFEST_JSON);
    expect(error.message).toContain('plugins/x/manifest.json is not valid JSON');
    expect(error.message).toContain(where);
    expect(error.message).toMatch(/fix the JSON syntax/);
  });

  it('lists every problem with its pointer, the source and the plugin domain', () => {
    const error = thrown(() => parseManifest(baseManifest({ version: 'latest', codeowners: ['bob'], typo: 1 }), 'plugins/hue_bridge/manifest.json'));
    expect(error.code).toBe(ErrorCode.MANIFEST_INVALID);
    expect(error.plugin).toBe('hue_bridge');
    expect(error.message).toMatch(/^\[plugin hue_bridge\] plugins\/hue_bridge\/manifest.json \(plugin hue_bridge\) has 2 problems; fix them:/);
    expect(error.message).toContain('\n  /codeowners/0: "bob" is not valid');
    expect(error.message).toContain('\n  /version: "latest" is not a version');
    const details = error.details as { source: string; errors: unknown[]; warnings: { pointer: string }[] };
    expect(details.source).toBe('plugins/hue_bridge/manifest.json');
    expect(details.errors).toHaveLength(2);
    expect(details.warnings.map((w) => w.pointer)).toEqual(['/typo']);
  });

  it('names no plugin when the domain is unusable, and calls the input "manifest" without a source', () => {
    const error = thrown(() => parseManifest('[1, 2]'));
    expect(error.code).toBe(ErrorCode.MANIFEST_INVALID);
    expect(error.plugin).toBeUndefined();
    expect(error.message).toMatch(/^manifest has 1 problem; fix it:\n {2}\(root\): must be an object, got an array/);
  });
});
