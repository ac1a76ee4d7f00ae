import { ErrorCode, isHomecoreError } from '@homecore/errors';
import { compareVersions, satisfiesMinVersion } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';

describe('compareVersions', () => {
  it.each([
    ['1.0.0', '1.0.0', 0],
    ['1.2', '1.2.0', 0],
    ['v1.2.3', '1.2.3', 0],
    ['1.2.3+build.1', '1.2.3+build.2', 0],
    ['1.2.3', '1.10.0', -1],
    ['2.0.0', '1.99.99', 1],
    ['1.0.0-alpha', '1.0.0', -1],
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1],
    ['1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['1.0.0-rc.1', '1.0.0-beta.11', 1],
    ['2024.1.0', '2023.12.5', 1],
    ['2024.1.0b1', '2024.1.0', -1],
    ['1.0.0.dev1', '1.0.0a1', -1],
    ['1.0.0a2', '1.0.0b1', -1],
    ['1.0.0rc1', '1.0.0b9', 1],
    ['1.2.3.4', '1.2.3', 1],
    ['7', '6.9', 1],
  ])('compares %s with %s as %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
    expect(compareVersions(b, a)).toBe(-expected || 0);
  });

  it('throws a coded error naming an unparseable version', () => {
    for (const [a, b] of [['latest', '1.0.0'], ['1.0.0', ''], ['1.0.0', 'x'.repeat(1000)]]) {
      try {
        compareVersions(a as string, b as string);
        expect.unreachable();
      } catch (error) {
        expect(isHomecoreError(error, ErrorCode.MANIFEST_INVALID)).toBe(true);
        expect((error as Error).message).toMatch(/cannot compare version .*: use SemVer like "1\.2\.3"/);
      }
    }
  });
});

describe('satisfiesMinVersion', () => {
  it('is true at or above the minimum and false below it', () => {
    expect(satisfiesMinVersion('0.2.0', '0.2.0')).toBe(true);
    expect(satisfiesMinVersion('0.10.0', '0.2.0')).toBe(true);
    expect(satisfiesMinVersion('0.2.0-rc.1', '0.2.0')).toBe(false);
    expect(satisfiesMinVersion('0.1.9', '0.2.0')).toBe(false);
  });
});
