import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { delimiter, dirname, join, resolve } from 'node:path';

/** The script `homecore dev` runs after a change: the fast `build:dev` when the project has one, else `build`. */
export async function buildScript(dir: string): Promise<'build:dev' | 'build' | undefined> {
  let scripts: Record<string, unknown> | undefined;
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, unknown> };
    scripts = pkg.scripts;
  } catch {
    // No (readable) package.json: an in-repo plugin folder with nothing to build.
    return undefined;
  }
  if (typeof scripts?.['build:dev'] === 'string') return 'build:dev';
  if (typeof scripts?.build === 'string') return 'build';
  return undefined;
}

/** How one build went. */
export interface BuildResult {
  ok: boolean;
  /** The exit code, or null when a signal ended it. */
  code: number | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
  ms: number;
}

/** A running build that can be stopped (when dev shuts down). */
export interface RunningBuild {
  readonly done: Promise<BuildResult>;
  stop(): void;
}

/** Enough of a compiler's output to find the error; the rest is cut from the middle. */
const MAX_OUTPUT_CHARS = 64 * 1024;

/**
 * Runs a package.json script as `npm run` does: its pre/post scripts around it, in a shell, in the
 * project folder, with every node_modules/.bin from there up on PATH and the npm_lifecycle_event
 * and npm_package_* names set. Not through npm itself: npm's own start-up costs 0.4 to 1 s per
 * edit on a busy machine, most of a dev loop's budget.
 */
export function runBuild(dir: string, script: string): RunningBuild {
  const started = performance.now();
  let output = '';
  let current: ChildProcess | undefined;
  let stopped = false;
  const collect = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    if (output.length > MAX_OUTPUT_CHARS * 2) output = `${output.slice(0, MAX_OUTPUT_CHARS)}\n[...]\n${output.slice(-MAX_OUTPUT_CHARS)}`;
  };
  const runOne = (pkg: PackageJson, name: string) =>
    new Promise<number | null>((settle) => {
      const command = pkg.scripts?.[name];
      if (typeof command !== 'string') return settle(0);
      const shell = process.platform === 'win32' ? { file: process.env.ComSpec ?? 'cmd.exe', args: ['/d', '/s', '/c', command] } : { file: '/bin/sh', args: ['-c', command] };
      // Its own process group, so stopping it also stops the compiler the shell started.
      const child = spawn(shell.file, shell.args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32', env: scriptEnv(dir, pkg, name) });
      current = child;
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('error', (error) => {
        output += `could not start ${shell.file}: ${error.message}\n`;
        settle(null);
      });
      child.once('close', (code) => settle(code));
    });
  const done = (async (): Promise<BuildResult> => {
    let pkg: PackageJson;
    try {
      pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
    } catch (error) {
      return { ok: false, code: null, output: `package.json cannot be read: ${(error as Error).message}\n`, ms: performance.now() - started };
    }
    let code: number | null = 0;
    for (const name of [`pre${script}`, script, `post${script}`]) {
      if (stopped) break;
      code = await runOne(pkg, name);
      if (code !== 0) break;
    }
    return { ok: code === 0 && !stopped, code, output, ms: performance.now() - started };
  })();
  return {
    done,
    stop() {
      stopped = true;
      const child = current;
      if (child === undefined || child.exitCode !== null || child.pid === undefined) return;
      try {
        if (process.platform === 'win32') child.kill();
        else process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    },
  };
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  scripts?: Record<string, unknown>;
}

function scriptEnv(dir: string, pkg: PackageJson, name: string): NodeJS.ProcessEnv {
  const bins: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    bins.push(join(at, 'node_modules', '.bin'));
    if (dirname(at) === at) break;
  }
  const pathKey = Object.keys(process.env).find((k) => k.toUpperCase() === 'PATH') ?? 'PATH';
  return {
    ...process.env,
    [pathKey]: [...bins, process.env[pathKey] ?? ''].join(delimiter),
    npm_lifecycle_event: name,
    npm_lifecycle_script: String(pkg.scripts?.[name] ?? ''),
    npm_package_json: join(dir, 'package.json'),
    ...(typeof pkg.name === 'string' ? { npm_package_name: pkg.name } : {}),
    ...(typeof pkg.version === 'string' ? { npm_package_version: pkg.version } : {}),
    npm_node_execpath: process.execPath,
    NODE: process.execPath,
  };
}

/** What re-pinning found. */
export type RepinResult =
  | { kind: 'unchanged' }
  | { kind: 'repinned'; from: string; to: string; droppedSignature: boolean; text: string }
  | { kind: 'refused'; from: string; to: string };

/**
 * Pins a wasm plugin's `module_hash` to the bytes its build just wrote. Only a manifest that pins a
 * hash and a wasm entry that exists are touched; a signature of the old bytes is dropped with it
 * (it cannot verify any more, and the development policy loads unsigned modules). Under a strict
 * policy nothing is written and the stale pin is reported instead. Other fields keep their order;
 * `beforeWrite` gets the new text just before it is written.
 */
export async function repinModule(dir: string, strict: boolean, beforeWrite: (text: string) => void = () => {}): Promise<RepinResult> {
  const manifestPath = join(dir, 'manifest.json');
  let text: string;
  let manifest: Record<string, unknown>;
  try {
    text = await readFile(manifestPath, 'utf8');
    manifest = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { kind: 'unchanged' }; // the load reports a missing or broken manifest
  }
  if (manifest.runtime !== 'wasm' || typeof manifest.entry !== 'string' || typeof manifest.module_hash !== 'string') return { kind: 'unchanged' };
  let bytes: Buffer;
  try {
    bytes = await readFile(resolve(dir, manifest.entry));
  } catch {
    return { kind: 'unchanged' }; // the load reports the missing entry
  }
  const to = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  const from = manifest.module_hash;
  if (from === to) return { kind: 'unchanged' };
  if (strict) return { kind: 'refused', from, to };
  const droppedSignature = 'module_signature' in manifest || 'publisher_key' in manifest;
  // Only the hash's own text changes when it can, so the author's layout of the file stays.
  const pinned = JSON.stringify(from);
  const inPlace = !droppedSignature && text.indexOf(pinned) === text.lastIndexOf(pinned) && text.includes(pinned);
  manifest.module_hash = to;
  delete manifest.module_signature;
  delete manifest.publisher_key;
  const written = inPlace ? text.replace(pinned, JSON.stringify(to)) : `${JSON.stringify(manifest, null, 2)}\n`;
  // Told first: a watcher may see the file change before this function returns. Written whole
  // by a rename, so no one reads it half written (a dot-file is nobody's source).
  beforeWrite(written);
  const temp = join(dir, `.manifest.json.${process.pid}.tmp`);
  await writeFile(temp, written);
  await rename(temp, manifestPath);
  return { kind: 'repinned', from, to, droppedSignature, text: written };
}
