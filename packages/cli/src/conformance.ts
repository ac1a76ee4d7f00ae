import type { BusEvent, JsonValue } from '@homecore/core-traits';
import type { IsolationPolicy } from '@homecore/runtime-native';
import { describeStep } from './output.js';
import { openHouse, readScenario, replay, requireDirectory } from './house.js';
import type { ScenarioStep } from './scenario.js';

/** What one plugin directory did during a scenario. */
export interface ConformanceRun {
  dir: string;
  /** Plugins loaded, with their runtime kind. */
  loaded: { plugin: string; runtime: string; state: string }[];
  /** Each action a plugin took, in order: `[line N] set|call|fire ...`, with canonical JSON. */
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
const CORE_EVENTS: ReadonlySet<string> = new Set(['state_changed', 'state_reported', 'call_service', 'service_registered', 'service_removed']);

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
  const actions: string[] = [];
  const failures: string[] = [];
  let where = 'setup';
  house.core.listen((event: BusEvent) => {
    const plugin = event.context.user_id?.startsWith('plugin:') ? event.context.user_id.slice('plugin:'.length) : undefined;
    if (plugin === undefined) return;
    const data = event.data as Record<string, JsonValue>;
    if (event.event_type === 'state_changed') {
      const next = data.new_state as { state: string; attributes: JsonValue } | null;
      actions.push(`[${where}] ${plugin}: set ${String(data.entity_id)} = ${next === null ? '(removed)' : `${JSON.stringify(next.state)} ${canonical(next.attributes)}`}`);
    } else if (event.event_type === 'call_service') {
      actions.push(`[${where}] ${plugin}: call ${String(data.domain)}.${String(data.service)} ${canonical(data.service_data ?? {})}`);
    } else if (!CORE_EVENTS.has(event.event_type)) {
      actions.push(`[${where}] ${plugin}: fire ${event.event_type} ${canonical(data)}`);
    }
  });
  const report = await house.registry.loadDirectory(dir);
  for (const error of report.errors) failures.push(`[setup] ${error.plugin ?? dir}: ${error.code}`);
  await replay(
    house,
    steps,
    (step) => void (where = `line ${step.line}`),
    (step, error) => failures.push(`[line ${step.line}] ${describeStep(step)}: ${error.code}`),
  );
  const loaded = house.registry.list().map((p) => ({ plugin: p.id, runtime: p.runtime, state: p.state }));
  await house.registry.unloadAll();
  return { dir, loaded, actions, failures };
}

/** JSON with sorted keys, so attribute order does not count as a difference. */
function canonical(value: JsonValue): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function diff(what: string, expected: readonly string[], actual: readonly string[]): string[] {
  const out: string[] = [];
  const length = Math.max(expected.length, actual.length);
  for (let i = 0; i < length && out.length < 10; i++) {
    if (expected[i] === actual[i]) continue;
    out.push(`${what} #${i + 1}: expected ${expected[i] ?? '(nothing)'}\n${' '.repeat(what.length + 4 + String(i + 1).length)}got      ${actual[i] ?? '(nothing)'}`);
  }
  return out;
}

/** Formats a conformance report for people. */
export function formatConformance(r: ConformanceReport): string {
  const lines = [
    `reference  ${r.reference.dir}: ${r.reference.loaded.map((p) => `${p.plugin} (${p.runtime})`).join(', ') || 'no plugin'}`,
    `candidate  ${r.candidate.dir}: ${r.candidate.loaded.map((p) => `${p.plugin} (${p.runtime})`).join(', ') || 'no plugin'}`,
    '',
  ];
  if (r.conformant) lines.push(`CONFORMANT: the same ${r.reference.actions.length} actions, in the same order`);
  else lines.push(`NOT CONFORMANT: ${r.differences.length}${r.differences.length === 10 ? '+' : ''} difference(s)`, ...r.differences.map((d) => `  ${d}`));
  return `${lines.join('\n')}\n`;
}
