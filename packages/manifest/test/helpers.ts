import { type ManifestIssue, validateManifest } from '@homecore/manifest';
import { expect } from 'vitest';

/** A small manifest with every HA-recommended field, so it validates without warnings. */
export function baseManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain: 'hue_bridge',
    name: 'Hue bridge',
    version: '1.2.3',
    documentation: 'https://example.org/hue',
    codeowners: ['@alice'],
    iot_class: 'local_push',
    ...extra,
  };
}

/** Validates `input`, expects failure, and returns its errors. */
export function errorsOf(input: unknown): ManifestIssue[] {
  const result = validateManifest(input);
  expect(result.ok).toBe(false);
  return result.errors;
}

/** The single issue at `pointer`, failing the test when there is not exactly one. */
export function issueAt(issues: ManifestIssue[], pointer: string): ManifestIssue {
  const found = issues.filter((issue) => issue.pointer === pointer);
  expect(found, `issues at ${pointer}: ${JSON.stringify(issues)}`).toHaveLength(1);
  return found[0] as ManifestIssue;
}
