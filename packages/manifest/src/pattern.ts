import { type ManifestIssue, childPointer, show } from './issues.js';

// Glob patterns (`*` = any run of non-dot characters) come from manifests, permission claims and
// runtime subscriptions and are matched on every event, so they are bounded here. Kept free of the
// schema (and TypeBox) so core-traits, which depends on this package, can reuse it cheaply.

/** Longest glob pattern accepted: Home Assistant entity ids are at most 255 characters, plus one. */
export const PATTERN_MAX_LENGTH = 256;

/** Most `*` wildcards one glob pattern may contain. */
export const PATTERN_MAX_WILDCARDS = 16;

/** Why a glob pattern is refused: the limit broken, its value and the pattern's, and what to fix. */
export interface PatternProblem {
  /** `pattern-length` (over PATTERN_MAX_LENGTH) or `pattern-wildcards` (over PATTERN_MAX_WILDCARDS). */
  rule: 'pattern-length' | 'pattern-wildcards';
  /** The limit broken. */
  limit: number;
  /** The pattern's length or number of `*`. */
  actual: number;
  /** What is wrong and what to do about it, e.g. `has 20 "*" wildcards: ...`. */
  message: string;
}

/** The first limit `pattern` breaks, or undefined when it is within PATTERN_MAX_LENGTH and PATTERN_MAX_WILDCARDS. */
export function patternProblem(pattern: string): PatternProblem | undefined {
  if (pattern.length > PATTERN_MAX_LENGTH) {
    return {
      rule: 'pattern-length',
      limit: PATTERN_MAX_LENGTH,
      actual: pattern.length,
      message: `is ${pattern.length} characters long: a pattern may have at most ${PATTERN_MAX_LENGTH} (entity ids have at most 255); shorten it`,
    };
  }
  let stars = 0;
  for (let i = pattern.indexOf('*'); i !== -1; i = pattern.indexOf('*', i + 1)) stars++;
  if (stars > PATTERN_MAX_WILDCARDS) {
    return {
      rule: 'pattern-wildcards',
      limit: PATTERN_MAX_WILDCARDS,
      actual: stars,
      message: `has ${stars} "*" wildcards: a pattern may have at most ${PATTERN_MAX_WILDCARDS}; merge adjacent ones or list the ids instead`,
    };
  }
  return undefined;
}

// Every action is `<noun>:<verb>`, so a claim's pattern starts after its second colon.
const CLAIM_ACTION = /^[a-z]+:[a-z]+:/;

/** Appends an error for every pattern in `permissions` and `subscriptions` that breaks a limit, at its JSON pointer. */
export function checkPatternLimits(fields: Record<string, unknown>, errors: ManifestIssue[]): void {
  const check = (pattern: string, pointer: string, shown: string) => {
    const problem = patternProblem(pattern);
    if (problem !== undefined) errors.push({ pointer, rule: problem.rule, message: `${shown} ${problem.message}` });
  };
  const { permissions, subscriptions } = fields;
  if (Array.isArray(permissions)) {
    permissions.forEach((claim: unknown, index) => {
      if (typeof claim !== 'string') return; // the schema reports it
      const action = CLAIM_ACTION.exec(claim);
      if (action !== null) check(claim.slice(action[0].length), childPointer('/permissions', index), `the pattern of claim ${show(claim)}`);
    });
  }
  if (typeof subscriptions !== 'object' || subscriptions === null || Array.isArray(subscriptions)) return;
  for (const key of ['entities', 'events'] as const) {
    const list = (subscriptions as Record<string, unknown>)[key];
    if (!Array.isArray(list)) continue;
    list.forEach((pattern: unknown, index) => {
      if (typeof pattern === 'string') check(pattern, childPointer(`/subscriptions/${key}`, index), show(pattern));
    });
  }
}
