import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ErrorCode,
  PATTERN_MAX_LENGTH,
  PATTERN_MAX_WILDCARDS,
  PermissionSet,
  checkPattern,
  compilePattern,
  isHomecoreError,
  matchesPattern,
  patternProblem,
} from '@homecore/core-traits';

// The matcher this one replaced: exponential on many stars, but exact, so it is the oracle on small inputs.
function regexReference(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*');
  return new RegExp(`^${source}$`).test(value);
}

// A second, independent oracle: the definition read literally, one character at a time.
function recursiveReference(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const walk = (i: number, j: number): boolean => {
    if (i === pattern.length) return j === value.length;
    if (pattern[i] === '*') return walk(i + 1, j) || (j < value.length && value[j] !== '.' && walk(i, j + 1));
    return j < value.length && pattern[i] === value[j] && walk(i + 1, j + 1);
  };
  return walk(0, 0);
}

const patternChars = fc.constantFrom('a', 'b', '.', '*', '_');
const valueChars = fc.constantFrom('a', 'b', '.', '_');
const smallPattern = fc.string({ unit: patternChars, maxLength: 10 });
const smallValue = fc.string({ unit: valueChars, maxLength: 14 });
// Values built from a pattern (stars filled in) so that matches are common, not just rejections.
const matchingPair = fc
  .tuple(smallPattern, fc.array(fc.string({ unit: fc.constantFrom('a', 'b', '_'), maxLength: 4 }), { minLength: 10, maxLength: 10 }))
  .map(([pattern, fills]) => {
    let k = 0;
    return [pattern, pattern.replace(/\*/g, () => fills[k++] ?? '')] as const;
  });

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('matchesPattern: the same answers as the regex it replaced', () => {
  it('agrees with the old regex and a recursive reference on random small patterns and values', () => {
    fc.assert(
      fc.property(smallPattern, smallValue, (pattern, value) => {
        const expected = regexReference(pattern, value);
        expect(recursiveReference(pattern, value)).toBe(expected);
        expect(matchesPattern(pattern, value)).toBe(expected);
        expect(compilePattern(pattern)(value)).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });

  it('agrees on values made from the pattern, where most pairs match', () => {
    fc.assert(
      fc.property(matchingPair, smallValue, ([pattern, filled], noise) => {
        expect(matchesPattern(pattern, filled)).toBe(true);
        expect(regexReference(pattern, filled)).toBe(true);
        for (const value of [filled + noise, noise + filled, filled.slice(1), filled.slice(0, -1)]) {
          expect(matchesPattern(pattern, value)).toBe(regexReference(pattern, value));
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('matchesPattern: edge cases', () => {
  it('a lone star matches everything, dots and the empty string included', () => {
    for (const value of ['', '.', 'a.b.c', 'sensor.kitchen', '..']) expect(matchesPattern('*', value)).toBe(true);
  });

  it('a star anywhere else stays inside one segment', () => {
    expect(matchesPattern('sensor.*', 'sensor.kitchen')).toBe(true);
    expect(matchesPattern('sensor.*', 'sensor.')).toBe(true);
    expect(matchesPattern('sensor.*', 'sensor.kitchen.x')).toBe(false);
    expect(matchesPattern('sensor.*', 'sensor')).toBe(false);
    expect(matchesPattern('*.kitchen', 'light.kitchen')).toBe(true);
    expect(matchesPattern('*.kitchen', '.kitchen')).toBe(true);
    expect(matchesPattern('*.kitchen', 'a.b.kitchen')).toBe(false);
    expect(matchesPattern('*light', 'light')).toBe(true);
    expect(matchesPattern('light*', 'light')).toBe(true);
    expect(matchesPattern('light*', 'light.x')).toBe(false);
    expect(matchesPattern('*.*', 'light.x')).toBe(true);
    expect(matchesPattern('*.*', 'light')).toBe(false);
    expect(matchesPattern('*.*', 'a.b.c')).toBe(false);
  });

  it('adjacent stars behave as one', () => {
    expect(matchesPattern('a**b', 'ab')).toBe(true);
    expect(matchesPattern('a**b', 'axxb')).toBe(true);
    expect(matchesPattern('a**b', 'a.b')).toBe(false);
    expect(matchesPattern('**', 'abc')).toBe(true);
    expect(matchesPattern('**', 'a.b')).toBe(false);
  });

  it('prefix and suffix may not overlap', () => {
    expect(matchesPattern('ab*ba', 'aba')).toBe(false);
    expect(matchesPattern('ab*ba', 'abba')).toBe(true);
    expect(matchesPattern('a*a*a', 'aa')).toBe(false);
    expect(matchesPattern('a*a*a', 'aaa')).toBe(true);
  });

  it('keeps empty segments: every dot must line up', () => {
    expect(matchesPattern('a..b', 'a..b')).toBe(true);
    expect(matchesPattern('a.*.b', 'a..b')).toBe(true);
    expect(matchesPattern('a.*.b', 'a.b')).toBe(false);
    expect(matchesPattern('*.', 'x.')).toBe(true);
    expect(matchesPattern('*.', 'x')).toBe(false);
    expect(matchesPattern('.*', '.x')).toBe(true);
    expect(matchesPattern('', '')).toBe(true);
    expect(matchesPattern('', 'a')).toBe(false);
  });

  it('treats every other character literally', () => {
    expect(matchesPattern('a+b.*', 'a+b.c')).toBe(true);
    expect(matchesPattern('a+b.*', 'aab.c')).toBe(false);
    expect(matchesPattern('a?*', 'a?x')).toBe(true);
    expect(matchesPattern('a?*', 'ab')).toBe(false);
    expect(matchesPattern('[a]*', '[a]x')).toBe(true);
    expect(matchesPattern('zha_*', 'zha_event')).toBe(true);
    expect(matchesPattern('state:*', 'state:changed')).toBe(true);
  });
});

describe('matchesPattern: pathological patterns', () => {
  afterEach(() => vi.restoreAllMocks());

  const many = `${'a*'.repeat(PATTERN_MAX_WILDCARDS)}b`;
  const long = 'a'.repeat(100_000);

  it('returns at once on many stars against a long value (the old regex needed years)', () => {
    expect(matchesPattern(many, long)).toBe(false);
    expect(matchesPattern(many, `${long}b`)).toBe(true);
    expect(matchesPattern(`${'a*'.repeat(40)}b`, long)).toBe(false); // over the limit, still linear
    const nearMiss = `${'*aaaaaaab'.repeat(8)}*`;
    expect(matchesPattern(nearMiss, long)).toBe(false);
    expect(matchesPattern(nearMiss, `${long}${'b'.repeat(8)}`)).toBe(false);
  });

  it('does one substring search per literal part, whatever the value length', () => {
    const match = compilePattern(`x.${many}.y`);
    for (const value of [`x.${long}.y`, `x.${long}b.y`, `x.${'ab'.repeat(50_000)}.y`]) {
      const indexOf = vi.spyOn(String.prototype, 'indexOf');
      match(value);
      // one search for the wild segment's dot, at most one per middle part (PATTERN_MAX_WILDCARDS - 1)
      expect(indexOf.mock.calls.length).toBeGreaterThan(0); // the spy sees the matcher's searches
      expect(indexOf.mock.calls.length).toBeLessThanOrEqual(1 + PATTERN_MAX_WILDCARDS - 1);
      indexOf.mockRestore();
    }
  });

  it('keeps working past the cache bound, evicting one entry at a time', () => {
    for (let i = 0; i < 10_000; i++) expect(matchesPattern(`p${i}.*`, `p${i}.x`)).toBe(true);
    expect(matchesPattern('p0.*', 'p1.x')).toBe(false);
  });
});

describe('pattern limits', () => {
  it('patternProblem accepts patterns up to the limits and names the limit broken', () => {
    expect(PATTERN_MAX_LENGTH).toBe(256);
    expect(PATTERN_MAX_WILDCARDS).toBe(16);
    expect(patternProblem('sensor.*')).toBeUndefined();
    expect(patternProblem('x'.repeat(PATTERN_MAX_LENGTH))).toBeUndefined();
    expect(patternProblem('*'.repeat(PATTERN_MAX_WILDCARDS))).toBeUndefined();
    expect(patternProblem('x'.repeat(PATTERN_MAX_LENGTH + 1))).toMatchObject({ rule: 'pattern-length', limit: 256, actual: 257 });
    expect(patternProblem('a*'.repeat(PATTERN_MAX_WILDCARDS + 1))).toMatchObject({ rule: 'pattern-wildcards', limit: 16, actual: 17 });
  });

  it('checkPattern throws HC_ERR_PATTERN_INVALID naming the plugin and the limit', () => {
    expect(() => checkPattern('sensor.*', 'lamp')).not.toThrow();
    const error = thrown(() => checkPattern(`${'a*'.repeat(20)}b`, 'lamp'));
    expect(isHomecoreError(error, ErrorCode.PATTERN_INVALID)).toBe(true);
    expect((error as Error).message).toContain('[plugin lamp]');
    expect((error as Error).message).toContain('has 20 "*" wildcards: a pattern may have at most 16');
    expect((error as { details: unknown }).details).toMatchObject({ rule: 'pattern-wildcards', limit: 16, actual: 20 });
    const long = thrown(() => checkPattern('x'.repeat(300)));
    expect(isHomecoreError(long, ErrorCode.PATTERN_INVALID)).toBe(true);
    expect((long as Error).message).toContain('is 300 characters long: a pattern may have at most 256');
    expect(isHomecoreError(thrown(() => checkPattern(42)), ErrorCode.PATTERN_INVALID)).toBe(true);
  });

  it('PermissionSet.parse refuses claims over the limits, naming each claim and limit', () => {
    const stars = `event:subscribe:${'a*'.repeat(17)}`;
    const long = `state:read:${'x'.repeat(257)}`;
    const error = thrown(() => PermissionSet.parse(['state:read:sensor.*', stars, long], 'lamp'));
    expect(isHomecoreError(error, ErrorCode.PATTERN_INVALID)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('[plugin lamp]');
    expect(message).toContain(JSON.stringify(stars));
    expect(message).toContain('has 17 "*" wildcards: a pattern may have at most 16');
    expect(message).toContain('is 257 characters long: a pattern may have at most 256');
    expect(message).not.toContain('sensor.*');
    expect((error as { details: unknown }).details).toEqual({
      claims: [
        { claim: stars, rule: 'pattern-wildcards', limit: 16, actual: 17 },
        { claim: long, rule: 'pattern-length', limit: 256, actual: 257 },
      ],
    });
    // The limits apply to the pattern, not the action prefix.
    expect(PermissionSet.parse([`event:subscribe:${'x'.repeat(256)}`]).patterns('event:subscribe')).toHaveLength(1);
  });

  it('malformed claims are reported first, as HC_ERR_PERMISSION_INVALID', () => {
    const error = thrown(() => PermissionSet.parse(['state:delete:x', `state:read:${'a*'.repeat(17)}`]));
    expect(isHomecoreError(error, ErrorCode.PERMISSION_INVALID)).toBe(true);
  });
});
