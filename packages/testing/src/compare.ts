/** One step of an alignment of two action lists. */
export type ActionDifference =
  | { readonly kind: 'missing'; readonly expected: string; readonly at: number }
  | { readonly kind: 'extra'; readonly actual: string; readonly at: number }
  | { readonly kind: 'changed'; readonly expected: string; readonly actual: string; readonly at: number };

type Step = { readonly op: 'same' | 'missing' | 'extra'; readonly expected?: string; readonly actual?: string; readonly at: number };

// Beyond this many cells the alignment falls back to a linear one (lists this long are rare in tests).
const MAX_CELLS = 4_000_000;

/**
 * Aligns `actual` to `expected` (a longest common subsequence): an inserted or a missing action is
 * one difference, not a cascade, and a missing action next to an extra one is reported as one
 * changed action. `at` is the position in `expected` (1-based) where the difference is.
 */
export function compareActions(expected: readonly string[], actual: readonly string[]): ActionDifference[] {
  const steps = align(expected, actual);
  const out: ActionDifference[] = [];
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.op === 'same') continue;
    const next = steps[i + 1];
    if (step.op === 'missing' && next?.op === 'extra') {
      out.push({ kind: 'changed', expected: step.expected!, actual: next.actual!, at: step.at });
      i++;
    } else if (step.op === 'extra' && next?.op === 'missing') {
      out.push({ kind: 'changed', expected: next.expected!, actual: step.actual!, at: next.at });
      i++;
    } else if (step.op === 'missing') out.push({ kind: 'missing', expected: step.expected!, at: step.at });
    else out.push({ kind: 'extra', actual: step.actual!, at: step.at });
  }
  return out;
}

function align(a: readonly string[], b: readonly string[]): Step[] {
  // Common head and tail first: most comparisons differ in a few places.
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const midA = a.slice(head, a.length - tail);
  const midB = b.slice(head, b.length - tail);
  const steps: Step[] = [];
  for (let i = 0; i < head; i++) steps.push({ op: 'same', expected: a[i]!, actual: b[i]!, at: i + 1 });
  const middle = midA.length * midB.length <= MAX_CELLS ? lcs(midA, midB, head) : linear(midA, midB, head);
  steps.push(...middle);
  for (let i = 0; i < tail; i++) {
    const ia = a.length - tail + i;
    steps.push({ op: 'same', expected: a[ia]!, actual: b[b.length - tail + i]!, at: ia + 1 });
  }
  return steps;
}

function lcs(a: readonly string[], b: readonly string[], offset: number): Step[] {
  const n = a.length;
  const m = b.length;
  // lengths[i][j]: the LCS of a[i..] and b[j..], in one flat array.
  const lengths = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lengths[at(i, j)] = a[i] === b[j] ? lengths[at(i + 1, j + 1)]! + 1 : Math.max(lengths[at(i + 1, j)]!, lengths[at(i, j + 1)]!);
    }
  }
  const steps: Step[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      steps.push({ op: 'same', expected: a[i]!, actual: b[j]!, at: offset + i + 1 });
      i++;
      j++;
    } else if (j < m && (i === n || lengths[at(i, j + 1)]! >= lengths[at(i + 1, j)]!)) {
      steps.push({ op: 'extra', actual: b[j]!, at: offset + i + 1 });
      j++;
    } else {
      steps.push({ op: 'missing', expected: a[i]!, at: offset + i + 1 });
      i++;
    }
  }
  return steps;
}

function linear(a: readonly string[], b: readonly string[], offset: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length && i < b.length && a[i] === b[i]) steps.push({ op: 'same', expected: a[i]!, actual: b[i]!, at: offset + i + 1 });
    else {
      if (i < a.length) steps.push({ op: 'missing', expected: a[i]!, at: offset + i + 1 });
      if (i < b.length) steps.push({ op: 'extra', actual: b[i]!, at: offset + i + 1 });
    }
  }
  return steps;
}

/** A readable list of differences: `- expected`, `+ actual`, `~ changed` lines with their position. */
export function formatActionDiff(differences: readonly ActionDifference[], limit = 20): string {
  if (differences.length === 0) return 'no differences';
  const lines: string[] = [];
  for (const d of differences.slice(0, limit)) {
    const where = `#${d.at}`.padEnd(6);
    if (d.kind === 'missing') lines.push(`${where}- ${d.expected}`);
    else if (d.kind === 'extra') lines.push(`${where}+ ${d.actual}`);
    else lines.push(`${where}- ${d.expected}`, `${' '.repeat(6)}+ ${d.actual}`);
  }
  if (differences.length > limit) lines.push(`… and ${differences.length - limit} more`);
  return lines.join('\n');
}
