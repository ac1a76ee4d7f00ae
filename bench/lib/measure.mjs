// Measurement helpers shared by every benchmark: warm-up, repeated runs, interleaved variants,
// per-op percentiles and medians of per-run results. Times are in nanoseconds unless named otherwise.

const now = process.hrtime.bigint;

/** The q-quantile (0..1) of an ascending array, nearest-rank. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** The median of numbers (not necessarily sorted). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Summary of one run's per-op samples (ns): p50, p99, mean and ops per second. */
export function summarise(samples) {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const s of sorted) sum += s;
  const mean = sum / sorted.length;
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), mean, ops: 1e9 / mean, samples: sorted.length };
}

/** Medians across runs of each per-run figure: the numbers we report. */
export function combineRuns(runs) {
  return {
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    mean: median(runs.map((r) => r.mean)),
    ops: median(runs.map((r) => r.ops)),
    runs: runs.length,
    samplesPerRun: runs[0]?.samples ?? 0,
  };
}

/**
 * Times a synchronous op: each sample is a batch of `batch` calls timed with hrtime, divided by
 * `batch` (so p50/p99 are of per-op means over a batch; use batch 1 for true per-op times of slow ops).
 */
export function sampleSync(fn, samples, batch) {
  const out = new Float64Array(samples);
  let sink = 0;
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    for (let i = 0; i < batch; i++) sink ^= fn(i) === undefined ? 0 : 1;
    out[s] = Number(now() - t0) / batch;
  }
  globalThis.__benchSink = sink;
  return out;
}

/** Times an async op, one op per sample (per-op percentiles). */
export async function sampleAsync(fn, samples) {
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    await fn(s);
    out[s] = Number(now() - t0);
  }
  return out;
}

/**
 * Runs competing variants interleaved inside one process: warm-up runs first (discarded), then
 * `runs` rounds; in each round every variant runs once, alternating the order (A,B / B,A ...) so
 * drift (GC, JIT, CPU frequency, noisy neighbours) hits all variants alike. Each variant is an
 * async function returning an array of per-op samples (ns). Returns {name: combined figures}.
 */
export async function interleave(variants, { warmup, runs }) {
  const names = Object.keys(variants);
  const perRun = Object.fromEntries(names.map((n) => [n, []]));
  for (let round = 0; round < warmup + runs; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const samples = await variants[name]();
      if (round >= warmup) perRun[name].push(summarise(samples));
    }
  }
  return Object.fromEntries(names.map((n) => [n, combineRuns(perRun[n])]));
}

/** Iteration counts scaled for `--quick`. */
export function scale(quick, full, fast) {
  return quick ? fast : full;
}

/** Times an async op in batches of `batch` sequential awaited calls; each sample is the per-op mean of a batch. */
export async function sampleAsyncBatch(fn, samples, batch) {
  const out = new Float64Array(samples);
  for (let s = 0; s < samples; s++) {
    const t0 = now();
    for (let i = 0; i < batch; i++) await fn(i);
    out[s] = Number(now() - t0) / batch;
  }
  return out;
}
