import { ErrorCode, isHomecoreError } from '@homecore/errors';
import { compareVersions, isHomeAssistantVersion, validateManifest } from '@homecore/manifest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { baseManifest } from './helpers.js';

const RUNS = { numRuns: 400 };

// AwesomeVersion's strategy patterns as it publishes them (awesomeversion/utils/regex.py), with
// Python's `\d` and `\w` spelled for JavaScript. The CalVer one backtracks cubically, which is why
// the package does not use it as is; as a reference on short strings it is fine.
const D = '\\p{Nd}';
const W = '[\\p{L}\\p{N}_]';
const REFERENCE = [
  `(${D}{2}|${D}{4})\\.${D}{1,2}?(\\.?${D}{1,2}?\\.?)?(\\.${D})?(${D}*(${W}+${D}+)?)`,
  `(0|[1-9]${D}*)\\.(0|[1-9]${D}*)\\.(0|[1-9]${D}*)(?:-((?:0|[1-9]${D}*|${D}*[a-zA-Z-][0-9a-zA-Z-]*)(?:\\.(?:0|[1-9]${D}*|${D}*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\\+([0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*))?`,
  `[vV]?((${D}+)(\\.${D}+)+)`,
  `${D}+`,
  '([1-9][0-9]*!)?(0|[1-9][0-9]*)(\\.(0|[1-9][0-9]*))*([-_\\.]?(?:alpha|beta|c|pre|preview|a|b|rc)(0|[1-9][0-9]*))?([-_\\.]?(?:post|r|rev)(0|[1-9][0-9]*))?([-_\\.]?(?:d|dev)(0|[1-9][0-9]*))?(?:\\+([a-z0-9]+(?:[-_\\.][a-z0-9]+)*))?',
].map((pattern) => new RegExp(`^(?:${pattern})$`, 'u'));

// Python's str.strip() whitespace.
const SPACE = '[\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const STRIP = new RegExp(`^${SPACE}+|${SPACE}+$`, 'gu');

/** hassfest's verify_version, spelled out: strip, drop one "v"/"V", match a strategy in full. */
function referenceAccepts(value: string): boolean {
  const trimmed = value.replace(STRIP, '');
  const body = /^[vV]/.test(trimmed) ? trimmed.slice(1) : trimmed;
  return REFERENCE.some((pattern) => pattern.test(body));
}

const num = fc.nat(30).map(String);
const release = fc.array(num, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('.'));
const pep440 = fc
  .record({
    epoch: fc.option(fc.integer({ min: 1, max: 9 }), { nil: undefined }),
    release,
    pre: fc.option(fc.tuple(fc.constantFrom('', '.', '-', '_'), fc.constantFrom('a', 'b', 'rc', 'c', 'alpha', 'beta', 'pre', 'preview'), num), { nil: undefined }),
    post: fc.option(fc.tuple(fc.constantFrom('', '.', '-', '_'), fc.constantFrom('post', 'r', 'rev'), num), { nil: undefined }),
    dev: fc.option(fc.tuple(fc.constantFrom('', '.', '-', '_'), fc.constantFrom('dev', 'd'), num), { nil: undefined }),
    local: fc.option(fc.stringMatching(/^[a-z0-9]{1,4}(\.[a-z0-9]{1,4}){0,2}$/), { nil: undefined }),
  })
  .map(({ epoch, release, pre, post, dev, local }) =>
    [epoch === undefined ? '' : `${epoch}!`, release, ...[pre, post, dev].map((part) => (part === undefined ? '' : part.join(''))), local === undefined ? '' : `+${local}`].join(''),
  );
const semver = fc
  .tuple(num, num, num, fc.option(fc.stringMatching(/^(0|[1-9]\d{0,2}|[a-z-][0-9a-z-]{0,5})(\.(0|[1-9]\d{0,2}|[a-z-][0-9a-z-]{0,5})){0,2}$/), { nil: undefined }), fc.option(fc.stringMatching(/^[0-9a-zA-Z-]{1,5}(\.[0-9a-zA-Z-]{1,5})?$/), { nil: undefined }))
  .map(([a, b, c, pre, build]) => `${a}.${b}.${c}${pre === undefined ? '' : `-${pre}`}${build === undefined ? '' : `+${build}`}`);
const calver = fc
  .tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 1, max: 12 }), fc.option(fc.integer({ min: 0, max: 31 }), { nil: undefined }), fc.option(fc.tuple(fc.constantFrom('a', 'b', 'rc', 'dev'), fc.integer({ min: 0, max: 9 })), { nil: undefined }))
  .map(([y, m, d, tag]) => `${y}.${m}${d === undefined ? '' : `.${d}`}${tag === undefined ? '' : tag.join('')}`);
const simple = fc.array(fc.nat(999).map(String), { minLength: 2, maxLength: 7 }).map((parts) => parts.join('.'));
const build = fc.stringMatching(/^\d{1,9}$/);
const haVersion = fc.oneof(pep440, semver, calver, simple, build);
const withPrefix = fc.tuple(fc.constantFrom('', 'v', 'V', ' ', '\t'), haVersion, fc.constantFrom('', ' ', '\n')).map(([a, v, b]) => `${a}${v}${b}`);
// Short strings over the characters versions are made of: most are not versions, some are.
const versionish = fc.string({ unit: fc.constantFrom(...'0123456789..-+_!vVabcdeoprstxyz ٣'), maxLength: 12 });

describe('versions: what Home Assistant accepts (AwesomeVersion)', () => {
  it.each(['1.0.post1', '1!2.0', '2023.1.0b1', '1.0.dev3', '1.0rc1', '1.0-rc1', '1.2.3.4.5', 'v1.2', 'V2024.1', ' 1.0 ', '1.0.0-beta.1+build.7', '1.0+local.7', '1.0.post1.dev2', '2021.12.0.dev20211119', '01.2.3', '10.0RC1', '١.٢'])(
    'accepts %j, as a manifest version too',
    (version) => {
      expect(isHomeAssistantVersion(version)).toBe(true);
      expect(validateManifest(baseManifest({ version })).errors).toEqual([]);
    },
  );

  it.each(['', ' ', 'latest', 'dev', 'stable', '0x1F', '1.0.3a', '0.0-beta.1', '1.0-rc.1', '1.0RC1', 'v', 'v.1.2', '1..2', '1.2.x', '1.0.0-', '1.01.post1', 'x'.repeat(2000)])(
    'refuses %j, with a version error that says what to use',
    (version) => {
      expect(isHomeAssistantVersion(version)).toBe(false);
      const errors = validateManifest(baseManifest({ version })).errors.filter((e) => e.pointer === '/version');
      expect(errors).toHaveLength(1);
      if (errors[0]?.rule === 'version') expect(errors[0].message).toMatch(/not a version Home Assistant accepts: .*PEP 440 like "1\.0\.post1"/);
      else expect(errors[0]?.rule).toBe('minLength');
    },
  );

  it('accepts exactly what AwesomeVersion\'s own patterns accept', () => {
    fc.assert(
      fc.property(fc.oneof(versionish, withPrefix), (value) => {
        expect(isHomeAssistantVersion(value)).toBe(referenceAccepts(value));
      }),
      { numRuns: 3000 },
    );
  });

  it('accepts every PEP 440, SemVer, CalVer, SimpleVer and BuildVer version, with or without "v" and whitespace', () => {
    fc.assert(
      fc.property(withPrefix, (version) => {
        expect(isHomeAssistantVersion(version)).toBe(true);
      }),
      RUNS,
    );
  });

  it('stays fast on long near-versions', () => {
    for (const value of [`2020.1${'1'.repeat(900)}!`, `1.0.0-${'1'.repeat(900)}!`, `${'1.'.repeat(450)}x`]) {
      expect(isHomeAssistantVersion(value)).toBe(false);
    }
  });
});

describe('compareVersions on Home Assistant versions', () => {
  it.each([
    ['1.0.dev1', '1.0a1', -1],
    ['1.0a1', '1.0a1.post1', -1],
    ['1.0a1.post1', '1.0b1', -1],
    ['1.0b1', '1.0rc1', -1],
    ['1.0rc1', '1.0', -1],
    ['1.0', '1.0.post1.dev1', -1],
    ['1.0.post1.dev1', '1.0.post1', -1],
    ['1.0.post1', '1.0.post2', -1],
    ['1.0.post2', '1.0.1', -1],
    ['1!0.1', '2.0', 1],
    ['1.0alpha1', '1.0a1', 0],
    ['1.0-rc1', '1.0rc1', 0],
    ['1.0.c1', '1.0rc1', 0],
    ['1.0+local', '1.0', 0],
    [' v1.2 ', '1.2.0', 0],
    ['1.2.3.4.5', '1.2.3.4', 1],
    ['1.99999999999999999999', '1.99999999999999999998', 1],
    ['١.٢', '1.2', 0],
    ['2023.1.0b1', '2023.1.0', -1],
  ])('compares %j with %j as %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it('is antisymmetric and transitive over every accepted version', () => {
    fc.assert(
      fc.property(haVersion, haVersion, haVersion, (a, b, c) => {
        const ab = compareVersions(a, b);
        expect(compareVersions(b, a)).toBe(-ab || 0);
        expect(compareVersions(a, a)).toBe(0);
        const bc = compareVersions(b, c);
        if (ab <= 0 && bc <= 0) expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
        if (ab >= 0 && bc >= 0) expect(compareVersions(a, c)).toBeGreaterThanOrEqual(0);
      }),
      RUNS,
    );
  });

  it('orders the PEP 440 phases of any release: dev < pre < release < post, each by its number', () => {
    fc.assert(
      fc.property(release, fc.nat(20), fc.nat(20), (base, n, m) => {
        const chain = [`${base}.dev${n}`, `${base}a${n}`, `${base}a${n}.post${m}`, `${base}b${n}`, `${base}rc${n}`, base, `${base}.post${n}.dev${m}`, `${base}.post${n}`, `${base}.post${n + 1}`];
        for (let i = 1; i < chain.length; i++) expect(compareVersions(chain[i - 1] as string, chain[i] as string), `${chain[i - 1]} < ${chain[i]}`).toBe(-1);
        expect(compareVersions(`${base}.0`, base)).toBe(0);
      }),
      RUNS,
    );
  });

  it('compares exactly the versions it accepts, and throws a coded error for the rest', () => {
    fc.assert(
      fc.property(versionish, (value) => {
        if (isHomeAssistantVersion(value)) {
          expect(() => compareVersions(value, '1.0')).not.toThrow();
          return;
        }
        try {
          compareVersions('1.0', value);
          expect.unreachable();
        } catch (error) {
          expect(isHomecoreError(error, ErrorCode.MANIFEST_INVALID)).toBe(true);
          expect((error as Error).message).toMatch(/cannot compare version .* \(second argument\): use SemVer/);
        }
      }),
      RUNS,
    );
  });
});

describe('min_homecore_version stays SemVer', () => {
  it.each(['1.0', '1.0.post1', 'v1.0.0', '2023.1'])('refuses %j', (min) => {
    const errors = validateManifest(baseManifest({ min_homecore_version: min })).errors;
    expect(errors.map((e) => [e.pointer, e.rule])).toEqual([['/min_homecore_version', 'pattern']]);
  });

  it('accepts SemVer', () => {
    expect(validateManifest(baseManifest({ min_homecore_version: '0.2.0-rc.1' })).ok).toBe(true);
  });
});
