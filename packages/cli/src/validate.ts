import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { type ManifestIssue, type ManifestValidationOptions, validateManifest } from '@homecore/manifest';
import { usageError } from './usage.js';

/** The result of checking one manifest file. */
export interface ManifestReport {
  file: string;
  domain: string | null;
  ok: boolean;
  errors: ManifestIssue[];
  warnings: ManifestIssue[];
}

/**
 * Checks a manifest file, a plugin folder, or every plugin folder in a directory. Never throws for
 * bad manifests: each problem is in the report. `options.mode` is `"custom"` (HOMECORE plugins, the
 * default) or `"core"` (Home Assistant core integrations, e.g. `homeassistant/components`).
 */
export async function validatePath(target: string, options: ManifestValidationOptions = {}): Promise<ManifestReport[]> {
  const path = resolve(target);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw usageError(`${target} does not exist: give a manifest.json, a plugin folder or a directory of plugin folders`);
  }
  if (info.isFile()) return [await validateFile(path, target, options)];
  const own = join(path, 'manifest.json');
  if (await isFile(own)) return [checkFolderName(await validateFile(own, join(target, 'manifest.json'), options), path)];
  const entries = (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const reports: ManifestReport[] = [];
  for (const name of entries) {
    const file = join(path, name, 'manifest.json');
    if (await isFile(file)) reports.push(checkFolderName(await validateFile(file, relative(process.cwd(), file) || file, options), dirname(file)));
  }
  if (reports.length === 0) throw usageError(`no manifest.json found in ${target} or in its sub-folders`);
  return reports;
}

async function validateFile(path: string, shown: string, options: ManifestValidationOptions): Promise<ManifestReport> {
  let input: unknown;
  try {
    input = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    return { file: shown, domain: null, ok: false, errors: [{ pointer: '', rule: 'json', message: `not valid JSON: ${(err as Error).message}` }], warnings: [] };
  }
  const result = validateManifest(input, options);
  const domain = typeof (input as { domain?: unknown } | null)?.domain === 'string' ? (input as { domain: string }).domain : null;
  return { file: shown, domain, ok: result.ok, errors: result.errors, warnings: result.warnings };
}

/** Discovery expects a plugin's folder to carry its domain's name, as Home Assistant does. */
function checkFolderName(report: ManifestReport, folder: string): ManifestReport {
  const name = basename(folder);
  if (report.domain === null || report.domain === name) return report;
  const warning: ManifestIssue = {
    pointer: '/domain',
    rule: 'folder-name',
    message: `the folder is named ${JSON.stringify(name)} but the domain is ${JSON.stringify(report.domain)}: name the folder after the domain`,
  };
  return { ...report, warnings: [...report.warnings, warning] };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Formats validation reports for people. */
export function formatValidation(reports: ManifestReport[], strict = false): string {
  const lines: string[] = [];
  for (const r of reports) {
    lines.push(`${r.ok && !(strict && r.warnings.length > 0) ? 'ok   ' : 'FAIL '} ${r.file}${r.domain ? ` (${r.domain})` : ''}`);
    for (const e of r.errors) lines.push(`      error   ${e.pointer || '/'}  ${e.message}  [${e.rule}]`);
    for (const w of r.warnings) lines.push(`      warning ${w.pointer || '/'}  ${w.message}  [${w.rule}]`);
  }
  const failed = reports.filter((r) => !r.ok || (strict && r.warnings.length > 0)).length;
  lines.push('', `${reports.length} manifest(s) checked: ${failed === 0 ? 'all valid' : `${failed} with ${strict ? 'errors or warnings' : 'errors'}`}, ${reports.reduce((n, r) => n + r.warnings.length, 0)} warning(s)`);
  return `${lines.join('\n')}\n`;
}
