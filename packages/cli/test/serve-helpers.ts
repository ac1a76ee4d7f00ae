import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manifest } from './helpers.js';

/** The built command. */
export const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');

/** A `homecore serve` (or any command) running in its own process, with its output collected. */
export interface Served {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Waits until stdout (from `from` on) matches; returns the index just past the match. */
  waitFor(pattern: RegExp, from?: number): Promise<number>;
  /** Resolves with the exit code (or 128 + signal number when killed by one). */
  exited: Promise<number>;
}

/** Starts the built `homecore` with `args` and `env` added to this process's environment. */
export function start(args: string[], env: Record<string, string> = {}): Served {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (out += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (err += t));
  const exited = new Promise<number>((done) =>
    child.on('exit', (code, signal) => done(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : signal === 'SIGINT' ? 2 : 0))),
  );
  let gone = false;
  void exited.then(() => (gone = true));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitFor(pattern, from = 0) {
      for (;;) {
        const rest = out.slice(from);
        const match = pattern.exec(rest);
        if (match) return from + match.index + match[0].length;
        if (gone) throw new Error(`the process exited before printing ${pattern}:\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** A fresh file path for markers a plugin appends to. */
export function markerFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'homecore-mark-')), 'marks.txt');
}

/** The lines a marker file holds (none if it does not exist yet). */
export function marks(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/**
 * A native plugin that writes `sensor.<domain>` = `<tag>` on every `time_changed` (once a
 * second), and appends `teardown <domain> <tag>` to the marker file `$MARK` in teardown.
 */
export function tickerCode(domain: string, tag: string): string {
  return `
import { appendFileSync } from 'node:fs';
export default () => {
  let ctx;
  return {
    setup(context) { ctx = context; },
    onEvent(event) { if (event.event_type === 'time_changed') ctx.setState('sensor.${domain}', '${tag}'); },
    teardown() { appendFileSync(process.env.MARK, 'teardown ${domain} ${tag}\\n'); },
  };
};
`;
}

/** Its manifest. */
export function tickerManifest(domain: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return manifest(domain, {
    subscriptions: { events: ['time_changed'] },
    permissions: ['event:subscribe:time_changed', `state:write:sensor.${domain}`],
    ...extra,
  });
}
