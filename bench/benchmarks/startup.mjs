// Start-up, as a user waits for it: whole processes, from spawn until exit, timed by this parent.
//   node -e 0:                      Node's own start (the floor every row below pays);
//   node --input-type=module -e 0:  the same with Node's ES module loader started (every ESM
//                                   program pays it; \`node -e 0\` runs as CommonJS and does not);
//   homecore --help:                the CLI's bin (packages/cli/dist/bin.js) printing its usage;
//   homecore validate <manifest>:   one manifest (the reference temperature alert's) checked;
//   import('@homecore/manifest'):   a fresh process that imports the package; the import itself is
//                                   also timed inside that process (performance.now around it).
// The four run interleaved, one process each per round, alternating the order, so a neighbour's
// burst hits them alike; each figure is the median over rounds. One more process per command,
// untimed, runs with NODE_DEBUG=esm to count the ES modules it loads (where start-up time goes).
// Every process is started with `-r lib/cpu-at-exit.cjs`, which reports its CPU time (user + system)
// on stderr at exit: on a busy machine wall time grows with the neighbours' load, CPU time much less, so the
// CPU rows say what the command itself costs (the wall rows carry the targets).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const repo = fileURLToPath(new URL('../../', import.meta.url));
const benchDir = fileURLToPath(new URL('../', import.meta.url));
const bin = `${repo}packages/cli/dist/bin.js`;
const manifestFile = `${repo}examples/smart-home/temperature_alert/manifest.json`;
const cpuPreload = fileURLToPath(new URL('../lib/cpu-at-exit.cjs', import.meta.url));
const IMPORT_MARK = 'import-ms ';
const importScript = `const t = performance.now(); await import('@homecore/manifest'); process.stdout.write('${IMPORT_MARK}' + (performance.now() - t) + '\\n');`;

const COMMANDS = {
  node: { args: ['-e', '0'], cwd: repo },
  nodeEsm: { args: ['--input-type=module', '-e', '0'], cwd: repo },
  help: { args: [bin, '--help'], cwd: repo },
  validate: { args: [bin, 'validate', manifestFile], cwd: repo },
  import: { args: ['--input-type=module', '-e', importScript], cwd: benchDir },
};

/** Runs one command to its exit; resolves to { ms, cpuMs, stdout }. Fails on a non-zero exit. */
function timed(name) {
  const { args, cwd } = COMMANDS[name];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-r', cpuPreload, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = /@@cpu-us (\d+)/.exec(stderr);
      if (code !== 0 || cpu === null) reject(new Error(`${name} exited ${code}${cpu === null ? ' without its CPU time' : ''}: ${stderr.slice(-500)}`));
      else resolve({ ms, cpuMs: Number(cpu[1]) / 1e3, stdout });
    });
  });
}

/** ES modules the command loads (NODE_DEBUG=esm lines; null if Node no longer prints them). */
function modulesLoaded(name) {
  const { args, cwd } = COMMANDS[name];
  const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, NODE_DEBUG: 'esm' }, encoding: 'utf8' });
  const urls = new Set(r.stderr.match(/Storing (file:\/\/\S+)/g) ?? []);
  return urls.size === 0 ? null : urls.size;
}

/**
 * Where one run of the command spends its time: a CPU profile (--cpu-prof, 100 µs sampling) of
 * the process, samples summed by what they ran. Untimed; one run, so a rough split.
 */
function profileSplit(name) {
  const { args, cwd } = COMMANDS[name];
  const dir = mkdtempSync(join(tmpdir(), 'homecore-startup-'));
  try {
    spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100', ...args], { cwd, stdio: 'ignore' });
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) return null;
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
    const split = {};
    profile.samples.forEach((id, i) => {
      const { url, functionName } = nodes.get(id);
      const kind = /\/packages\/[^/]+\/dist\//.test(url)
        ? `homecore ${url.match(/\/packages\/([^/]+)\/dist\//)[1]}`
        : url.startsWith('node:internal/modules/esm/')
          ? 'Node ES module loader'
          : url.startsWith('node:')
            ? 'Node internals'
            : url === ''
              ? `(${functionName || 'native'})`
              : 'other JS';
      split[kind] = (split[kind] ?? 0) + profile.timeDeltas[i] / 1000;
    });
    return split;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const names = Object.keys(COMMANDS);
const warmup = 1;
const runs = quick ? 5 : 9;
const times = Object.fromEntries(names.map((n) => [n, []]));
const cpuTimes = Object.fromEntries(names.map((n) => [n, []]));
const importMs = [];
for (let round = 0; round < warmup + runs; round++) {
  for (const name of round % 2 === 0 ? names : [...names].reverse()) {
    const { ms, cpuMs, stdout } = await timed(name);
    if (round < warmup) continue;
    times[name].push(ms);
    cpuTimes[name].push(cpuMs);
    if (name === 'import') importMs.push(Number(stdout.split('\n').find((l) => l.startsWith(IMPORT_MARK)).slice(IMPORT_MARK.length)));
  }
}
const med = Object.fromEntries(names.map((n) => [n, median(times[n])]));
const cpu = Object.fromEntries(names.map((n) => [n, median(cpuTimes[n])]));
const cpuAbove = (n) => median(cpuTimes[n].map((t, i) => t - cpuTimes.node[i]));
const modules = Object.fromEntries(names.map((n) => [n, modulesLoaded(n)]));
const splits = Object.fromEntries(['nodeEsm', 'help', 'validate', 'import'].map((n) => [n, profileSplit(n)]));
const splitText = (n) => {
  const split = splits[n];
  if (split === null) return `${n}: no profile`;
  const parts = Object.entries(split).filter(([, ms]) => ms >= 1).sort((a, b) => b[1] - a[1]);
  return `${n}: ${parts.map(([kind, ms]) => `${kind} ${ms.toFixed(0)}`).join(', ')} ms`;
};
const nodeRef = { name: 'node -e 0 (Node itself)', value: med.node, unit: 'ms' };
// Differences paired within a round (the two processes ran within a second of each other) are steadier on a shared
// machine than the difference of two medians.
const above = (n, floor = 'node') => median(times[n].map((t, i) => t - times[floor][i]));
const spread = (n) => `min ${Math.min(...times[n]).toFixed(0)}, max ${Math.max(...times[n]).toFixed(0)} ms over ${times[n].length} runs`;
const loaded = (n) => (modules[n] === null ? 'modules loaded: unknown' : `${modules[n]} ES modules loaded`);

emit({
  measures: [
    measure({
      id: 'startup.node',
      name: 'node -e 0, whole process (Node\'s own start: the floor of the rows below)',
      value: med.node,
      unit: 'ms',
      note: spread('node'),
    }),
    measure({
      id: 'startup.node_esm',
      name: 'node --input-type=module -e 0, whole process (Node with its ES module loader started)',
      value: med.nodeEsm,
      unit: 'ms',
      reference: nodeRef,
      note: `${above('nodeEsm').toFixed(0)} ms above node -e 0 (median of per-round differences): what starting the ES module loader costs; ${spread('nodeEsm')}`,
    }),
    measure({
      id: 'startup.help',
      name: 'homecore --help, whole process (spawn to exit)',
      value: med.help,
      unit: 'ms',
      target: { max: 150, unit: 'ms', text: '<= 150 ms' },
      reference: nodeRef,
      note: `${above('help').toFixed(0)} ms above Node's own start, ${above('help', 'nodeEsm').toFixed(0)} ms above Node with its ES module loader (medians of per-round differences); ${loaded('help')}; ${spread('help')}`,
    }),
    measure({
      id: 'startup.validate',
      name: 'homecore validate <one manifest>, whole process (spawn to exit)',
      value: med.validate,
      unit: 'ms',
      target: { max: 200, unit: 'ms', text: '<= 200 ms' },
      reference: nodeRef,
      note: `${above('validate').toFixed(0)} ms above Node's own start, ${above('validate', 'nodeEsm').toFixed(0)} ms above Node with its ES module loader (medians of per-round differences); ${loaded('validate')}; ${spread('validate')}`,
    }),
    ...[
      ['help', 'homecore --help'],
      ['validate', 'homecore validate <one manifest>'],
    ].map(([key, label]) =>
      measure({
        id: `startup.${key}_cpu`,
        name: `  ${label}, CPU time of the process (user + system; steadier than wall time on a busy machine)`,
        value: cpu[key],
        unit: 'ms',
        reference: { name: 'node -e 0, CPU time', value: cpu.node, unit: 'ms' },
        note: `${cpuAbove(key).toFixed(0)} ms of CPU above node -e 0 (median of per-round differences)`,
      }),
    ),
    measure({
      id: 'startup.import_manifest',
      name: "import('@homecore/manifest') in a fresh process (the import alone, timed inside the process)",
      value: median(importMs),
      unit: 'ms',
      target: { max: 30, unit: 'ms', text: '<= 30 ms' },
      note: `the whole process took ${med.import.toFixed(0)} ms (${above('import').toFixed(0)} ms above node -e 0, ${above('import', 'nodeEsm').toFixed(0)} ms above Node with its ES module loader); ${loaded('import')}; import min ${Math.min(...importMs).toFixed(1)}, max ${Math.max(...importMs).toFixed(1)} ms`,
    }),
  ],
  notes: [
    `where the time goes (one CPU profile per command, after Node's own bootstrap, ms by what ran): ${['nodeEsm', 'help', 'validate', 'import'].map(splitText).join('; ')}`,
    `CPU time (user + system, all threads) per process, medians: node -e 0 ${cpu.node.toFixed(0)} ms, with the ES module loader ${cpu.nodeEsm.toFixed(0)} ms, --help ${cpu.help.toFixed(0)} ms (+${cpuAbove('help').toFixed(0)}), validate ${cpu.validate.toFixed(0)} ms (+${cpuAbove('validate').toFixed(0)}), import ${cpu.import.toFixed(0)} ms (+${cpuAbove('import').toFixed(0)}); (+x) = above node -e 0, paired per round`,
    `${runs} interleaved rounds after ${warmup} warm-up, one process per command per round; medians; module counts from one more run with NODE_DEBUG=esm (the package's own dist files and their dependencies); every process preloads lib/cpu-at-exit.cjs (-r) to report its CPU time`,
  ],
});
