import { ErrorCode, HomecoreError } from '@homecore/errors';

/** A parsed version: numeric release parts and pre-release identifiers (empty for a release). */
interface ParsedVersion {
  release: number[];
  prerelease: (string | number)[];
}

// Accepted: optional "v", 1-4 dot-separated numbers (SemVer, CalVer, SIMPLEVER, BUILDVER), then an
// optional SemVer pre-release ("-beta.1") or PEP 440 pre-release ("b1", "rc2", ".dev3"), then an
// optional "+build" that is ignored when comparing.
const VERSION_REGEX =
  /^v?(\d+)((?:\.\d+){0,3})(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)|\.?(a|b|rc|dev)(\d+))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const SEMVER_REGEX = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Parses a version string, or returns undefined when it is not one HOMECORE accepts. */
export function parseVersion(value: string): ParsedVersion | undefined {
  if (value.length > 256) return undefined;
  const match = VERSION_REGEX.exec(value);
  if (match === null) return undefined;
  const release = [Number(match[1])];
  if (match[2]) for (const part of match[2].slice(1).split('.')) release.push(Number(part));
  if (!release.every(Number.isSafeInteger)) return undefined;
  let prerelease: (string | number)[] = [];
  if (match[3] !== undefined) {
    prerelease = match[3].split('.').map((id) => (/^\d+$/.test(id) ? Number(id) : id));
  } else if (match[4] !== undefined) {
    // PEP 440 orders dev < a < b < rc; prefix letters keep that order under string comparison.
    const rank = { dev: '0dev', a: '1a', b: '2b', rc: '3rc' }[match[4] as 'dev' | 'a' | 'b' | 'rc'];
    prerelease = [rank, Number(match[5])];
  }
  return { release, prerelease };
}

/** True when `value` is strict SemVer `MAJOR.MINOR.PATCH[-pre][+build]`. */
export function isSemver(value: string): boolean {
  return value.length <= 256 && SEMVER_REGEX.test(value);
}

function parseOrThrow(value: unknown, which: string): ParsedVersion {
  const parsed = typeof value === 'string' ? parseVersion(value) : undefined;
  if (parsed === undefined) {
    const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new HomecoreError(
      ErrorCode.MANIFEST_INVALID,
      `cannot compare version ${shown} (${which}): use SemVer like "1.2.3", CalVer like "2024.1.0" or a dotted number like "1.2"`,
      { details: { version: value } },
    );
  }
  return parsed;
}

function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1; // SemVer: numeric identifiers sort before alphanumeric ones
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compares two versions: negative when `a < b`, 0 when equal, positive when `a > b`. Missing release
 * parts count as 0 ("1.2" equals "1.2.0"), a pre-release sorts before its release, build metadata is
 * ignored. Throws HC_ERR_MANIFEST_INVALID for a string that is not a version.
 */
export function compareVersions(a: string, b: string): number {
  const left = parseOrThrow(a, 'first argument');
  const right = parseOrThrow(b, 'second argument');
  const length = Math.max(left.release.length, right.release.length);
  for (let i = 0; i < length; i++) {
    const diff = (left.release[i] ?? 0) - (right.release[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  const lp = left.prerelease;
  const rp = right.prerelease;
  if (lp.length === 0 || rp.length === 0) return Math.sign(rp.length - lp.length);
  for (let i = 0; i < Math.min(lp.length, rp.length); i++) {
    const diff = compareIdentifiers(lp[i] as string | number, rp[i] as string | number);
    if (diff !== 0) return Math.sign(diff);
  }
  return Math.sign(lp.length - rp.length);
}

/** True when version `actual` is at least `min`; throws HC_ERR_MANIFEST_INVALID if either is not a version. */
export function satisfiesMinVersion(actual: string, min: string): boolean {
  return compareVersions(actual, min) >= 0;
}
