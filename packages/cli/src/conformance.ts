import type { IsolationPolicy } from '@homecore/runtime-native';
import { ActionRecorder, compareActions, describeAction, type ActionDifference } from '@homecore/testing';
import { describeStep } from './output.js';
import { openHouse, readScenario, replay, requireDirectory } from './house.js';
import type { ScenarioStep } from './scenario.js';

/** What one plugin directory did during a scenario. */
export interface ConformanceRun {
  dir: string;
  /** Plugins loaded, with their runtime kind. */
  loaded: { plugin: string; runtime: string; state: string }[];
  /** Each action a plugin took, in order: `[line N] plugin: set|report|remove|call|fire|denied ...` (describeAction), no-op writes and calls to missing services included. */
  actions: string[];
  /** Scenario steps and setups that failed, as `[line N] CODE`. */
  failures: string[];
}

/** The result of `homecore conformance`. */
export interface ConformanceReport {
  conformant: boolean;
  reference: ConformanceRun;
  candidate: ConformanceRun;
  /** The first differences, each naming where it happened. */
  differences: string[];
}

/** The instant every conformance replay starts at, so times in payloads are identical. */
const START = Date.UTC(2025, 0, 1, 8, 0, 0);
const MAX_DIFFERENCES = 10;

/**
 * `homecore conformance`: replays one scenario through a reference plugin directory and a
 * candidate (for example the same plugins ported to another language) on a frozen clock, and
 * compares every action the plugins take. Plugins must keep their domains across ports.
 */
export async function checkConformance(
  referenceDir: string,
  candidateDir: string,
  scenarioPath: string,
  trust: { trustedKeys: string[]; allowUnsigned: boolean; isolation?: IsolationPolicy },
): Promise<ConformanceReport> {
  await requireDirectory(referenceDir, 'reference plugin directory');
  await requireDirectory(candidateDir, 'candidate plugin directory');
  const { steps } = await readScenario(scenarioPath);
  const reference = await record(referenceDir, steps, trust);
  const candidate = await record(candidateDir, steps, trust);
  const differences = [
    ...diff('loaded plugins', reference.loaded.map((p) => `${p.plugin} ${p.state}`), candidate.loaded.map((p) => `${p.plugin} ${p.state}`)),
    ...diff('failures', reference.failures, candidate.failures),
    ...diff('actions', reference.actions, candidate.actions),
  ];
  return { conformant: differences.length === 0, reference, candidate, differences };
}

async function record(dir: string, steps: readonly ScenarioStep[], trust: { trustedKeys: string[]; allowUnsigned: boolean; isolation?: IsolationPolicy }): Promise<ConformanceRun> {
  const house = await openHouse({ ...trust, frozenAt: START, warn: () => undefined });
  // The test kit's recorder: writes (no-op writes too), service calls (to missing services too), fired events and denials, in order.
  const recorder = new ActionRecorder(house.core, house.registry);
  const actions: string[] = [];
  const failures: string[] = [];
  const take = (where: string) => {
    for (const action of recorder.actions()) {
      if (action.kind !== 'log' && action.kind !== 'error') actions.push(`[${where}] ${describeAction(action)}`);
    }
    recorder.clear();
  };
  const report = await house.registry.loadDirectory(dir);
  for (const error of report.errors) failures.push(`[setup] ${error.plugin ?? dir}: ${error.code}`);
  let where = 'setup';
  await replay(
    house,
    steps,
    (step) => {
      take(where);
      where = `line ${step.line}`;
    },
    (step, error) => failures.push(`[line ${step.line}] ${describeStep(step)}: ${error.code}`),
  );
  take(where);
  recorder.stop();
  const loaded = house.registry.list().map((p) => ({ plugin: p.id, runtime: p.runtime, state: p.state }));
  await house.registry.unloadAll();
  return { dir, loaded, actions, failures };
}

/** The differences of two lists, aligned: an inserted or missing line is one difference, not a cascade. */
function diff(what: string, expected: readonly string[], actual: readonly string[]): string[] {
  const indent = ' '.repeat(what.length + 4);
  return compareActions(expected, actual)
    .slice(0, MAX_DIFFERENCES)
    .map((d: ActionDifference) => {
      const at = `${what} #${d.at}: `;
      if (d.kind === 'missing') return `${at}missing  ${d.expected}`;
      if (d.kind === 'extra') return `${at}extra    ${d.actual}`;
      return `${at}expected ${d.expected}\n${indent}${' '.repeat(String(d.at).length)}got      ${d.actual}`;
    });
}

/** Formats a conformance report for people. */
export function formatConformance(r: ConformanceReport): string {
  const lines = [
    `reference  ${r.reference.dir}: ${r.reference.loaded.map((p) => `${p.plugin} (${p.runtime})`).join(', ') || 'no plugin'}`,
    `candidate  ${r.candidate.dir}: ${r.candidate.loaded.map((p) => `${p.plugin} (${p.runtime})`).join(', ') || 'no plugin'}`,
    '',
  ];
  if (r.conformant) lines.push(`CONFORMANT: the same ${r.reference.actions.length} actions, in the same order`);
  else lines.push(`NOT CONFORMANT: ${r.differences.length}${r.differences.length >= MAX_DIFFERENCES ? '+' : ''} difference(s)`, ...r.differences.map((d) => `  ${d}`));
  return `${lines.join('\n')}\n`;
}
