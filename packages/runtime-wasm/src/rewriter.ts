// Fuel metering by one streaming pass over the code section. Nothing is re-encoded: every byte of
// the guest's code is copied as it was, with fuel charges inserted at the start of each
// straight-line run and before each instruction whose cost depends on its operands. Function,
// type, global and local indices stay the same: the fuel counter is a new global after the guest's
// own (the guest cannot name it: its code validated without it), and the one scratch local a
// function may need comes after its own locals. Time and memory are linear in the module's size.
//
// The same pass is the instruction-level feature check: every opcode is decoded, and one outside
// the allowlist is refused with its function index and offset.
import {
  BinaryFormatError,
  DEFAULT_SHAPE_LIMITS,
  ExternKind,
  ForbiddenFeatureError,
  Reader,
  checkShape,
  uleb,
  readModuleLayout,
  type ModuleLayout,
  type ModuleShapeLimits,
} from './binary.js';

/** Name of the exported mutable i32 global that holds the fuel left. */
export const FUEL_EXPORT = '__homecore_fuel';
/** With `exportStart`, the module's start function is exported under this name instead of run at instantiation. */
export const START_EXPORT = '__homecore_start';

/**
 * Fuel costs. Every instruction costs one unit, except `nop`, `block`, `loop`, `else`, `end` and
 * `drop`, which cost nothing. Bulk memory and table instructions, and `memory.grow`, are charged by
 * their length before they run; host imports charge from the host side (instance.ts).
 */
export const FUEL_COSTS = Object.freeze({
  /** Units per instruction. */
  instruction: 1,
  /** `i32`/`i64` `div_s`, `div_u`, `rem_s`, `rem_u`. */
  division: 4,
  /** `f32`/`f64` `sqrt` and `div`. */
  floatDivision: 4,
  /** `call` (a frame is set up and torn down: a few nanoseconds even for an empty callee). */
  call: 3,
  /** `call_indirect` (a table load, a signature check and an indirect call). */
  callIndirect: 4,
  /** `memory.fill` / `memory.copy` / `memory.init`: one unit per 2^bulkByteShift bytes, plus one. */
  bulkByteShift: 2,
  /** `table.copy` / `table.init`: one unit per 2^tableEntryShift entries, plus one. */
  tableEntryShift: 1,
  /** `memory.grow`: 2^growPageShift units per page asked for, plus one page's worth (the engine may copy and zero the memory; even growing by 0 calls into it). */
  growPageShift: 12,
  /** Every host import call, charged by the host before it acts, also when it refuses the call. */
  hostCall: 300,
  /** Host imports: units per byte read from or written to the guest (decoding, JSON, copying). */
  hostByte: 2,
});

/** Options of `meterModule`. */
export interface MeterOptions {
  /** Fuel the start function runs under: the initial value of the fuel global (default 10,000,000). */
  startFuel?: number;
  /** Shape limits (default `DEFAULT_SHAPE_LIMITS`). */
  shape?: ModuleShapeLimits;
  /**
   * Export the start function as `START_EXPORT` and drop the start section (default false), so the
   * host runs it after instantiation with a budget it sets and can still read the counter if it traps.
   */
  exportStart?: boolean;
}

const MAX_FUEL = 2 ** 31 - 1;

// Opcode classes for the scanner.
const OP_PLAIN = 0; // one unit, no immediates
const OP_FREE = 1; // no cost, no immediates (nop, drop)
const OP_U32 = 2; // one unit, one LEB immediate (br_if, call, locals, globals)
const OP_MEMARG = 3; // loads and stores
const OP_FORBIDDEN = 4;
const OP_UNKNOWN = 5;
const OP_SPECIAL = 6; // handled in the switch

const OPS = new Uint8Array(256).fill(OP_UNKNOWN);
for (let op = 0x45; op <= 0xc4; op++) OPS[op] = OP_PLAIN; // numeric (0xc0..0xc4: sign extension)
/** Units per numeric instruction: 1, except division, remainder and square root (tens of cycles each). */
const WEIGHTS = new Uint8Array(256).fill(1);
for (const op of [0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82]) WEIGHTS[op] = FUEL_COSTS.division;
for (const op of [0x91, 0x95, 0x9f, 0xa3]) WEIGHTS[op] = FUEL_COSTS.floatDivision; // f32/f64 sqrt and div
for (let op = 0x28; op <= 0x3e; op++) OPS[op] = OP_MEMARG;
for (const op of [0x00, 0x0f, 0x1b]) OPS[op] = OP_SPECIAL; // unreachable, return, select
for (const op of [0x01, 0x1a]) OPS[op] = OP_FREE;
for (const op of [0x0d, 0x10, 0x20, 0x21, 0x22, 0x23, 0x24]) OPS[op] = OP_U32; // br_if, call, local.*, global.*
for (const op of [0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0e, 0x11, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0xfc]) OPS[op] = OP_SPECIAL;
const FORBIDDEN: Record<number, string> = {
  0x06: 'try (exception handling)',
  0x07: 'catch (exception handling)',
  0x08: 'throw (exception handling)',
  0x09: 'rethrow (exception handling)',
  0x0a: 'throw_ref (exception handling)',
  0x12: 'return_call (tail calls)',
  0x13: 'return_call_indirect (tail calls)',
  0x14: 'call_ref (typed function references)',
  0x15: 'return_call_ref (typed function references)',
  0x18: 'delegate (exception handling)',
  0x19: 'catch_all (exception handling)',
  0x1c: 'typed select (reference types)',
  0x1f: 'try_table (exception handling)',
  0x25: 'table.get (reference types)',
  0x26: 'table.set (reference types)',
  0xd0: 'ref.null (reference types)',
  0xd1: 'ref.is_null (reference types)',
  0xd2: 'ref.func (reference types)',
  0xd3: 'ref.as_non_null (typed function references)',
  0xd4: 'br_on_null (typed function references)',
  0xd5: 'ref.eq (GC)',
  0xd6: 'br_on_non_null (typed function references)',
  0xfb: 'a GC instruction',
  0xfd: 'a SIMD instruction',
  0xfe: 'an atomic instruction (threads)',
};
for (const op of Object.keys(FORBIDDEN)) OPS[Number(op)] = OP_FORBIDDEN;

const GROW_CLAMP_A = [0x41, ...sleb(65536)];
// i32.lt_u, select; then + 1 (growing by nothing still calls into the engine), << shift
const GROW_CLAMP_B = [0x41, ...sleb(65536), 0x49, 0x1b, 0x41, 0x01, 0x6a, 0x41, ...sleb(FUEL_COSTS.growPageShift), 0x74];
const NO_SCRATCH: number[] = [];
const CHECK_HEAD = [0x41, 0x00, 0x48, 0x04, 0x40]; // i32.const 0; i32.lt_s; if
const CHECK_TAIL = [0x00, 0x0b]; // unreachable; end
const LT_U_SELECT = [0x49, 0x1b]; // i32.lt_u, select
const BULK_SHIFT = [0x41, ...sleb(FUEL_COSTS.bulkByteShift), 0x76]; // i32.shr_u
// memory.size << (16 - shift): the memory's size in bulk units (fits an i32 even at 65,536 pages).
const PAGES_IN_BULK_UNITS = [0x3f, 0x00, 0x41, ...sleb(16 - FUEL_COSTS.bulkByteShift), 0x74];
const TABLE_SHIFT = [0x41, ...sleb(FUEL_COSTS.tableEntryShift), 0x76];

// Kinds of insertion points.
const STATIC = 0; // a run's charge, then the check that traps below zero
const STATIC_UNCHECKED = 4; // a run's charge without the check (see scanBody)
const ENTRY = 5; // function entry: the counter is loaded from the global into the function's fuel local
const SPILL = 6; // before a call or an exit: the local is written back to the global
const RELOAD = 7; // after a call: the local is loaded again (the callee and host imports charged the global)
const BULK = 1;
const TABLE = 2;
const GROW = 3;

/** Thrown for a module the rewriter refuses; the gate turns it into a coded error. */
export class MeteringRefusal extends Error {
  constructor(
    readonly reason: 'feature' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Returns a metered copy of `bytes`: the same imports and exports plus an exported mutable i32
 * global `FUEL_EXPORT` that starts at `startFuel`. Each run of code subtracts its cost before it
 * runs; when the counter would drop below zero the guest executes `unreachable` and traps, leaving
 * the counter negative. Throws `BinaryFormatError`, `ForbiddenFeatureError`, `ShapeLimitError` or
 * `MeteringRefusal`.
 */
export function meterBinary(bytes: Uint8Array, options: MeterOptions = {}): Uint8Array {
  const steps = meterSteps(bytes, options);
  for (let step = steps.next(); ; step = steps.next()) if (step.done === true) return step.value;
}

/**
 * `meterBinary` that hands the event loop back every `METER_SLICE_BYTES` of code, so that
 * metering the largest module the size cap allows never stalls the host for long.
 */
export async function meterBinaryInSlices(bytes: Uint8Array, options: MeterOptions = {}): Promise<Uint8Array> {
  const steps = meterSteps(bytes, options);
  for (let step = steps.next(); ; step = steps.next()) {
    if (step.done === true) return step.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Code bytes metered between two yields of `meterSteps` (a few milliseconds of work). */
export const METER_SLICE_BYTES = 64 * 1024;
/** Functions metered between two yields (many tiny functions cost more than their bytes say). */
export const METER_SLICE_FUNCTIONS = 2_000;

function* meterSteps(bytes: Uint8Array, options: MeterOptions): Generator<undefined, Uint8Array, undefined> {
  const shape = options.shape ?? DEFAULT_SHAPE_LIMITS;
  const startFuel = Math.max(0, Math.min(MAX_FUEL, Math.floor(options.startFuel ?? 10_000_000)));
  const layout = readModuleLayout(bytes, shape);
  const fuelGlobal = layout.importedGlobals + layout.definedGlobals;
  const taken = layout.exports.find((e) => e.name === FUEL_EXPORT || e.name === START_EXPORT);
  if (taken !== undefined) throw new BinaryFormatError(`the module already exports '${taken.name}', a name the metering adds`);
  const startSection = options.exportStart === true ? layout.sections.find((sec) => sec.id === 8) : undefined;
  const startFunction = startSection === undefined ? undefined : new Reader(bytes, startSection.bodyStart, startSection.end).uleb();
  const encoder = new TextEncoder();
  const addedExports: number[] = [];
  const exportEntry = (name: string, kind: number, index: number): void => {
    const text = encoder.encode(name);
    addedExports.push(...uleb(text.length), ...text, kind, ...uleb(index));
  };
  exportEntry(FUEL_EXPORT, ExternKind.GLOBAL, fuelGlobal);
  if (startFunction !== undefined) exportEntry(START_EXPORT, ExternKind.FUNC, startFunction);
  const addedExportCount = startFunction === undefined ? 1 : 2;
  const out = new ByteSink(bytes.length + (bytes.length >> 1) + 256);
  out.bytes(bytes.subarray(0, 8));
  let globalsWritten = false;
  let exportWritten = false;
  const writeGlobalSection = (): void => {
    globalsWritten = true;
    const init = [0x7f, 0x01, 0x41, ...sleb(startFuel), 0x0b];
    out.byte(6);
    out.uleb(uleb(1).length + init.length);
    out.uleb(1);
    out.array(init);
  };
  const writeExportSection = (): void => {
    exportWritten = true;
    out.byte(7);
    out.uleb(uleb(addedExportCount).length + addedExports.length);
    out.uleb(addedExportCount);
    out.array(addedExports);
  };
  const functionImports = layout.imports.filter((i) => i.kind === ExternKind.FUNC).length;
  for (const section of layout.sections) {
    const order = sectionOrder(section.id);
    if (!globalsWritten && section.id !== 0 && order > sectionOrder(6)) writeGlobalSection();
    if (!exportWritten && section.id !== 0 && order > sectionOrder(7)) writeExportSection();
    if (section.id === 6) {
      globalsWritten = true;
      const r = new Reader(bytes, section.bodyStart, section.end);
      const count = r.uleb();
      const init = [0x7f, 0x01, 0x41, ...sleb(startFuel), 0x0b];
      const rest = bytes.subarray(r.pos, section.end);
      const countBytes = uleb(count + 1);
      out.byte(6);
      out.uleb(countBytes.length + rest.length + init.length);
      out.array(countBytes);
      out.bytes(rest);
      out.array(init);
    } else if (section.id === 7) {
      exportWritten = true;
      const r = new Reader(bytes, section.bodyStart, section.end);
      const count = r.uleb();
      const rest = bytes.subarray(r.pos, section.end);
      const countBytes = uleb(count + addedExportCount);
      out.byte(7);
      out.uleb(countBytes.length + rest.length + addedExports.length);
      out.array(countBytes);
      out.bytes(rest);
      out.array(addedExports);
    } else if (section === startSection) {
      // dropped: the host calls the start function through START_EXPORT
    } else if (section.id === 10) {
      yield* meterCodeSection(bytes, section.bodyStart, section.end, layout, functionImports, fuelGlobal, shape, out);
    } else {
      out.copy(bytes, section.start, section.end);
    }
  }
  if (!globalsWritten) writeGlobalSection();
  if (!exportWritten) writeExportSection();
  return out.result();
}

/** Position of a section id in the order the binary format requires (custom sections: 0). */
function sectionOrder(id: number): number {
  // type import function table memory tag global export start element datacount code data
  const order: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13 };
  return order[id] ?? 0;
}

/** Scratch state of the scanner, reused across functions. */
class Insertions {
  at = new Int32Array(1024);
  kind = new Uint8Array(1024);
  cost = new Int32Array(1024);
  length = 0;
  push(at: number, kind: number, cost: number): void {
    if (this.length === this.at.length) {
      const size = this.length * 2;
      this.at = grown(this.at, new Int32Array(size));
      this.kind = grown(this.kind, new Uint8Array(size));
      this.cost = grown(this.cost, new Int32Array(size));
    }
    this.at[this.length] = at;
    this.kind[this.length] = kind;
    this.cost[this.length] = cost;
    this.length++;
  }
}

/** `into` with `from` copied to its start (for growing the scanner's typed arrays). */
function grown<T extends Int32Array | Uint8Array>(from: T, into: T): T {
  into.set(from);
  return into;
}

function* meterCodeSection(
  bytes: Uint8Array,
  start: number,
  end: number,
  layout: ModuleLayout,
  functionImports: number,
  fuelGlobal: number,
  shape: ModuleShapeLimits,
  out: ByteSink,
): Generator<undefined, void, undefined> {
  const r = new Reader(bytes, start, end);
  const count = r.uleb();
  if (count !== layout.functionTypes.length) {
    throw new BinaryFormatError(`code section has ${count} bodies but the function section declares ${layout.functionTypes.length}`);
  }
  out.byte(10);
  const sizeAt = out.reservePaddedU32();
  const sectionStart = out.length;
  out.uleb(count);
  const insertions = new Insertions();
  const g = uleb(fuelGlobal);
  // Caps as `i32.const` instructions; none where the bound does not fit below 2^32 or is unknown.
  const capInstr = (n: number | undefined): number[] | undefined => (n === undefined || n >= 2 ** 31 ? undefined : [0x41, ...sleb(n)]);
  const memoryCap = capInstr(layout.memoryMaxPages === undefined ? undefined : layout.memoryMaxPages * 65_536);
  const tableCap = capInstr(layout.tableEntries ?? 0);
  const job: CodeJob = { bytes, end, layout, functionImports, fuelGlobal, shape, out, r, count, insertions, memoryCap, tableCap, fuelGlobalBytes: g, cursor: new Reader(bytes, start, end) };
  // The loop is in a plain function: V8 does not optimise a long-running loop inside a generator.
  for (let next = 0; next < count; ) {
    next = meterFunctions(job, next, r.pos + METER_SLICE_BYTES, next + METER_SLICE_FUNCTIONS);
    if (next < count) yield;
  }
  if (r.pos !== end) throw new BinaryFormatError('code section has bytes after its last body');
  out.patchPaddedU32(sizeAt, out.length - sectionStart);
}


interface CodeJob {
  readonly bytes: Uint8Array;
  readonly end: number;
  readonly layout: ModuleLayout;
  readonly functionImports: number;
  readonly fuelGlobal: number;
  readonly shape: ModuleShapeLimits;
  readonly out: ByteSink;
  readonly r: Reader;
  readonly count: number;
  readonly insertions: Insertions;
  readonly memoryCap: number[] | undefined;
  readonly tableCap: number[] | undefined;
  /** The fuel global's index, as a LEB. */
  readonly fuelGlobalBytes: readonly number[];
  readonly cursor: Reader;
}

/** Meters functions from `first` on, until one ends past `untilByte`; returns the next function's number. */
function meterFunctions(job: CodeJob, first: number, untilByte: number, untilFunction: number): number {
  const { bytes, end, layout, functionImports, fuelGlobal, shape, out, r, count, insertions, memoryCap, tableCap, fuelGlobalBytes, cursor } = job;
  const maxBody = shape.bodyBytes;
  const maxLocals = shape.locals;
  for (let i = first; i < count; i++) {
    const index = functionImports + i;
    const size = r.uleb();
    const bodyStart = r.pos;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > end) throw new BinaryFormatError(`body of function ${index} runs past the code section`);
    // Messages are built only on failure: this loop runs once per function.
    if (size > maxBody) checkShape(shape, 'bodyBytes', size, `function ${index}`);
    const body = cursor;
    body.pos = bodyStart;
    body.end = bodyEnd;
    const type = layout.types[layout.functionTypes[i] as number];
    if (type === undefined) throw new BinaryFormatError(`function ${index} has an unknown type index`);
    let locals = type.params.length;
    const groups = body.uleb();
    for (let k = 0; k < groups; k++) {
      locals += body.uleb();
      if (locals > maxLocals) checkShape(shape, 'locals', locals, `function ${index}`);
      const t = body.byte();
      if (t !== 0x7f && t !== 0x7e && t !== 0x7d && t !== 0x7c) {
        throw new ForbiddenFeatureError(`function ${index} has a local of type 0x${t.toString(16)} (only i32, i64, f32, f64 are allowed)`);
      }
    }
    const codeStart = body.pos;
    insertions.length = 0;
    const needsScratch = scanBody(body, index, layout, shape, insertions, locals, fuelGlobal);
    // Emit: size, locals (plus the scratch local), code with the charges inserted.
    const bodySizeAt = out.reservePaddedU32();
    const bodyOut = out.length;
    // One more i32 local holds the counter while the function runs (a register, where a global is
    // a load and a store), and one more the operand of an operand-sized charge.
    out.uleb(groups + 1);
    out.copy(bytes, bodyStart + ulebLength(bytes, bodyStart), codeStart);
    out.array([needsScratch ? 2 : 1, 0x7f]);
    const f = uleb(locals);
    const scratch = needsScratch ? uleb(locals + 1) : NO_SCRATCH;
    const g = fuelGlobalBytes;
    let copied = codeStart;
    for (let k = 0; k < insertions.length; k++) {
      const kind = insertions.kind[k] as number;
      const cost = insertions.cost[k] as number;
      if ((kind === STATIC || kind === STATIC_UNCHECKED) && cost === 0) continue;
      const at = insertions.at[k] as number;
      out.copy(bytes, copied, at);
      copied = at;
      if (kind === ENTRY || kind === RELOAD) {
        out.byte(0x23); // global.get $fuel; local.set $f
        out.array(g);
        out.byte(0x21);
        out.array(f);
        continue;
      }
      if (kind === SPILL) {
        out.byte(0x20); // local.get $f; global.set $fuel
        out.array(f);
        out.byte(0x24);
        out.array(g);
        continue;
      }
      if (kind === STATIC_UNCHECKED) {
        out.byte(0x20); // local.get $f; i32.const cost; i32.sub; local.set $f
        out.array(f);
        out.byte(0x41);
        out.sleb(cost);
        out.byte(0x6b);
        out.byte(0x21);
        out.array(f);
        continue;
      }
      if (kind === STATIC) {
        out.byte(0x20); // local.get $f; i32.const cost
        out.array(f);
        out.byte(0x41);
        out.sleb(cost);
      } else {
        // The operand on top of the stack (a length or a page count) goes to the scratch local.
        out.byte(0x21);
        out.array(scratch);
        out.byte(0x20);
        out.array(f);
        if (kind === GROW) {
          // (min(pages, 65536) + 1) << shift: a request beyond the wasm32 maximum fails, so it need not cost more.
          out.byte(0x20);
          out.array(scratch);
          out.array(GROW_CLAMP_A);
          out.byte(0x20);
          out.array(scratch);
          out.array(GROW_CLAMP_B);
        } else {
          // min(length, most the memory or table can hold) >> shift: a longer one traps out of
          // bounds before doing any work, so it need not cost more (and must not trap differently).
          const cap = kind === BULK ? memoryCap : tableCap;
          if (cap === undefined && kind === BULK) {
            // No declared maximum: cap by the memory's current size, min(n >> shift, pages << (16 - shift)).
            for (let twice = 0; twice < 2; twice++) {
              out.byte(0x20);
              out.array(scratch);
              out.array(BULK_SHIFT);
              out.array(PAGES_IN_BULK_UNITS);
            }
            out.array(LT_U_SELECT); // a b a b -> a < b ? a : b
          } else {
            out.byte(0x20);
            out.array(scratch);
            if (cap !== undefined) {
              out.array(cap);
              out.byte(0x20);
              out.array(scratch);
              out.array(cap);
              out.array(LT_U_SELECT);
            }
            out.array(kind === BULK ? BULK_SHIFT : TABLE_SHIFT);
          }
        }
      }
      // i32.sub; local.tee $f; if ($f < 0) { global.set $fuel ($f); unreachable }
      out.byte(0x6b);
      out.byte(0x22);
      out.array(f);
      out.array(CHECK_HEAD);
      out.byte(0x20);
      out.array(f);
      out.byte(0x24);
      out.array(g);
      out.array(CHECK_TAIL);
      if (kind !== STATIC) {
        out.byte(0x20);
        out.array(scratch);
      }
    }
    out.copy(bytes, copied, bodyEnd);
    out.patchPaddedU32(bodySizeAt, out.length - bodyOut);
    r.pos = bodyEnd;
    if (bodyEnd > untilByte || i + 1 >= untilFunction) return i + 1;
  }
  return count;
}

/**
 * Decodes one function body from after its locals to its final `end`, recording where charges go.
 * Returns whether the function needs the scratch local (it has an operand-sized instruction).
 * Written with locals rather than closures or a cursor object: it runs once per instruction.
 */
function scanBody(body: Reader, index: number, layout: ModuleLayout, shape: ModuleShapeLimits, insertions: Insertions, locals: number, globals: number): boolean {
  const bytes = body.bytes;
  const end = body.end;
  const maxNesting = shape.nesting;
  const maxTargets = shape.brTableTargets;
  const typeCount = layout.types.length;
  let pos = body.pos;
  let depth = 0;
  let runCost = 0;
  let dead = false;
  let scratch = false;
  // Each run's charge goes at its start; its cost is filled in when the run ends (0: nothing emitted).
  // Only some runs also check the counter: the function's entry, loop headers, and every run from
  // the first call on (in byte order). The others cannot repeat without passing a check (a loop
  // header or a function entry) and hold no call, so between two checks a guest runs at most one
  // function body's worth of unchecked code; a call that returns with the counter below zero fails.
  insertions.push(pos, ENTRY, 0);
  let runSlot = insertions.length;
  insertions.push(pos, STATIC, 0);
  let seenCall = false;
  let loopHeader = false; // set by `loop`: the run it starts is checked
  // Open blocks and ifs. One with no branch, loop or call inside ("simple") is reached after its
  // end only by falling through, so it needs no runs of its own: an if is charged its dearer arm in
  // the enclosing run, and the run goes on after its end. Decided when it closes, so its arms are
  // scanned as runs first and folded back.
  const frames = FRAMES;
  let open = 0; // frames in use: frames[0 .. open)
  let newRun = false; // set by an instruction after which a new run starts
  let deadAfter = false; // set by an unconditional branch: the new run is unreachable
  while (true) {
    if (pos >= end) throw new BinaryFormatError(`function ${index} ends without its final end`);
    const at = pos;
    const op = bytes[pos++] as number;
    const cls = OPS[op] as number;
    if (cls === OP_PLAIN) {
      runCost += WEIGHTS[op] as number;
      continue;
    }
    if (cls === OP_U32) {
      if (op >= 0x20) {
        // local.* and global.*: the index must exist in the original, since the rewriter adds a
        // local and a global after the guest's own (an invalid module must not become valid).
        pos = readU32(bytes, pos, end);
        if (lebValue >= (op <= 0x22 ? locals : globals)) throw new BinaryFormatError(`function ${index} uses ${op <= 0x22 ? 'local' : 'global'} ${lebValue}, which does not exist (byte ${at})`);
        runCost++;
        continue;
      }
      // br_if and call: the LEB is skipped inline; a byte past `end` reads as undefined, ends the
      // loop, and is caught by the check below.
      if (open > 0) frames.simple[open - 1] = 0; // a call or a br_if: not straight-line
      if (op === 0x10) {
        runCost += FUEL_COSTS.call - 1;
        if (!seenCall) {
          seenCall = true;
          insertions.kind[runSlot] = STATIC;
        }
        insertions.push(at, SPILL, 0);
        const from = pos;
        while (((bytes[pos++] as number) & 0x80) !== 0);
        if (pos > end || pos - from > 5) lebError(index, from);
        insertions.push(pos, RELOAD, 0);
      } else {
        // br_if: leaving the function through it is an exit
        pos = readU32(bytes, pos, end);
        if (lebValue === depth) insertions.push(at, SPILL, 0);
      }
      runCost++;
      continue;
    }
    if (cls === OP_MEMARG) {
      const b = bytes[pos] as number;
      if (b < 0x40) pos++; // the usual one-byte alignment hint, no memory index
      else {
        pos = readU32(bytes, pos, end);
        if (lebValue >= 64) refuse(index, at, 'a load or store with a memory index (multi-memory)');
      }
      const from = pos;
      while (((bytes[pos++] as number) & 0x80) !== 0);
      if (pos > end || pos - from > 5) lebError(index, from);
      runCost++;
      continue;
    }
    if (cls === OP_FREE) continue;
    if (cls === OP_FORBIDDEN) refuse(index, at, FORBIDDEN[op] as string);
    if (cls === OP_UNKNOWN) refuse(index, at, `unknown opcode 0x${op.toString(16)}`);
    switch (op) {
      case 0x00: // unreachable
      case 0x0f: // return
        runCost++;
        newRun = deadAfter = true;
        if (open > 0) frames.simple[open - 1] = 0;
        if (op === 0x0f) insertions.push(at, SPILL, 0);
        break;
      case 0x1b: // select
        runCost++;
        break;
      case 0x02: // block: entered by falling through only, so the run goes on
      case 0x03: // loop: its start is a branch target
      case 0x04: {
        // if
        const b = bytes[pos] as number;
        if (b === 0x40 || b === 0x7f || b === 0x7e || b === 0x7d || b === 0x7c) pos++;
        else {
          if (pos >= end) throw new BinaryFormatError(`function ${index} ends inside a block type`);
          if (b === 0x7b) refuse(index, at, 'a block of type v128 (SIMD)');
          if (b === 0x70 || b === 0x6f || b === 0x63 || b === 0x64) refuse(index, at, 'a block of a reference type (reference types)');
          pos = readS33(bytes, pos, end);
          if (lebValue < 0) refuse(index, at, `block type 0x${b.toString(16)}`);
          if (lebValue >= typeCount) throw new BinaryFormatError(`function ${index} uses block type ${lebValue}, which does not exist`);
        }
        if (++depth > maxNesting) checkShape(shape, 'nesting', depth, `function ${index}`);
        if (op === 0x04) runCost++;
        if (op !== 0x02) newRun = true;
        if (op === 0x03) {
          loopHeader = true;
          if (open > 0) frames.simple[open - 1] = 0;
        }
        frames.reserve(open + 1);
        frames.kind[open] = op;
        frames.simple[open] = op === 0x03 ? 0 : 1;
        frames.outer[open] = runSlot;
        frames.arm[open] = -1;
        frames.elseArm[open] = -1;
        open++;
        break;
      }
      case 0x05: // else
        newRun = true;
        break;
      case 0x0b: // end: the code after it is a branch target
        if (depth === 0) {
          if (!dead) insertions.cost[runSlot] = runCost;
          insertions.push(at, SPILL, 0);
          if (pos !== end) throw new BinaryFormatError(`function ${index} has code after its final end`);
          body.pos = pos;
          return scratch;
        }
        depth--;
        open--;
        if (frames.simple[open] === 1) {
          // Fold the construct back into the run it is in (see `frames` above).
          if (!dead) insertions.cost[runSlot] = runCost;
          const outer = frames.outer[open] as number;
          if (frames.kind[open] === 0x04) {
            const thenArm = frames.arm[open] as number;
            const elseArm = frames.elseArm[open] as number;
            const thenCost = thenArm < 0 ? 0 : (insertions.cost[thenArm] as number);
            const elseCost = elseArm < 0 ? 0 : (insertions.cost[elseArm] as number);
            if (thenArm >= 0) insertions.cost[thenArm] = 0;
            if (elseArm >= 0) insertions.cost[elseArm] = 0;
            insertions.cost[outer] = (insertions.cost[outer] as number) + Math.max(thenCost, elseCost);
          }
          runSlot = outer;
          runCost = insertions.cost[outer] as number;
          break;
        }
        if (open > 0) frames.simple[open - 1] = 0;
        newRun = true;
        break;
      case 0x0c: // br
        pos = readU32(bytes, pos, end);
        if (lebValue === depth) insertions.push(at, SPILL, 0);
        runCost++;
        newRun = deadAfter = true;
        if (open > 0) frames.simple[open - 1] = 0;
        break;
      case 0x0e: {
        // br_table
        pos = readU32(bytes, pos, end);
        const n = lebValue;
        if (n > maxTargets) checkShape(shape, 'brTableTargets', n, `function ${index}`);
        let exits = false;
        for (let k = 0; k <= n; k++) {
          pos = readU32(bytes, pos, end);
          if (lebValue === depth) exits = true;
        }
        if (exits) insertions.push(at, SPILL, 0);
        runCost++;
        newRun = deadAfter = true;
        if (open > 0) frames.simple[open - 1] = 0;
        break;
      }
      case 0x11: // call_indirect typeidx tableidx
        insertions.push(at, SPILL, 0);
        pos = skipLeb(bytes, pos, end, 5);
        pos = readU32(bytes, pos, end);
        if (lebValue !== 0) refuse(index, at, 'call_indirect through a table other than table 0 (reference types)');
        insertions.push(pos, RELOAD, 0);
        runCost += FUEL_COSTS.callIndirect;
        if (open > 0) frames.simple[open - 1] = 0;
        if (!seenCall) {
          seenCall = true;
          insertions.kind[runSlot] = STATIC;
        }
        break;
      case 0x3f: // memory.size
      case 0x40: // memory.grow
        pos = readU32(bytes, pos, end);
        if (lebValue !== 0) refuse(index, at, `${op === 0x3f ? 'memory.size' : 'memory.grow'} of a memory other than memory 0 (multi-memory)`);
        runCost++;
        if (op === 0x40) {
          insertions.push(at, GROW, 0);
          scratch = true;
        }
        break;
      case 0x41: {
        // i32.const
        const from = pos;
        while (((bytes[pos++] as number) & 0x80) !== 0);
        if (pos > end || pos - from > 5) lebError(index, from);
        runCost++;
        break;
      }
      case 0x42: // i64.const
        pos = skipLeb(bytes, pos, end, 10);
        runCost++;
        break;
      case 0x43: // f32.const
      case 0x44: // f64.const
        pos += op === 0x43 ? 4 : 8;
        if (pos > end) throw new BinaryFormatError(`function ${index} ends inside a constant`);
        runCost++;
        break;
      case 0xfc: {
        pos = readU32(bytes, pos, end);
        const sub = lebValue;
        runCost++;
        if (sub <= 7) break; // saturating truncation
        let kind = -1;
        let memories = 0;
        let tables = 0;
        if (sub === 8) {
          pos = skipLeb(bytes, pos, end, 5); // memory.init dataidx memidx
          memories = 1;
          kind = BULK;
        } else if (sub === 9 || sub === 13) {
          pos = skipLeb(bytes, pos, end, 5); // data.drop, elem.drop
        } else if (sub === 10) {
          memories = 2; // memory.copy
          kind = BULK;
        } else if (sub === 11) {
          memories = 1; // memory.fill
          kind = BULK;
        } else if (sub === 12) {
          pos = skipLeb(bytes, pos, end, 5); // table.init elemidx tableidx
          tables = 1;
          kind = TABLE;
        } else if (sub === 14) {
          tables = 2; // table.copy
          kind = TABLE;
        } else if (sub >= 15 && sub <= 17) {
          refuse(index, at, `${['table.grow', 'table.size', 'table.fill'][sub - 15]} (reference types)`);
        } else {
          refuse(index, at, `unknown instruction 0xfc ${sub}`);
        }
        for (let k = 0; k < memories + tables; k++) {
          pos = readU32(bytes, pos, end);
          if (lebValue !== 0) refuse(index, at, memories > 0 ? 'a bulk memory instruction on a memory other than memory 0 (multi-memory)' : 'a table instruction on a table other than table 0 (reference types)');
        }
        if (kind >= 0) {
          insertions.push(at, kind, 0);
          scratch = true;
        }
        break;
      }
      default:
        refuse(index, at, `opcode 0x${op.toString(16)}`);
    }
    if (newRun) {
      if (!dead) insertions.cost[runSlot] = runCost;
      runCost = 0;
      dead = deadAfter;
      newRun = deadAfter = false;
      runSlot = insertions.length;
      insertions.push(pos, seenCall || loopHeader ? STATIC : STATIC_UNCHECKED, 0);
      loopHeader = false;
      // The arms of an if are runs of their own until the if closes.
      if (open > 0 && frames.kind[open - 1] === 0x04) {
        if (op === 0x04) frames.arm[open - 1] = runSlot;
        else if (op === 0x05) frames.elseArm[open - 1] = runSlot;
      }
    }
  }
}

/** The open blocks, ifs and loops of the function being scanned (reused: scans never overlap). */
class Frames {
  kind = new Uint8Array(64);
  simple = new Uint8Array(64);
  outer = new Int32Array(64);
  arm = new Int32Array(64);
  elseArm = new Int32Array(64);
  reserve(n: number): void {
    if (n <= this.kind.length) return;
    const size = Math.max(n, this.kind.length * 2);
    this.kind = grown(this.kind, new Uint8Array(size));
    this.simple = grown(this.simple, new Uint8Array(size));
    this.outer = grown(this.outer, new Int32Array(size));
    this.arm = grown(this.arm, new Int32Array(size));
    this.elseArm = grown(this.elseArm, new Int32Array(size));
  }
}
const FRAMES = new Frames();

function lebError(index: number, at: number): never {
  throw new BinaryFormatError(`function ${index} has a malformed or truncated integer at byte ${at}`);
}

function refuse(index: number, at: number, what: string): never {
  throw new ForbiddenFeatureError(`${what} (function ${index}, byte ${at})`);
}

/** The value the last `readU32` / `readS33` decoded (a module variable, so the readers allocate nothing). */
let lebValue = 0;

function readU32(bytes: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) throw new BinaryFormatError(`unexpected end of data at byte ${pos}`);
    const b = bytes[pos++] as number;
    result += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) {
      if (result > 0xffffffff) throw new BinaryFormatError(`integer too large at byte ${pos - 1}`);
      lebValue = result;
      return pos;
    }
    scale *= 128;
  }
  throw new BinaryFormatError(`integer representation too long at byte ${pos}`);
}

function readS33(bytes: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 5; i++) {
    if (pos >= end) throw new BinaryFormatError(`unexpected end of data at byte ${pos}`);
    const b = bytes[pos++] as number;
    result += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) {
      lebValue = b & 0x40 ? result - scale : result;
      return pos;
    }
  }
  throw new BinaryFormatError(`integer representation too long at byte ${pos}`);
}

function skipLeb(bytes: Uint8Array, pos: number, end: number, max: number): number {
  for (let i = 0; i < max; i++) {
    if (pos >= end) throw new BinaryFormatError(`unexpected end of data at byte ${pos}`);
    if (((bytes[pos++] as number) & 0x80) === 0) return pos;
  }
  throw new BinaryFormatError(`integer representation too long at byte ${pos}`);
}

/** A growable output buffer. */
class ByteSink {
  private buf: Uint8Array;
  length = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
  }
  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }
  array(values: ArrayLike<number>): void {
    const n = values.length;
    this.room(n);
    const buf = this.buf;
    let at = this.length;
    for (let i = 0; i < n; i++) buf[at++] = values[i] as number;
    this.length = at;
  }
  bytes(values: Uint8Array): void {
    this.copy(values, 0, values.length);
  }
  uleb(value: number): void {
    this.array(uleb(value));
  }
  /** Writes a signed LEB128 of a non-negative i32 without allocating. */
  sleb(value: number): void {
    this.room(5);
    const buf = this.buf;
    let v = value;
    while (v >= 0x40) {
      buf[this.length++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.length++] = v;
  }
  /** Copies `from[start, end)`; short runs byte by byte, since a subarray per copy costs more than the copy. */
  copy(from: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.room(n);
    if (n < 64) {
      const buf = this.buf;
      let at = this.length;
      for (let i = start; i < end; i++) buf[at++] = from[i] as number;
      this.length = at;
    } else {
      this.buf.set(from.subarray(start, end), this.length);
      this.length += n;
    }
  }
  /** Reserves five bytes for a u32 written later in padded LEB128 form (valid: at most ceil(32/7) bytes). */
  reservePaddedU32(): number {
    this.room(5);
    const at = this.length;
    this.length += 5;
    return at;
  }
  patchPaddedU32(at: number, value: number): void {
    if (value > 0xffffffff) throw new BinaryFormatError('metered section is larger than 4 GiB');
    for (let i = 0; i < 4; i++) {
      this.buf[at + i] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buf[at + 4] = value & 0x7f;
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (true) {
    const b = v & 0x7f;
    v = Math.floor(v / 128);
    const done = (v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

function ulebLength(bytes: Uint8Array, at: number): number {
  let n = 1;
  while (((bytes[at + n - 1] as number) & 0x80) !== 0) n++;
  return n;
}
