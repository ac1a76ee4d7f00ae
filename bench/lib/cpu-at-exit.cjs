// Preloaded (node -r) into the start-up benchmark's processes: at exit, writes the process's CPU
// time (user + system, µs, all threads, from its very start) on a marked stderr line (a pipe:
// written synchronously on Linux), which the parent reads. CPU time grows far less than wall time
// when other processes share the cores.
'use strict';

process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\n@@cpu-us ${user + system}\n`);
});
