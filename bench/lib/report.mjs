// The result format every benchmark returns, and the verdicts. A benchmark child process prints
// one line `RESULT_MARKER + JSON` on stdout; run.mjs collects them into results.json.

/** Prefix of the line a benchmark child prints its result on. */
export const RESULT_MARKER = '@@bench-result@@ ';

/**
 * One reported measure.
 * - value/unit: the headline figure (usually the p50), p50/p99/ops where meaningful;
 * - target: {max|min, unit, text} from DESIGN.md §6, or null for context-only rows;
 * - reference: the floor or peer {name, value, unit} the ratio is taken against, or null;
 * - ratio: value / reference (or reference / value when `ratioKind` is 'speedup');
 * - ratioTarget: {max|min, text} for ratio targets ("<= 2x the floor", ">= 10x faster");
 * - assess: false shows the target for comparison but keeps the verdict 'info' (another row carries it).
 */
export function measure(fields) {
  const m = {
    id: fields.id,
    name: fields.name,
    value: fields.value,
    unit: fields.unit,
    p50: fields.p50 ?? null,
    p99: fields.p99 ?? null,
    ops: fields.ops ?? null,
    target: fields.target ?? null,
    reference: fields.reference ?? null,
    ratioKind: fields.ratioKind ?? 'slowdown',
    ratio: null,
    ratioTarget: fields.ratioTarget ?? null,
    verdict: 'info',
    note: fields.note ?? null,
  };
  if (m.reference && Number.isFinite(m.reference.value) && m.reference.value !== 0) {
    m.ratio = m.ratioKind === 'speedup' ? m.reference.value / m.value : m.value / m.reference.value;
  }
  const checks = [];
  if (m.target) checks.push(within(m.value, m.target));
  if (m.ratioTarget && m.ratio !== null) checks.push(within(m.ratio, m.ratioTarget));
  if (checks.length > 0 && fields.assess !== false) m.verdict = checks.every(Boolean) ? 'met' : 'missed';
  return m;
}

function within(value, target) {
  if (!Number.isFinite(value)) return false;
  if (target.max !== undefined && value > target.max) return false;
  if (target.min !== undefined && value < target.min) return false;
  return true;
}

/** Prints a benchmark's result for the parent process (or as JSON when run alone). */
export function emit(result) {
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(result)}\n`);
}

/** Parses the flags a benchmark child receives. */
export function childArgs(argv = process.argv.slice(2)) {
  return { quick: argv.includes('--quick') };
}

/** Converts ns to the unit given. */
export function fromNs(ns, unit) {
  switch (unit) {
    case 'ns':
      return ns;
    case 'µs':
      return ns / 1e3;
    case 'ms':
      return ns / 1e6;
    default:
      throw new Error(`unknown time unit ${unit}`);
  }
}

/** A figure rounded to 3 significant digits (for the table and results.json). */
export function round(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x;
  if (x === 0) return 0;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 6)));
}
