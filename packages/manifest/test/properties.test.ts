import { HomecoreError } from '@homecore/errors';
import { HOST_IMPORT_NAMES, PERMISSION_ACTION_NAMES, parseManifest, validateManifest } from '@homecore/manifest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const RUNS = { numRuns: 300 };

const slug = fc
  .array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('_'));
const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString('base64'));
const pathSegment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const positive = fc.integer({ min: 1, max: 1_000_000 });

/** Manifests that satisfy every rule, built field by field. */
const validManifest = fc
  .record(
    {
      domain: slug,
      name: fc.string({ minLength: 1, maxLength: 20 }),
      version: fc.oneof(
        fc.tuple(fc.nat(99), fc.nat(99), fc.nat(99)).map((v) => v.join('.')),
        fc.tuple(fc.integer({ min: 2000, max: 2100 }), fc.integer({ min: 1, max: 12 }), fc.nat(9)).map((v) => v.join('.')),
        fc.tuple(fc.nat(9), fc.nat(9), fc.nat(9)).map((v) => `${v.join('.')}-beta.1`),
      ),
      runtime: fc.constantFrom('native' as const, 'wasm' as const),
      entryDir: fc.array(pathSegment, { maxLength: 2 }),
      otherDomains: fc.uniqueArray(slug, { maxLength: 5 }),
      split: fc.nat(5),
      integration_type: fc.constantFrom('device', 'entity', 'hardware', 'helper', 'hub', 'service', 'system'),
      iot_class: fc.constantFrom('assumed_state', 'calculated', 'cloud_polling', 'cloud_push', 'local_polling', 'local_push'),
      codeowners: fc.uniqueArray(fc.stringMatching(/^@[a-z0-9]{1,8}(\/[a-z0-9_]{1,8})?$/), { maxLength: 3 }),
      documentation: pathSegment.map((p) => `https://example.org/${p}`),
      config_flow: fc.boolean(),
      permissions: fc.uniqueArray(
        fc.tuple(fc.constantFrom(...PERMISSION_ACTION_NAMES), fc.stringMatching(/^[A-Za-z0-9_.*:-]{1,12}$/)).map(([action, target]) => `${action}:${target}`),
        { maxLength: 4 },
      ),
      host_imports_required: fc.uniqueArray(fc.constantFrom(...HOST_IMPORT_NAMES)),
      limits: fc.record({ memory_pages: fc.integer({ min: 1, max: 65536 }), fuel_per_call: positive, queue_capacity: positive }, { requiredKeys: [] }),
      services: fc.uniqueArray(fc.record({ name: slug, description: fc.string() }, { requiredKeys: ['name'] }), { selector: (s) => s.name, maxLength: 3 }),
      subscriptions: fc.record({ entities: fc.uniqueArray(slug.map((d) => `${d}.*`), { maxLength: 3 }), events: fc.uniqueArray(slug, { maxLength: 3 }) }, { requiredKeys: [] }),
      signed: fc.option(fc.tuple(fc.stringMatching(/^[0-9a-f]{64}$/), bytes(64), bytes(32)), { nil: undefined }),
      // JSON text cannot hold -0 (it round-trips to 0), so unknown keys carry values JSON can.
      extra: fc.dictionary(
        fc.stringMatching(/^x_[a-z]{1,6}$/),
        fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)) as unknown),
        { maxKeys: 2 },
      ),
    },
    { requiredKeys: ['domain', 'name', 'version', 'runtime', 'entryDir', 'otherDomains', 'split', 'signed', 'extra'] },
  )
  .map(({ runtime, entryDir, otherDomains, split, signed, extra, host_imports_required, ...fields }) => {
    const others = otherDomains.filter((d) => d !== fields.domain);
    const manifest: Record<string, unknown> = { ...extra, ...fields, runtime };
    manifest.entry = [...entryDir, runtime === 'wasm' ? 'plugin.wasm' : 'index.mjs'].join('/');
    if (others.length > 0) {
      manifest.dependencies = others.slice(0, split);
      manifest.after_dependencies = others.slice(split);
    }
    if (runtime === 'wasm' && host_imports_required !== undefined) manifest.host_imports_required = host_imports_required;
    if (signed !== undefined) {
      manifest.module_hash = `sha256:${signed[0]}`;
      manifest.module_signature = `ed25519:${signed[1]}`;
      manifest.publisher_key = `ed25519:${signed[2]}`;
    }
    return manifest;
  });

function expectWellFormed(issues: { pointer: string; rule: string; message: string }[]): void {
  for (const issue of issues) {
    expect(issue.pointer === '' || issue.pointer.startsWith('/')).toBe(true);
    expect(issue.rule.length).toBeGreaterThan(0);
    expect(issue.message.length).toBeGreaterThan(0);
  }
}

describe('manifest validation properties', () => {
  it('never throws on arbitrary JSON values, and a failure always has errors', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = validateManifest(value);
        if (!result.ok) expect(result.errors.length).toBeGreaterThan(0);
        expectWellFormed([...result.errors, ...result.warnings]);
      }),
      RUNS,
    );
  });

  it('never throws on arbitrary JS values, including __proto__ keys', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withObjectString: true }), (value) => {
        validateManifest(value);
      }),
      RUNS,
    );
  });

  it('parseManifest throws only HomecoreError, for arbitrary text and values', () => {
    const inputs = fc.oneof(fc.string(), fc.json(), fc.jsonValue(), fc.anything());
    fc.assert(
      fc.property(inputs, (input) => {
        try {
          parseManifest(input, 'manifest.json');
        } catch (error) {
          expect(error).toBeInstanceOf(HomecoreError);
        }
      }),
      RUNS,
    );
  });

  it('reports every error when one field of a valid manifest is replaced by junk', () => {
    fc.assert(
      fc.property(validManifest, fc.constantFrom('domain', 'version', 'limits', 'permissions', 'services', 'entry', 'zeroconf', 'dhcp'), fc.jsonValue(), (manifest, key, junk) => {
        const result = validateManifest({ ...manifest, [key]: junk });
        expectWellFormed(result.errors);
        if (!result.ok) expect(result.errors.every((e) => e.pointer === '' || e.pointer.startsWith(`/${key}`) || e.rule === 'self-dependency' || e.rule === 'entry-extension' || e.rule === 'disjoint')).toBe(true);
      }),
      RUNS,
    );
  });

  it('accepts valid manifests and round-trips them through JSON', () => {
    fc.assert(
      fc.property(validManifest, (manifest) => {
        const result = validateManifest(manifest);
        expect(result.errors).toEqual([]);
        if (!result.ok) return;
        for (const key of Object.keys(manifest).filter((k) => k.startsWith('x_'))) {
          expect(result.manifest[key]).toEqual(manifest[key]);
          expect(result.warnings.some((w) => w.pointer === `/${key}` && w.rule === 'unknown-key')).toBe(true);
        }
        const again = validateManifest(JSON.parse(JSON.stringify(result.manifest)));
        expect(again.ok && again.manifest).toEqual(result.manifest);
      }),
      RUNS,
    );
  });
});
