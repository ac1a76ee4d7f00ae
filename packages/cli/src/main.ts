import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ErrorCode, HOMECORE_VERSION, isHomecoreError, toHomecoreError } from '@homecore/core-traits';
import type { IsolationLevel, IsolationPolicy } from '@homecore/runtime-native';
import { DATA_DIR_ENV } from './env.js';
import { jsonOutput, textOutput } from './output.js';
import { readTrustKeys } from './trust.js';
import { USAGE, usageError } from './usage.js';

// Each command imports what it needs when it runs: `homecore --help` or `validate` never load the
// registry, the runtimes or the test kit.

/** Where `homecore` writes; injectable so it can be tested and embedded. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Use ANSI colours in text output. */
  color?: boolean;
  /** Environment variables (default process.env); `HOMECORE_DATA_DIR` names the data directory. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Ends `homecore serve` when it aborts (the command wires SIGINT and SIGTERM to it); serve refuses to start without one. */
  signal?: AbortSignal;
  /** Let `homecore new` prompt for what is missing (default: when stdin and stdout are terminals). */
  interactive?: boolean;
}

const OPTIONS = {
  json: { type: 'boolean' },
  scenario: { type: 'string' },
  'trust-key': { type: 'string', multiple: true },
  'allow-unsigned': { type: 'boolean' },
  manifest: { type: 'string' },
  key: { type: 'string' },
  strict: { type: 'boolean' },
  'ha-core': { type: 'boolean' },
  isolation: { type: 'string' },
  trusted: { type: 'string', multiple: true },
  'data-dir': { type: 'string' },
  watch: { type: 'boolean' },
  port: { type: 'string' },
  host: { type: 'string' },
  name: { type: 'string' },
  lang: { type: 'string' },
  dir: { type: 'string' },
  tarballs: { type: 'string' },
  'no-build': { type: 'boolean' },
  debounce: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const ALLOWED: Record<string, (keyof typeof OPTIONS)[]> = {
  run: ['json', 'scenario', 'trust-key', 'allow-unsigned', 'isolation', 'trusted', 'data-dir'],
  validate: ['json', 'strict', 'ha-core'],
  list: ['json'],
  inspect: ['json', 'manifest', 'trust-key', 'allow-unsigned'],
  sign: ['json', 'manifest', 'key'],
  conformance: ['json', 'scenario', 'trust-key', 'allow-unsigned', 'isolation', 'trusted'],
  keygen: ['json'],
  diff: ['json'],
  accept: ['json', 'data-dir'],
  serve: ['json', 'trust-key', 'allow-unsigned', 'isolation', 'trusted', 'data-dir', 'watch', 'port', 'host'],
  status: ['json', 'data-dir'],
  token: ['json', 'data-dir', 'name'],
  new: ['json', 'lang', 'dir', 'tarballs'],
  dev: ['json', 'scenario', 'trust-key', 'allow-unsigned', 'isolation', 'trusted', 'no-build', 'debounce'],
};

/** Runs the `homecore` command with `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let json = argv.includes('--json');
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw usageError((err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, ''));
    }
    const { values, positionals } = parsed;
    json = values.json === true;
    if (values.version) {
      io.stdout(`${HOMECORE_VERSION}\n`);
      return 0;
    }
    const [command, ...rest] = positionals;
    if (values.help || command === undefined || command === 'help') {
      io.stdout(USAGE);
      return command === undefined && !values.help ? 2 : 0;
    }
    const allowed = ALLOWED[command];
    if (allowed === undefined) throw usageError(`unknown command ${JSON.stringify(command)}; commands are ${Object.keys(ALLOWED).join(', ')}`);
    for (const key of Object.keys(values) as (keyof typeof OPTIONS)[]) {
      if (key !== 'help' && key !== 'version' && !allowed.includes(key)) throw usageError(`"homecore ${command}" does not take --${key}`);
    }
    const paths = command === 'conformance' || command === 'diff' ? 2 : command === 'status' ? 0 : 1;
    if (command === 'status' && rest.length > 0) throw usageError(`"homecore status" takes no path: give the data directory with --data-dir`);
    if (rest.length !== paths && command !== 'new') {
      throw usageError(`"homecore ${command}" takes exactly ${paths === 1 ? 'one path' : 'two paths'}, got ${rest.length === 0 ? 'none' : rest.map((r) => JSON.stringify(r)).join(' ')}`);
    }
    const target = rest[0] ?? '.';
    const trustedKeys = readTrustKeys(values['trust-key'] ?? [], process.cwd());
    const isolation = await isolationPolicy(values.isolation, values.trusted);
    const dataDir = dataDirectory(values['data-dir'], io.env ?? process.env);

    switch (command) {
      case 'run': {
        const output = (elapsed: () => number) => (json ? jsonOutput(io.stdout, elapsed) : textOutput(io.stdout, elapsed, io.color === true));
        const { runPlugins } = await import('./run.js');
        return await runPlugins({ dir: resolve(target), output, ...(values.scenario === undefined ? {} : { scenario: values.scenario }), trustedKeys, allowUnsigned: values['allow-unsigned'] === true, isolation, ...(dataDir === undefined ? {} : { dataDir }) });
      }
      case 'serve': {
        const api = apiAddress(values.port, values.host);
        await (await import('./house.js')).requireDirectory(resolve(target));
        const signal = io.signal;
        if (signal === undefined) throw usageError('"homecore serve" runs until signalled: it needs a process (the homecore command) or a caller that passes a signal');
        const output = (elapsed: () => number) => (json ? jsonOutput(io.stdout, elapsed) : textOutput(io.stdout, elapsed, io.color === true));
        const { defaultDataDir, serveUntil } = await import('./serve.js');
        return await serveUntil({ dir: resolve(target), output, trustedKeys, allowUnsigned: values['allow-unsigned'] === true, isolation, dataDir: dataDir ?? defaultDataDir(target), watch: values.watch === true, ...(api === undefined ? {} : { api }) }, signal);
      }
      case 'dev': {
        const signal = io.signal;
        if (signal === undefined) throw usageError('"homecore dev" runs until signalled: it needs a process (the homecore command) or a caller that passes a signal');
        const debounceMs = values.debounce === undefined ? 100 : Number(values.debounce);
        if (!/^\d+$/.test(values.debounce ?? '0') || debounceMs > 60_000) throw usageError(`--debounce takes milliseconds from 0 to 60000; got ${JSON.stringify(values.debounce)}`);
        const { devUntil } = await import('./dev.js');
        return await devUntil({ target, write: io.stdout, json, color: io.color === true, ...(values.scenario === undefined ? {} : { scenario: values.scenario }), trustedKeys, allowUnsigned: values['allow-unsigned'] === true, isolation, build: values['no-build'] !== true, debounceMs }, signal);
      }
      case 'status': {
        // serve's default, .homecore next to the plugins directory, is ./.homecore when both run from the plugins' parent.
        const { formatStatus, readStatus } = await import('./status.js');
        const report = await readStatus(dataDir ?? resolve('.homecore'));
        io.stdout(json ? `${JSON.stringify(report)}\n` : formatStatus(report));
        return report.running ? 0 : 1;
      }
      case 'token': {
        if (target !== 'create') throw usageError(`"homecore token" takes create; got ${JSON.stringify(target)}`);
        if (values.name === undefined || values.name.trim() === '') throw usageError('"homecore token create" needs --name <name>: what the token is for, for example "kitchen tablet"');
        const apiModule = await (await import('./api.js')).requireApi('"homecore token create"');
        const dir = dataDir ?? resolve('.homecore');
        const created = await apiModule.createToken(dir, { name: values.name });
        const file = join(dir, apiModule.TOKENS_FILE);
        io.stdout(
          json
            ? `${JSON.stringify({ kind: 'token', ...created, file })}\n`
            : `${created.token}\n\ncreated token "${created.name}" (id ${created.id}, acting as ${created.user_id}) in ${file}\nIt is shown this once and stored only as a hash: keep it now. Clients send it as "Authorization: Bearer <token>" or in the WebSocket auth message.\n`,
        );
        return 0;
      }
      case 'validate': {
        const { formatValidation, validatePath } = await import('./validate.js');
        const reports = await validatePath(target, { mode: values['ha-core'] === true ? 'core' : 'custom' });
        const strict = values.strict === true;
        if (json) for (const r of reports) io.stdout(`${JSON.stringify(r)}\n`);
        else io.stdout(formatValidation(reports, strict));
        return reports.every((r) => r.ok && !(strict && r.warnings.length > 0)) ? 0 : 1;
      }
      case 'list':
        return await listPlugins(target, json, io);
      case 'inspect': {
        let bytes: Uint8Array;
        try {
          bytes = await readFile(resolve(target));
        } catch {
          throw usageError(`${target} cannot be read: give the path of a .wasm file`);
        }
        let manifest: unknown;
        if (values.manifest !== undefined) {
          try {
            manifest = JSON.parse(await readFile(resolve(values.manifest), 'utf8'));
          } catch (err) {
            throw usageError(`--manifest ${values.manifest} is not a readable JSON file (${(err as Error).message})`);
          }
        }
        const { inspectWasm } = await import('./inspect.js');
        const report = await inspectWasm(bytes, { manifest, trustedKeys, allowUnsigned: values['allow-unsigned'] === true });
        io.stdout(json ? `${JSON.stringify(report)}\n` : report.text);
        return report.passesGate ? 0 : 1;
      }
      case 'sign': {
        if (values.key === undefined || values.manifest === undefined) throw usageError('"homecore sign" needs --key <private-key.pem> and --manifest <manifest.json>');
        const { signPlugin } = await import('./sign.js');
        const fields = await signPlugin(target, values.key, values.manifest);
        io.stdout(json ? `${JSON.stringify({ kind: 'signed', manifest: values.manifest, ...fields })}\n` : `signed ${target} into ${values.manifest}\n  module_hash      ${fields.module_hash}\n  publisher_key    ${fields.publisher_key}\n`);
        return 0;
      }
      case 'conformance': {
        if (values.scenario === undefined) throw usageError('"homecore conformance" needs --scenario <file.jsonl>');
        const { checkConformance, formatConformance } = await import('./conformance.js');
        const report = await checkConformance(resolve(target), resolve(rest[1]!), values.scenario, { trustedKeys, allowUnsigned: values['allow-unsigned'] === true, isolation });
        io.stdout(json ? `${JSON.stringify(report)}\n` : formatConformance(report));
        return report.conformant ? 0 : 1;
      }
      case 'diff': {
        const { diffPlugins, formatDiff } = await import('./upgrade.js');
        const report = await diffPlugins(target, rest[1]!);
        io.stdout(json ? `${JSON.stringify(report)}\n` : formatDiff(report));
        return report.widenings.length > 0 ? 1 : 0;
      }
      case 'accept': {
        if (dataDir === undefined) throw usageError(`"homecore accept" needs --data-dir <dir> (or $${DATA_DIR_ENV}): the data directory whose grants file keeps what was accepted`);
        const { acceptPlugin, formatAccept } = await import('./upgrade.js');
        const report = await acceptPlugin(target, dataDir);
        io.stdout(json ? `${JSON.stringify(report)}\n` : formatAccept(report));
        return 0;
      }
      case 'new': {
        const { createProject, formatNewProject, resolveNewOptions } = await import('./new.js');
        const interactive = io.interactive ?? (process.stdin.isTTY === true && process.stdout.isTTY === true);
        const options = await resolveNewOptions(rest, { lang: values.lang, dir: values.dir, tarballs: values.tarballs }, interactive && !json);
        if (options === undefined) return 130;
        const result = await createProject(options);
        io.stdout(json ? `${JSON.stringify({ kind: 'created', ...result })}\n` : formatNewProject(result));
        return 0;
      }
      case 'keygen': {
        const { generateKeys } = await import('./sign.js');
        const keys = await generateKeys(target);
        io.stdout(json ? `${JSON.stringify({ kind: 'keys', ...keys })}\n` : `private key  ${keys.privateKeyFile}  (keep it secret)\npublic key   ${keys.publicKeyFile}\n  ${keys.publisherKey}\nHosts trust it with --trust-key ${keys.publicKeyFile}\n`);
        return 0;
      }
    }
    return 2;
  } catch (err) {
    const error = isHomecoreError(err) ? err : toHomecoreError(err, ErrorCode.INTERNAL);
    if (json) io.stdout(`${JSON.stringify({ kind: 'error', ...error.toJSON() })}\n`);
    else io.stderr(`homecore: ${error.message} [${error.code}]\n`);
    return error.code === ErrorCode.CLI_USAGE || error.code === ErrorCode.SCENARIO_INVALID ? 2 : 1;
  }
}

/** Reads `--port <n>` and `--host <addr>` (default 127.0.0.1): where the HA API listens, or undefined without --port. */
function apiAddress(port: string | undefined, host: string | undefined): { port: number; host: string } | undefined {
  if (port === undefined) {
    if (host !== undefined) throw usageError('--host says where the API server listens: give --port too');
    return undefined;
  }
  const n = Number(port);
  if (!/^\d+$/.test(port) || !Number.isInteger(n) || n < 0 || n > 65535) throw usageError(`--port takes a TCP port from 0 to 65535; got ${JSON.stringify(port)}`);
  if (host === '') throw usageError('--host takes an address, for example 127.0.0.1 or 0.0.0.0');
  return { port: n, host: host ?? '127.0.0.1' };
}

/** Reads `--isolation <level>` and `--trusted <domain>`: the host's minimum isolation for native plugins not trusted. */
async function isolationPolicy(level: string | undefined, trusted: readonly string[] | undefined): Promise<IsolationPolicy> {
  if (trusted !== undefined && level === undefined) throw usageError('--trusted names plugins exempt from --isolation: give --isolation too');
  if (level === undefined) return { minimum: 'none', trusted: [] };
  const { ISOLATION_LEVELS } = await import('@homecore/runtime-native');
  if (!(ISOLATION_LEVELS as readonly string[]).includes(level)) {
    throw usageError(`--isolation takes one of ${ISOLATION_LEVELS.join(', ')}; got ${JSON.stringify(level)}`);
  }
  return { minimum: level as IsolationLevel, trusted: trusted ?? [] };
}

/** The data directory: `--data-dir`, else `$HOMECORE_DATA_DIR` when set and not empty, else none (nothing is kept between runs). */
function dataDirectory(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (flag !== undefined) {
    if (flag === '') throw usageError('--data-dir takes a directory');
    return resolve(flag);
  }
  const fromEnv = env[DATA_DIR_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : resolve(fromEnv);
}

async function listPlugins(target: string, json: boolean, io: CliIo): Promise<number> {
  const dir = resolve(target);
  let isDir = false;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw usageError(`plugin directory ${target} does not exist or is not a directory`);
  const [{ InMemoryCore }, { PluginRegistry }] = await Promise.all([import('@homecore/core'), import('@homecore/registry')]);
  const registry = new PluginRegistry({ core: new InMemoryCore(), runtimes: [] });
  const found = await registry.discover(dir);
  if (json) {
    for (const p of found.plugins) {
      const m = p.manifest;
      io.stdout(`${JSON.stringify({ kind: 'plugin', domain: m.domain, name: m.name, version: m.version, runtime: m.runtime ?? 'native', entry: p.code, dependencies: m.dependencies ?? [], dir: p.dir })}\n`);
    }
    for (const e of found.errors) io.stdout(`${JSON.stringify({ kind: 'error', ...e.toJSON() })}\n`);
  } else {
    const rows = found.plugins.map((p) => [p.manifest.domain, p.manifest.version, p.manifest.runtime ?? 'native', (p.manifest.dependencies ?? []).join(',') || '-', p.manifest.name]);
    const header = ['domain', 'version', 'runtime', 'depends on', 'name'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (cells: string[]) => `${cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
    io.stdout(fmt(header));
    for (const r of rows) io.stdout(fmt(r));
    for (const e of found.errors) io.stdout(`error: ${e.message} [${e.code}]\n`);
    io.stdout(`\n${found.plugins.length} plugin(s)${found.errors.length ? `, ${found.errors.length} refused` : ''}\n`);
  }
  return found.errors.length > 0 ? 1 : 0;
}

