import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BuildResult, RunningBuild } from './dev-build.js';

// A cold `asc` spends most of an edit loop's budget starting: loading the compiler and binaryen
// and warming their code costs about 3.5 s of CPU of a 4 s build; a compiler process kept alive
// compiles the same plugin again in about 0.6 s. So when a project's dev script is one plain asc
// command, dev runs that command in a long-lived child process with the project's own compiler.

/** Words a plain script may have: no quotes, variables, redirections or other shell syntax. */
const PLAIN_ASC = /^asc(?:[ \t]+[\w./@=:,+-]+)*[ \t]*$/;

/** The asc arguments of `script` in the project's package.json, when it is one plain asc command with no pre/post scripts. */
export async function plainAscArgs(dir: string, script: string): Promise<string[] | undefined> {
  let scripts: Record<string, unknown> | undefined;
  try {
    scripts = (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, unknown> }).scripts;
  } catch {
    return undefined;
  }
  const command = scripts?.[script];
  if (typeof command !== 'string' || !PLAIN_ASC.test(command.trim())) return undefined;
  if (scripts?.[`pre${script}`] !== undefined || scripts?.[`post${script}`] !== undefined) return undefined;
  if (ascCompilerOf(dir) === undefined) return undefined;
  return command.trim().split(/[ \t]+/).slice(1);
}

/** The project's own `assemblyscript/dist/asc.js`, or undefined when it has none installed. */
function ascCompilerOf(dir: string): string | undefined {
  try {
    return createRequire(join(dir, 'package.json')).resolve('assemblyscript/dist/asc.js');
  } catch {
    return undefined;
  }
}

// The child: compiles on request with the project's asc, in the project folder; asc writes the outputs itself.
const WORKER = `
const { main } = await import(process.argv[1]);
process.on('message', async ({ id, args }) => {
  let output = '';
  const sink = { write(chunk) { output += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'); return true; } };
  let code = 0;
  try {
    const result = await main(args, { stdout: sink, stderr: sink });
    if (result.error) { code = 1; if (!output.includes(result.error.message)) output += result.error.message + '\\n'; }
  } catch (error) {
    code = 1;
    output += String(error && error.stack || error) + '\\n';
  }
  process.send({ id, code, output });
});
process.send({ ready: true });
`;

interface Reply {
  id?: number;
  code?: number | null;
  output?: string;
  ready?: boolean;
}

/** Long-lived asc processes, one per project folder; `close()` ends them. */
export class WarmAsc {
  private readonly workers = new Map<string, { child: ChildProcess; ready: Promise<void> }>();
  private nextId = 1;

  /** Compiles with `args` in `dir` with its project's asc; the first call in a folder starts its compiler process. */
  run(dir: string, args: readonly string[]): RunningBuild {
    const started = performance.now();
    const worker = this.worker(dir);
    const id = this.nextId++;
    let stopped = false;
    const done = (async (): Promise<BuildResult> => {
      if (worker === undefined) return { ok: false, code: null, output: 'assemblyscript is not installed in the project (node_modules/assemblyscript)\n', ms: performance.now() - started };
      try {
        await worker.ready;
      } catch (error) {
        return { ok: false, code: null, output: `${(error as Error).message}\n`, ms: performance.now() - started };
      }
      const reply = await new Promise<Reply>((settle) => {
        const onMessage = (message: Reply) => {
          if (message.id !== id) return;
          worker.child.off('message', onMessage);
          worker.child.off('exit', onExit);
          settle(message);
        };
        const onExit = () => {
          worker.child.off('message', onMessage);
          this.workers.delete(dir);
          settle({ code: stopped ? null : 1, output: stopped ? 'stopped\n' : 'the asc process ended during the build\n' });
        };
        worker.child.on('message', onMessage);
        worker.child.once('exit', onExit);
        worker.child.send({ id, args });
      });
      return { ok: reply.code === 0, code: reply.code ?? null, output: reply.output ?? '', ms: performance.now() - started };
    })();
    return {
      done,
      stop: () => {
        stopped = true;
        worker?.child.kill();
      },
    };
  }

  /** Ends every compiler process. */
  close(): void {
    for (const { child } of this.workers.values()) child.kill();
    this.workers.clear();
  }

  private worker(dir: string): { child: ChildProcess; ready: Promise<void> } | undefined {
    const existing = this.workers.get(dir);
    if (existing !== undefined && existing.child.exitCode === null && existing.child.signalCode === null) return existing;
    const compiler = ascCompilerOf(dir);
    if (compiler === undefined) return undefined;
    const child = spawn(process.execPath, ['--input-type=module', '--eval', WORKER, pathToFileURL(compiler).href], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, FORCE_COLOR: '0' } });
    let early = '';
    child.stdout?.on('data', (chunk: Buffer) => void (early += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => void (early += chunk.toString('utf8')));
    const ready = new Promise<void>((settle, fail) => {
      const onMessage = (message: Reply) => {
        if (message.ready !== true) return;
        child.off('message', onMessage);
        settle();
      };
      child.on('message', onMessage);
      child.once('exit', (code) => fail(new Error(`the asc process exited (${code ?? 'signal'}) before it was ready: ${early.trim()}`)));
    });
    ready.catch(() => this.workers.delete(dir));
    const worker = { child, ready };
    this.workers.set(dir, worker);
    return worker;
  }
}
