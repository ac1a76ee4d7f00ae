import { readdir, readFile, mkdir, stat, writeFile, copyFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCode, HomecoreError } from '@homecore/core-traits';
import { validateManifest } from '@homecore/manifest';
import { usageError } from './usage.js';

/** The languages `homecore new` scaffolds, with the name people know them by. */
export const NEW_LANGUAGES = { ts: 'TypeScript (native)', as: 'AssemblyScript', c: 'C', rust: 'Rust', wat: 'WebAssembly text (WAT)' } as const;

/** A language `homecore new` scaffolds. */
export type NewLanguage = keyof typeof NEW_LANGUAGES;

/** What `homecore new` is asked to make. */
export interface NewProjectOptions {
  /** The plugin's domain, also the folder's default name. */
  readonly name: string;
  readonly lang: NewLanguage;
  /** The folder to create (default `./<name>`); it must not exist or be empty. */
  readonly dir?: string;
  /** A folder of `pnpm pack` tarballs: the project depends on them through `file:` and overrides. */
  readonly tarballs?: string;
}

/** What `homecore new` made. */
export interface NewProjectResult {
  readonly domain: string;
  readonly lang: NewLanguage;
  readonly dir: string;
  /** The files written, relative to `dir`, sorted. */
  readonly files: readonly string[];
  /** The built plugin file the manifest's entry names. */
  readonly entry: string;
  /** The commands that come next, run in `dir`. */
  readonly next: readonly string[];
}

// The template plugin's entities; the manifest's permissions and subscriptions name them.
const SENSOR = 'sensor.living_room_temperature';
const LOG_LINE = `watching ${SENSOR}: on above 25, off below 20`;

const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));
const TEMPLATES = join(PACKAGE_ROOT, 'templates');
const STAGED = join(PACKAGE_ROOT, 'dist', 'scaffold');

/** The reason `name` cannot be a plugin's domain (the manifest's own rule), or undefined. */
export function domainProblem(name: string): string | undefined {
  const result = validateManifest({ domain: name, name: 'x', version: '0.1.0' });
  const issue = result.errors.find((e) => e.pointer === '/domain');
  return issue === undefined ? undefined : `${JSON.stringify(name)} cannot be a plugin domain (manifest rule "${issue.rule}"): ${issue.message.replace(/^"[^"]*" is not valid: /, '')}`;
}

/** Reads `homecore new`'s flags and positionals, prompting for what is missing on a terminal. */
export async function resolveNewOptions(
  positionals: readonly string[],
  flags: { lang?: string | undefined; dir?: string | undefined; tarballs?: string | undefined },
  interactive: boolean,
): Promise<NewProjectOptions | undefined> {
  if (positionals.length > 1) throw usageError(`"homecore new" takes one name, got ${positionals.map((p) => JSON.stringify(p)).join(' ')}`);
  let name = positionals[0];
  let lang = flags.lang;
  if (lang !== undefined && !(lang in NEW_LANGUAGES)) throw usageError(`--lang takes one of ${Object.keys(NEW_LANGUAGES).join(', ')}; got ${JSON.stringify(lang)}`);
  if (name !== undefined) {
    const problem = domainProblem(name);
    if (problem !== undefined) throw usageError(problem);
  }
  if (name === undefined || lang === undefined) {
    if (!interactive) {
      const missing = [name === undefined ? 'the plugin\'s name (its domain, e.g. "heat_alert") as the first argument' : undefined, lang === undefined ? `--lang ${Object.keys(NEW_LANGUAGES).join('|')}` : undefined].filter(Boolean);
      throw usageError(`"homecore new" needs ${missing.join(' and ')} (it prompts for them only on a terminal)`);
    }
    const answers = await prompt(name, lang as NewLanguage | undefined);
    if (answers === undefined) return undefined;
    name = answers.name;
    lang = answers.lang;
  }
  return { name, lang: lang as NewLanguage, ...(flags.dir === undefined ? {} : { dir: flags.dir }), ...(flags.tarballs === undefined ? {} : { tarballs: flags.tarballs }) };
}

/** Asks for the name and language on the terminal (@clack/prompts); undefined when cancelled. */
async function prompt(name: string | undefined, lang: NewLanguage | undefined): Promise<{ name: string; lang: NewLanguage } | undefined> {
  const clack = await import('@clack/prompts');
  clack.intro('homecore new: a plugin project');
  let answeredName = name;
  if (answeredName === undefined) {
    const value = await clack.text({
      message: 'Plugin domain (lowercase letters, digits, single underscores)',
      placeholder: 'heat_alert',
      validate: (v) => (v === undefined || v === '' ? 'give a domain, e.g. heat_alert' : domainProblem(v)),
    });
    if (clack.isCancel(value)) {
      clack.cancel('cancelled: nothing was written');
      return undefined;
    }
    answeredName = value;
  }
  let answeredLang = lang;
  if (answeredLang === undefined) {
    const value = await clack.select<NewLanguage>({
      message: 'Language',
      options: (Object.keys(NEW_LANGUAGES) as NewLanguage[]).map((key) => ({ value: key, label: NEW_LANGUAGES[key], hint: key })),
    });
    if (clack.isCancel(value)) {
      clack.cancel('cancelled: nothing was written');
      return undefined;
    }
    answeredLang = value;
  }
  clack.outro(`creating ${answeredName} (${NEW_LANGUAGES[answeredLang]})`);
  return { name: answeredName, lang: answeredLang };
}

/** Writes a standalone plugin project: manifest.json at its root, source, build script, test, scenario, README. */
export async function createProject(options: NewProjectOptions, cwd: string = process.cwd()): Promise<NewProjectResult> {
  const { name: domain, lang } = options;
  const problem = domainProblem(domain);
  if (problem !== undefined) throw usageError(problem);
  if (!(lang in NEW_LANGUAGES)) throw usageError(`--lang takes one of ${Object.keys(NEW_LANGUAGES).join(', ')}; got ${JSON.stringify(lang)}`);
  const dir = resolve(cwd, options.dir ?? domain);
  await requireEmptyFolder(dir);
  const versions = await readStaged<Record<string, string>>('versions.json');
  const tarballs = options.tarballs === undefined ? undefined : await findTarballs(resolve(cwd, options.tarballs));
  const alert = `binary_sensor.${domain}`;
  const vars: Record<string, string> = {
    domain,
    name: titleOf(domain),
    sensor: SENSOR,
    alert,
    alert_len: String(Buffer.byteLength(alert)),
    log_len: String(Buffer.byteLength(LOG_LINE)),
  };
  const spec = LANGUAGE_SPECS[lang];
  const files = new Map<string, string | { copy: string }>();
  for (const file of await listTemplates(lang)) files.set(file.target, fill(await readFile(file.source, 'utf8'), vars));
  for (const [target, staged] of Object.entries(spec.vendored)) files.set(target, { copy: join(STAGED, staged) });
  files.set('manifest.json', `${JSON.stringify(manifestFor(domain, lang), null, 2)}\n`);
  files.set('package.json', `${JSON.stringify(packageJson(domain, lang, versions, tarballs, dir), null, 2)}\n`);
  files.set('scenario.jsonl', scenario());
  files.set('test/plugin.test.ts', testFile(domain, alert));
  files.set('README.md', readme(domain, lang, alert));
  files.set('.gitignore', 'node_modules/\nbuild/\ndist/\n.homecore/\n*.tgz\n# homecore keygen keys/: the private key stays out of git\nkeys/*.key.pem\n');
  for (const [target, content] of files) {
    const path = join(dir, ...target.split('/'));
    await mkdir(dirname(path), { recursive: true });
    if (typeof content === 'string') await writeFile(path, content);
    else {
      try {
        await copyFile(content.copy, path);
      } catch (error) {
        throw new HomecoreError(ErrorCode.INTERNAL, `${content.copy} is missing from @homecore/cli: the package was built without its scaffold files (run its build)`, { cause: error });
      }
    }
  }
  return { domain, lang, dir, files: [...files.keys()].sort(), entry: spec.entry, next: [`cd ${relative(cwd, dir) || '.'}`, 'npm install', 'npm run build', 'npm test', 'npm start'] };
}

/** Formats `createProject`'s result for people. */
export function formatNewProject(result: NewProjectResult, cwd: string = process.cwd()): string {
  const lines = [`created ${result.domain} (${NEW_LANGUAGES[result.lang]}) in ${result.dir}`, ...result.files.map((f) => `  ${f}`), '', 'next:'];
  for (const step of result.next) lines.push(`  ${step}${step === 'npm start' ? `    # homecore run . --scenario scenario.jsonl` : ''}`);
  lines.push('', `The build writes ${result.entry}; see ${join(relative(cwd, result.dir) || '.', 'README.md')}.`);
  return `${lines.join('\n')}\n`;
}

async function requireEmptyFolder(dir: string): Promise<void> {
  let entries: string[];
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) throw new HomecoreError(ErrorCode.NEW_TARGET_NOT_EMPTY, `${dir} exists and is not a folder: give another --dir or name`);
    entries = await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (entries.length > 0) {
    throw new HomecoreError(ErrorCode.NEW_TARGET_NOT_EMPTY, `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', ...' : ''}): homecore new never overwrites; give another --dir or name, or empty it`);
  }
}

async function readStaged<T>(file: string): Promise<T> {
  try {
    return JSON.parse(await readFile(join(STAGED, file), 'utf8')) as T;
  } catch (error) {
    throw new HomecoreError(ErrorCode.INTERNAL, `${join(STAGED, file)} is missing from @homecore/cli: the package was built without its scaffold files (run its build)`, { cause: error });
  }
}

/** The tarballs `pnpm pack` wrote into `dir`, by package name (homecore-core-traits-0.1.0.tgz is @homecore/core-traits). */
async function findTarballs(dir: string): Promise<Map<string, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw usageError(`--tarballs ${dir} is not a readable folder: give the folder \`pnpm pack\` wrote the @homecore tarballs into`);
  }
  const found = new Map<string, string>();
  for (const file of names.sort()) {
    const match = /^homecore-(.+?)-(\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)\.tgz$/.exec(file);
    if (match === null) continue;
    const pkg = `@homecore/${match[1]}`;
    if (found.has(pkg)) throw usageError(`--tarballs ${dir} holds two tarballs of ${pkg} (${basename(found.get(pkg)!)} and ${file}): keep one`);
    found.set(pkg, join(dir, file));
  }
  if (found.size === 0) throw usageError(`--tarballs ${dir} holds no homecore-<name>-<version>.tgz files (make them with \`pnpm pack\` in each package)`);
  return found;
}

interface LanguageSpec {
  readonly runtime: 'native' | 'wasm';
  readonly entry: string;
  readonly hostImports?: readonly string[];
  readonly scripts: { build: string; 'build:dev': string };
  readonly devDependencies: readonly string[];
  /** Files copied from dist/scaffold (the repository's SDKs), by their path in the project. */
  readonly vendored: Readonly<Record<string, string>>;
  readonly label: string;
}

const WASM_DEPS = ['@homecore/cli', '@homecore/manifest', '@homecore/runtime-wasm', '@homecore/testing', 'vitest'];

const LANGUAGE_SPECS: Record<NewLanguage, LanguageSpec> = {
  ts: {
    runtime: 'native',
    entry: 'dist/index.js',
    scripts: { build: 'tsc -p tsconfig.json', 'build:dev': 'tsc -p tsconfig.json' },
    devDependencies: ['@homecore/cli', '@homecore/core-traits', '@homecore/manifest', '@homecore/testing', 'typescript', 'vitest'],
    vendored: {},
    label: 'TypeScript',
  },
  as: {
    runtime: 'wasm',
    entry: 'build/plugin.wasm',
    hostImports: ['hc_log', 'hc_state_set'],
    scripts: { build: 'asc --config asconfig.json --target release', 'build:dev': 'asc --config asconfig.json --target dev' },
    devDependencies: [...WASM_DEPS, '@homecore/sdk-assemblyscript', 'assemblyscript'],
    vendored: {},
    label: 'AssemblyScript',
  },
  c: {
    runtime: 'wasm',
    entry: 'build/plugin.wasm',
    hostImports: ['hc_log', 'hc_state_set'],
    scripts: { build: 'node build.mjs', 'build:dev': 'node build.mjs --dev' },
    devDependencies: WASM_DEPS,
    vendored: { 'include/homecore.h': 'c/homecore.h' },
    label: 'C',
  },
  rust: {
    runtime: 'wasm',
    entry: 'build/plugin.wasm',
    hostImports: ['hc_log', 'hc_state_set'],
    scripts: { build: 'node build.mjs', 'build:dev': 'node build.mjs --dev' },
    devDependencies: WASM_DEPS,
    vendored: { 'vendor/homecore/Cargo.toml': 'rust/homecore/Cargo.toml', 'vendor/homecore/src/lib.rs': 'rust/homecore/src/lib.rs' },
    label: 'Rust',
  },
  wat: {
    runtime: 'wasm',
    entry: 'build/plugin.wasm',
    hostImports: ['hc_log', 'hc_state_set'],
    scripts: { build: 'node build.mjs', 'build:dev': 'node build.mjs --dev' },
    devDependencies: [...WASM_DEPS, 'wabt'],
    vendored: {},
    label: 'WAT',
  },
};

/** The template files of a language: templates/<lang>/** with `.tmpl` dropped. */
async function listTemplates(lang: NewLanguage): Promise<{ source: string; target: string }[]> {
  const base = join(TEMPLATES, lang);
  const out: { source: string; target: string }[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else out.push({ source: path, target: relative(base, path).split(sep).join('/').replace(/\.tmpl$/, '') });
    }
  };
  await walk(base);
  return out;
}

function fill(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (whole, key: string) => vars[key] ?? whole);
}

function titleOf(domain: string): string {
  const words = domain.split('_').join(' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function manifestFor(domain: string, lang: NewLanguage): Record<string, unknown> {
  const spec = LANGUAGE_SPECS[lang];
  return {
    $schema: './node_modules/@homecore/manifest/schema/manifest.schema.json',
    domain,
    name: titleOf(domain),
    version: '0.1.0',
    iot_class: 'calculated',
    runtime: spec.runtime,
    entry: spec.entry,
    permissions: [`state:read:${SENSOR}`, `state:write:binary_sensor.${domain}`],
    subscriptions: { entities: [SENSOR] },
    ...(spec.hostImports === undefined ? {} : { host_imports_required: spec.hostImports, limits: { memory_pages: 16 } }),
  };
}

function packageJson(domain: string, lang: NewLanguage, versions: Readonly<Record<string, string>>, tarballs: Map<string, string> | undefined, dir: string): Record<string, unknown> {
  const spec = LANGUAGE_SPECS[lang];
  const fileSpec = (path: string) => `file:${relative(dir, path).split(sep).join('/')}`;
  const devDependencies: Record<string, string> = {};
  const missing: string[] = [];
  for (const dep of [...spec.devDependencies].sort()) {
    const tarball = tarballs?.get(dep);
    if (tarballs !== undefined && dep.startsWith('@homecore/') && tarball === undefined) missing.push(dep);
    const range = tarball === undefined ? versions[dep] : fileSpec(tarball);
    if (range === undefined) throw new HomecoreError(ErrorCode.INTERNAL, `@homecore/cli's dist/scaffold/versions.json names no version of ${dep}: rebuild the package`);
    devDependencies[dep] = range;
  }
  if (missing.length > 0) throw usageError(`--tarballs has no tarball of ${missing.join(', ')}: pack every @homecore package the project needs`);
  // Every tarball overrides its package wherever it appears, so the packages the direct ones depend on come from the tarballs too.
  const overrides = tarballs === undefined ? undefined : Object.fromEntries([...tarballs].sort(([a], [b]) => (a < b ? -1 : 1)).map(([pkg, path]) => [pkg, fileSpec(path)]));
  return {
    name: domain,
    version: '0.1.0',
    private: true,
    description: `${titleOf(domain)}: a HOMECORE ${spec.runtime} plugin in ${spec.label}`,
    type: 'module',
    scripts: {
      ...spec.scripts,
      test: 'npm run build && vitest run',
      start: `homecore run . --scenario scenario.jsonl${spec.runtime === 'wasm' ? ' --allow-unsigned' : ''}`,
    },
    devDependencies,
    ...(overrides === undefined ? {} : { overrides, pnpm: { overrides } }),
    engines: { node: '>=20' },
  };
}

function scenario(): string {
  const set = (state: string) => `${JSON.stringify({ set: SENSOR, state, attributes: { unit_of_measurement: '°C' } })}\n`;
  return [
    '# homecore run . --scenario scenario.jsonl: the living room warms up, the sensor drops out, then it cools down',
    set('22'),
    set('26.5'),
    '{"wait": 2000}\n',
    `${JSON.stringify({ set: SENSOR, state: 'unavailable' })}\n`,
    set('19.25'),
  ].join('\n').replace(/\n\n/g, '\n');
}

function testFile(domain: string, alert: string): string {
  return `// The plugin in a test home (@homecore/testing): the real registry and reference core on a manual
// clock; wasm plugins load in development trust, so an unsigned build/plugin.wasm is fine here.
import { fileURLToPath } from 'node:url';
import { createTestHome } from '@homecore/testing';
import { expect, test } from 'vitest';

const folder = fileURLToPath(new URL('..', import.meta.url));
const SENSOR = '${SENSOR}';
const ALERT = '${alert}';

test('the alert turns on above 25, off below 20, and ignores the dead band and non-numbers', async () => {
  const home = await createTestHome();
  try {
    await home.loadFolder(folder);
    await home.set(SENSOR, '22'); // between 20 and 25: nothing
    await home.set(SENSOR, '26.5');
    await home.set(SENSOR, 'unavailable');
    await home.set(SENSOR, '19.25');
    home.expectLines([
      \`${domain}: set \${ALERT} = "on" {"temperature":26.5}\`,
      \`${domain}: set \${ALERT} = "off" {"temperature":19.25}\`,
    ]);
    expect(home.state(ALERT)?.state).toBe('off');
  } finally {
    await home.close();
  }
});
`;
}

const BUILD_NOTES: Record<NewLanguage, string> = {
  ts: `\`npm run build\` compiles \`src/index.ts\` with \`tsc\` into \`dist/index.js\` (the manifest's entry). The
entry has only type imports, so the built file imports nothing and the folder runs anywhere.`,
  as: `\`npm run build\` compiles \`assembly/index.ts\` with \`asc --config asconfig.json --target release\`
(\`-O3\`, the incremental runtime, a 16-page memory maximum) into \`build/plugin.wasm\`;
\`npm run build:dev\` uses the \`dev\` target (\`-O0\`), which compiles several times faster. The SDK is
imported as \`@homecore/sdk-assemblyscript/assembly\` from \`node_modules\`. Do not use \`Math.random\`,
\`trace\` or \`Date.now\`: they import from \`env\`, which the host refuses (use \`now()\` from the SDK).`,
  c: `\`npm run build\` runs \`node build.mjs\`: Debian's clang 14 and lld (\`apt-get install -y clang lld\`) compile
\`src/plugin.c\` for \`wasm32\` with no libc (\`-ffreestanding -nostdlib -mbulk-memory -Oz\`, a 64 KiB stack,
a 16-page maximum, stripped) into \`build/plugin.wasm\`; \`npm run build:dev\` uses \`-O1\`.
\`include/homecore.h\` is the HOMECORE C SDK as this version of \`homecore new\` ships it: it declares
the host imports with \`import_module("homecore")\`, the exports with \`export_name\`, and defines
\`memcpy\`/\`memset\` so that no \`env.*\` import appears. Replace it with a newer copy to update.`,
  rust: `\`npm run build\` runs \`node build.mjs\`: Debian's rustc 1.63 with the wasm32 standard library
(\`apt-get install -y rustc libstd-rust-dev-wasm32\`; \`/usr/bin/rustc\`, or set \`RUSTC\`) builds the SDK crate
in \`vendor/homecore\` as an rlib, then \`src/lib.rs\` as a \`cdylib\` for \`wasm32-unknown-unknown\`
(\`opt-level=z\`, LTO, \`panic=abort\`, stripped, a 64 KiB stack: Rust's default 1 MiB stack alone would
need more than the manifest's 16 pages) into \`build/plugin.wasm\`; \`npm run build:dev\` skips LTO,
uses \`opt-level=1\` and reuses the SDK rlib while \`vendor/homecore\` is unchanged. No cargo or
crates.io is needed (the crate has no dependencies); \`vendor/homecore\` is the SDK as this version of
\`homecore new\` ships it.`,
  wat: `\`npm run build\` runs \`node build.mjs\`, which assembles \`src/plugin.wat\` with the \`wabt\` package
(wat2wasm compiled to WebAssembly: nothing to install but this project's dependencies) into
\`build/plugin.wasm\`. WAT has no optimiser: \`build:dev\` is the same build. The module exports
\`memory\`, \`hc_alloc\`/\`hc_free\` (a bump allocator reset after each call), the
\`homecore_abi_version_1\` marker and the hooks, and imports only \`hc_log\` and \`hc_state_set\`.`,
};

const SOURCES: Record<NewLanguage, string> = { ts: 'src/index.ts', as: 'assembly/index.ts', c: 'src/plugin.c', rust: 'src/lib.rs', wat: 'src/plugin.wat' };

function readme(domain: string, lang: NewLanguage, alert: string): string {
  const spec = LANGUAGE_SPECS[lang];
  const wasm = spec.runtime === 'wasm';
  return `# ${titleOf(domain)}

A HOMECORE ${spec.runtime} plugin in ${spec.label}, made by \`homecore new\`. It watches
\`${SENSOR}\`: above 25 it sets \`${alert}\` to \`on\`, below 20 to \`off\` (with the
temperature as an attribute); in between nothing changes, and states that are not plain decimal
numbers (\`unknown\`, \`unavailable\`) are ignored. The entity ids are constants in \`${SOURCES[lang]}\`:
change them together with \`manifest.json\`'s \`permissions\` and \`subscriptions\`.

This folder is the plugin: \`manifest.json\` is at its root and names \`${spec.entry}\` as the entry.

\`\`\`sh
npm install
npm run build        # release build: ${spec.entry}
npm test             # builds, then runs test/plugin.test.ts (vitest and @homecore/testing)
npm start            # homecore run . --scenario scenario.jsonl${wasm ? ' --allow-unsigned' : ''}
npx homecore dev .   # rebuilds (npm run build:dev) and reloads the plugin on every edit
npx homecore validate .
\`\`\`

## Build

${BUILD_NOTES[lang]}

## Files

- \`manifest.json\`: who the plugin is and what it may do (\`$schema\` lets editors complete it from
  \`@homecore/manifest\`'s schema). Add \`documentation\` and \`codeowners\` before you publish
  (\`homecore validate .\` warns until you do).
- \`${SOURCES[lang]}\`: the plugin.
- \`test/plugin.test.ts\`: the behaviour above, in a test home on a manual clock.
- \`scenario.jsonl\`: steps for \`homecore run\` and \`homecore dev\` (\`set\`, \`call\`, \`fire\`, \`wait\`, \`options\`).
${wasm ? `
## Publishing a wasm plugin

The manifest has no \`module_hash\` yet: development runs (\`homecore run --allow-unsigned\`,
\`homecore dev\`, \`@homecore/testing\`) load unsigned modules. A host with a strict trust policy loads
only a module pinned and signed by a publisher it trusts, so before you publish:

\`\`\`sh
npx homecore keygen keys/                  # once; keep keys/publisher.key.pem secret (not in git)
npm run build
npx homecore sign ${spec.entry} --key keys/publisher.key.pem --manifest manifest.json
npx homecore inspect ${spec.entry} --manifest manifest.json --trust-key keys/publisher.pub
\`\`\`

\`sign\` writes \`module_hash\`, \`module_signature\` and \`publisher_key\` into \`manifest.json\`. The pin
holds for that build only: a rebuild that changes the module no longer matches it, so sign each build
you ship (and sign again, or drop the three fields, before going back to development runs).
` : ''}
## Trying unreleased HOMECORE packages

\`homecore new ${domain} --lang ${lang} --tarballs <folder>\` makes the same project depending on the
\`homecore-*.tgz\` files in \`<folder>\` (from \`pnpm pack\` in each package of the HOMECORE repository)
through \`file:\` paths, with npm \`overrides\` (and \`pnpm.overrides\`) so the packages they depend on come
from the tarballs too; \`npm install\` and \`pnpm install\` both honour them. Delete the lockfile and
\`node_modules\` after replacing a tarball.
`;
}
