// Home Assistant's own manifests through validateManifest: every `<domain>.json` (or
// `<domain>/manifest.json`) of a corpus folder, in core mode as they are and in custom mode with a
// `version` added (what a custom integration must carry). Files are read and parsed before the
// clock starts; each call is timed on its own, one manifest per sample. Pass 1 over the corpus is
// kept apart (cold: V8 has not optimised the validator yet), the next passes give p50/p99 per
// manifest and the total of one pass (median over passes).
//
// The corpus is not in the repository: HOMECORE_HA_MANIFESTS names the folder; otherwise
// $SHARED/ha-manifests, then `shared/ha-manifests` beside the repository, then beside its parent
// (a worktree one level down). Without it the rows are reported as not measured, with the reason.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateManifest } from '@homecore/manifest';
import { median, quantile } from '../lib/measure.mjs';
import { childArgs, emit, measure } from '../lib/report.mjs';

const { quick } = childArgs();
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The corpus folder and how it was found, or { folder: null, tried }. */
function corpusFolder() {
  const fromEnv = process.env.HOMECORE_HA_MANIFESTS;
  if (fromEnv) return { folder: existsSync(fromEnv) && statSync(fromEnv).isDirectory() ? resolve(fromEnv) : null, tried: [`HOMECORE_HA_MANIFESTS=${fromEnv}`] };
  const candidates = [
    ...(process.env.SHARED ? [join(process.env.SHARED, 'ha-manifests')] : []),
    resolve(repo, '../shared/ha-manifests'),
    resolve(repo, '../../shared/ha-manifests'),
  ];
  const folder = candidates.find((c) => existsSync(c) && statSync(c).isDirectory()) ?? null;
  return { folder, tried: candidates };
}

function manifestFiles(dir) {
  const found = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.json')) found.push({ name: basename(entry.name, '.json'), file: path });
    else if (entry.isDirectory() && existsSync(join(path, 'manifest.json'))) found.push({ name: entry.name, file: join(path, 'manifest.json') });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const { folder, tried } = corpusFolder();
const files = folder ? manifestFiles(folder) : [];
if (files.length === 0) {
  const reason =
    folder === null
      ? `no corpus folder (tried ${tried.join(', ')}); set HOMECORE_HA_MANIFESTS to a folder of Home Assistant manifest.json files`
      : `${folder} holds no <domain>.json or <domain>/manifest.json`;
  process.stderr.write(`\nha-manifests: NOT MEASURED: ${reason}\n`);
  emit({
    notMeasured: reason,
    measures: [
      {
        ...measure({ id: 'ha_manifests.not_measured', name: 'Home Assistant manifest corpus validation (core and custom mode)', value: null, unit: 'µs' }),
        verdict: 'not measured',
        note: reason,
      },
    ],
    notes: [],
  });
  process.exit(0);
}

const readStart = performance.now();
const manifests = files.map(({ file }) => JSON.parse(readFileSync(file, 'utf8')));
const readMs = performance.now() - readStart;
const MODES = {
  core: manifests,
  // A custom integration must carry a version; core manifests have none.
  custom: manifests.map((m) => ({ ...m, version: '1.0.0' })),
};

const passes = quick ? 3 : 8;
const results = {};
for (const [mode, list] of Object.entries(MODES)) {
  const samples = [];
  const totals = [];
  const perManifest = list.map(() => []);
  let coldMs = 0;
  let valid = 0;
  for (let pass = 0; pass <= passes; pass++) {
    let total = 0;
    for (const m of list) {
      const t0 = process.hrtime.bigint();
      const r = validateManifest(m, { mode });
      const ns = Number(process.hrtime.bigint() - t0);
      total += ns;
      if (pass === 0) valid += r.ok ? 1 : 0;
      else samples.push(ns);
    }
    if (pass > 0) list.forEach((_, i) => perManifest[i].push(samples[samples.length - list.length + i]));
    if (pass === 0) coldMs = total / 1e6;
    else totals.push(total / 1e6);
  }
  const sorted = Float64Array.from(samples).sort();
  const medians = perManifest.map((t) => median(t));
  const slowest = medians.indexOf(Math.max(...medians));
  results[mode] = {
    p50: quantile(sorted, 0.5) / 1e3,
    p99: quantile(sorted, 0.99) / 1e3,
    max: sorted.at(-1) / 1e3,
    slowest: { name: files[slowest].name, us: medians[slowest] / 1e3 },
    totalMs: median(totals),
    coldMs,
    valid,
  };
}

const n = manifests.length;
const measures = [];
for (const [mode, label] of [
  ['core', 'core mode, as they are'],
  ['custom', 'custom mode, version added'],
]) {
  const r = results[mode];
  measures.push(
    measure({
      id: `ha_manifests.${mode}_per_manifest`,
      name: `validateManifest per Home Assistant manifest, ${label} (${n} manifests, parsed)`,
      value: r.p50,
      unit: 'µs',
      p50: r.p50,
      p99: r.p99,
      note: `${r.valid} of ${n} valid; the slowest manifest (median over passes) ${r.slowest.name}, ${r.slowest.us.toFixed(1)} µs; the longest single call ${r.max.toFixed(0)} µs`,
    }),
    measure({
      id: `ha_manifests.${mode}_total`,
      name: `  the whole corpus once, ${label} (sum of the ${n} calls, warm)`,
      value: r.totalMs,
      unit: 'ms',
      note: `the first pass in the process (cold: before V8 optimised the validator) took ${r.coldMs.toFixed(1)} ms`,
    }),
  );
}
emit({
  corpus: { folder, manifests: n },
  measures,
  notes: [
    `corpus ${folder}: ${n} manifests read and parsed in ${readMs.toFixed(0)} ms (not timed); per mode 1 cold pass + ${passes} timed passes, one call per sample`,
    `valid: core mode ${results.core.valid} of ${n}, custom mode (version added) ${results.custom.valid} of ${n}`,
  ],
});
