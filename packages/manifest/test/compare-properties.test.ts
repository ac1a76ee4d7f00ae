import { matchesPattern } from '@homecore/core-traits';
import { type ManifestDifference, type ManifestGrant, compareManifests, grantOf, patternCovers } from '@homecore/manifest';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// The upgrade rule is only as good as its inclusion decision, so it is checked against the real
// matcher (core-traits' matchesPattern): exhaustively over a small alphabet, by sampling on random
// manifests, and by the algebra an order on grants must have.

const RUNS = { numRuns: 300 };

/** Every string over `alphabet` of length `min` to `max`. */
function strings(alphabet: readonly string[], min: number, max: number): string[] {
  const out: string[] = [];
  let level = [''];
  for (let n = 0; n <= max; n++) {
    if (n >= min) out.push(...level);
    level = level.flatMap((s) => alphabet.map((c) => s + c));
  }
  return out;
}

// Patterns use a, b, the dot and the star; values add z, which no pattern contains. Without a
// character the patterns do not name, `*ab*` would cover `*a*b*` over {a, b} (any a...b has an "ab"),
// which is not true of entity ids. With one, the shortest value that tells two patterns apart, when
// there is one, is the inner pattern with each star replaced by z: no longer than the pattern.
const PATTERN_ALPHABET = ['a', 'b', '.', '*'];
const VALUE_ALPHABET = ['a', 'b', 'z', '.'];

/** Brute force: no value up to `maxLength` matched by `inner` but not by `outer`. */
function bruteCovers(outer: string, inner: string, values: readonly string[]): boolean {
  return values.every((v) => !matchesPattern(inner, v) || matchesPattern(outer, v));
}

const pattern = (maxLength: number) =>
  fc.array(fc.constantFrom(...PATTERN_ALPHABET), { minLength: 1, maxLength }).map((chars) => chars.join(''));

/** A value `pattern` matches: each star replaced by a random run of non-dot characters (a lone `*` by anything). */
const sampleOf = (p: string) =>
  p === '*'
    ? fc.array(fc.constantFrom('a', 'b', 'z', '.', 'x'), { maxLength: 8 }).map((c) => c.join(''))
    : fc
        .array(fc.array(fc.constantFrom('a', 'b', 'z', 'x', '_'), { maxLength: 4 }).map((c) => c.join('')), {
          minLength: p.split('*').length - 1,
          maxLength: p.split('*').length - 1,
        })
        .map((fills) => p.split('*').reduce((acc, part, i) => acc + fills[i - 1]! + part));

describe('patternCovers against brute force', () => {
  it('agrees with the matcher on every pair of patterns up to 4 characters', () => {
    const patterns = strings(PATTERN_ALPHABET, 1, 4);
    const values = strings(VALUE_ALPHABET, 0, 5);
    // One bit set per pattern: which values it matches.
    const bits = patterns.map((p) => {
      const words = new Uint32Array(Math.ceil(values.length / 32));
      values.forEach((v, i) => {
        if (matchesPattern(p, v)) words[i >>> 5]! |= 1 << (i & 31);
      });
      return words;
    });
    const disagreements: string[] = [];
    for (let i = 0; i < patterns.length; i++) {
      for (let j = 0; j < patterns.length; j++) {
        const inner = bits[j]!;
        const outer = bits[i]!;
        let brute = true;
        for (let w = 0; w < inner.length && brute; w++) if ((inner[w]! & ~outer[w]!) !== 0) brute = false;
        if (patternCovers(patterns[i]!, patterns[j]!) !== brute) disagreements.push(`${patterns[i]} ⊇ ${patterns[j]}: brute force says ${brute}`);
      }
    }
    expect(patterns.length).toBe(340);
    expect(disagreements).toEqual([]);
  });

  it('agrees with the matcher on random longer patterns', () => {
    const values = strings(VALUE_ALPHABET, 0, 7);
    fc.assert(
      fc.property(pattern(7), pattern(6), (outer, inner) => {
        const fits = values.filter((v) => v.length <= inner.length + 1);
        expect(patternCovers(outer, inner)).toBe(bruteCovers(outer, inner, fits));
      }),
      { numRuns: 400 },
    );
  });

  it('never says covered when a sampled value of the inner pattern escapes the outer one', () => {
    fc.assert(
      fc.property(
        pattern(8).chain((inner) => fc.tuple(pattern(8), fc.constant(inner), fc.array(sampleOf(inner), { minLength: 1, maxLength: 10 }))),
        ([outer, inner, samples]) => {
          for (const value of samples) expect(matchesPattern(inner, value)).toBe(true);
          if (patternCovers(outer, inner)) for (const value of samples) expect(matchesPattern(outer, value), value).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('is a preorder: reflexive and transitive', () => {
    fc.assert(
      fc.property(pattern(6), pattern(6), pattern(6), (a, b, c) => {
        expect(patternCovers(a, a)).toBe(true);
        if (patternCovers(a, b) && patternCovers(b, c)) expect(patternCovers(a, c)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('is exact: when not covered, the inner pattern with each star as z escapes the outer one', () => {
    fc.assert(
      fc.property(pattern(8), pattern(8), (outer, inner) => {
        if (patternCovers(outer, inner)) return;
        const witness = inner === '*' ? 'z.z.z.z.z.z.z.z.z.z' : inner.replaceAll('*', 'z');
        expect(matchesPattern(inner, witness)).toBe(true);
        expect(matchesPattern(outer, witness)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });
});

// Random grants: few actions and short patterns, so that coverage happens often.
const ACTIONS = ['state:read', 'state:write', 'event:fire'] as const;
const claim = fc.tuple(fc.constantFrom(...ACTIONS), pattern(5)).map(([action, p]) => `${action}:${p}`);
const grant: fc.Arbitrary<ManifestGrant> = fc.record(
  {
    runtime: fc.constantFrom('native', 'wasm'),
    isolation: fc.constantFrom('none', 'worker', 'process'),
    publisher_key: fc.constantFrom('ed25519:AAAA', 'ed25519:BBBB'),
    permissions: fc.uniqueArray(claim, { maxLength: 5 }),
    subscriptions: fc.record({ entities: fc.uniqueArray(pattern(5), { maxLength: 3 }), events: fc.uniqueArray(pattern(5), { maxLength: 3 }) }, { requiredKeys: [] }),
    services: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { maxLength: 3 }).map((names) => names.map((name) => ({ name }))),
    host_imports_required: fc.uniqueArray(fc.constantFrom('hc_log', 'hc_state_get', 'hc_state_set', 'hc_event_fire'), { maxLength: 4 }),
    limits: fc.record({ fuel_per_call: fc.integer({ min: 1, max: 4 }), timers: fc.integer({ min: 1, max: 4 }), memory_pages: fc.integer({ min: 1, max: 4 }) }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const claimsOf = (g: ManifestGrant, action: string) =>
  (g.permissions ?? []).filter((c) => c.startsWith(`${action}:`)).map((c) => c.slice(action.length + 1));
const key = (d: ManifestDifference) => JSON.stringify([d.field, d.pointer, d.old, d.new]);
const swapped = (d: ManifestDifference) => JSON.stringify([d.field, d.pointer, d.new, d.old]);

describe('compareManifests, properties', () => {
  it('no widening means every sampled value a new claim or subscription allows was allowed before', () => {
    const withSamples = fc.tuple(grant, grant).chain(([a, b]) => {
      const patterns = [...(b.permissions ?? []).map((c) => c.slice(c.indexOf(':', c.indexOf(':') + 1) + 1)), ...(b.subscriptions?.entities ?? [])];
      return fc.tuple(fc.constant(a), fc.constant(b), fc.tuple(...patterns.map((p) => fc.array(sampleOf(p), { minLength: 1, maxLength: 4 }))));
    });
    fc.assert(
      fc.property(withSamples, ([a, b, samples]) => {
        const { widenings } = compareManifests(a, b);
        const claims = b.permissions ?? [];
        claims.forEach((c, i) => {
          if (widenings.some((w) => w.field === 'permissions' && w.pointer === `/permissions/${i}`)) return;
          const action = ACTIONS.find((x) => c.startsWith(`${x}:`))!;
          const old = claimsOf(a, action);
          for (const value of samples[i]!) expect(old.some((p) => matchesPattern(p, value)), `${c} allows ${value}`).toBe(true);
        });
        (b.subscriptions?.entities ?? []).forEach((p, i) => {
          if (widenings.some((w) => w.pointer === `/subscriptions/entities/${i}`)) return;
          for (const value of samples[claims.length + i]!) expect((a.subscriptions?.entities ?? []).some((o) => matchesPattern(o, value))).toBe(true);
        });
      }),
      RUNS,
    );
  });

  it('every claim reported wider has a value it allows and no accepted claim of its action does', () => {
    fc.assert(
      fc.property(grant, grant, (a, b) => {
        for (const w of compareManifests(a, b).widenings) {
          if (w.field !== 'permissions') continue;
          const c = w.new as string;
          const action = ACTIONS.find((x) => c.startsWith(`${x}:`))!;
          const p = c.slice(action.length + 1);
          const witness = p === '*' ? 'z.z.z.z.z.z.z' : p.replaceAll('*', 'z');
          expect(matchesPattern(p, witness)).toBe(true);
          expect(claimsOf(a, action).some((o) => matchesPattern(o, witness))).toBe(false);
        }
      }),
      RUNS,
    );
  });

  it('finds nothing between a grant and itself, its copy, or itself with its lists shuffled', () => {
    fc.assert(
      fc.property(grant, fc.integer(), (g, seed) => {
        const shuffle = <T>(xs: readonly T[] | undefined) => (xs === undefined ? undefined : [...xs].sort((x, y) => (JSON.stringify(x) + seed < JSON.stringify(y) + seed ? 1 : -1)));
        const shuffled: ManifestGrant = {
          ...g,
          ...(g.permissions ? { permissions: shuffle(g.permissions)! } : {}),
          ...(g.services ? { services: shuffle(g.services)! } : {}),
          ...(g.host_imports_required ? { host_imports_required: shuffle(g.host_imports_required)! } : {}),
        };
        const none = { widenings: [], narrowings: [] };
        expect(compareManifests(g, g)).toEqual(none);
        expect(compareManifests(g, grantOf(JSON.parse(JSON.stringify(g)) as ManifestGrant))).toEqual(none);
        expect(compareManifests(g, shuffled)).toEqual(none);
      }),
      RUNS,
    );
  });

  it('is symmetric: what widens one way narrows the other (but a changed runtime or publisher key widens both ways)', () => {
    fc.assert(
      fc.property(grant, grant, (a, b) => {
        const forward = compareManifests(a, b);
        const back = compareManifests(b, a);
        const bothWays = (d: ManifestDifference) => d.field === 'runtime' || (d.field === 'publisher_key' && d.old !== null && d.new !== null);
        expect(forward.widenings.filter((d) => !bothWays(d)).map(key).sort()).toEqual(back.narrowings.map(swapped).sort());
        expect(forward.narrowings.map(key).sort()).toEqual(back.widenings.filter((d) => !bothWays(d)).map(swapped).sort());
        expect(forward.widenings.filter(bothWays).map(key)).toEqual(back.widenings.filter(bothWays).map(swapped));
      }),
      RUNS,
    );
  });

  it('accepting more never adds a widening, and upgrades that never widen compose', () => {
    fc.assert(
      fc.property(grant, grant, grant, fc.uniqueArray(claim, { maxLength: 3 }), (a, b, c, extra) => {
        const more = { ...a, permissions: [...new Set([...(a.permissions ?? []), ...extra])] };
        const before = compareManifests(a, b).widenings.filter((w) => w.field === 'permissions').length;
        expect(compareManifests(more, b).widenings.filter((w) => w.field === 'permissions').length).toBeLessThanOrEqual(before);
        expect(compareManifests(more, a).widenings).toEqual([]);
        expect(compareManifests(a, more).narrowings).toEqual([]);
        if (compareManifests(a, b).widenings.length === 0 && compareManifests(b, c).widenings.length === 0) {
          expect(compareManifests(a, c).widenings).toEqual([]);
        }
      }),
      RUNS,
    );
  });
});
