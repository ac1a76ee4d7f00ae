import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ErrorCode, HomecoreError, isHomecoreError } from '@homecore/core-traits';
import { parseManifest } from '@homecore/manifest';
import type { ConfigEntryInit, DiscoveredPlugin, DiscoveryReport } from './types.js';

const MANIFEST = 'manifest.json';
const CONFIG = 'config.json';

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

function folderError(error: unknown, folder: string, file: string): HomecoreError {
  if (isHomecoreError(error)) {
    const options = {
      ...(error.plugin !== undefined ? { plugin: error.plugin } : {}),
      details: { ...(error.details ?? {}), folder, file },
      cause: error,
    };
    // The new error adds the `[plugin x]` prefix itself; name the folder unless the message does.
    const message = error.message.replace(/^\[[^\]]*\] /, '');
    return new HomecoreError(error.code, message.includes(folder) ? message : `${file}: ${message}`, options);
  }
  return new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `${file} could not be read (${String(error)}): check the file's permissions`, {
    details: { folder, file },
    cause: error,
  });
}

function parseConfig(text: string, file: string, plugin: string): ConfigEntryInit {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new HomecoreError(ErrorCode.CONFIG_INVALID, `${file} is not valid JSON (${String(cause)}): fix the JSON syntax`, { plugin, cause });
  }
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  const problems: string[] = [];
  if (!isObject(value)) problems.push('the file must hold an object { title?, data?, options? }');
  else {
    const config = value as Record<string, unknown>;
    if (config.title !== undefined && typeof config.title !== 'string') problems.push('/title must be a string');
    if (config.data !== undefined && !isObject(config.data)) problems.push('/data must be an object');
    if (config.options !== undefined && !isObject(config.options)) problems.push('/options must be an object');
    const unknown = Object.keys(config).filter((k) => !['title', 'data', 'options'].includes(k));
    if (unknown.length > 0) problems.push(`unknown keys ${unknown.join(', ')} (allowed: title, data, options)`);
  }
  if (problems.length > 0) {
    throw new HomecoreError(ErrorCode.CONFIG_INVALID, `${file} is malformed: ${problems.join('; ')}`, { plugin, details: { problems } });
  }
  return value as ConfigEntryInit;
}

/** Refuses an `entry` that leaves the plugin folder with a path error, before schema validation. */
function refuseEntryOutside(text: string, folder: string): void {
  let entry: unknown;
  try {
    entry = (JSON.parse(text) as { entry?: unknown } | null)?.entry;
  } catch {
    return; // parseManifest reports the JSON error with its position
  }
  if (typeof entry !== 'string') return;
  if (isAbsolute(entry) || !inside(folder, resolve(folder, entry))) {
    throw new HomecoreError(
      ErrorCode.PATH_OUTSIDE_ROOT,
      `entry ${JSON.stringify(entry)} points outside the plugin folder ${folder}: use a path inside the folder, like "index.js"`,
      { details: { entry } },
    );
  }
}

/** Reads one plugin folder (already known to lie inside the plugin directory); throws a coded error. */
async function readFolder(folder: string, name: string, notes: string[]): Promise<DiscoveredPlugin> {
  const manifestFile = join(folder, MANIFEST);
  const real = await realpath(folder);
  const manifestReal = await realpath(manifestFile);
  if (!inside(real, manifestReal)) {
    throw new HomecoreError(ErrorCode.PATH_OUTSIDE_ROOT, `manifest.json links outside its folder (to ${manifestReal}): use a real file`, {});
  }
  const text = await readFile(manifestReal, 'utf8');
  refuseEntryOutside(text, real);
  const { manifest, warnings } = parseManifest(text, manifestFile);
  const domain = manifest.domain;
  for (const w of warnings) notes.push(`${manifestFile}: ${w.pointer || '(root)'}: ${w.message}`);
  if (name !== domain) notes.push(`${folder}: folder name differs from the domain ${domain}; rename the folder to ${domain}`);

  const entryPath = resolve(real, manifest.entry);
  if (isAbsolute(manifest.entry) || !inside(real, entryPath)) {
    throw new HomecoreError(
      ErrorCode.PATH_OUTSIDE_ROOT,
      `entry ${JSON.stringify(manifest.entry)} points outside the plugin folder: use a path inside the folder, like "index.js"`,
      { plugin: domain, details: { entry: manifest.entry } },
    );
  }
  let entryReal: string;
  try {
    entryReal = await realpath(entryPath);
  } catch {
    throw new HomecoreError(
      ErrorCode.ENTRY_NOT_FOUND,
      `entry ${JSON.stringify(manifest.entry)} does not exist in ${folder}: build the plugin or fix "entry"`,
      { plugin: domain, details: { entry: manifest.entry } },
    );
  }
  if (!inside(real, entryReal)) {
    throw new HomecoreError(
      ErrorCode.PATH_OUTSIDE_ROOT,
      `entry ${JSON.stringify(manifest.entry)} links outside the plugin folder (to ${entryReal}): use a real file inside the folder`,
      { plugin: domain, details: { entry: manifest.entry, target: entryReal } },
    );
  }
  if (!(await stat(entryReal)).isFile()) {
    throw new HomecoreError(ErrorCode.ENTRY_NOT_FOUND, `entry ${JSON.stringify(manifest.entry)} is not a file: point "entry" at the module`, {
      plugin: domain,
      details: { entry: manifest.entry },
    });
  }

  let config: ConfigEntryInit | undefined;
  const configFile = join(real, CONFIG);
  if (await exists(configFile)) {
    const configReal = await realpath(configFile);
    if (!inside(real, configReal)) {
      throw new HomecoreError(ErrorCode.PATH_OUTSIDE_ROOT, `config.json links outside the plugin folder: use a real file`, { plugin: domain });
    }
    config = parseConfig(await readFile(configReal, 'utf8'), join(folder, CONFIG), domain);
  }
  return { dir: real, manifest, code: entryReal, config };
}

/**
 * Reads a plugin folder again (for a reload from disk): the same checks as discovery, the folder
 * still inside `root`. Throws a coded error naming the file at fault.
 */
export async function readPluginFolder(root: string, folder: string): Promise<DiscoveredPlugin> {
  const manifestFile = join(folder, MANIFEST);
  try {
    const real = await realpath(folder);
    if (!inside(root, real)) {
      throw new HomecoreError(ErrorCode.PATH_OUTSIDE_ROOT, `${folder} now links outside the plugin directory ${root}: copy the plugin into it`, {
        details: { folder, target: real },
      });
    }
    if (!(await exists(manifestFile))) {
      throw new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `${manifestFile} is gone: put the plugin's manifest.json back`, { details: { folder } });
    }
    return await readFolder(folder, basename(folder), []);
  } catch (error) {
    throw folderError(error, folder, isHomecoreError(error) && error.code.startsWith('HC_ERR_MANIFEST') ? manifestFile : folder);
  }
}

/**
 * Reads one plugin's own folder (one holding a manifest.json) as a directory of one: the same
 * checks as discovery, but no sibling folder is read, so a copy of the project next to it (same
 * domain) or a broken neighbour changes nothing. `onRoot` hears the folder's parent (real path).
 */
export async function discoverPluginFolder(folder: string, onRoot?: (root: string) => void): Promise<DiscoveryReport> {
  const report: DiscoveryReport = { plugins: [], errors: [], warnings: [] };
  let real: string;
  try {
    real = await realpath(resolve(folder));
    onRoot?.(dirname(real));
  } catch (error) {
    report.errors.push(
      new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `plugin folder ${folder} cannot be read (${String(error)}): pass an existing folder`, {
        details: { folder },
        cause: error,
      }),
    );
    return report;
  }
  try {
    report.plugins.push(await readFolder(real, basename(real), report.warnings));
  } catch (error) {
    report.errors.push(folderError(error, real, isHomecoreError(error) && error.code.startsWith('HC_ERR_MANIFEST') ? join(real, MANIFEST) : real));
  }
  return report;
}

/**
 * Finds plugin folders: every immediate sub-folder of `dir` holding a manifest.json (other
 * entries are skipped silently). Each folder is checked on its own, so a bad one is reported and
 * the others still load; a plugin folder linked from outside `dir` is refused. `onRoot` hears the
 * directory's real path (what `readPluginFolder` checks a folder against later).
 */
export async function discoverPlugins(dir: string, onRoot?: (root: string) => void): Promise<DiscoveryReport> {
  const report: DiscoveryReport = { plugins: [], errors: [], warnings: [] };
  let root: string;
  let names: string[];
  try {
    root = await realpath(resolve(dir));
    names = (await readdir(root)).sort();
    onRoot?.(root);
  } catch (error) {
    report.errors.push(
      new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `plugin directory ${dir} cannot be read (${String(error)}): pass an existing folder`, {
        details: { folder: dir },
        cause: error,
      }),
    );
    return report;
  }

  const found: DiscoveredPlugin[] = [];
  for (const name of names) {
    const folder = join(root, name);
    const manifestFile = join(folder, MANIFEST);
    // A folder without manifest.json is not a plugin (node_modules, .git...): skipped before the
    // link check, so a linked helper folder is no error. Dangling links are skipped the same way.
    if (!(await isDirectory(folder)) || !(await exists(manifestFile))) continue;
    try {
      const real = await realpath(folder);
      if (!inside(root, real)) {
        throw new HomecoreError(
          ErrorCode.PATH_OUTSIDE_ROOT,
          `${folder} is a link to ${real}, outside the plugin directory: copy the plugin into ${root} instead of linking it`,
          { details: { folder, target: real } },
        );
      }
    } catch (error) {
      report.errors.push(folderError(error, folder, folder));
      continue;
    }
    try {
      found.push(await readFolder(folder, name, report.warnings));
    } catch (error) {
      report.errors.push(folderError(error, folder, isHomecoreError(error) && error.code.startsWith('HC_ERR_MANIFEST') ? manifestFile : folder));
    }
  }

  // Duplicate domains: keep the folder named after the domain (else the first by name), refuse the rest.
  const byDomain = new Map<string, DiscoveredPlugin[]>();
  for (const plugin of found) {
    const list = byDomain.get(plugin.manifest.domain) ?? [];
    list.push(plugin);
    byDomain.set(plugin.manifest.domain, list);
  }
  for (const [domain, list] of byDomain) {
    const keep = list.find((p) => p.dir.endsWith(`${sep}${domain}`)) ?? (list[0] as DiscoveredPlugin);
    report.plugins.push(keep);
    for (const other of list) {
      if (other === keep) continue;
      report.errors.push(
        new HomecoreError(
          ErrorCode.DUPLICATE_PLUGIN,
          `${other.dir} and ${keep.dir} both declare domain ${domain}; ${other.dir} was skipped: remove one of them or change its domain`,
          { plugin: domain, details: { folders: [keep.dir, other.dir] } },
        ),
      );
    }
  }
  report.plugins.sort((a, b) => (a.manifest.domain < b.manifest.domain ? -1 : 1));
  return report;
}
