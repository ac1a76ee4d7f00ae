import { PATTERN_MAX_LENGTH, PATTERN_MAX_WILDCARDS, PERMISSION_ACTION_NAMES, validateManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest, errorsOf, issueAt } from './helpers.js';

const manyStars = `${'a*'.repeat(PATTERN_MAX_WILDCARDS + 1)}b`;
const tooLong = `sensor.${'x'.repeat(PATTERN_MAX_LENGTH)}`;

describe('validateManifest: pattern limits', () => {
  it('reports an over-limit permission pattern at its JSON pointer', () => {
    const errors = errorsOf(baseManifest({ permissions: ['state:read:sensor.*', `event:subscribe:${manyStars}`, `state:read:${tooLong}`] }));
    expect(errors).toHaveLength(2);
    const stars = issueAt(errors, '/permissions/1');
    expect(stars.rule).toBe('pattern-wildcards');
    expect(stars.message).toContain(`has ${PATTERN_MAX_WILDCARDS + 1} "*" wildcards: a pattern may have at most ${PATTERN_MAX_WILDCARDS}`);
    const long = issueAt(errors, '/permissions/2');
    expect(long.rule).toBe('pattern-length');
    expect(long.message).toContain(`is ${tooLong.length} characters long: a pattern may have at most ${PATTERN_MAX_LENGTH}`);
  });

  it('reports over-limit subscription patterns at their JSON pointers', () => {
    const errors = errorsOf(baseManifest({ subscriptions: { entities: ['light.*', tooLong], events: [manyStars] } }));
    expect(errors.map((e) => [e.pointer, e.rule])).toEqual([
      ['/subscriptions/entities/1', 'pattern-length'],
      ['/subscriptions/events/0', 'pattern-wildcards'],
    ]);
  });

  it('finds the pattern of a claim of every action (each is "<noun>:<verb>")', () => {
    for (const action of PERMISSION_ACTION_NAMES) {
      expect(action).toMatch(/^[a-z]+:[a-z]+$/);
      const errors = errorsOf(baseManifest({ permissions: [`${action}:${manyStars}`] }));
      expect(issueAt(errors, '/permissions/0').rule).toBe('pattern-wildcards');
    }
  });

  it('accepts patterns at the limits', () => {
    const atLimit = `${'a*'.repeat(PATTERN_MAX_WILDCARDS / 2)}.${'*b'.repeat(PATTERN_MAX_WILDCARDS / 2)}`;
    const result = validateManifest(baseManifest({ permissions: [`state:read:${atLimit}`], subscriptions: { entities: [atLimit, `s.${'x'.repeat(PATTERN_MAX_LENGTH - 2)}`] } }));
    expect(result.errors).toEqual([]);
  });
});
