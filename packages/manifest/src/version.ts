import { ErrorCode, HomecoreError } from '@homecore/errors';

// Versions as Home Assistant reads them. hassfest and HA's loader accept a custom integration's
// `version` when AwesomeVersion, asked for the CalVer, SemVer, SimpleVer, BuildVer or PEP 440
// strategy, recognises it: the string is trimmed of whitespace, one leading "v" or "V" is dropped,
// and the rest must match one of those strategies' patterns in full. The patterns below describe the
// same languages as AwesomeVersion's (Python's `\d` is any Unicode decimal digit and `\w` any
// letter, number or "_"), written so that no input makes them backtrack badly.

/** The AwesomeVersion strategies, in the order Home Assistant asks for them, then the two it refuses. */
export type VersionStrategy = 'CalVer' | 'SemVer' | 'SimpleVer' | 'BuildVer' | 'PEP 440' | 'HexVer' | 'SpecialContainer';

const D = '\\p{Nd}';
const W = '[\\p{L}\\p{N}_]';
const SEMVER_NUMBER = `(?:0|[1-9]${D}*)`;
const SEMVER_PRE_ID = `(?:0|[1-9]${D}*|${D}*[a-zA-Z-][0-9a-zA-Z-]*)`;
const PEP_NUMBER = '(?:0|[1-9][0-9]*)';

const STRATEGIES: readonly (readonly [VersionStrategy, RegExp])[] = [
  // AwesomeVersion ends CalVer with `\d*(\w+\d+)?`; `\w+\d` is the same language without the
  // cubic backtracking (a word string of two or more characters that ends in a digit).
  ['CalVer', new RegExp(`^(?:${D}{2}|${D}{4})\\.${D}{1,2}(?:\\.?${D}{1,2}\\.?)?(?:\\.${D})?(?:${D}*|${W}+${D})$`, 'u')],
  [
    'SemVer',
    new RegExp(
      `^${SEMVER_NUMBER}\\.${SEMVER_NUMBER}\\.${SEMVER_NUMBER}(?:-${SEMVER_PRE_ID}(?:\\.${SEMVER_PRE_ID})*)?(?:\\+[0-9a-zA-Z-]+(?:\\.[0-9a-zA-Z-]+)*)?$`,
      'u',
    ),
  ],
  ['SimpleVer', new RegExp(`^[vV]?${D}+(?:\\.${D}+)+$`, 'u')],
  ['BuildVer', new RegExp(`^${D}+$`, 'u')],
  [
    'PEP 440',
    new RegExp(
      `^(?:[1-9][0-9]*!)?${PEP_NUMBER}(?:\\.${PEP_NUMBER})*` +
        `(?:[-_.]?(?:alpha|beta|c|pre|preview|a|b|rc)${PEP_NUMBER})?` +
        `(?:[-_.]?(?:post|r|rev)${PEP_NUMBER})?` +
        `(?:[-_.]?(?:d|dev)${PEP_NUMBER})?` +
        '(?:\\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?$',
      'u',
    ),
  ],
  ['HexVer', /^0x[A-Fa-f0-9]+$/],
  ['SpecialContainer', /^(?:latest|dev|stable|beta)$/],
];
const HA_STRATEGIES: ReadonlySet<VersionStrategy> = new Set(['CalVer', 'SemVer', 'SimpleVer', 'BuildVer', 'PEP 440']);

// Python's str.strip() removes what str.isspace() calls whitespace.
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const PY_TRIM = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');
/** Python's whitespace class (`\s` on str), for the other modules that mirror Python patterns. */
export const PYTHON_SPACE_CLASS = PY_SPACE;

/** The longest version string compared or accepted (Home Assistant sets no limit; real ones are short). */
export const MAX_VERSION_LENGTH = 1024;

/**
 * The string AwesomeVersion matches its strategies against: trimmed, one leading "v"/"V" dropped.
 * Asked for given strategies (as hassfest does) it matches before dropping a trailing "."; asked for
 * none, after.
 */
function versionBody(value: string, dropTrailingDot: boolean): string {
  let trimmed = value.replace(PY_TRIM, '');
  if (dropTrailingDot && trimmed.endsWith('.')) trimmed = trimmed.slice(0, -1);
  return trimmed.startsWith('v') || trimmed.startsWith('V') ? trimmed.slice(1) : trimmed;
}

function strategyOf(body: string): VersionStrategy | undefined {
  for (const [strategy, pattern] of STRATEGIES) if (pattern.test(body)) return strategy;
  return undefined;
}

/**
 * The strategy AwesomeVersion finds for `value` when asked for none (CalVer, SemVer, SimpleVer,
 * BuildVer, PEP 440, HexVer or SpecialContainer), or undefined for one it calls unknown. hassfest
 * asks this of a core integration's pinned requirement versions.
 */
export function versionStrategy(value: string): VersionStrategy | undefined {
  return value.length > MAX_VERSION_LENGTH ? undefined : strategyOf(versionBody(value, true));
}

/**
 * True when Home Assistant accepts `value` as a custom integration's `version`: AwesomeVersion
 * recognises it as CalVer, SemVer, SimpleVer, BuildVer or PEP 440 (hassfest's verify_version and the
 * loader's check).
 */
export function isHomeAssistantVersion(value: string): boolean {
  if (value.length > MAX_VERSION_LENGTH) return false;
  const strategy = strategyOf(versionBody(value, false));
  return strategy !== undefined && HA_STRATEGIES.has(strategy);
}

/** True when `value` is strict SemVer `MAJOR.MINOR.PATCH[-pre][+build]`. */
export function isSemver(value: string): boolean {
  return value.length <= MAX_VERSION_LENGTH && /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.test(value);
}

/**
 * A version taken apart for ordering, PEP 440 style: epoch, release numbers, then a phase (a
 * development release of the release itself, a pre-release, or the final release), the pre-release
 * identifiers, the post-release and development numbers. Build metadata and local labels are dropped.
 */
interface VersionKey {
  epoch: bigint;
  release: bigint[];
  phase: 0 | 1 | 2;
  pre: (string | bigint)[];
  post: bigint;
  dev: bigint | undefined;
}

const ND = /\p{Nd}/u;
/** The value of a Unicode decimal digit: Unicode keeps each script's digits 0-9 in one ascending run. */
function digitValue(char: string): string {
  const code = char.codePointAt(0) ?? 48;
  if (code >= 48 && code <= 57) return char;
  let start = code;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start--;
  return String((code - start) % 10);
}

const PEP_SUFFIX = /^(?:[-_.]?(alpha|beta|c|pre|preview|a|b|rc)(\d+))?(?:[-_.]?(post|r|rev)(\d+))?(?:[-_.]?(d|dev)(\d+))?(?:\+.*)?$/;
const PRE_NAMES: Readonly<Record<string, string>> = { alpha: 'a', a: 'a', beta: 'b', b: 'b', c: 'rc', pre: 'rc', preview: 'rc', rc: 'rc' };
const identifier = (id: string): string | bigint => (/^\d+$/.test(id) ? BigInt(id) : id);

/** Takes an accepted version apart, or returns undefined when Home Assistant would refuse it. */
function versionKey(value: string): VersionKey | undefined {
  if (!isHomeAssistantVersion(value)) return undefined;
  const strategy = strategyOf(versionBody(value, false));
  const body = versionBody(value, false)
    .replace(/^[vV]/, '') // SimpleVer allows a second "v"
    .replace(/\p{Nd}/gu, digitValue)
    .replace(/\.+$/, ''); // AwesomeVersion drops a trailing dot
  const head = /^(?:(\d+)!)?(\d+(?:\.\d+)*)/.exec(body);
  if (head === null) return undefined;
  const key: VersionKey = {
    epoch: BigInt(head[1] ?? 0),
    release: (head[2] ?? '0').split('.').map(BigInt),
    phase: 2,
    pre: [],
    post: -1n,
    dev: undefined,
  };
  const rest = body.slice(head[0].length);
  if (rest === '' || rest.startsWith('+')) return key;
  if (strategy === 'SemVer') {
    const pre = rest.slice(1).split('+')[0] ?? '';
    return { ...key, phase: 1, pre: pre.split('.').map(identifier) };
  }
  const pep = PEP_SUFFIX.exec(rest);
  if (pep === null) return { ...key, phase: 1, pre: [rest.replace(/^[-_.]+/, '')] };
  const [, preName, preNumber, , postNumber, , devNumber] = pep;
  if (preName !== undefined) {
    key.phase = 1;
    key.pre = [PRE_NAMES[preName] ?? preName, BigInt(preNumber ?? 0)];
  }
  if (postNumber !== undefined) key.post = BigInt(postNumber);
  if (devNumber !== undefined) {
    key.dev = BigInt(devNumber);
    if (preName === undefined && postNumber === undefined) key.phase = 0;
  }
  return key;
}

function parseOrThrow(value: unknown, which: string): VersionKey {
  const parsed = typeof value === 'string' ? versionKey(value) : undefined;
  if (parsed === undefined) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new HomecoreError(
      ErrorCode.MANIFEST_INVALID,
      `cannot compare version ${shown} (${which}): use SemVer like "1.2.3", CalVer like "2024.1.0", PEP 440 like "1.0.post1" or a dotted number like "1.2"`,
      { details: { version: value } },
    );
  }
  return parsed;
}

const sign = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

function compareIdentifiers(a: string | bigint, b: string | bigint): number {
  if (typeof a === 'bigint' && typeof b === 'bigint') return sign(a, b);
  if (typeof a === 'bigint') return -1; // SemVer: numeric identifiers sort before alphanumeric ones
  if (typeof b === 'bigint') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two versions: negative when `a < b`, 0 when equal, positive when `a > b`. Accepts every
 * version Home Assistant accepts; orders them as PEP 440 does (epoch, release with missing parts as 0,
 * then `1.0.dev1 < 1.0a1 < 1.0b1 < 1.0rc1 < 1.0 < 1.0.post1`) and SemVer pre-releases as SemVer does.
 * Build metadata and local labels are ignored. Throws HC_ERR_MANIFEST_INVALID for a string that is
 * not a version.
 */
export function compareVersions(a: string, b: string): number {
  const left = parseOrThrow(a, 'first argument');
  const right = parseOrThrow(b, 'second argument');
  const epoch = sign(left.epoch, right.epoch);
  if (epoch !== 0) return epoch;
  const length = Math.max(left.release.length, right.release.length);
  for (let i = 0; i < length; i++) {
    const diff = sign(left.release[i] ?? 0n, right.release[i] ?? 0n);
    if (diff !== 0) return diff;
  }
  if (left.phase !== right.phase) return Math.sign(left.phase - right.phase);
  for (let i = 0; i < Math.min(left.pre.length, right.pre.length); i++) {
    const diff = compareIdentifiers(left.pre[i] as string | bigint, right.pre[i] as string | bigint);
    if (diff !== 0) return diff;
  }
  if (left.pre.length !== right.pre.length) return Math.sign(left.pre.length - right.pre.length);
  const post = sign(left.post, right.post);
  if (post !== 0) return post;
  if (left.dev === right.dev) return 0;
  if (left.dev === undefined) return 1; // no development number: the release itself, after its .devN
  if (right.dev === undefined) return -1;
  return sign(left.dev, right.dev);
}

/** True when version `actual` is at least `min`; throws HC_ERR_MANIFEST_INVALID if either is not a version. */
export function satisfiesMinVersion(actual: string, min: string): boolean {
  return compareVersions(actual, min) >= 0;
}
