import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifest, pluginDir, tempFile } from './helpers.js';

// The built command in its own process: Node's own module loader, as a user runs it.
const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');

function run(...args: string[]) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const listening = (domain: string) => manifest(domain, { subscriptions: { entities: ['sensor.temp'] }, permissions: ['state:read:sensor.temp'] });

const plugins = {
  thrower: {
    'manifest.json': listening('thrower'),
    'index.js': ['export default () => ({', '  setup() {},', '  onStateChanged() {', '    helper();', '  },', '});', 'function helper() {', "  throw new Error('boom in handler');", '}', ''].join('\n'),
  },
  syntax: { 'manifest.json': listening('syntax'), 'index.js': 'export default () => ({ setup() {\n  let x = ;\n} });\n' },
  missing: { 'manifest.json': listening('missing'), 'index.js': "import { nope } from 'no-such-package';\nexport default () => ({ setup() { nope(); } });\n" },
  toplevel: { 'manifest.json': listening('toplevel'), 'index.js': "const ready = true;\nif (ready) throw new Error('top level boom');\nexport default () => ({ setup() {} });\n" },
};

describe('errors from plugin code, through homecore run', () => {
  it('keep their file and line in the log, and their stack in --json', () => {
    const dir = pluginDir(plugins);
    const scenario = tempFile('s.jsonl', '{"set": "sensor.temp", "state": "26"}\n');

    const text = run('run', dir, '--scenario', scenario);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/thrower +onStateChanged failed: .*boom in handler/);
    expect(text.stdout).toContain(`at ${join(dir, 'thrower', 'index.js')}:8:9`);

    const records = run('run', dir, '--scenario', scenario, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    const failed = records.find((r) => r.type === 'handler_failed' && r.plugin === 'thrower');
    expect(failed.error).toMatchObject({ code: 'HC_ERR_HANDLER_FAILED', location: `${join(dir, 'thrower', 'index.js')}:8:9`, cause: { name: 'Error', message: 'boom in handler' } });
    expect(failed.error.cause.stack).toMatch(/at helper \(file:\/\/.*\/thrower\/index\.js\?v=[\d-]+:8:9\)/);
    expect(failed.error.cause.stack).toMatch(/at Object\.onStateChanged \(file:\/\/.*\/thrower\/index\.js\?v=[\d-]+:4:5\)/);
  });

  it('keep their file and line when the plugin runs isolated in a worker', () => {
    const dir = pluginDir({ thrower: plugins.thrower });
    const scenario = tempFile('s.jsonl', '{"set": "sensor.temp", "state": "26"}\n');
    const records = run('run', dir, '--scenario', scenario, '--isolation', 'worker', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    const failed = records.find((r) => r.type === 'handler_failed' && r.plugin === 'thrower');
    expect(failed.error).toMatchObject({ code: 'HC_ERR_HANDLER_FAILED', location: `${join(dir, 'thrower', 'index.js')}:8:9`, cause: { message: 'boom in handler' } });
  });

  it('an entry that cannot be imported is reported as an import failure naming the file and the cause', () => {
    const dir = pluginDir(plugins);
    const text = run('run', dir);
    expect(text.stdout).toMatch(new RegExp(`syntax +entry import failed: .*syntax error at ${join(dir, 'syntax', 'index.js')}:2:11: SyntaxError: Unexpected token ';'`));
    expect(text.stdout).toMatch(/missing +entry import failed: .*imports something that cannot be found \(Cannot find package 'no-such-package'/);
    expect(text.stdout).toMatch(/toplevel +entry import failed: .*it threw Error: top level boom at .*toplevel\/index\.js:2:18 while being evaluated/);
    expect(text.stdout).not.toMatch(/(syntax|missing|toplevel) +setup failed/);

    const records = run('run', dir, '--json').stdout.trim().split('\n').map((l) => JSON.parse(l));
    const failure = (plugin: string) => records.find((r) => r.type === 'setup_failed' && r.plugin === plugin).error;
    expect(failure('syntax')).toMatchObject({ code: 'HC_ERR_ENTRY_IMPORT_FAILED', location: `${join(dir, 'syntax', 'index.js')}:2:11`, details: { reason: 'syntax_error', path: join(dir, 'syntax', 'index.js') } });
    expect(failure('missing')).toMatchObject({ code: 'HC_ERR_ENTRY_IMPORT_FAILED', details: { reason: 'module_not_found', specifier: 'no-such-package' } });
    expect(failure('toplevel')).toMatchObject({ code: 'HC_ERR_ENTRY_IMPORT_FAILED', location: `${join(dir, 'toplevel', 'index.js')}:2:18`, details: { reason: 'threw' }, cause: { message: 'top level boom' } });
  });
});
