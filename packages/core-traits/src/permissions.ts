import { ErrorCode, HomecoreError } from '@homecore/errors';
import { PATTERN_MAX_LENGTH, type PatternProblem, patternProblem } from '@homecore/manifest/pattern';

/** What a permission claim lets a plugin do. */
export type PermissionAction = 'state:read' | 'state:write' | 'service:call' | 'event:fire' | 'event:subscribe';

/** Every action a claim may name, in documentation order. */
export const PERMISSION_ACTIONS: readonly PermissionAction[] = Object.freeze([
  'state:read',
  'state:write',
  'service:call',
  'event:fire',
  'event:subscribe',
]);

/**
 * The grammar of one claim in a manifest's `permissions`: `<action>:<pattern>`, for example
 * `state:write:binary_sensor.*` or `service:call:light.turn_on`.
 */
export const PERMISSION_CLAIM_REGEX = /^(state:read|state:write|service:call|event:fire|event:subscribe):([A-Za-z0-9_.*:-]+)$/;

/** A compiled glob: true when the value matches. */
export type PatternMatcher = (value: string) => boolean;

// One dot-separated segment of a pattern with at least one `*`: the literal parts between the stars
// (runs of stars collapsed), so parts[0] is the prefix and the last part the suffix.
interface Wild {
  parts: readonly string[];
  /** Sum of the parts' lengths: a shorter value segment cannot match. */
  min: number;
}
type Segment = string | Wild;

const DOT = 46;
const always: PatternMatcher = () => true;

/**
 * Compiles a glob once for repeated matching, with the semantics of matchesPattern. Matching never
 * backtracks: one search per literal part and one per segment for its dot, so it is linear in the value's length
 * times the number of `*`, whatever the pattern.
 */
export function compilePattern(pattern: string): PatternMatcher {
  if (pattern === '*') return always;
  if (!pattern.includes('*')) return (value) => value === pattern;
  // `*` never crosses a dot, so pattern and value segments pair up one to one.
  const segments: Segment[] = pattern.split('.').map((text) => {
    if (!text.includes('*')) return text;
    const parts = text.split('*');
    const inner = parts.slice(1, -1).filter((part) => part !== ''); // `a**b` is `a*b`
    const wild = [parts[0] as string, ...inner, parts[parts.length - 1] as string];
    return { parts: wild, min: wild.reduce((sum, part) => sum + part.length, 0) };
  });
  return (value) => matchSegments(segments, value);
}

function matchSegments(segments: readonly Segment[], value: string): boolean {
  const last = segments.length - 1;
  let start = 0;
  for (let i = 0; i <= last; i++) {
    const segment = segments[i] as Segment;
    let end: number;
    if (typeof segment === 'string') {
      if (!value.startsWith(segment, start)) return false;
      end = start + segment.length;
      if (i === last) return end === value.length;
      if (value.charCodeAt(end) !== DOT) return false;
    } else {
      const dot = value.indexOf('.', start);
      if (i === last ? dot !== -1 : dot === -1) return false; // segment counts differ
      end = dot === -1 ? value.length : dot;
      if (!matchWild(segment, value, start, end)) return false;
    }
    start = end + 1;
  }
  return true;
}

// Prefix and suffix are anchored; the middle parts are found leftmost-first, which is enough for
// `*`-only globs: an earlier match of a part never rules out a match of the parts after it.
function matchWild({ parts, min }: Wild, value: string, start: number, end: number): boolean {
  if (end - start < min) return false;
  const prefix = parts[0] as string;
  const suffix = parts[parts.length - 1] as string;
  if (!value.startsWith(prefix, start) || !value.endsWith(suffix, end)) return false;
  const limit = end - suffix.length;
  let at = start + prefix.length;
  for (let k = 1; k < parts.length - 1; k++) {
    const part = parts[k] as string;
    const found = value.indexOf(part, at);
    if (found === -1 || found + part.length > limit) return false;
    at = found + part.length;
  }
  return true;
}

// Patterns repeat (every dispatch matches the same subscriptions), so compiled ones are kept; past
// the bound the oldest is dropped, one at a time, so a burst of new patterns never empties the cache.
const CACHE_SIZE = 4096;
const compiled = new Map<string, PatternMatcher>();

/**
 * True when `value` matches `pattern`. A `*` matches any run of characters except `.`, so
 * `sensor.*` matches `sensor.kitchen` and `light*` does not match `lighting.x`; a lone `*`
 * matches everything. No other character is special. Linear time, see compilePattern.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  let test = compiled.get(pattern);
  if (test === undefined) {
    test = compilePattern(pattern);
    if (pattern.length <= PATTERN_MAX_LENGTH) {
      if (compiled.size >= CACHE_SIZE) compiled.delete(compiled.keys().next().value as string);
      compiled.set(pattern, test);
    }
  }
  return test(value);
}

/**
 * Throws `HC_ERR_PATTERN_INVALID` when `pattern` is not a string or breaks a limit of patternProblem
 * (PATTERN_MAX_LENGTH, PATTERN_MAX_WILDCARDS); for patterns given at runtime, e.g. `ctx.subscribe`.
 */
export function checkPattern(pattern: unknown, plugin?: string): asserts pattern is string {
  const options = plugin === undefined ? {} : { plugin };
  if (typeof pattern !== 'string') {
    throw new HomecoreError(ErrorCode.PATTERN_INVALID, `a pattern must be a string, got ${typeof pattern}: pass an entity id, event type or glob like "sensor.*"`, options);
  }
  const problem = patternProblem(pattern);
  if (problem !== undefined) {
    throw new HomecoreError(ErrorCode.PATTERN_INVALID, `pattern ${JSON.stringify(shorten(pattern))} ${problem.message}`, {
      ...options,
      details: { pattern, rule: problem.rule, limit: problem.limit, actual: problem.actual },
    });
  }
}

const shorten = (text: string) => (text.length > 60 ? `${text.slice(0, 60)}…` : text);

/** The permissions of one plugin, parsed from its manifest. Deny by default. */
export class PermissionSet {
  private readonly byAction: ReadonlyMap<PermissionAction, readonly string[]>;

  private constructor(byAction: Map<PermissionAction, string[]>) {
    this.byAction = byAction;
  }

  /**
   * Parses manifest claims; throws `HC_ERR_PERMISSION_INVALID` naming each malformed claim, else
   * `HC_ERR_PATTERN_INVALID` naming each claim whose pattern breaks a limit (see patternProblem).
   */
  static parse(claims: readonly string[] = [], plugin?: string): PermissionSet {
    const byAction = new Map<PermissionAction, string[]>();
    const bad: string[] = [];
    const overLimit: { claim: string; problem: PatternProblem }[] = [];
    for (const claim of claims) {
      const match = typeof claim === 'string' ? PERMISSION_CLAIM_REGEX.exec(claim) : null;
      if (!match) {
        bad.push(String(claim));
        continue;
      }
      const action = match[1] as PermissionAction;
      const pattern = match[2] as string;
      const problem = patternProblem(pattern);
      if (problem !== undefined) overLimit.push({ claim, problem });
      const list = byAction.get(action) ?? [];
      list.push(pattern);
      byAction.set(action, list);
    }
    const options = plugin === undefined ? {} : { plugin };
    if (bad.length > 0) {
      throw new HomecoreError(
        ErrorCode.PERMISSION_INVALID,
        `invalid permission claim(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}: write each as ` +
          `"<action>:<pattern>" with action one of ${PERMISSION_ACTIONS.join(', ')}`,
        options,
      );
    }
    if (overLimit.length > 0) {
      throw new HomecoreError(
        ErrorCode.PATTERN_INVALID,
        `permission claim(s) over the pattern limits: ${overLimit.map(({ claim, problem }) => `${JSON.stringify(shorten(claim))} ${problem.message}`).join('; ')}`,
        { ...options, details: { claims: overLimit.map(({ claim, problem }) => ({ claim, rule: problem.rule, limit: problem.limit, actual: problem.actual })) } },
      );
    }
    return new PermissionSet(byAction);
  }

  /** A set that allows everything; for trusted first-party hosts and tests. */
  static allowAll(): PermissionSet {
    return new PermissionSet(new Map(PERMISSION_ACTIONS.map((a) => [a, ['*']])));
  }

  /** True when some claim for `action` matches `target`. */
  allows(action: PermissionAction, target: string): boolean {
    const patterns = this.byAction.get(action);
    if (patterns === undefined) return false;
    for (const p of patterns) if (matchesPattern(p, target)) return true;
    return false;
  }

  /** The patterns granted for `action`. */
  patterns(action: PermissionAction): readonly string[] {
    return this.byAction.get(action) ?? [];
  }
}

const VERBS: Readonly<Record<PermissionAction, string>> = {
  'state:read': 'read the state of',
  'state:write': 'write the state of',
  'service:call': 'call the service',
  'event:fire': 'fire the event',
  'event:subscribe': 'subscribe to',
};

/** The message of a denied call: what was refused and the claim that would allow it. */
export function permissionDeniedMessage(action: PermissionAction, target: string): string {
  return `may not ${VERBS[action]} ${JSON.stringify(target)}: add "${action}:${target}" to permissions in the manifest (or a pattern covering it)`;
}
