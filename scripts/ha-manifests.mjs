#!/usr/bin/env node
// Home Assistant's own manifests through the HOMECORE validator, in core mode.
//
//   node scripts/ha-manifests.mjs <folder> [--all-failures]
//
// <folder> holds Home Assistant core integration manifests, either as `<domain>.json` files or as
// `<domain>/manifest.json` (the layout of homeassistant/components). CI passes the 979 real manifests
// in ../shared/ha-manifests; they are read where they are and never copied into the repo. Each is
// validated with the built @homecore/manifest (packages/manifest/dist: run the package build first)
// as `validateManifest(manifest, { mode: 'core' })`, and its domain must match its file or folder
// name, as hassfest requires. Domains named in dependencies, after_dependencies or supported_by that
// are not in the folder are counted as warnings (a partial folder cannot resolve them).
//
// Prints a summary (passed, failed with the first issues of each failure, warnings by rule) and
// exits 1 if any manifest not in KNOWN_FAILURES is rejected, or if one in KNOWN_FAILURES now passes.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(repo, 'packages/manifest/dist/index.js');

/**
 * Real manifests that may be rejected, by domain, each with the reason. Home Assistant's hassfest
 * accepted every manifest of the snapshot CI uses, so this should stay empty: a rejection is the
 * validator being wrong.
 */
const KNOWN_FAILURES = {
  // (none)
};

/** Failures printed unless --all-failures, and issues printed per failure. */
const FAILURES_SHOWN = 20;
const ISSUES_SHOWN = 3;

function usage(message) {
  console.error(`${message}\nusage: node scripts/ha-manifests.mjs <folder> [--all-failures]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const allFailures = args.includes('--all-failures');
const positional = args.filter((a) => !a.startsWith('--'));
const unknown = args.filter((a) => a.startsWith('--') && a !== '--all-failures');
if (unknown.length > 0) usage(`unknown option ${unknown[0]}`);
if (positional.length !== 1) usage('give one folder of Home Assistant manifests');
const folder = resolve(positional[0]);
if (!existsSync(folder) || !statSync(folder).isDirectory()) usage(`${positional[0]} is not a folder`);
if (!existsSync(built)) usage(`${built} is missing: build the manifest package first (cd packages/manifest && npx -y pnpm@10.34.8 build)`);

const { validateManifest } = await import(pathToFileURL(built).href);

/** Every manifest in the folder: `{ name, file }`, name being the domain its file or folder says. */
function manifestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.json')) found.push({ name: basename(entry.name, '.json'), file: path });
    else if (entry.isDirectory() && existsSync(join(path, 'manifest.json'))) found.push({ name: entry.name, file: join(path, 'manifest.json') });
  }
  return found;
}

const files = manifestFiles(folder);
if (files.length === 0) usage(`no <domain>.json or <domain>/manifest.json in ${positional[0]}`);

const started = performance.now();
const results = [];
for (const { name, file } of files) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    results.push({ name, file, errors: [{ pointer: '', rule: 'json', message: `not valid JSON: ${error.message}` }], warnings: [], manifest: undefined });
    continue;
  }
  const result = validateManifest(manifest, { mode: 'core' });
  const errors = [...result.errors];
  if (typeof manifest?.domain === 'string' && manifest.domain !== name) {
    errors.push({ pointer: '/domain', rule: 'domain-name', message: `the domain is ${JSON.stringify(manifest.domain)} but the file or folder says ${JSON.stringify(name)}: hassfest requires them to match` });
  }
  results.push({ name, file, errors, warnings: [...result.warnings], manifest });
}
const elapsed = performance.now() - started;

// References to domains the folder does not have.
const domains = new Set(results.map((r) => r.manifest?.domain).filter((d) => typeof d === 'string'));
for (const r of results) {
  const m = r.manifest;
  if (typeof m !== 'object' || m === null) continue;
  for (const key of ['dependencies', 'after_dependencies']) {
    if (!Array.isArray(m[key])) continue;
    m[key].forEach((d, i) => {
      if (typeof d === 'string' && !domains.has(d)) r.warnings.push({ pointer: `/${key}/${i}`, rule: 'unresolved', message: `${JSON.stringify(d)} is not in this folder` });
    });
  }
  if (m.integration_type === 'virtual' && typeof m.supported_by === 'string' && !domains.has(m.supported_by)) {
    r.warnings.push({ pointer: '/supported_by', rule: 'unresolved', message: `${JSON.stringify(m.supported_by)} is not in this folder` });
  }
}

const rel = (file) => file.startsWith(`${folder}/`) ? file.slice(folder.length + 1) : file;
const failed = results.filter((r) => r.errors.length > 0 && !Object.hasOwn(KNOWN_FAILURES, r.name));
const allowed = results.filter((r) => r.errors.length > 0 && Object.hasOwn(KNOWN_FAILURES, r.name));
const stale = Object.keys(KNOWN_FAILURES).filter((name) => results.some((r) => r.name === name && r.errors.length === 0));
const passed = results.length - failed.length - allowed.length;

for (const r of failed.slice(0, allFailures ? failed.length : FAILURES_SHOWN)) {
  console.log(`FAIL ${rel(r.file)} (${r.errors.length} error${r.errors.length === 1 ? '' : 's'})`);
  for (const e of r.errors.slice(0, ISSUES_SHOWN)) console.log(`     ${e.pointer || '/'}  ${e.message}  [${e.rule}]`);
  if (r.errors.length > ISSUES_SHOWN) console.log(`     ... and ${r.errors.length - ISSUES_SHOWN} more`);
}
if (failed.length > FAILURES_SHOWN && !allFailures) console.log(`... and ${failed.length - FAILURES_SHOWN} more failures (--all-failures lists them)`);
for (const r of allowed) console.log(`known failure ${rel(r.file)}: ${KNOWN_FAILURES[r.name]} (${r.errors[0]?.pointer || '/'}: ${r.errors[0]?.message})`);
for (const name of stale) console.log(`STALE ${name} is in KNOWN_FAILURES but now passes: remove it`);

const byRule = {};
for (const r of results) for (const w of r.warnings) byRule[w.rule] = (byRule[w.rule] ?? 0) + 1;
const warningCount = Object.values(byRule).reduce((a, b) => a + b, 0);
const ruleText = Object.entries(byRule).sort((a, b) => b[1] - a[1]).map(([rule, n]) => `${rule} ${n}`).join(', ');
console.log(
  `ha-manifests: ${results.length} manifest(s) in ${positional[0]} checked in core mode in ${Math.round(elapsed)} ms: ` +
    `${passed} passed, ${failed.length} failed${allowed.length > 0 ? `, ${allowed.length} known failure(s)` : ''}; ` +
    `${warningCount} warning(s)${ruleText === '' ? '' : ` (${ruleText})`}`,
);
process.exit(failed.length > 0 || stale.length > 0 ? 1 : 0);
