import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FrameDecoder, FrameError, encodeFrame } from './framing.js';
import type { HostMessage } from './protocol.js';

/** Why a guest ended: a reason for people, and whether the host asked for it. */
export interface LinkExit {
  readonly reason: string;
  readonly kind: 'exit' | 'memory' | 'protocol' | 'killed';
}

/** How the host talks to one running guest, whatever holds it. */
export interface Link {
  send(message: HostMessage, raw?: string): void;
  /** Stops the guest now (terminate the worker, SIGKILL the process). */
  kill(): void;
  /** Resident memory of a child process in bytes, when the OS tells it. */
  rss(): number | undefined;
}

/** What a link reports back. */
export interface LinkEvents {
  message(message: unknown): void;
  /** A line the guest wrote to stdout or stderr. */
  output(stream: 'stdout' | 'stderr', line: string): void;
  exit(exit: LinkExit): void;
}

/** How to start a guest. */
export interface LinkOptions {
  readonly guest: URL;
  readonly memoryMb: number;
  readonly maxFrameBytes: number;
  /** Folders and files the child process may read (its own module, the plugin folder...). */
  readonly allowRead: readonly string[];
  readonly cwd?: string;
}

const MAX_LINE = 2000;

/**
 * Splits a guest's output into lines of at most MAX_LINE characters: a guest that writes without
 * newlines cannot make the host buffer more than one line's worth.
 */
function pipeLines(stream: Readable | null, name: 'stdout' | 'stderr', events: LinkEvents): void {
  if (stream === null) return;
  stream.setEncoding('utf8');
  let line = '';
  let cut = false;
  stream.on('data', (text: string) => {
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      const piece = text.slice(start, end === -1 ? text.length : end);
      if (!cut) {
        line += piece;
        if (line.length > MAX_LINE) {
          line = `${line.slice(0, MAX_LINE)}…`;
          cut = true;
        }
      }
      if (end === -1) return;
      events.output(name, line.endsWith('\r') ? line.slice(0, -1) : line);
      line = '';
      cut = false;
      start = end + 1;
    }
  });
  stream.on('end', () => {
    if (line.length > 0) events.output(name, line);
    line = '';
  });
  stream.on('error', () => undefined);
}

/** Starts the guest module in a worker thread with a heap limit. */
export function startWorker(options: LinkOptions, events: LinkEvents): Link {
  const worker = new Worker(options.guest, {
    resourceLimits: { maxOldGenerationSizeMb: options.memoryMb, maxYoungGenerationSizeMb: Math.min(16, Math.max(1, Math.floor(options.memoryMb / 4))) },
    stdout: true,
    stderr: true,
    // Not the host's flags: a debugger, loaders or resolution conditions are the host's business.
    execArgv: [],
  });
  let failure: string | undefined;
  let outOfMemory = false;
  let killed = false;
  worker.on('message', (message: unknown) => events.message(message));
  worker.on('error', (error: Error & { code?: string }) => {
    if (error.code === 'ERR_WORKER_OUT_OF_MEMORY') outOfMemory = true;
    failure = `${error.name}: ${error.message}`;
  });
  worker.on('messageerror', () => {
    failure = 'the worker sent a message that cannot be read';
  });
  worker.on('exit', (code) => {
    if (killed) events.exit({ kind: 'killed', reason: 'stopped by the host' });
    else if (outOfMemory) events.exit({ kind: 'memory', reason: `the worker ran out of its ${options.memoryMb} MiB heap limit` });
    else events.exit({ kind: 'exit', reason: failure !== undefined ? `the worker failed with ${failure}` : `the worker exited with code ${code}` });
  });
  pipeLines(worker.stdout, 'stdout', events);
  pipeLines(worker.stderr, 'stderr', events);
  return {
    send: (message, raw) => worker.postMessage(raw === undefined ? message : { ...message, arg: raw }),
    kill: () => {
      killed = true;
      void worker.terminate();
    },
    rss: () => undefined,
  };
}

/** The flag that turns on Node's permission model here (`--experimental-permission` on Node 20 and 21, `--permission` from 22), or undefined before Node 20. */
export function permissionModelFlag(): string | undefined {
  const [major = 0] = process.versions.node.split('.').map(Number);
  if (major >= 22) return '--permission';
  if (major === 20 || major === 21) return '--experimental-permission';
  return undefined;
}

/**
 * Starts the guest module in a child Node process under the permission model: file reads limited
 * to `allowRead`, no writes, no child processes, no workers, no native addons; a heap cap; the
 * channel on fd 3 with frames no larger than `maxFrameBytes`.
 */
export function startProcess(options: LinkOptions, events: LinkEvents): Link {
  const flag = permissionModelFlag()!;
  const guestPath = fileURLToPath(options.guest);
  const reads = [guestPath, join(dirname(guestPath), '..', 'package.json'), ...options.allowRead];
  const args = [
    flag,
    ...reads.map((path) => `--allow-fs-read=${path}`),
    `--max-old-space-size=${options.memoryMb}`,
    '--disable-warning=ExperimentalWarning',
    guestPath,
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // No inherited environment: NODE_OPTIONS could load code into the child, and secrets stay home.
    env: { ...(process.env.TZ !== undefined ? { TZ: process.env.TZ } : {}), ...(process.env.LANG !== undefined ? { LANG: process.env.LANG } : {}) },
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    windowsHide: true,
  });
  const channel = child.stdio[3] as unknown as NodeJS.ReadWriteStream & { destroy(): void };
  const decoder = new FrameDecoder(options.maxFrameBytes);
  let exited = false;
  let ended: LinkExit | undefined;
  let lastRss: number | undefined;
  const end = (exit: LinkExit): void => {
    ended ??= exit;
    if (!exited) child.kill('SIGKILL');
  };
  channel.on('data', (chunk: Buffer) => {
    if (ended !== undefined) return;
    let messages: Record<string, unknown>[];
    try {
      messages = decoder.push(chunk);
    } catch (error) {
      end({ kind: 'protocol', reason: error instanceof FrameError ? error.message : String(error) });
      return;
    }
    for (const message of messages) {
      if (ended !== undefined) return;
      events.message(message);
    }
  });
  channel.on('error', () => undefined);
  child.on('error', (error) => end({ kind: 'exit', reason: `the process could not start: ${error.message}` }));
  child.on('exit', (code, signal) => {
    exited = true;
    clearInterval(watch);
    const exit: LinkExit = ended ?? {
      kind: signal === 'SIGABRT' || code === 134 ? 'memory' : 'exit',
      reason: signal !== null ? `the process was killed by ${signal}${signal === 'SIGABRT' ? ' (out of memory?)' : ''}` : `the process exited with code ${code}`,
    };
    events.exit(exit);
  });
  pipeLines(child.stdout, 'stdout', events);
  pipeLines(child.stderr, 'stderr', events);
  // The heap cap does not cover buffers outside the V8 heap: the host watches the resident size too.
  const rssCap = (options.memoryMb * 2 + 64) * 1024 * 1024;
  const watch = setInterval(() => {
    if (child.pid === undefined || exited) return;
    readFile(`/proc/${child.pid}/statm`, 'utf8').then(
      (text) => {
        const pages = Number(text.split(' ')[1]);
        if (!Number.isFinite(pages)) return;
        lastRss = pages * 4096;
        if (lastRss > rssCap) end({ kind: 'memory', reason: `the process used ${Math.round(lastRss / 1048576)} MiB resident, over its cap of ${rssCap / 1048576} MiB (twice limits.memory_mb plus 64)` });
      },
      () => undefined,
    );
  }, 200);
  watch.unref();
  return {
    send: (message, raw) => {
      if (ended === undefined && !exited) channel.write(encodeFrame(message, raw));
    },
    kill: () => end({ kind: 'killed', reason: 'stopped by the host' }),
    rss: () => lastRss,
  };
}
