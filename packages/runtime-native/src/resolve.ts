import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ErrorCode, HomecoreError, errorLocation, type HomeCorePlugin, type PluginCode, type PluginManifest } from '@homecore/core-traits';

/** A factory or a class; which one is told apart at run time. */
type AnyFunction = (() => unknown) | (new () => unknown);

/** The optional hooks a native plugin may define, by method name. */
export const OPTIONAL_HOOKS = ['teardown', 'onStateChanged', 'onEvent', 'onServiceCall', 'onConfigUpdate'] as const;

/** A function (sync or async) that builds a fresh plugin object; each load calls it once. */
export type PluginFactory = () => HomeCorePlugin | Promise<HomeCorePlugin>;

const EXPECTED_SHAPE =
  'a plugin object with a setup(context) function and optional teardown, onStateChanged, onEvent, onServiceCall and onConfigUpdate functions, or a function (or class) that returns one';

// Shared by every runtime in the process, so no two loads ever reuse one module instance.
let importCounter = 0;

/**
 * Turns what the registry hands over into a fresh plugin object: a plugin object, a factory (or
 * class), or the path or file URL of an ES module whose default export or `plugin` export is one
 * of those.
 */
export async function resolvePlugin(code: PluginCode | PluginFactory, manifest: PluginManifest, baseDir: string | undefined): Promise<HomeCorePlugin> {
  const plugin = manifest.domain;
  if (typeof code === 'string' || code instanceof URL) {
    const url = await moduleUrl(code, manifest, baseDir);
    const exported = await importFresh(url, manifest);
    return build(exported, manifest, `the module ${fileURLToPath(url)}`);
  }
  if (code instanceof Uint8Array) {
    throw new HomecoreError(
      ErrorCode.ENTRY_INVALID,
      `InProcessRuntime got raw bytes (a wasm module?); it runs ${EXPECTED_SHAPE}. Set "runtime": "wasm" in the manifest to run a .wasm file`,
      { plugin },
    );
  }
  return build(code, manifest, 'the plugin code');
}

/** Calls a factory (or constructs a class) and checks the result's shape. */
async function build(exported: unknown, manifest: PluginManifest, where: string): Promise<HomeCorePlugin> {
  if (typeof exported !== 'function') return checkPlugin(exported, manifest, capitalise(where));
  return checkPlugin(await instantiate(exported as AnyFunction, manifest, where), manifest, `What the factory in ${where} returned`);
}

async function moduleUrl(code: string | URL, manifest: PluginManifest, baseDir: string | undefined): Promise<URL> {
  const plugin = manifest.domain;
  let path: string;
  if (code instanceof URL || code.startsWith('file:')) {
    const url = new URL(code);
    if (url.protocol !== 'file:') {
      throw new HomecoreError(ErrorCode.ENTRY_INVALID, `The entry ${url.href} is not a file URL; native plugins load from local files only`, { plugin });
    }
    path = fileURLToPath(url);
  } else if (isAbsolute(code)) {
    path = code;
  } else if (baseDir !== undefined) {
    path = resolvePath(baseDir, code);
  } else {
    throw new HomecoreError(
      ErrorCode.ENTRY_INVALID,
      `The entry path ${JSON.stringify(code)} is relative and no baseDir was given; pass an absolute path, a file URL, or the plugin folder as baseDir`,
      { plugin },
    );
  }
  const entry = typeof manifest.entry === 'string' ? ` (manifest entry ${JSON.stringify(manifest.entry)})` : '';
  let isFile: boolean;
  let mtimeMs: number;
  try {
    const info = await stat(path);
    isFile = info.isFile();
    mtimeMs = info.mtimeMs;
  } catch (error) {
    throw new HomecoreError(
      ErrorCode.ENTRY_NOT_FOUND,
      `The entry module ${path}${entry} does not exist; build the plugin or fix "entry" in its manifest.json`,
      { plugin, details: { path, entry: manifest.entry }, cause: error },
    );
  }
  if (!isFile) {
    throw new HomecoreError(
      ErrorCode.ENTRY_NOT_FOUND,
      `The entry ${path}${entry} is not a file; point "entry" at the plugin's ES module (for example dist/index.js)`,
      { plugin, details: { path, entry: manifest.entry } },
    );
  }
  const url = pathToFileURL(path);
  // Node caches modules by URL for the life of the process: a new query makes a reload see the file as it is now.
  importCounter += 1;
  url.search = `?v=${Math.trunc(mtimeMs)}-${importCounter}`;
  return url;
}

async function importFresh(url: URL, manifest: PluginManifest): Promise<unknown> {
  const path = fileURLToPath(url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(/* @vite-ignore */ url.href)) as Record<string, unknown>;
  } catch (error) {
    throw importFailure(error, path, manifest.domain);
  }
  const exported = mod.default ?? mod.plugin;
  if (exported === undefined) {
    throw new HomecoreError(
      ErrorCode.ENTRY_INVALID,
      `The module ${path} has neither a default export nor an export named plugin; export default ${EXPECTED_SHAPE}`,
      { plugin: manifest.domain, details: { path, exports: Object.keys(mod) } },
    );
  }
  return exported;
}

/**
 * Says why an entry module could not be imported: a syntax error (with the file and line), a
 * module it imports that cannot be found, or a throw while the module was evaluated.
 */
function importFailure(error: unknown, path: string, plugin: string): HomecoreError {
  const cause = error instanceof Error ? error : new Error(String(error));
  const text = `${cause.name}: ${cause.message}`;
  const code = (cause as { code?: unknown }).code;
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'ERR_UNSUPPORTED_DIR_IMPORT' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') {
    const specifier = /(?:package|module) '([^']+)'/.exec(cause.message)?.[1];
    return new HomecoreError(
      ErrorCode.ENTRY_IMPORT_FAILED,
      `The entry module ${path} imports something that cannot be found (${cause.message}); install it next to the plugin, or bundle it into the entry`,
      { plugin, details: { path, reason: 'module_not_found', ...(specifier !== undefined ? { specifier } : {}) }, cause },
    );
  }
  if (cause instanceof SyntaxError) {
    // Node names no file for a syntax error met while importing; its checker does, for the entry itself.
    const location = syntaxErrorLocation(path);
    const where = location === undefined ? `in ${path} or a module it imports` : `at ${location}`;
    return new HomecoreError(
      ErrorCode.ENTRY_IMPORT_FAILED,
      `The entry module has a syntax error ${where}: ${text}; fix the source (or its build)`,
      { plugin, details: { path, reason: 'syntax_error', ...(location !== undefined ? { location } : {}) }, cause },
    );
  }
  const location = errorLocation(new HomecoreError(ErrorCode.ENTRY_IMPORT_FAILED, '', { cause }));
  return new HomecoreError(
    ErrorCode.ENTRY_IMPORT_FAILED,
    `Importing the entry module ${path} failed: it threw ${text}${location === undefined ? '' : ` at ${location}`} while being evaluated; code at the top level of a module runs on import: move it into setup()`,
    { plugin, details: { path, reason: 'threw' }, cause },
  );
}

/** `path:line:column` of the syntax error in `path` (an ES module), from `node --check`, or undefined if it has none. */
function syntaxErrorLocation(path: string): string | undefined {
  let source: string;
  try {
    source = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  // On stdin with an explicit type: Node 20 checks a `.js` file given by name as CommonJS first.
  const checked = spawnSync(process.execPath, ['--input-type=module', '--check'], { input: source, encoding: 'utf8', timeout: 10_000 });
  if (checked.status === 0 || typeof checked.stderr !== 'string') return undefined;
  // The first line is `[stdin]:<line>`, then the source line and a caret under the column.
  const [first = '', , caret = ''] = checked.stderr.split('\n');
  const match = /^(.*):(\d+)$/.exec(first);
  if (match === null) return undefined;
  const column = caret.indexOf('^');
  return `${path}:${match[2]}${column >= 0 ? `:${column + 1}` : ''}`;
}

async function instantiate(exported: AnyFunction, manifest: PluginManifest, where: string): Promise<unknown> {
  try {
    return isClass(exported) ? new (exported as new () => unknown)() : await (exported as () => unknown)();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new HomecoreError(
      ErrorCode.ENTRY_INVALID,
      `The plugin factory in ${where} threw: ${text}; a factory should only build the plugin object, and do its work in setup()`,
      { plugin: manifest.domain, cause: error },
    );
  }
}

function checkPlugin(candidate: unknown, manifest: PluginManifest, where: string): HomeCorePlugin {
  const problems: string[] = [];
  if (typeof candidate !== 'object' || candidate === null) {
    problems.push(`it is ${candidate === null ? 'null' : typeof candidate}`);
  } else {
    const record = candidate as Record<string, unknown>;
    if (typeof record.setup !== 'function') problems.push(record.setup === undefined ? 'setup is missing' : `setup is ${typeof record.setup}`);
    for (const hook of OPTIONAL_HOOKS) {
      const value = record[hook];
      if (value !== undefined && typeof value !== 'function') problems.push(`${hook} is ${value === null ? 'null' : typeof value}`);
    }
  }
  if (problems.length > 0) {
    throw new HomecoreError(
      ErrorCode.ENTRY_INVALID,
      `${where} is not a plugin (${problems.join('; ')}); expected ${EXPECTED_SHAPE}`,
      { plugin: manifest.domain, details: { problems } },
    );
  }
  return candidate as HomeCorePlugin;
}

function isClass(fn: AnyFunction): boolean {
  return /^class[\s{]/.test(Function.prototype.toString.call(fn));
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
