import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import { compareManifests, parseManifest, type ManifestDifference, type ResolvedManifest } from '@homecore/manifest';
import { GRANTS_FILE, PluginRegistry, fileGrantStore } from '@homecore/registry';
import { usageError } from './usage.js';

/** The environment variable naming the data directory when `--data-dir` is not given. */
export { DATA_DIR_ENV } from './env.js';

/** One side of a comparison: where the manifest was read and what it says. */
export interface ManifestSide {
  path: string;
  domain: string;
  version: string;
}

/** What `homecore diff` reports. */
export interface DiffReport {
  kind: 'diff';
  old: ManifestSide;
  new: ManifestSide;
  widenings: ManifestDifference[];
  narrowings: ManifestDifference[];
}

/** What `homecore accept` reports. */
export interface AcceptReport {
  kind: 'accepted';
  plugin: string;
  version: string;
  /** The grants file written. */
  file: string;
  /** The grant replaced, or null when the plugin had none. */
  previous: { version: string; reason: string; acceptedAt: number } | null;
  /** What the accepted manifest asks for beyond the previous grant (empty without one). */
  widenings: ManifestDifference[];
  /** What it gives up. */
  narrowings: ManifestDifference[];
}

/** Reads a plugin folder's manifest.json (or a manifest file): a usage error if there is none, the manifest's own error if it is invalid. */
export async function readPluginManifest(target: string): Promise<{ file: string; manifest: ResolvedManifest }> {
  const path = resolve(target);
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch {
    throw usageError(`${target} does not exist: give a plugin folder (holding a manifest.json) or a manifest.json`);
  }
  const file = isDirectory ? join(path, 'manifest.json') : path;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw usageError(`${isDirectory ? `${target} holds no readable manifest.json` : `${target} cannot be read`}: give a plugin folder (holding a manifest.json) or a manifest.json`);
  }
  return { file, manifest: parseManifest(text, file).manifest };
}

/** `homecore diff`: compares two plugin folders' manifests as the upgrade rule would. */
export async function diffPlugins(oldTarget: string, newTarget: string): Promise<DiffReport> {
  const before = await readPluginManifest(oldTarget);
  const after = await readPluginManifest(newTarget);
  const { widenings, narrowings } = compareManifests(before.manifest, after.manifest);
  const side = (target: string, manifest: ResolvedManifest): ManifestSide => ({ path: target, domain: manifest.domain, version: manifest.version });
  return { kind: 'diff', old: side(oldTarget, before.manifest), new: side(newTarget, after.manifest), widenings, narrowings };
}

/** Formats a diff for a reviewer: widenings first, each marked `+`, then narrowings marked `-`. */
export function formatDiff(report: DiffReport): string {
  const lines = [`${report.old.domain} ${report.old.version} (${report.old.path}) -> ${report.new.domain} ${report.new.version} (${report.new.path})`];
  if (report.old.domain !== report.new.domain) {
    lines.push(`note: the domains differ: ${report.new.domain} would be a new plugin (trusted on its first install), not an upgrade of ${report.old.domain}`);
  }
  lines.push('');
  if (report.widenings.length > 0) {
    lines.push(`WIDER: ${report.widenings.length} change(s) the operator must accept`, ...differenceLines(report.widenings, '+'));
  } else {
    lines.push('no widening: the new version asks for nothing the old one did not');
  }
  if (report.narrowings.length > 0) lines.push(`narrower: ${report.narrowings.length} change(s), accepted on their own`, ...differenceLines(report.narrowings, '-'));
  lines.push('');
  lines.push(
    report.widenings.length > 0
      ? `As an upgrade this is refused (HC_ERR_UPGRADE_NOT_ACCEPTED) until accepted: homecore accept ${report.new.path} --data-dir <dir>`
      : 'As an upgrade this is accepted as it is.',
  );
  return `${lines.join('\n')}\n`;
}

function differenceLines(differences: readonly ManifestDifference[], mark: string): string[] {
  const width = Math.max(...differences.map((d) => d.pointer.length));
  return differences.map((d) => `  ${mark} ${d.pointer.padEnd(width)}  ${d.message}`);
}

/** `homecore accept`: stores the manifest of the plugin in `target` as accepted, in `<dataDir>/homecore.grants.json`. */
export async function acceptPlugin(target: string, dataDir: string): Promise<AcceptReport> {
  const { manifest } = await readPluginManifest(target);
  const dir = resolve(dataDir);
  const registry = new PluginRegistry({ core: new InMemoryCore(), runtimes: [], grants: fileGrantStore(dir) });
  const { grant, previous } = await registry.acceptManifest(manifest);
  const { widenings, narrowings } = previous === null ? { widenings: [], narrowings: [] } : compareManifests(previous.manifest, grant.manifest);
  return {
    kind: 'accepted',
    plugin: grant.plugin,
    version: grant.version,
    file: join(dir, GRANTS_FILE),
    previous: previous === null ? null : { version: previous.version, reason: previous.reason, acceptedAt: previous.acceptedAt },
    widenings,
    narrowings,
  };
}

/** Formats what `homecore accept` stored. */
export function formatAccept(report: AcceptReport): string {
  const lines = [`accepted ${report.plugin} ${report.version} into ${report.file}`];
  if (report.previous === null) lines.push('  no grant was stored for it before');
  else {
    lines.push(`  replaces the grant of version ${report.previous.version} (${report.previous.reason.replace('_', ' ')}, ${new Date(report.previous.acceptedAt).toISOString()})`);
    if (report.widenings.length > 0) lines.push(`  now accepted (${report.widenings.length}):`, ...differenceLines(report.widenings, '+').map((l) => `  ${l}`));
    if (report.narrowings.length > 0) lines.push(`  given up (${report.narrowings.length}):`, ...differenceLines(report.narrowings, '-').map((l) => `  ${l}`));
    if (report.widenings.length === 0 && report.narrowings.length === 0) lines.push('  it asks for the same as before');
  }
  return `${lines.join('\n')}\n`;
}
