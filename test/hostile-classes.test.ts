// The hostile corpus by class (the sandbox security issue): fuel that does not count the work,
// loading without a budget, host work wedged at the end of the stack, feedback loops, glob
// patterns, fairness under a flood, forged core events, host memory, and effects of a call that
// traps. Every case runs through the registry and the reference core next to two witnesses (a wasm
// plugin and a native recorder) that must receive every event they subscribed to, and under a
// stall meter: the host's event loop must never be blocked for more than STALL_BOUND_MS (100 ms).
import { readFileSync } from 'node:fs';
import { ErrorCode, type BusEvent, type HomeCorePlugin, type HomecoreError, type JsonValue } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry, type FailurePolicy, type PluginStats, type RegistryActivity, type RegistryLimits } from '@homecore/registry';
import { InProcessRuntime } from '@homecore/runtime-native';
import { WasmRuntime, type WasmHostLimits } from '@homecore/runtime-wasm';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { guest, wat } from '../packages/runtime-wasm/test/helpers.js';
import { STALL_BOUND_MS, allStalls, measureStall, nextTurn, within, worstStalls } from './stall.js';

const corpusText = (name: string): string => readFileSync(new URL(`../packages/runtime-wasm/test/hostile/${name}.wat`, import.meta.url), 'utf8');
const corpus = (name: string): Uint8Array => wat(corpusText(name));

const ROUNDS = 4;
const WITNESS = corpus('witness');
/** Longest registry.idle() or unloadAll() may take before the case counts as hung. */
const HANG_MS = 10_000;

// ---------------------------------------------------------------- the house

/** A plugin under test: wasm bytes or a native plugin object, with manifest overrides. */
interface Hostile {
  domain?: string;
  bytes?: Uint8Array;
  plugin?: HomeCorePlugin;
  manifest?: Record<string, unknown>;
}

interface CaseOptions {
  /** Registry host limits. */
  limits?: RegistryLimits;
  /** The wasm runtime's host limits. */
  wasmLimits?: Partial<WasmHostLimits>;
  /** The registry's failure policy. */
  failurePolicy?: FailurePolicy;
  rounds?: number;
  /**
   * What the witnesses must receive: every event they subscribed to (`all`, the default), or every
   * event from outside the plugins (`external`: under a flood, plugin-caused events may be dropped).
   */
  witness?: 'all' | 'external';
  /** Runs after the plugins are loaded, before the rounds. */
  before?: (house: House) => void | Promise<void>;
  /** Replaces one round's host activity (default: a sensor.temperature change and a ping). */
  drive?: (house: House, round: number) => void;
  /** The case's own checks, inside the stall measurement. */
  check?: (house: House) => void | Promise<void>;
}

const isExternal = (event: BusEvent): boolean => event.context.user_id === null;
const eventKey = (event: BusEvent): string => `${event.event_type}:${event.context.id}`;
/** What both witnesses subscribe to. */
const witnessWants = (event: BusEvent): boolean =>
  event.event_type === 'ping' || (event.event_type === 'state_changed' && String((event.data as { entity_id?: string }).entity_id).startsWith('sensor.'));

function manifestFor(domain: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain,
    name: domain,
    version: '1.0.0',
    runtime: 'wasm',
    permissions: ['state:read:*', 'state:write:sensor.hostile*', 'event:subscribe:*', 'service:call:light.turn_on', 'event:fire:my_event'],
    subscriptions: { entities: ['sensor.*'], events: ['ping'] },
    ...extra,
  };
}

/** A core, a registry with both runtimes, the witnesses and what the case needs to look at. */
class House {
  readonly core = new InMemoryCore();
  readonly registry: PluginRegistry;
  /** Every bus event, in order. */
  readonly events: BusEvent[] = [];
  /** Events the native recorder received. */
  readonly recorded: BusEvent[] = [];
  readonly loadErrors = new Map<string, HomecoreError>();
  readonly loadMs = new Map<string, number>();
  /** Handler failures, refusals, denials, drops and warnings (not every write: floods make millions). */
  readonly activity: RegistryActivity[] = [];

  constructor(options: Pick<CaseOptions, 'limits' | 'wasmLimits' | 'failurePolicy'> = {}) {
    const wasm = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined, limits: options.wasmLimits ?? {} });
    this.registry = new PluginRegistry({
      core: this.core,
      runtimes: [wasm, new InProcessRuntime()],
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.failurePolicy === undefined ? {} : { failurePolicy: options.failurePolicy }),
    });
    this.core.listen((event) => void this.events.push(event));
    this.registry.on((a) => {
      if (a.type === 'state_written' || a.type === 'event_fired' || a.type === 'service_called' || a.type === 'plugin_loaded') return;
      if (a.type === 'log' && (a.level === 'debug' || a.level === 'info')) return;
      this.activity.push(a);
    });
  }

  async loadWitnesses(): Promise<void> {
    await this.registry.load(manifestFor('witness', { permissions: ['state:read:*', 'event:subscribe:*'] }), WITNESS);
    const recorded = this.recorded;
    const plugin: HomeCorePlugin = {
      setup: () => undefined,
      onStateChanged: (event) => void recorded.push(event as unknown as BusEvent),
      onEvent: (event) => void recorded.push(event),
    };
    await this.registry.load(manifestFor('recorder', { runtime: 'native', permissions: ['state:read:*', 'event:subscribe:*'] }), plugin);
  }

  async load(h: Hostile): Promise<void> {
    const domain = h.domain ?? 'hostile';
    const runtime = h.plugin === undefined ? {} : { runtime: 'native' };
    const started = performance.now();
    try {
      await this.registry.load(manifestFor(domain, { ...runtime, ...h.manifest }), (h.plugin ?? h.bytes) as Uint8Array);
    } catch (err) {
      this.loadErrors.set(domain, err as HomecoreError);
    } finally {
      this.loadMs.set(domain, performance.now() - started);
    }
  }

  stats(id = 'hostile'): PluginStats {
    const s = this.registry.stats().plugins[id];
    if (s === undefined) throw new Error(`no plugin ${id}`);
    return s;
  }

  /** A figure of a plugin's stats by path (`refused.feedbackLoop`), 0 when absent. */
  figure(id: string, path: string): number {
    let at: unknown = this.stats(id);
    for (const key of path.split('.')) at = (at as Record<string, unknown> | undefined)?.[key];
    return typeof at === 'number' ? at : 0;
  }

  failures(id = 'hostile'): HomecoreError[] {
    return this.activity.flatMap((a) => (a.type === 'handler_failed' && a.plugin === id ? [a.error] : []));
  }

  refusals(code: string): (RegistryActivity & { type: 'action_refused' })[] {
    return this.activity.flatMap((a) => (a.type === 'action_refused' && a.code === code ? [a] : []));
  }

  /** The letters a guest wrote to sensor.hostile_report (see pattern-glob.wat). */
  report(): string {
    return this.core.getState('sensor.hostile_report')?.state ?? '';
  }

  idle(): Promise<void> {
    return within(this.registry.idle(), HANG_MS, 'registry.idle()');
  }
}

const STALL_ATTEMPTS = 3;

function defaultRound(house: House, round: number): void {
  house.core.setState('sensor.temperature', String(20 + round), {}, { context: house.core.createContext() });
  house.core.fireEvent('ping', { round }, house.core.createContext());
}

/**
 * Runs one case under the stall meter: the witnesses, then the plugins under test, ROUNDS rounds of
 * host activity, the witness check, the case's checks and unloadAll(); then asserts the stall bound.
 */
async function hostileCase(label: string, name: string, plugins: Hostile | Hostile[], options: CaseOptions = {}): Promise<House> {
  // The stall bound is checked up to STALL_ATTEMPTS times, each on a fresh house: a shared machine
  // that ran other work during one attempt does not fail the case; a case that blocks the loop on
  // every attempt does. Functional checks fail at once.
  const attempts: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const { house, gapMs, wallMs, phase } = await hostileAttempt(label, name, plugins, options);
    if (gapMs < STALL_BOUND_MS) return house;
    attempts.push(`${gapMs.toFixed(0)} ms of this process's time (${wallMs.toFixed(0)} ms wall clock, in ${phase})`);
    if (attempt === STALL_ATTEMPTS) {
      expect(gapMs, `${name}: the event loop was blocked on every attempt: ${attempts.join('; ')}`).toBeLessThan(STALL_BOUND_MS);
      return house;
    }
  }
}

/** One run of a case under the stall meter. */
async function hostileAttempt(label: string, name: string, plugins: Hostile | Hostile[], options: CaseOptions): Promise<{ house: House; gapMs: number; wallMs: number; phase: string }> {
  const { result: house, gapMs, wallMs, phase } = await measureStall(label, name, async (phase) => {
    phase('witnesses');
    const house = new House(options);
    try {
      await house.loadWitnesses();
      for (const h of Array.isArray(plugins) ? plugins : [plugins]) {
        await nextTurn();
        phase(`load ${h.domain ?? 'hostile'}`);
        await house.load(h);
      }
      await nextTurn();
      phase('before');
      await options.before?.(house);
      for (let round = 0; round < (options.rounds ?? ROUNDS); round++) {
        await nextTurn();
        phase(`round ${round}`);
        (options.drive ?? defaultRound)(house, round);
        await house.idle();
      }
      await nextTurn();
      phase('check');
      await house.idle();
      checkWitnesses(house, options.witness ?? 'all');
      await options.check?.(house);
    } finally {
      // Also after a failed check, so that a case that did not end cannot disturb the next ones.
      await nextTurn();
      phase('unloadAll');
      await within(house.registry.unloadAll(), HANG_MS, 'registry.unloadAll()');
    }
    return house;
  });
  return { house, gapMs, wallMs, phase };
}

/** Both witnesses got what they subscribed to, without a failure. */
function checkWitnesses(house: House, mode: 'all' | 'external'): void {
  const wanted = house.events.filter(witnessWants);
  const external = wanted.filter(isExternal);
  expect(external.length).toBeGreaterThan(0);
  const witness = house.stats('witness');
  expect(witness.errors).toBe(0);
  expect(witness.runtime.traps).toBe(0);
  expect(house.stats('recorder').errors).toBe(0);
  const recordedExternal = house.recorded.filter(isExternal).map(eventKey);
  expect(recordedExternal).toEqual(external.map(eventKey));
  if (mode === 'all') {
    expect(witness.delivered).toBe(wanted.length);
    expect(witness.runtime.calls).toBe(wanted.length);
    expect(house.recorded.map(eventKey)).toEqual(wanted.map(eventKey));
  } else {
    // Under a flood only plugin-caused events may be dropped, never one from outside.
    for (const id of ['witness', 'recorder']) expect(house.figure(id, 'overflowBySource.external')).toBe(0);
  }
}

// The first scenario of a process compiles the registry's, the core's and the runtime's code paths
// (traps, stack overflows, fuel, every host import, effects); that one-time cost is not a stall any
// module caused, so it runs unmeasured first.
beforeAll(() =>
  warmUp(
    [
      { bytes: corpus('trap') },
      { domain: 'warm_deep', bytes: corpus('deep-recursion') },
      { domain: 'warm_loop', bytes: corpus('handler-loop'), manifest: { limits: { fuel_per_call: 1_000_000 } } },
      { domain: 'warm_imports', bytes: corpus('bad-pointers') },
      { domain: 'warm_effects', bytes: corpus('reentrant') },
    ],
    2,
  ),
);

/** Runs plugins for a few rounds without measuring anything (to compile the code paths a class uses). */
async function warmUp(plugins: Hostile[], rounds: number, options: Pick<CaseOptions, 'drive' | 'failurePolicy'> = {}): Promise<void> {
  const house = new House(options);
  await house.loadWitnesses();
  for (const h of plugins) await house.load(h);
  for (let round = 0; round < rounds; round++) {
    (options.drive ?? defaultRound)(house, round);
    await house.idle();
  }
  await house.registry.unloadAll();
}

/** Calls of the stack-end cases that completed after a stack overflow inside a host import. */
const hostSideOverflows = new Map<string, number>();

afterAll(() => {
  const rows = [...worstStalls].map(([label, { gapMs, wallMs, where }]) => `  ${label.padEnd(22)} ${gapMs.toFixed(1).padStart(8)} ms (wall ${wallMs.toFixed(1)} ms)  ${where}`);
  console.log(`worst event-loop gap per class (bound ${STALL_BOUND_MS} ms):\n${rows.join('\n')}`);
  if (hostSideOverflows.size > 0) console.log(`stack overflows inside a host import, per import: ${JSON.stringify(Object.fromEntries(hostSideOverflows))}`);
  if (process.env.HOSTILE_STALLS === '1') {
    for (const s of allStalls) console.log(`  ${s.gapMs.toFixed(1).padStart(8)} ms (wall ${s.wallMs.toFixed(1).padStart(7)})  ${s.label}: ${s.where} (${s.phase})`);
  }
});

// ---------------------------------------------------------------- module builders

/** A guest whose hooks run `$spin` (WAT text in `body`) and then return OK. */
function spinner(body: string, memory?: string): Uint8Array {
  const hooks = `
    (func (export "hc_on_state_changed") (param i32 i32) (result i32) (call $spin) (i32.const 0))
    (func (export "hc_on_event") (param i32 i32) (result i32) (call $spin) (i32.const 0))`;
  return wat(guest({ body: body + hooks, ...(memory === undefined ? {} : { memory }) }));
}

/**
 * An endless loop whose body is `count` copies of `unit` between `head` and `tail` (straight-line
 * code, charged once per run). `$seed` and `$seed64` are globals, so the engine cannot fold the work.
 */
function straightLine(count: number, unit: string, locals: string, head = '', tail = ''): Uint8Array {
  return spinner(`(global $seed (mut i32) (i32.const 7)) (global $seed64 (mut i64) (i64.const -1))
    (func $spin ${locals} (loop $again ${head} ${unit.repeat(count)} ${tail} (br $again)))`);
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
}

const name = (s: string): number[] => [...uleb(s.length), ...new TextEncoder().encode(s)];

interface BinarySpec {
  /** Extra functions of type () -> (), each with this body (default: empty). */
  extra?: number;
  extraBody?: Uint8Array;
  /** Declared function count, when it should differ from the bodies (a lie the reader must not trust). */
  declaredFunctions?: number;
  /** A table of this many entries. */
  table?: number;
  /** hc_on_event's body: locals and code (default: no locals, returns 0). */
  hookBody?: Uint8Array;
  /** Declared import count with no imports behind it. */
  declaredImports?: number;
}

/**
 * A module built byte by byte (wabt is far too slow for a million functions): memory, hc_alloc,
 * hc_free, the marker and hc_on_event, plus `extra` functions.
 */
function binary(spec: BinarySpec): Uint8Array {
  const parts: Uint8Array[] = [];
  const push = (bytes: ArrayLike<number>): void => void parts.push(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes as number[]));
  const section = (id: number, body: number[]): void => push([id, ...uleb(body.length), ...body]);
  const extra = spec.extra ?? 0;
  push([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]);
  // types: 0 (i32) -> i32, 1 (i32, i32) -> (), 2 () -> (), 3 (i32, i32) -> i32
  section(1, [4, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 0, 0x60, 0, 0, 0x60, 2, 0x7f, 0x7f, 1, 0x7f]);
  if (spec.declaredImports !== undefined) section(2, uleb(spec.declaredImports));
  const functions = new Uint8Array(uleb(spec.declaredFunctions ?? 4 + extra).length + 4 + extra);
  functions.set([...uleb(spec.declaredFunctions ?? 4 + extra), 0, 1, 2, 3]);
  functions.fill(2, functions.length - extra);
  push([3, ...uleb(functions.length)]);
  push(functions);
  if (spec.table !== undefined) section(4, [1, 0x70, 0, ...uleb(spec.table)]);
  section(5, [1, 1, 1, 1]);
  section(7, [5, ...name('memory'), 2, 0, ...name('hc_alloc'), 0, 0, ...name('hc_free'), 0, 1, ...name('homecore_abi_version_1'), 0, 2, ...name('hc_on_event'), 0, 3]);
  const hook = spec.hookBody ?? Uint8Array.from([0, 0x41, 0, 0x0b]);
  const body = spec.extraBody ?? Uint8Array.from([0, 0x0b]);
  const entry = Uint8Array.from([...uleb(body.length), ...body]);
  const fixed = [...uleb(4 + extra), 5, 0, 0x41, 0x80, 0x20, 0x0b, 2, 0, 0x0b, 2, 0, 0x0b, ...uleb(hook.length)];
  const code = new Uint8Array(fixed.length + hook.length + entry.length * extra);
  code.set(fixed);
  code.set(hook, fixed.length);
  for (let i = 0, at = fixed.length + hook.length; i < extra; i++, at += entry.length) code.set(entry, at);
  push([10, ...uleb(code.length)]);
  push(code);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A body of `size` bytes: no locals, `i32.const 1; drop` pairs, nops, end. */
function fillerBody(size: number): Uint8Array {
  const b = new Uint8Array(size).fill(0x01); // nop
  b[0] = 0; // no locals
  for (let i = 1; i + 3 < size; i += 3) b.set([0x41, 1, 0x1a], i);
  b[size - 1] = 0x0b;
  return b;
}
// pending: end

/** hc_on_event's body: `depth` nested blocks, then return 0. */
function nested(depth: number): Uint8Array {
  const b = new Uint8Array(1 + depth * 3 + 3);
  b[0] = 0;
  for (let i = 0; i < depth; i++) b.set([0x02, 0x40], 1 + i * 2);
  b.fill(0x0b, 1 + depth * 2, 1 + depth * 3);
  b.set([0x41, 0, 0x0b], 1 + depth * 3);
  return b;
}

// ---------------------------------------------------------------- 1. fuel

describe('1. fuel counts the work: each call ends with FUEL_EXHAUSTED within the default budget', () => {
  const cases: [string, () => Uint8Array][] = [
    ['memory.fill of the whole 16 MiB memory in a loop (fuel-fill-loop)', () => corpus('fuel-fill-loop')],
    ['memory.copy of half the memory, both ways, in a loop (fuel-copy-loop)', () => corpus('fuel-copy-loop')],
    [
      'a loop of 30,000 straight-line i32.add pairs',
      () => straightLine(30_000, '(local.set $x (i32.add (local.get $x) (local.get $y)))', '(local $x i32) (local $y i32) (local.set $y (global.get $seed))'),
    ],
    [
      'a loop whose body is just under the 1 MiB body limit (145,000 adds)',
      () => straightLine(145_000, '(local.set $x (i32.add (local.get $x) (local.get $y)))', '(local $x i32) (local $y i32) (local.set $y (global.get $seed))'),
    ],
    [
      'a loop of 1,000 dependent 64-bit divisions per iteration (unit cost, many cycles each)',
      () =>
        straightLine(1_000, '(local.get $y) (i64.rem_u) (local.get $x) (i64.xor) ', '(local $x i64) (local $y i64) (local.set $y (i64.const 3)) (local.set $x (global.get $seed64))', '(local.get $x)', '(global.set $seed64)'),
    ],
    ['memory.grow by one page in a loop, long past the cap (fuel-grow-loop)', () => corpus('fuel-grow-loop')],
    ['call_indirect through a table in a loop (fuel-call-indirect)', () => corpus('fuel-call-indirect')],
    ['an allocator that spins when the host asks it for the payload (alloc-loop)', () => corpus('alloc-loop')],
  ];
  // Subscribed to the pings only: one guest call per round, since the bound is per call (a burst
  // of calls is fairness's case).
  const pingOnly = { subscriptions: { events: ['ping'] } };
  for (const [title, build] of cases) {
    test(title, async () => {
      const bytes = build();
      const house = await hostileCase('1 fuel', title, { bytes, manifest: pingOnly }, {
        check: (h) => {
          const failures = h.failures();
          expect(failures.length).toBeGreaterThanOrEqual(1);
          for (const f of failures) expect(f.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
          expect(h.stats().runtime.fuelLastCall).toBeGreaterThanOrEqual(10_000_000);
        },
      });
      expect(house.loadErrors.size).toBe(0);
    });
  }

  const hostLoops: [string, string][] = [
    ['hc_clock_now', 'fuel-clock-loop'],
    ['hc_log of 0 bytes', 'fuel-log-loop'],
    ['hc_state_get of a missing entity', 'fuel-get-missing-loop'],
  ];
  for (const [what, module] of hostLoops) {
    test(`a loop of cheap host calls: ${what} (${module}) ends with FUEL_EXHAUSTED after the call quota`, async () => {
      await hostileCase('1 fuel', module, { bytes: corpus(module), manifest: pingOnly }, {
        rounds: 1,
        check: (h) => {
          expect(h.failures().length).toBeGreaterThanOrEqual(1);
          for (const f of h.failures()) expect(f.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
          expect(h.stats().runtime.quotaHits).toBeGreaterThanOrEqual(1);
        },
      });
    });
  }

  test('a start function looping on host imports, all refused before setup (start-host-loop): the load fails with FUEL_EXHAUSTED', async () => {
    const house = await hostileCase('1 fuel', 'start-host-loop', { bytes: corpus('start-host-loop') });
    expect(house.loadErrors.get('hostile')?.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(house.loadErrors.get('hostile')?.hook).toBe('start');
  });
  // pending: end

  test('memory.grow by 0 pages in a loop (fuel-grow0-loop) ends with FUEL_EXHAUSTED', async () => {
    await hostileCase('1 fuel', 'fuel-grow0-loop', { bytes: corpus('fuel-grow0-loop'), manifest: pingOnly }, {
      rounds: 1,
      check: (h) => {
        expect(h.failures().length).toBeGreaterThanOrEqual(1);
        for (const f of h.failures()) expect(f.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
      },
    });
  });

  test('a loop of 4,000 chained f64.sqrt per iteration ends with FUEL_EXHAUSTED', async () => {
    const bytes = straightLine(4_000, '(f64.sqrt) ', '', '(f64.convert_i64_u (global.get $seed64))', '(i64.trunc_sat_f64_u) (global.set $seed64)');
    await hostileCase('1 fuel', 'f64.sqrt chain', { bytes, manifest: pingOnly }, {
      rounds: 1,
      check: (h) => {
        expect(h.failures().length).toBeGreaterThanOrEqual(1);
        for (const f of h.failures()) expect(f.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
      },
    });
  });

  test('reading a large host-written state as often as the quota allows (fuel-big-read) is bounded', async () => {
    await hostileCase('1 fuel', 'fuel-big-read', { bytes: corpus('fuel-big-read'), manifest: pingOnly }, {
      rounds: 1,
      before: (h) => void h.core.setState('sensor.hostile_big', 'x', { blob: 'a'.repeat(60_000) }, { context: h.core.createContext() }),
      check: (h) => {
        for (const f of h.failures()) expect(f.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
      },
    });
  });
});

// ---------------------------------------------------------------- 2. loading

describe('2. loading has a budget: modules built to exhaust the host are refused before heavy work', () => {
  const refused: [string, () => Uint8Array, string][] = [
    ['a million functions (4 MB of empty bodies)', () => binary({ extra: 1_000_000 }), 'functions'],
    ['a function section declaring a million functions it does not contain', () => binary({ declaredFunctions: 1_000_004 }), 'functions'],
    ['a table of 10 million entries', () => binary({ table: 10_000_000 }), 'tableEntries'],
    ['100,000 nested blocks', () => binary({ hookBody: nested(100_000) }), 'nesting'],
    ['a billion locals in one function', () => binary({ hookBody: Uint8Array.from([1, ...uleb(1_000_000_000), 0x7f, 0x41, 0, 0x0b]) }), 'locals'],
    ['an import section declaring a million imports', () => binary({ declaredImports: 1_000_000 }), 'imports'],
    [
      'a br_table with 20,000 targets',
      () => binary({ hookBody: Uint8Array.from([0, 0x02, 0x40, 0x41, 0, 0x0e, ...uleb(20_000), ...new Array(20_001).fill(0), 0x0b, 0x41, 0, 0x0b]) }),
      'brTableTargets',
    ],
  ];
  for (const [title, build, limit] of refused) {
    test(`${title}: HC_ERR_WASM_SHAPE_LIMIT (${limit}), quickly`, async () => {
      const bytes = build();
      const house = await hostileCase('2 loading', title, { bytes });
      const error = house.loadErrors.get('hostile');
      expect(error?.code).toBe(ErrorCode.WASM_SHAPE_LIMIT);
      expect(error?.details).toMatchObject({ limit });
      expect(house.loadMs.get('hostile')).toBeLessThan(STALL_BOUND_MS);
    });
  }

  test('a module at the limits (1,000-deep nesting, 100,000-entry table, 10,000 locals, 10,000-target br_table) loads and runs', async () => {
    const depth = 1_000;
    const hookBody = Uint8Array.from([
      ...[1, ...uleb(9_998), 0x7f], // 2 parameters + 9,998 locals
      ...new Array<number[]>(depth).fill([0x02, 0x40]).flat(),
      ...[0x41, 0, 0x0e, ...uleb(10_000), ...new Array<number>(10_001).fill(0)],
      ...new Array<number>(depth).fill(0x0b),
      ...[0x41, 0, 0x0b],
    ]);
    const bytes = binary({ table: 100_000, hookBody });
    const house = await hostileCase('2 loading', 'at the limits', { bytes }, {
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        expect(h.stats().runtime.calls).toBe(ROUNDS); // the pings: it exports no hc_on_state_changed
      },
    });
    expect(house.loadErrors.size).toBe(0);
  });

  test('a module with 50,000 functions (the limit) loads without blocking the loop', async () => {
    const bytes = binary({ extra: 49_996 });
    const house = await hostileCase('2 loading', '50,000 functions', { bytes }, {
      check: (h) => expect(h.stats().errors).toBe(0),
    });
    expect(house.loadErrors.size).toBe(0);
  });
  // pending: end

  test('a 16 MB module within every shape limit (50,000 functions of 320 bytes) loads without blocking the loop', async () => {
    const bytes = binary({ extra: 49_996, extraBody: fillerBody(320) });
    expect(bytes.length).toBeLessThanOrEqual(16 * 1024 * 1024);
    const house = await hostileCase('2 loading', '16 MB module', { bytes }, {
      check: (h) => expect(h.stats().errors).toBe(0),
    });
    expect(house.loadErrors.size).toBe(0);
  });
  // pending: end
});

// ---------------------------------------------------------------- 3. the end of the stack

describe('3. host work cannot be wedged from the end of the stack', () => {
  // Each import with arguments that make the host do its full work (permission checks, JSON, copies).
  // `unwind`: a read whose FAILED status (the host ran out of stack inside it) makes the guest return
  // OK at once, so that the call completes right after a stack overflow inside the host.
  const imports: [string, string, string, boolean][] = [
    ['hc_state_set', '(data (i32.const 300) "sensor.hostile_stack")', '(call $hc_state_set (i32.const 300) (i32.const 20) (i32.const 48) (i32.const 2) (i32.const 64) (i32.const 12))', false],
    ['hc_event_fire', '', '(call $hc_event_fire (i32.const 160) (i32.const 8) (i32.const 64) (i32.const 12))', false],
    ['hc_service_call', '', '(call $hc_service_call (i32.const 128) (i32.const 5) (i32.const 144) (i32.const 7) (i32.const 64) (i32.const 12))', false],
    ['hc_subscribe', '', '(call $hc_subscribe (i32.const 0) (i32.const 208) (i32.const 8))', false],
    ['hc_log', '', '(call $hc_log (i32.const 1) (i32.const 64) (i32.const 12))', false],
    ['hc_state_get', '(data (i32.const 300) "sensor.temperature")', '(call $hc_state_get (i32.const 300) (i32.const 18) (i32.const 1024) (i32.const 2048))', true],
    // A state whose attributes are nested 60 deep: serialising it recurses in the host.
    ['hc_state_get of a deeply nested state', '(data (i32.const 300) "sensor.hostile_deep")', '(call $hc_state_get (i32.const 300) (i32.const 19) (i32.const 1024) (i32.const 2048))', true],
    ['hc_config_get', '', '(call $hc_config_get (i32.const 1024) (i32.const 2048))', true],
  ];
  /** Pings sweep the depth at which the guest starts calling: 1,000 calls (the quota) from there on. */
  const SWEEP = 1_000;
  const STEPS = 24;
  /**
   * Recursion with a depth counter that calls the import at every level from the depth the ping
   * names (`"from":N` in its data) to the end of the stack, then traps; a host-side failure (-10)
   * is logged (the log survives the trap).
   */
  const wedge = (data: string, call: string, unwind: boolean): Uint8Array =>
    wat(
      guest({
        body: `${data} (data (i32.const 400) "host failed")
          ;; The number after "from": in the payload, or -1.
          (func $from (param $p i32) (param $n i32) (result i32) (local $i i32) (local $end i32) (local $v i32)
            (local.set $end (i32.add (local.get $p) (local.get $n)))
            (local.set $i (local.get $p))
            (block $none (loop $scan
              (br_if $none (i32.gt_u (i32.add (local.get $i) (i32.const 7)) (local.get $end)))
              (if (i32.and (i32.eq (i32.load (local.get $i)) (i32.const 0x6f726622))
                           (i32.eq (i32.load (i32.add (local.get $i) (i32.const 3))) (i32.const 0x3a226d6f)))
                (then
                  (local.set $i (i32.add (local.get $i) (i32.const 7)))
                  (loop $digit
                    (if (i32.and (i32.lt_u (local.get $i) (local.get $end))
                                 (i32.lt_u (i32.sub (i32.load8_u (local.get $i)) (i32.const 48)) (i32.const 10)))
                      (then
                        (local.set $v (i32.add (i32.mul (local.get $v) (i32.const 10)) (i32.sub (i32.load8_u (local.get $i)) (i32.const 48))))
                        (local.set $i (i32.add (local.get $i) (i32.const 1)))
                        (br $digit))))
                  (return (local.get $v))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $scan)))
            (i32.const -1))
          (func $down (param $d i32) (param $from i32) (result i32)
            (if (i32.ge_u (local.get $d) (local.get $from))
              (then (if (i32.eq ${call} (i32.const -10))
                (then ${unwind ? '(return (i32.const 1))' : '(drop (call $hc_log (i32.const 2) (i32.const 400) (i32.const 11)))'}))))
            (call $down (i32.add (local.get $d) (i32.const 1)) (local.get $from)))
          (func (export "hc_on_state_changed") (param i32 i32) (result i32) (i32.const 0))
          (func (export "hc_on_event") (param $p i32) (param $n i32) (result i32) (local $from i32)
            (local.set $from (call $from (local.get $p) (local.get $n)))
            (if (i32.eq (local.get $from) (i32.const -1)) (then (return (i32.const 0))))
            (if (call $down (i32.const 0) (local.get $from)) (then (drop (call $hc_log (i32.const 2) (i32.const 400) (i32.const 11)))))
            (i32.const 0))`,
      }),
    );
  const sweep = (h: House, round: number): void => {
    h.core.setState('sensor.temperature', String(20 + round), {}, { context: h.core.createContext() });
    h.core.fireEvent('ping', { round, from: round * SWEEP }, h.core.createContext());
  };
  const failurePolicy = { maxConsecutiveFailures: 1_000 };
  // The first deep recursion through host imports in a process compiles their paths (30-70 ms, once).
  beforeAll(() => warmUp([{ bytes: wedge('', '(call $hc_log (i32.const 1) (i32.const 64) (i32.const 12))', false) }], 3, { drive: sweep, failurePolicy }));
  for (const [name, data, call, unwind] of imports) {
    test(`recursing to the end of the stack calling ${name} at every level: contained, every event still delivered`, async () => {
      const bytes = wedge(data, call, unwind);
      await hostileCase('3 stack end', name, { bytes }, {
        rounds: STEPS,
        before: (h) => {
          let deep: Record<string, JsonValue> = { leaf: true };
          for (let i = 0; i < 60; i++) deep = { a: deep };
          h.core.setState('sensor.hostile_deep', 'on', deep, { context: h.core.createContext() });
        },
        failurePolicy,
        drive: sweep,
        check: (h) => {
          const failures = h.failures();
          for (const f of failures) expect(f.code).toBe(ErrorCode.WASM_TRAP);
          const hostFailed = h.activity.filter((a) => a.type === 'log' && a.plugin === 'hostile' && a.message === 'host failed').length;
          hostSideOverflows.set(name, hostFailed);
          expect(h.stats().runtime.calls).toBe(2 * STEPS + 1); // every event reached it (sensor.hostile_deep's too): no backoff, no drop
          if (unwind) {
            // Every call either trapped at the end of the stack, or completed after the host ran out of stack inside the import.
            expect(failures.length + hostFailed).toBe(STEPS);
          } else {
            // Each call trapped, so nothing it asked for happened.
            expect(failures.length).toBe(STEPS);
            expect(h.core.getState('sensor.hostile_stack')).toBeUndefined();
            expect(h.events.some((e) => e.event_type === 'my_event')).toBe(false);
            expect(h.stats().servicesCalled).toBe(0);
          }
        },
      });
    });
  }
});

// ---------------------------------------------------------------- 4. feedback loops

describe('4. feedback loops end by themselves, counted against the plugin that closed them', () => {
  const loopWriter = (entity: string): Uint8Array => wat(corpusText('loop-self-write').replaceAll('sensor.hostile_loop', entity));
  /** Refusals of the loop bound: every one names a plugin of the loop, matching its stats. */
  const checkLoopRefusals = (h: House, members: string[]): void => {
    const refusals = h.refusals(ErrorCode.FEEDBACK_LOOP);
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    for (const r of refusals) expect(members).toContain(r.plugin);
    for (const id of members) expect(h.figure(id, 'refused.feedbackLoop')).toBe(refusals.filter((r) => r.plugin === id).length);
    for (const id of ['witness', 'recorder']) expect(h.figure(id, 'refused.feedbackLoop')).toBe(0);
  };

  test('a wasm plugin that writes the entity it subscribes to on each change (loop-self-write)', async () => {
    await hostileCase('4 feedback loops', 'loop-self-write', { bytes: corpus('loop-self-write'), manifest: { subscriptions: { entities: ['sensor.hostile_loop'], events: ['ping'] } } }, {
      check: (h) => {
        checkLoopRefusals(h, ['hostile']);
        expect(h.stats().errors).toBe(0);
        expect(h.stats().writes).toBeLessThanOrEqual(ROUNDS * 40);
      },
    });
  });

  test('a wasm plugin that fires the event it subscribes to (loop-self-event)', async () => {
    await hostileCase(
      '4 feedback loops',
      'loop-self-event',
      { bytes: corpus('loop-self-event'), manifest: { permissions: ['event:subscribe:*', 'event:fire:hostile_echo'], subscriptions: { events: ['ping', 'hostile_echo'] } } },
      {
        check: (h) => {
          checkLoopRefusals(h, ['hostile']);
          expect(h.events.filter((e) => e.event_type === 'hostile_echo').length).toBeLessThanOrEqual(ROUNDS * 40);
        },
      },
    );
  });

  test('two wasm plugins that answer each other (loop-self-write twice)', async () => {
    await hostileCase(
      '4 feedback loops',
      'wasm ping-pong',
      [
        { domain: 'hostile', bytes: loopWriter('sensor.hostile_ping'), manifest: { subscriptions: { entities: ['sensor.hostile_pong'], events: ['ping'] } } },
        { domain: 'hostile_b', bytes: loopWriter('sensor.hostile_pong'), manifest: { subscriptions: { entities: ['sensor.hostile_ping'] } } },
      ],
      {
        check: (h) => {
          checkLoopRefusals(h, ['hostile', 'hostile_b']);
          expect(h.stats('hostile').writes + h.stats('hostile_b').writes).toBeLessThanOrEqual(ROUNDS * 40);
        },
      },
    );
  });

  test('a wasm plugin and a native plugin that answer each other', async () => {
    const refusedCodes: string[] = [];
    let n = 0;
    let context: Parameters<HomeCorePlugin['setup']>[0] | undefined;
    const native: HomeCorePlugin = {
      setup: (ctx) => void (context = ctx),
      onStateChanged: () => {
        try {
          context?.setState('sensor.hostile_pong', String(++n % 10));
        } catch (err) {
          refusedCodes.push((err as HomecoreError).code);
        }
      },
    };
    await hostileCase(
      '4 feedback loops',
      'wasm-native ping-pong',
      [
        { domain: 'hostile', bytes: loopWriter('sensor.hostile_ping'), manifest: { subscriptions: { entities: ['sensor.hostile_pong'], events: ['ping'] } } },
        { domain: 'hostile_native', plugin: native, manifest: { permissions: ['state:read:*', 'state:write:sensor.hostile*'], subscriptions: { entities: ['sensor.hostile_ping'] } } },
      ],
      {
        check: (h) => {
          checkLoopRefusals(h, ['hostile', 'hostile_native']);
          for (const code of refusedCodes) expect(code).toBe(ErrorCode.FEEDBACK_LOOP);
          expect(h.stats('hostile_native').errors).toBe(0);
        },
      },
    );
  });
});

// ---------------------------------------------------------------- 5. patterns

/** Subscriptions of the hostile plugin refused when applied for a pattern over the limits (checkPattern's wording). */
const patternRefusals = (h: House): number =>
  h.activity.filter((a) => a.type === 'log' && a.plugin === 'hostile' && a.level === 'warn' && /refused/.test(a.message) && /characters long|"\*" wildcards/.test(a.message)).length;

describe('5. glob patterns cannot hang the host', () => {
  test('a*a*...*b subscriptions against 255-character ids and 64-character event types (pattern-glob); over-limit patterns refused', async () => {
    const long = `sensor.${'a'.repeat(248)}`;
    await hostileCase(
      '5 patterns',
      'pattern-glob',
      { bytes: corpus('pattern-glob'), manifest: { permissions: ['state:read:*', 'state:write:sensor.hostile*', 'event:subscribe:*', 'event:fire:a*'] } },
      {
        drive: (h, round) => {
          defaultRound(h, round);
          h.core.setState(long, String(round), {}, { context: h.core.createContext() });
        },
        check: (h) => {
          expect(h.stats().errors).toBe(0);
          const report = h.report();
          expect(report.slice(0, 2)).toBe('AA'); // within the limits: subscribed
          // Over the limits: refused, either at once or when the subscription is applied (a warning).
          expect((report[2] !== 'A' ? 1 : 0) + (report[3] !== 'A' ? 1 : 0) + patternRefusals(h)).toBe(2);
          expect(h.core.getState(`sensor.hostile_${'a'.repeat(240)}`)).toBeDefined();
        },
      },
    );
  });

  test('a manifest subscribing to an over-limit pattern is refused at load', async () => {
    const house = await hostileCase('5 patterns', 'manifest pattern', {
      bytes: corpus('witness'),
      manifest: { subscriptions: { entities: [`sensor.${'*a'.repeat(20)}b`] } },
    });
    expect([ErrorCode.MANIFEST_INVALID, ErrorCode.PATTERN_INVALID]).toContain(house.loadErrors.get('hostile')?.code);
  });
});

// ---------------------------------------------------------------- 6. fairness

describe('6. fairness: a flooder cannot crowd out the events from outside', () => {
  test('a flooder writing as many states as its quotas allow into entities the witnesses subscribe to (fairness-flood)', async () => {
    // Its quota is lowered to 100 host calls per call: it writes into what it subscribes to, so each
    // of its calls triggers 100 more, and at 1,000 the case takes minutes on a slow host.
    await hostileCase('6 fairness', 'fairness-flood', { bytes: corpus('fairness-flood'), manifest: { limits: { host_calls_per_event: 100 } } }, {
      limits: { queueCapacity: 64 },
      witness: 'external',
      rounds: 2,
      drive: (h, round) => {
        for (let i = 0; i < 5; i++) h.core.setState('sensor.temperature', `${round}.${i}`, {}, { context: h.core.createContext() });
        h.core.fireEvent('ping', { round }, h.core.createContext());
      },
      check: (h) => {
        const temperatures = h.recorded.filter((e) => e.event_type === 'state_changed' && (e.data as { entity_id: string }).entity_id === 'sensor.temperature');
        expect(temperatures.length).toBe(2 * 5);
        // The flood was cut back by the host-side limits and the drops were charged to its source.
        expect(h.figure('hostile', 'refused.rateLimited') + h.figure('hostile', 'refused.feedbackLoop')).toBeGreaterThan(0);
      },
    });
  });
  // pending: end

  test('a burst of 20 events to a plugin that uses almost all its fuel on each, without failing (fuel-burner)', async () => {
    await hostileCase('6 fairness', 'burst to fuel-burner', { bytes: corpus('fuel-burner'), manifest: { subscriptions: { events: ['ping'] } } }, {
      rounds: 2,
      drive: (h, round) => {
        for (let i = 0; i < 20; i++) h.core.fireEvent('ping', { round, i }, h.core.createContext());
      },
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        expect(h.stats().runtime.calls).toBe(40);
        expect(h.stats().runtime.fuelLastCall).toBeGreaterThan(9_000_000);
      },
    });
  });

  test('an event larger than a wasm receiver accepts is skipped for it, not counted as its failure', async () => {
    await hostileCase('6 fairness', 'oversized event', { domain: 'small', bytes: corpus('witness'), manifest: { permissions: ['state:read:*', 'event:subscribe:*'], limits: { payload_bytes: 1024 } } }, {
      before: (h) => void h.core.setState('sensor.big', 'on', { blob: 'x'.repeat(4000) }, { context: h.core.createContext() }),
      check: (h) => {
        const small = h.stats('small');
        expect(small.errors).toBe(0);
        expect(small.dropped.too_large).toBe(1);
        expect(small.delivered).toBe(h.stats('witness').delivered - 1);
      },
    });
  });
});

// ---------------------------------------------------------------- 7. forged core events

describe('7. core events cannot be forged', () => {
  const forged = ['state_changed', 'call_service', 'time_changed', 'state_reported', 'homeassistant_stop', 'service_registered', 'homeassistant_start', 'component_loaded'];
  const checkForgery = (h: House): void => {
    expect(h.stats().errors).toBe(0); // the guest saw DENIED for each (forge-core-events.wat)
    const byHostile = h.events.filter((e) => e.context.user_id === 'plugin:hostile');
    expect(byHostile.map((e) => e.event_type).filter((t) => t !== 'my_event')).toEqual([]);
    expect(h.events.some((e) => forged.includes(e.event_type) && e.event_type !== 'state_changed')).toBe(false);
    const audit = h.registry.audit('hostile');
    for (const type of forged) expect(audit.some((d) => d.action === 'event:fire' && d.target === type)).toBe(true);
  };

  test('hc_event_fire of state_changed, call_service, time_changed ... with event:fire:* granted: DENIED and audited (forge-core-events)', async () => {
    await hostileCase('7 forged events', 'event:fire:*', { bytes: corpus('forge-core-events'), manifest: { permissions: ['state:read:*', 'event:subscribe:*', 'event:fire:*'] } }, { check: checkForgery });
  });

  test('the same with each core event type granted by name', async () => {
    await hostileCase(
      '7 forged events',
      'event:fire:<each>',
      { bytes: corpus('forge-core-events'), manifest: { permissions: ['state:read:*', 'event:subscribe:*', 'event:fire:my_event', ...forged.map((t) => `event:fire:${t}`)] } },
      { check: checkForgery },
    );
  });
});

// ---------------------------------------------------------------- 8. host memory

describe('8. host memory is bounded', () => {
  test('a guest that subscribes thousands of times (subscribe-flood)', async () => {
    await hostileCase('8 host memory', 'subscribe-flood', { bytes: corpus('subscribe-flood') }, {
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        expect(h.figure('hostile', 'held.subscriptions')).toBeGreaterThan(0);
        expect(h.figure('hostile', 'held.subscriptions')).toBeLessThanOrEqual(256);
        expect(h.figure('hostile', 'refused.resourceLimit')).toBeGreaterThan(0);
      },
    });
  });

  test('a guest that creates thousands of entities (entity-flood)', async () => {
    // Not subscribed to its own entities: the amplification is fairness-flood's case; this one is about holdings.
    await hostileCase('8 host memory', 'entity-flood', { bytes: corpus('entity-flood'), manifest: { subscriptions: { entities: ['sensor.temperature'], events: ['ping'] } } }, {
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        const created = h.core.getStates().filter((s) => s.entity_id.startsWith('sensor.hostile_e_')).length;
        expect(created).toBeGreaterThan(0);
        expect(created).toBeLessThanOrEqual(1_000);
        expect(h.figure('hostile', 'held.entities')).toBe(created);
        expect(h.figure('hostile', 'refused.resourceLimit') + h.figure('hostile', 'refused.rateLimited')).toBeGreaterThan(0);
      },
    });
  });
  // pending: end

  test('a 65,000-character entity id is INVALID_ARGUMENT; 256 characters too; 255 is fine (long-entity-id)', async () => {
    await hostileCase('8 host memory', 'long-entity-id', { bytes: corpus('long-entity-id') }, {
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        const report = h.report();
        expect(report[0]).toBe('I'); // hc_state_set, 65,000 characters
        expect(report[1]).toBe('I'); // hc_state_get, 65,000 characters
        expect(report[3]).toBe('I'); // hc_state_set, 256 characters
        expect(report[4]).toBe('A'); // hc_state_set, 255 characters
        // hc_subscribe with the 65,000-character pattern: refused at once, or when applied (then it holds no subscription).
        if (report[2] === 'A') {
          expect(h.figure('hostile', 'held.subscriptions')).toBe(0);
          expect(h.figure('hostile', 'refused.resourceLimit') + patternRefusals(h)).toBeGreaterThan(0);
        }
        expect(h.core.getStates().every((s) => s.entity_id.length <= 255)).toBe(true);
        expect(h.core.getState(`sensor.hostile_${'a'.repeat(240)}`)).toBeDefined();
      },
    });
  });

  test('"__proto__" keys in attributes, event data and service data stay plain data (proto-pollution)', async () => {
    const serviceData: Record<string, JsonValue>[] = [];
    await hostileCase('8 host memory', 'proto-pollution', { bytes: corpus('proto-pollution') }, {
      before: (h) => {
        h.core.registerService('light', 'turn_on', (call) => void serviceData.push(call.data as Record<string, JsonValue>));
      },
      check: (h) => {
        expect(h.stats().errors).toBe(0);
        expect(h.report()).toBe('AAAA');
        expect(Object.prototype).not.toHaveProperty('polluted');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        const attributes = h.core.getState('sensor.hostile_proto')?.attributes as Record<string, unknown>;
        expect(Object.hasOwn(attributes, '__proto__')).toBe(true);
        expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype);
        expect((attributes as { polluted?: unknown }).polluted).toBeUndefined();
        const fired = h.events.filter((e) => e.event_type === 'my_event');
        expect(fired.length).toBeGreaterThan(0);
        for (const data of [...fired.map((e) => e.data as Record<string, unknown>), ...serviceData]) {
          expect(Object.hasOwn(data, '__proto__')).toBe(true);
          expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
        }
        expect(serviceData.length).toBeGreaterThan(0);
      },
    });
  });
});

// ---------------------------------------------------------------- traps after effects

describe('a call that traps has no effects', () => {
  test('three writes, an event, a service call and a subscription, then a trap (trap-after-effects): none happened, the log line stays', async () => {
    let serviceCalls = 0;
    await hostileCase('9 trap after effects', 'trap-after-effects', { bytes: corpus('trap-after-effects') }, {
      before: (h) => void h.core.registerService('light', 'turn_on', () => void serviceCalls++),
      check: (h) => {
        const failures = h.failures();
        expect(failures.length).toBeGreaterThanOrEqual(1);
        for (const f of failures) {
          expect(f.code).toBe(ErrorCode.WASM_TRAP);
          expect(f.message).toContain('effects discarded');
        }
        for (const id of ['sensor.hostile_a', 'sensor.hostile_b', 'sensor.hostile_c']) expect(h.core.getState(id)).toBeUndefined();
        expect(h.events.some((e) => e.event_type === 'my_event')).toBe(false);
        expect(serviceCalls).toBe(0);
        expect(h.activity.some((a) => a.type === 'log' && a.plugin === 'hostile' && a.message.includes('about to trap'))).toBe(true);
      },
    });
  });

  test('writes in a hook that returned OK, then a trap in hc_free (trap-in-free): none happened', async () => {
    await hostileCase('9 trap after effects', 'trap-in-free', { bytes: corpus('trap-in-free') }, {
      check: (h) => {
        expect(h.failures().length).toBeGreaterThanOrEqual(1);
        for (const f of h.failures()) expect(f.code).toBe(ErrorCode.WASM_TRAP);
        for (const id of ['sensor.hostile_a', 'sensor.hostile_b', 'sensor.hostile_c']) expect(h.core.getState(id)).toBeUndefined();
      },
    });
  });
});
