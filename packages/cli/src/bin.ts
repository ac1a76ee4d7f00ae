#!/usr/bin/env node
import { getEventListeners } from 'node:events';
import { runCli } from './main.js';

// SIGINT and SIGTERM end `homecore serve` cleanly through this signal; a second one exits at once.
const stop = new AbortController();
let signals = 0;
const onSignal = (name: NodeJS.Signals) => {
  // Only `homecore serve` listens; the other commands end on a signal as any program does.
  if (signals === 0 && getEventListeners(stop.signal, 'abort').length === 0) process.exit(name === 'SIGINT' ? 130 : 143);
  signals++;
  if (signals === 1) {
    process.stderr.write(`homecore: ${name} received, shutting down (send it again to exit at once)\n`);
    stop.abort();
    return;
  }
  process.stderr.write(`homecore: second ${name}, exiting at once\n`);
  process.exit(name === 'SIGINT' ? 130 : 143);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  color: process.stdout.isTTY === true && process.env.NO_COLOR === undefined,
  signal: stop.signal,
});
// After a signal, nothing is left to wait for: isolated plugins' workers and children were ended
// or abandoned by the shutdown deadline, so exit rather than wait for them.
if (stop.signal.aborted) process.exit(code);
process.exitCode = code;
