// A seeded generator of random, valid WebAssembly modules (as WAT) for differential tests of the
// fuel rewriter: i32/i64/f32/f64 arithmetic (sign extension, saturating conversions, traps),
// locals, globals (an imported one shifts the global index space), nested block/loop/if/else with
// results and parameters (multi-value), br / br_if / br_table / return, direct calls, calls to an
// imported function, call_indirect (null entries and signature mismatches trap), loads and stores
// (out of bounds now and then), memory.size/grow, memory.fill/copy/init, data.drop, table.copy/init,
// elem.drop, select,
// unreachable, and a start function.
//
// Every module terminates: a loop decrements its own counter (a local nothing else writes) and the
// exported `budget` global at its head, and branches back only while both are positive; calls go
// to functions of lower index only, and call_indirect only to functions that make no calls.
//
// Runs must be comparable bit for bit across two compilations of the same code, so a NaN's payload
// (which V8 may produce differently in its two tiers, e.g. by constant folding) never reaches
// memory, an integer or a sign: NaNs are canonicalised before `reinterpret`, before a store, and as
// the sign operand of `copysign`. Results may still be NaN: compare those by NaN-ness.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64';
const TYPES: readonly ValType[] = ['i32', 'i64', 'f32', 'f64'];

/** An exported function of a generated module. */
export interface GeneratedFunction {
  readonly name: string;
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

export interface GeneratedModule {
  readonly seed: number;
  readonly wat: string;
  /** Exported functions, to call with random arguments. */
  readonly functions: readonly GeneratedFunction[];
  /** Exported `() -> i32|i64` getters returning each mutable global's value (floats as canonical bits). */
  readonly globalGetters: readonly string[];
  /** Whether the module has a start function. */
  readonly hasStart: boolean;
}

/** Imports every generated module expects: `env.log (i32) -> ()`, `env.base` (immutable i32), `env.counter` (mutable i32). */
export interface GeneratedImports {
  readonly log: number[];
  readonly object: WebAssembly.Imports;
  readonly counter: WebAssembly.Global;
}

/** Fresh imports for one instance; `log` records every env.log call. */
export function generatedImports(): GeneratedImports {
  const log: number[] = [];
  const counter = new WebAssembly.Global({ value: 'i32', mutable: true }, 7);
  return {
    log,
    counter,
    object: { env: { log: (v: number) => void log.push(v), base: new WebAssembly.Global({ value: 'i32', mutable: false }, 1000), counter } },
  };
}

/** A small, fast, seeded PRNG (mulberry32). */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from nothing');
    return items[this.int(items.length)] as T;
  }
}

const INTERESTING_I32 = [0, 1, -1, 2, 7, 31, 32, 33, 255, 256, 65535, 65536, 0x7fffffff, -0x80000000, 0x12345678, -2, 16, 1023];
const INTERESTING_I64 = ['0', '1', '-1', '63', '64', '0x7fffffffffffffff', '-0x8000000000000000', '0x100000000', '0xffffffff', '-2', '0x123456789abcdef'];
const INTERESTING_F = ['0', '-0', '1', '-1', '0.5', '1.5', '-2.5', 'inf', '-inf', 'nan', '-nan', 'nan:0x200', '3.4e38', '1e-40', '2147483648', '-2147483649', '4294967296', '9.3e18', '0x1p-149', '123.456'];

/** A decimal or 0x literal, maybe negative, as a BigInt. */
const bigint = (text: string): bigint => (text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text));

/** A random JS argument for a parameter of type `t`. */
export function randomArg(rng: Rng, t: ValType): number | bigint {
  switch (t) {
    case 'i32':
      return rng.chance(0.5) ? (rng.pick(INTERESTING_I32) | 0) : rng.next() | 0;
    case 'i64':
      return rng.chance(0.4) ? BigInt.asIntN(64, bigint(rng.pick(INTERESTING_I64))) : BigInt.asIntN(64, (BigInt(rng.next()) << 32n) | BigInt(rng.next()));
    default: {
      const r = rng.int(6);
      if (r === 0) return rng.pick([0, -0, 1, -1, Infinity, -Infinity, NaN, 0.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 63, 1e-310]);
      if (r === 1) return rng.int(200) - 100;
      return (rng.next() / 2 ** 32 - 0.5) * 10 ** rng.int(12);
    }
  }
}

interface Label {
  readonly name: string;
  /** Types a branch to it carries (empty for loops: generated loops have no parameters). */
  readonly types: readonly ValType[];
  /** For a loop: the guard a branch back must test. */
  readonly guard?: string;
}

interface Local {
  readonly name: string;
  readonly type: ValType;
}

interface Sig {
  readonly params: readonly ValType[];
  readonly results: readonly ValType[];
}

const sigKey = (s: Sig): string => `${s.params.join(',')}->${s.results.join(',')}`;

interface FnInfo extends Sig {
  readonly name: string;
  /** No calls at all: may sit in the table. */
  readonly leaf: boolean;
}

const UNARY: Record<ValType, readonly string[]> = {
  i32: ['i32.clz', 'i32.ctz', 'i32.popcnt', 'i32.eqz', 'i32.extend8_s', 'i32.extend16_s'],
  i64: ['i64.clz', 'i64.ctz', 'i64.popcnt', 'i64.extend8_s', 'i64.extend16_s', 'i64.extend32_s'],
  f32: ['f32.abs', 'f32.neg', 'f32.sqrt', 'f32.ceil', 'f32.floor', 'f32.trunc', 'f32.nearest'],
  f64: ['f64.abs', 'f64.neg', 'f64.sqrt', 'f64.ceil', 'f64.floor', 'f64.trunc', 'f64.nearest'],
};
const INT_BINARY = ['add', 'sub', 'mul', 'and', 'or', 'xor', 'shl', 'shr_s', 'shr_u', 'rotl', 'rotr', 'div_s', 'div_u', 'rem_s', 'rem_u'];
const FLOAT_BINARY = ['add', 'sub', 'mul', 'div', 'min', 'max', 'copysign'];
const INT_COMPARE = ['eq', 'ne', 'lt_s', 'lt_u', 'gt_s', 'gt_u', 'le_s', 'le_u', 'ge_s', 'ge_u'];
const FLOAT_COMPARE = ['eq', 'ne', 'lt', 'gt', 'le', 'ge'];
/** Conversions: [instruction, from]. */
const CONVERT: Record<ValType, readonly (readonly [string, ValType])[]> = {
  i32: [
    ['i32.wrap_i64', 'i64'],
    ['i32.trunc_f32_s', 'f32'],
    ['i32.trunc_f32_u', 'f32'],
    ['i32.trunc_f64_s', 'f64'],
    ['i32.trunc_f64_u', 'f64'],
    ['i32.trunc_sat_f32_s', 'f32'],
    ['i32.trunc_sat_f32_u', 'f32'],
    ['i32.trunc_sat_f64_s', 'f64'],
    ['i32.trunc_sat_f64_u', 'f64'],
    ['i32.reinterpret_f32', 'f32'],
  ],
  i64: [
    ['i64.extend_i32_s', 'i32'],
    ['i64.extend_i32_u', 'i32'],
    ['i64.trunc_f32_s', 'f32'],
    ['i64.trunc_f64_u', 'f64'],
    ['i64.trunc_sat_f32_u', 'f32'],
    ['i64.trunc_sat_f64_s', 'f64'],
    ['i64.reinterpret_f64', 'f64'],
  ],
  f32: [
    ['f32.convert_i32_s', 'i32'],
    ['f32.convert_i32_u', 'i32'],
    ['f32.convert_i64_s', 'i64'],
    ['f32.convert_i64_u', 'i64'],
    ['f32.demote_f64', 'f64'],
    ['f32.reinterpret_i32', 'i32'],
  ],
  f64: [
    ['f64.convert_i32_s', 'i32'],
    ['f64.convert_i32_u', 'i32'],
    ['f64.convert_i64_s', 'i64'],
    ['f64.convert_i64_u', 'i64'],
    ['f64.promote_f32', 'f32'],
    ['f64.reinterpret_i64', 'i64'],
  ],
};
const LOADS: Record<ValType, readonly string[]> = {
  i32: ['i32.load', 'i32.load8_s', 'i32.load8_u', 'i32.load16_s', 'i32.load16_u'],
  i64: ['i64.load', 'i64.load8_s', 'i64.load8_u', 'i64.load16_s', 'i64.load16_u', 'i64.load32_s', 'i64.load32_u'],
  f32: ['f32.load'],
  f64: ['f64.load'],
};
const STORES: Record<ValType, readonly string[]> = {
  i32: ['i32.store', 'i32.store8', 'i32.store16'],
  i64: ['i64.store', 'i64.store8', 'i64.store16', 'i64.store32'],
  f32: ['f32.store'],
  f64: ['f64.store'],
};

export interface GeneratorOptions {
  /** Functions besides the helpers (default 3 to 8). */
  functions?: number;
  /** Maximum expression depth (default 4). */
  depth?: number;
}

/** Generates one module from `seed`; the same seed always gives the same module. */
export function randomModule(seed: number, options: GeneratorOptions = {}): GeneratedModule {
  return new Generator(seed, options).module();
}

class Generator {
  private readonly rng: Rng;
  private readonly maxDepth: number;
  private readonly nFunctions: number;
  private readonly fns: FnInfo[] = [];
  private readonly sigs = new Map<string, { name: string; sig: Sig }>();
  private readonly globals: Local[] = [];
  private tableSize = 0;
  private readonly leaves: FnInfo[] = [];
  // per function
  private locals: Local[] = [];
  private labels: Label[] = [];
  private counters = 0;
  private labelSeq = 0;
  private results: readonly ValType[] = [];
  private callees: FnInfo[] = [];
  private leaf = false;
  private indirect = false;

  constructor(
    private readonly seed: number,
    options: GeneratorOptions,
  ) {
    this.rng = new Rng(seed * 2654435761 + 1);
    this.maxDepth = options.depth ?? 4;
    this.nFunctions = options.functions ?? 3 + this.rng.int(6);
  }

  private sigName(sig: Sig): string {
    const key = sigKey(sig);
    let entry = this.sigs.get(key);
    if (entry === undefined) {
      entry = { name: `$sig${this.sigs.size}`, sig };
      this.sigs.set(key, entry);
    }
    return entry.name;
  }

  private randomTypes(max: number): ValType[] {
    return Array.from({ length: this.rng.int(max + 1) }, () => this.rng.pick(TYPES));
  }

  module(): GeneratedModule {
    const rng = this.rng;
    for (const t of TYPES) for (let k = 0; k < 2; k++) this.globals.push({ name: `$g_${t}_${k}`, type: t });
    const bodies: string[] = [];
    const exported: GeneratedFunction[] = [];
    const leaves = this.leaves;
    for (let i = 0; i < this.nFunctions; i++) {
      const leaf = i < 2 || rng.chance(0.25);
      const sig: Sig = { params: this.randomTypes(3), results: rng.chance(0.2) ? this.randomTypes(3) : rng.chance(0.85) ? [rng.pick(TYPES)] : [] };
      const info: FnInfo = { name: `$f${i}`, ...sig, leaf };
      this.sigName(sig);
      if (leaf) leaves.push(info);
      this.fns.push(info);
    }
    this.tableSize = leaves.length + 2;
    for (let i = 0; i < this.fns.length; i++) {
      const info = this.fns[i] as FnInfo;
      this.callees = this.fns.slice(0, i);
      bodies.push(this.func(info, `(export "f${i}")`));
      exported.push({ name: `f${i}`, params: info.params, results: info.results });
    }
    const hasStart = rng.chance(0.3);
    if (hasStart) {
      this.callees = this.fns.filter((f) => f.params.length === 0);
      bodies.push(this.func({ name: '$start', params: [], results: [], leaf: false }, ''));
    }
    const getters = this.globals.map((g, i) => {
      const read = g.type === 'f32' ? `(i32.reinterpret_f32 (call $canon32 (global.get ${g.name})))` : g.type === 'f64' ? `(i64.reinterpret_f64 (call $canon64 (global.get ${g.name})))` : `(global.get ${g.name})`;
      const result = g.type === 'f32' || g.type === 'i32' ? 'i32' : 'i64';
      return `  (func (export "g${i}") (result ${result}) ${read})`;
    });
    getters.push('  (func (export "g_counter") (result i32) (global.get $counter))');
    const bytes = Array.from({ length: 64 }, () => `\\${rng.int(256).toString(16).padStart(2, '0')}`).join('');
    const passive = Array.from({ length: 32 }, () => `\\${rng.int(256).toString(16).padStart(2, '0')}`).join('');
    const lines = [
      '(module',
      ...[...this.sigs.values()].map(({ name, sig }) => `  (type ${name} (func${sig.params.length ? ` (param ${sig.params.join(' ')})` : ''}${sig.results.length ? ` (result ${sig.results.join(' ')})` : ''}))`),
      '  (import "env" "log" (func $log (param i32)))',
      '  (import "env" "base" (global $base i32))',
      '  (import "env" "counter" (global $counter (mut i32)))',
      '  (memory (export "mem") 1 2)',
      `  (table ${this.tableSize} funcref)`,
      `  (elem (i32.const 0) ${leaves.map((f) => f.name).join(' ')})`,
      `  (elem $leaves func ${leaves.map((f) => f.name).join(' ')})`,
      '  (global $budget (export "budget") (mut i32) (i32.const 0))',
      ...this.globals.map((g) => `  (global ${g.name} (mut ${g.type}) (${g.type}.const ${g.type.startsWith('i') ? rng.pick(INTERESTING_I32) : rng.pick(['0', '1.5', '-7', 'inf', '0x1p-3'])}))`),
      `  (data (i32.const ${rng.int(4) * 16}) "${bytes}")`,
      `  (data $passive "${passive}")`,
      '  (func $canon32 (param f32) (result f32) (select (f32.const nan) (local.get 0) (f32.ne (local.get 0) (local.get 0))))',
      '  (func $canon64 (param f64) (result f64) (select (f64.const nan) (local.get 0) (f64.ne (local.get 0) (local.get 0))))',
      ...bodies,
      ...getters,
      ...(hasStart ? ['  (start $start)'] : []),
      ')',
    ];
    return { seed: this.seed, wat: lines.join('\n'), functions: exported, globalGetters: [...this.globals.map((_, i) => `g${i}`), 'g_counter'], hasStart };
  }

  private func(info: FnInfo, exportClause: string): string {
    const rng = this.rng;
    this.labels = [];
    this.counters = 0;
    this.labelSeq = 0;
    this.results = info.results;
    this.leaf = info.leaf;
    this.indirect = !info.leaf;
    this.locals = info.params.map((type, i) => ({ name: `$p${i}`, type }));
    const extra: Local[] = [];
    for (const t of TYPES) extra.push({ name: `$l_${t}`, type: t }); // at least one local of each type
    for (let k = rng.int(4); k > 0; k--) extra.push({ name: `$l${k}`, type: rng.pick(TYPES) });
    this.locals.push(...extra);
    const body: string[] = [];
    for (let k = 1 + rng.int(5); k > 0; k--) body.push(this.stmt(2 + rng.int(2)));
    body.push(...info.results.map((t) => this.expr(t, this.maxDepth)));
    const counters = Array.from({ length: this.counters }, (_, i) => `(local $c${i} i32)`).join(' ');
    const params = info.params.map((t, i) => `(param $p${i} ${t})`).join(' ');
    const results = info.results.length ? `(result ${info.results.join(' ')})` : '';
    const locals = extra.map((l) => `(local ${l.name} ${l.type})`).join(' ');
    return `  (func ${info.name} ${exportClause} ${params} ${results} ${locals} ${counters}\n    ${body.join('\n    ')})`;
  }

  private label(types: readonly ValType[], guard?: string): Label {
    return { name: `$L${this.labelSeq++}`, types, ...(guard === undefined ? {} : { guard }) };
  }

  private localOf(t: ValType): Local {
    return this.rng.pick(this.locals.filter((l) => l.type === t));
  }

  private constant(t: ValType): string {
    const rng = this.rng;
    if (t === 'i32') return `(i32.const ${rng.chance(0.6) ? rng.pick(INTERESTING_I32) : rng.next() | 0})`;
    if (t === 'i64') return `(i64.const ${rng.chance(0.6) ? rng.pick(INTERESTING_I64) : BigInt.asIntN(64, (BigInt(rng.next()) << 32n) | BigInt(rng.next()))})`;
    return `(${t}.const ${rng.chance(0.7) ? rng.pick(INTERESTING_F) : ((rng.next() / 2 ** 32 - 0.5) * 1000).toString()})`;
  }

  private leafExpr(t: ValType): string {
    const rng = this.rng;
    const r = rng.int(10);
    if (r < 4) return this.constant(t);
    if (r < 8) return `(local.get ${this.localOf(t).name})`;
    if (t === 'i32' && r === 8) return rng.pick(['(global.get $base)', '(global.get $counter)', '(memory.size)']);
    return `(global.get ${rng.pick(this.globals.filter((g) => g.type === t)).name})`;
  }

  /** An address: mostly in the first page, sometimes near its end or anywhere (a trap, or page 2 after a grow). */
  private address(d: number): string {
    const rng = this.rng;
    const r = rng.int(150);
    const e = this.expr('i32', d - 1);
    if (r < 147) return `(i32.and ${e} (i32.const 1023))`;
    if (r < 149) return `(i32.add (i32.const 65528) (i32.and ${e} (i32.const 15)))`;
    return e;
  }

  /** A length for bulk memory: usually small, sometimes huge (a trap). */
  private length(d: number): string {
    const r = this.rng.int(30);
    const e = this.expr('i32', d - 1);
    if (r < 27) return `(i32.and ${e} (i32.const 127))`;
    return r === 27 ? e : '(i32.const 0)';
  }

  private canon(t: ValType, e: string): string {
    return t === 'f32' ? `(call $canon32 ${e})` : t === 'f64' ? `(call $canon64 ${e})` : e;
  }

  private args(types: readonly ValType[], d: number): string {
    return types.map((t) => this.expr(t, d - 1)).join(' ');
  }

  /** Code leaving `types` on the stack (one expression each, or one multi-value construct). */
  private values(types: readonly ValType[], d: number): string {
    if (types.length > 1 && this.rng.chance(0.3)) {
      // a multi-value block
      const l = this.label(types);
      this.labels.push(l);
      const body = this.stmts(d - 1);
      const vals = this.args(types, d);
      this.labels.pop();
      return `(block ${l.name} (result ${types.join(' ')}) ${body} ${vals})`;
    }
    return this.args(types, d + 1);
  }

  private callable(pred: (f: FnInfo) => boolean): FnInfo[] {
    return this.leaf ? [] : this.callees.filter(pred);
  }

  expr(t: ValType, d: number): string {
    const rng = this.rng;
    if (d <= 0) return this.leafExpr(t);
    const isInt = t === 'i32' || t === 'i64';
    for (;;) {
      switch (rng.int(22)) {
        case 0:
        case 1:
          return this.leafExpr(t);
        case 2:
        case 3: {
          return `(${rng.pick(UNARY[t])} ${this.expr(t, d - 1)})`;
        }
        case 4:
        case 5:
        case 6: {
          const op = rng.pick(isInt ? INT_BINARY : FLOAT_BINARY);
          let b = op === 'copysign' ? this.canon(t, this.expr(t, d - 1)) : this.expr(t, d - 1);
          // a divisor is mostly made odd (no trap on zero; -1 still overflows div_s now and then)
          if ((op.startsWith('div') || op.startsWith('rem')) && isInt && rng.chance(0.85)) b = `(${t}.or ${b} (${t}.const 1))`;
          return `(${t}.${op} ${this.expr(t, d - 1)} ${b})`;
        }
        case 7: {
          if (t !== 'i32') continue;
          const u = rng.pick(TYPES);
          const op = rng.pick(u.startsWith('i') ? INT_COMPARE : FLOAT_COMPARE);
          return `(${u}.${op} ${this.expr(u, d - 1)} ${this.expr(u, d - 1)})`;
        }
        case 8: {
          const [picked, from] = rng.pick(CONVERT[t]);
          // trapping float-to-int conversions mostly saturate instead
          const op = /trunc_f/.test(picked) && rng.chance(0.7) ? picked.replace('trunc_', 'trunc_sat_') : picked;
          const e = this.expr(from, d - 1);
          return `(${op} ${op.includes('reinterpret') ? this.canon(from, e) : e})`;
        }
        case 9: {
          const op = rng.pick(LOADS[t]);
          const size = op.endsWith('load') ? (t === 'i64' || t === 'f64' ? 8 : 4) : Number(/(\d+)_/.exec(op)?.[1]) / 8;
          const offset = rng.chance(0.3) ? ` offset=${rng.int(64)}` : '';
          const align = rng.chance(0.3) ? ` align=${2 ** rng.int(Math.log2(size) + 1)}` : '';
          return `(${op}${offset}${align} ${this.address(d)})`;
        }
        case 10:
          return `(select ${this.expr(t, d - 1)} ${this.expr(t, d - 1)} ${this.expr('i32', d - 1)})`;
        case 11:
          return `(local.tee ${this.localOf(t).name} ${this.expr(t, d - 1)})`;
        case 12: {
          const f = this.callable((c) => c.results.length === 1 && c.results[0] === t);
          if (f.length === 0) continue;
          const c = rng.pick(f);
          return `(call ${c.name} ${this.args(c.params, d)})`;
        }
        case 13: {
          if (!this.indirect) continue;
          const sigs = [...this.sigs.values()].filter((s) => s.sig.results.length === 1 && s.sig.results[0] === t);
          if (sigs.length === 0) continue;
          const target = this.indirectTarget(sigs);
          if (target === undefined) continue;
          const { sig, index } = target;
          return `(call_indirect (type ${this.sigName(sig)}) ${this.args(sig.params, d)} ${index})`;
        }
        case 14: {
          // block with a result, maybe left by a branch
          const l = this.label([t]);
          this.labels.push(l);
          const body = this.stmts(d - 1);
          const v = this.expr(t, d - 1);
          this.labels.pop();
          return `(block ${l.name} (result ${t}) ${body} ${v})`;
        }
        case 15: {
          const l = this.label([t]);
          const cond = this.expr('i32', d - 1);
          this.labels.push(l);
          const a = `${this.stmts(d - 1)} ${this.expr(t, d - 1)}`;
          const b = `${this.stmts(d - 1)} ${this.expr(t, d - 1)}`;
          this.labels.pop();
          return `(if ${l.name} (result ${t}) ${cond} (then ${a}) (else ${b}))`;
        }
        case 16: {
          // br_if carrying a value to an enclosing label of type [t]
          const targets = this.labels.filter((l) => l.types.length === 1 && l.types[0] === t);
          if (targets.length === 0) continue;
          return `(br_if ${rng.pick(targets).name} ${this.expr(t, d - 1)} ${this.expr('i32', d - 1)})`;
        }
        case 17: {
          // a block with a parameter
          const p = rng.pick(TYPES);
          const l = this.label([t]);
          this.labels.push(l);
          const body = `(local.set ${this.localOf(p).name}) ${this.stmts(d - 1)} ${this.expr(t, d - 1)}`;
          this.labels.pop();
          return `(block (result ${t}) ${this.expr(p, d - 1)} (block ${l.name} (param ${p}) (result ${t}) ${body}))`;
        }
        case 18: {
          // a multi-value block or call, all but the first value dropped
          const rest = this.randomTypes(2);
          const types = [t, ...rest];
          if (rest.length === 0) continue;
          const f = this.callable((c) => c.results.length === types.length && c.results.every((r, i) => r === types[i]));
          const drops = rest.map(() => '(drop)').join(' ');
          if (f.length > 0 && rng.chance(0.5)) {
            const c = rng.pick(f);
            return `(block (result ${t}) (call ${c.name} ${this.args(c.params, d)}) ${drops})`;
          }
          return `(block (result ${t}) ${this.values(types, d - 1)} ${drops})`;
        }
        case 19:
          if (t !== 'i32') continue;
          return `(memory.grow (i32.and ${this.expr('i32', d - 1)} (i32.const 1)))`;
        case 20: {
          // a loop with a result
          const c = `$c${this.counters++}`;
          const guard = `(i32.and (i32.gt_s (local.get ${c}) (i32.const 0)) (i32.gt_s (global.get $budget) (i32.const 0)))`;
          const l = this.label([], guard);
          this.labels.push(l);
          const body = this.stmts(d - 1);
          const v = this.expr(t, d - 1);
          this.labels.pop();
          return `(block (result ${t}) (local.set ${c} (i32.const ${1 + rng.int(5)})) (loop ${l.name} (result ${t}) ${this.loopHead(c)} ${body} (br_if ${l.name} ${guard}) ${v}))`;
        }
        default:
          if (!isInt) continue;
          // sign extension and saturating conversions, explicitly
          return t === 'i32'
            ? `(${rng.pick(['i32.extend8_s', 'i32.extend16_s'])} ${this.expr('i32', d - 1)})`
            : `(${rng.pick(['i64.extend8_s', 'i64.extend16_s', 'i64.extend32_s'])} ${this.expr('i64', d - 1)})`;
      }
    }
  }

  /**
   * A call_indirect's signature and table index: mostly a table entry through its own signature,
   * sometimes any signature at any index (a null entry, one past the end, or a mismatch: traps).
   */
  private indirectTarget(sigs: readonly { sig: Sig }[]): { sig: Sig; index: string } | undefined {
    const rng = this.rng;
    const matching = this.leaves.map((f, i) => ({ f, i })).filter(({ f }) => sigs.some((s) => sigKey(s.sig) === sigKey(f)));
    if (matching.length > 0 && rng.chance(0.85)) {
      const { f, i } = rng.pick(matching);
      return { sig: f, index: rng.chance(0.5) ? `(i32.const ${i})` : `(i32.add (i32.const ${i}) (i32.and ${this.expr('i32', 1)} (i32.const 0)))` };
    }
    if (!rng.chance(0.3)) return undefined;
    return { sig: rng.pick(sigs).sig, index: `(i32.rem_u ${this.expr('i32', 1)} (i32.const ${this.tableSize + 1}))` };
  }

  private loopHead(c: string): string {
    return `(local.set ${c} (i32.sub (local.get ${c}) (i32.const 1))) (global.set $budget (i32.sub (global.get $budget) (i32.const 1)))`;
  }

  private stmts(d: number): string {
    const out: string[] = [];
    for (let k = this.rng.int(3); k > 0; k--) out.push(this.stmt(d));
    return out.join(' ');
  }

  stmt(d: number): string {
    const rng = this.rng;
    const t = rng.pick(TYPES);
    const dd = Math.max(0, d);
    for (;;) {
      switch (rng.int(25)) {
        case 0:
        case 1:
        case 2: {
          const l = this.localOf(t);
          return `(local.set ${l.name} ${this.expr(t, dd)})`;
        }
        case 3:
          return `(global.set ${rng.pick(this.globals.filter((g) => g.type === t)).name} ${this.expr(t, dd)})`;
        case 4:
        case 5: {
          const op = rng.pick(STORES[t]);
          const offset = rng.chance(0.3) ? ` offset=${rng.int(64)}` : '';
          return `(${op}${offset} ${this.address(dd)} ${this.canon(t, this.expr(t, dd))})`;
        }
        case 6:
          return `(memory.fill ${this.address(dd)} ${this.expr('i32', dd - 1)} ${this.length(dd)})`;
        case 7:
          return `(memory.copy ${this.address(dd)} ${this.address(dd)} ${this.length(dd)})`;
        case 8:
          if (rng.chance(0.97)) return `(memory.init $passive ${this.address(dd)} (i32.and ${this.expr('i32', dd - 1)} (i32.const 15)) (i32.and ${this.expr('i32', dd - 1)} (i32.const 15)))`;
          return '(data.drop $passive)';
        case 9: {
          const f = this.callable(() => true);
          if (f.length === 0) continue;
          const c = rng.pick(f);
          return `(call ${c.name} ${this.args(c.params, dd)}) ${c.results.map(() => '(drop)').join(' ')}`;
        }
        case 10:
          if (this.leaf) continue;
          return `(call $log ${this.expr('i32', dd)})`;
        case 11: {
          if (d <= 0) continue;
          const l = this.label([]);
          this.labels.push(l);
          const body = this.stmts(d - 1);
          this.labels.pop();
          return `(block ${l.name} ${body})`;
        }
        case 12: {
          if (d <= 0) continue;
          const c = `$c${this.counters++}`;
          const guard = `(i32.and (i32.gt_s (local.get ${c}) (i32.const 0)) (i32.gt_s (global.get $budget) (i32.const 0)))`;
          const l = this.label([], guard);
          this.labels.push(l);
          const body = this.stmts(d - 1);
          this.labels.pop();
          return `(local.set ${c} (i32.const ${1 + rng.int(6)})) (loop ${l.name} ${this.loopHead(c)} ${body} (br_if ${l.name} ${guard}))`;
        }
        case 13: {
          if (d <= 0) continue;
          const cond = this.expr('i32', dd - 1);
          const l = this.label([]);
          this.labels.push(l);
          const a = this.stmts(d - 1);
          const b = rng.chance(0.6) ? ` (else ${this.stmts(d - 1)})` : '';
          this.labels.pop();
          return `(if ${l.name} ${cond} (then ${a})${b})`;
        }
        case 14:
        case 15: {
          // a branch: to a block (with its values), or back to a loop under its guard
          if (this.labels.length === 0) continue;
          const l = rng.pick(this.labels);
          if (l.guard !== undefined) {
            // back to the loop head, under its guard, by one of four instructions
            const r = rng.int(4);
            if (r === 0) return `(br_if ${l.name} ${l.guard})`;
            if (r === 1) return `(if ${l.guard} (then (br ${l.name})))`;
            const exit = this.label([]);
            if (r === 2) return `(block ${exit.name} (br_table ${l.name} ${exit.name} (select (i32.const 0) (i32.const 1) ${l.guard})))`;
            return `(block ${exit.name} (br_table ${exit.name} ${l.name} ${exit.name} (select (i32.const 1) (i32.const ${rng.int(3) * 2}) ${l.guard})))`;
          }
          if (rng.chance(0.5)) return `(br_if ${l.name} ${this.values(l.types, dd)} ${this.expr('i32', dd - 1)})${l.types.map(() => ' (drop)').join('')}`;
          return `(br ${l.name} ${this.values(l.types, dd)})`;
        }
        case 16: {
          // br_table over fresh blocks and enclosing blocks of no values
          if (d <= 0) continue;
          const outer = this.labels.filter((l) => l.types.length === 0 && l.guard === undefined).map((l) => l.name);
          const n = 1 + rng.int(3);
          const inner = Array.from({ length: n }, () => this.label([]));
          const names = [...inner.map((l) => l.name), ...outer];
          const targets = Array.from({ length: 1 + rng.int(5) }, () => rng.pick(names));
          let code = `(br_table ${targets.join(' ')} ${rng.pick(names)} ${this.expr('i32', dd - 1)})`;
          for (let k = n - 1; k >= 0; k--) {
            const l = inner[k] as Label;
            this.labels.push(l);
            code = `(block ${l.name} ${code} ${this.stmts(d - 1)})`;
            this.labels.pop();
          }
          return code;
        }
        case 17:
          if (!rng.chance(0.2)) continue;
          return `(if (i32.eqz (i32.and ${this.expr('i32', dd)} (i32.const 31))) (then unreachable))`;
        case 18:
          return `(drop ${this.expr(t, dd)})`;
        case 19:
          if (!rng.chance(0.3)) continue;
          return `(if ${this.expr('i32', dd)} (then (return ${this.values(this.results, dd)})))`;
        case 20:
          return '(nop)';
        case 21: {
          if (!this.indirect) continue;
          const target = this.indirectTarget([...this.sigs.values()]);
          if (target === undefined) continue;
          const { sig, index } = target;
          return `(call_indirect (type ${this.sigName(sig)}) ${this.args(sig.params, dd)} ${index}) ${sig.results.map(() => '(drop)').join(' ')}`;
        }
        case 23: {
          // table.copy / table.init / elem.drop on table 0 (only ever leaves and nulls in it)
          if (!rng.chance(0.5)) continue;
          const n = this.tableSize;
          const len = rng.chance(0.05) ? this.expr('i32', dd - 1) : `(i32.and ${this.expr('i32', dd - 1)} (i32.const 3))`;
          const r = rng.int(10);
          if (r < 5) return `(table.copy (i32.rem_u ${this.expr('i32', dd - 1)} (i32.const ${n})) (i32.rem_u ${this.expr('i32', dd - 1)} (i32.const ${n})) ${len})`;
          if (r < 9) return `(table.init $leaves (i32.rem_u ${this.expr('i32', dd - 1)} (i32.const ${n})) (i32.rem_u ${this.expr('i32', dd - 1)} (i32.const ${this.leaves.length})) ${len})`;
          return '(elem.drop $leaves)';
        }
        case 22:
          return `(global.set $counter (i32.add (global.get $counter) ${this.expr('i32', dd)}))`;
        case 24: {
          // dead code after an unconditional branch or return, inside a block
          if (d <= 0 || !rng.chance(0.4)) continue;
          const l = this.label([]);
          this.labels.push(l);
          const body = `(br ${l.name}) ${this.stmts(d - 1)}`;
          this.labels.pop();
          return `(block ${l.name} ${body})`;
        }
        default:
          continue;
      }
    }
  }
}
