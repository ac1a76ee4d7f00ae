// A small reader for the parts of a WebAssembly binary the load gate needs: types, imports,
// function types, tables, memories, exports and section boundaries. It never trusts its input:
// every read is bounds-checked and a malformed binary raises `BinaryFormatError`.

/** Raised for a binary that is not well formed. */
export class BinaryFormatError extends Error {}

/** Raised for a well-formed binary that uses a feature outside the allowlist. */
export class ForbiddenFeatureError extends Error {}

/** Value type bytes of the MVP. */
export const ValType = { I32: 0x7f, I64: 0x7e, F32: 0x7d, F64: 0x7c } as const;

/** A function type: parameter and result value type bytes. */
export interface FuncType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}

/** External kinds of imports and exports. */
export const ExternKind = { FUNC: 0, TABLE: 1, MEMORY: 2, GLOBAL: 3, TAG: 4 } as const;

/** One import entry. */
export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: number;
  /** For a function import: its type index. */
  readonly typeIndex: number;
}

/** One export entry. */
export interface WasmExport {
  readonly name: string;
  readonly kind: number;
  readonly index: number;
}

/** Limits of a memory defined by the module, and where its section lies in the binary. */
export interface MemoryDecl {
  readonly initial: number;
  readonly maximum: number | undefined;
  readonly sectionStart: number;
  readonly sectionEnd: number;
}

/** What the gate reads from a module. */
export interface ModuleLayout {
  readonly types: readonly FuncType[];
  readonly imports: readonly WasmImport[];
  /** Type index of each function defined by the module (not imported). */
  readonly functionTypes: readonly number[];
  readonly exports: readonly WasmExport[];
  /** The module's own memory, if it defines one. */
  readonly memory: MemoryDecl | undefined;
  /** [start, end) byte ranges of every custom section. */
  readonly customSections: readonly (readonly [number, number])[];
  /** Every section in binary order: its id, where it starts (at the id byte), where its body starts and ends. */
  readonly sections: readonly SectionSpan[];
  /** Globals imported (they come first in the global index space). */
  readonly importedGlobals: number;
  /** Globals the module defines. */
  readonly definedGlobals: number;
  /** The most entries the table can ever have (its maximum, else its initial size: nothing grows it), if there is one. */
  readonly tableEntries: number | undefined;
  /** The memory's maximum in pages, imported or defined, if it declares one. */
  readonly memoryMaxPages: number | undefined;
}

/** Where one section lies in a binary. */
export interface SectionSpan {
  readonly id: number;
  readonly start: number;
  readonly bodyStart: number;
  readonly end: number;
}

/**
 * Limits on a module's shape, checked while reading it and before any heavy work, so that a module
 * built to exhaust the host (a million functions, a ten-million-entry table) is refused at once.
 */
export interface ModuleShapeLimits {
  /** Types in the type section. */
  readonly types: number;
  /** Parameters or results of one function type. */
  readonly typeArity: number;
  /** Imports. */
  readonly imports: number;
  /** Functions the module defines. */
  readonly functions: number;
  /** Exports. */
  readonly exports: number;
  /** Globals the module defines. */
  readonly globals: number;
  /** Data segments. */
  readonly dataSegments: number;
  /** Element segments. */
  readonly elementSegments: number;
  /** Entries across all element segments. */
  readonly elementEntries: number;
  /** Initial (and declared maximum) size of the table, in entries. */
  readonly tableEntries: number;
  /** Parameters plus locals of one function. */
  readonly locals: number;
  /** Bytes of one function body. */
  readonly bodyBytes: number;
  /** Depth of nested block/loop/if in one function. */
  readonly nesting: number;
  /** Targets of one br_table. */
  readonly brTableTargets: number;
}

/** The default shape limits; docs/sandbox.md lists them with their reasons. */
export const DEFAULT_SHAPE_LIMITS: Readonly<ModuleShapeLimits> = Object.freeze({
  types: 10_000,
  typeArity: 1_000,
  imports: 1_000,
  functions: 50_000,
  exports: 10_000,
  globals: 10_000,
  dataSegments: 10_000,
  elementSegments: 1_000,
  elementEntries: 100_000,
  tableEntries: 100_000,
  locals: 10_000,
  bodyBytes: 1024 * 1024,
  nesting: 1_000,
  brTableTargets: 10_000,
});

/** Raised for a well-formed module beyond one of its shape limits. */
export class ShapeLimitError extends Error {
  constructor(
    /** The limit's name in `ModuleShapeLimits`. */
    readonly limit: keyof ModuleShapeLimits,
    /** The module's figure. */
    readonly value: number,
    /** The limit in force. */
    readonly max: number,
    where = '',
  ) {
    super(`${where === '' ? '' : `${where}: `}${value} ${SHAPE_LIMIT_NOUNS[limit]}, above the limit of ${max}`);
  }
}

const SHAPE_LIMIT_NOUNS: Record<keyof ModuleShapeLimits, string> = {
  types: 'types',
  typeArity: 'parameters or results in one type',
  imports: 'imports',
  functions: 'functions',
  exports: 'exports',
  globals: 'globals',
  dataSegments: 'data segments',
  elementSegments: 'element segments',
  elementEntries: 'element entries',
  tableEntries: 'table entries',
  locals: 'locals in one function',
  bodyBytes: 'bytes in one function body',
  nesting: 'nested blocks',
  brTableTargets: 'br_table targets',
};

/** Throws `ShapeLimitError` when `value` is above `limits[limit]`. */
export function checkShape(limits: ModuleShapeLimits, limit: keyof ModuleShapeLimits, value: number, where?: string): void {
  if (value > limits[limit]) throw new ShapeLimitError(limit, value, limits[limit], where);
}

const FEATURE_NAMES: Record<number, string> = {
  0x7b: 'SIMD (v128)',
  0x70: 'reference types (funcref value)',
  0x6f: 'reference types (externref)',
};

/** A bounds-checked reader over one range of a binary (`pos` and `end` may be moved to reuse it). */
export class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    public end: number,
  ) {
    this.pos = start;
  }
  byte(): number {
    if (this.pos >= this.end) throw new BinaryFormatError(`unexpected end of data at byte ${this.pos}`);
    return this.bytes[this.pos++] as number;
  }
  /** An unsigned LEB128 of up to 64 bits, as a number (exact up to 2^53). */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new BinaryFormatError(`LEB128 number too long at byte ${this.pos}`);
  }
  name(): string {
    const len = this.uleb();
    if (this.pos + len > this.end) throw new BinaryFormatError(`name runs past its section at byte ${this.pos}`);
    const slice = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return utf8.decode(slice);
    } catch {
      throw new BinaryFormatError(`a name is not valid UTF-8 at byte ${this.pos - len}`);
    }
  }
  /** A vector's length, refused past `limit` before any of it is read. */
  count(shape: ModuleShapeLimits, limit: keyof ModuleShapeLimits): number {
    const n = this.uleb();
    checkShape(shape, limit, n);
    return n;
  }
  limits(what: string): { initial: number; maximum: number | undefined } {
    const flags = this.byte();
    if (flags & 0x02) throw new ForbiddenFeatureError(`shared ${what} (threads)`);
    if (flags & 0x04) throw new ForbiddenFeatureError(`64-bit ${what} (memory64)`);
    if (flags > 0x01) throw new ForbiddenFeatureError(`${what} limits flags 0x${flags.toString(16)}`);
    const initial = this.uleb();
    const maximum = flags & 0x01 ? this.uleb() : undefined;
    return { initial, maximum };
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function valueType(byte: number): number {
  if (byte === ValType.I32 || byte === ValType.I64 || byte === ValType.F32 || byte === ValType.F64) return byte;
  throw new ForbiddenFeatureError(FEATURE_NAMES[byte] ?? `value type 0x${byte.toString(16)} (GC or another post-MVP proposal)`);
}

/**
 * Reads the layout of a module, throwing `BinaryFormatError` for a malformed binary and
 * `ForbiddenFeatureError` for shared or 64-bit memory, several memories or tables, non-function
 * (GC) types, reference/SIMD value types, tags (exceptions) and non-funcref tables.
 */
export function readModuleLayout(bytes: Uint8Array, shape: ModuleShapeLimits = DEFAULT_SHAPE_LIMITS): ModuleLayout {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new BinaryFormatError('missing the \\0asm magic number');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    throw new BinaryFormatError('binary format version is not 1 (component or future format)');
  }
  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const functionTypes: number[] = [];
  const exports: WasmExport[] = [];
  const customSections: (readonly [number, number])[] = [];
  const sections: SectionSpan[] = [];
  let importedGlobals = 0;
  let definedGlobals = 0;
  let elementEntries = 0;
  let tableEntries: number | undefined;
  let memoryMaxPages: number | undefined;
  let memory: MemoryDecl | undefined;
  let importedMemories = 0;
  let importedTables = 0;
  const top = new Reader(bytes, 8, bytes.length);
  while (top.pos < bytes.length) {
    const sectionStart = top.pos;
    const id = top.byte();
    const size = top.uleb();
    const bodyStart = top.pos;
    const bodyEnd = bodyStart + size;
    if (bodyEnd > bytes.length) throw new BinaryFormatError(`section ${id} runs past the end of the module`);
    const r = new Reader(bytes, bodyStart, bodyEnd);
    sections.push({ id, start: sectionStart, bodyStart, end: bodyEnd });
    switch (id) {
      case 0:
        customSections.push([sectionStart, bodyEnd]);
        break;
      case 1: {
        for (let n = r.count(shape, 'types'), i = 0; i < n; i++) {
          const form = r.byte();
          if (form !== 0x60) throw new ForbiddenFeatureError(`type section entry 0x${form.toString(16)} is not a function type (GC)`);
          const params: number[] = [];
          for (let c = r.count(shape, 'typeArity'), j = 0; j < c; j++) params.push(valueType(r.byte()));
          const results: number[] = [];
          for (let c = r.count(shape, 'typeArity'), j = 0; j < c; j++) results.push(valueType(r.byte()));
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        for (let n = r.count(shape, 'imports'), i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kind = r.byte();
          let typeIndex = -1;
          if (kind === ExternKind.FUNC) typeIndex = r.uleb();
          else if (kind === ExternKind.TABLE) {
            tableEntries = tableType(r, shape);
            importedTables++;
          } else if (kind === ExternKind.MEMORY) {
            memoryMaxPages = r.limits('memory').maximum;
            importedMemories++;
          } else if (kind === ExternKind.GLOBAL) {
            globalType(r);
            importedGlobals++;
          } else if (kind === ExternKind.TAG) throw new ForbiddenFeatureError('tag import (exception handling)');
          else throw new BinaryFormatError(`unknown import kind ${kind}`);
          imports.push({ module, name, kind, typeIndex });
        }
        break;
      }
      case 3:
        for (let n = r.count(shape, 'functions'), i = 0; i < n; i++) functionTypes.push(r.uleb());
        break;
      case 4: {
        const n = r.uleb();
        if (n + importedTables > 1) throw new ForbiddenFeatureError('more than one table (reference types)');
        for (let i = 0; i < n; i++) tableEntries = tableType(r, shape);
        break;
      }
      case 5: {
        const n = r.uleb();
        if (n + importedMemories > 1) throw new ForbiddenFeatureError('more than one memory (multi-memory)');
        if (n === 1) {
          memory = { ...r.limits('memory'), sectionStart, sectionEnd: bodyEnd };
          memoryMaxPages = memory.maximum;
        }
        break;
      }
      case 6:
        definedGlobals = r.count(shape, 'globals');
        checkShape(shape, 'globals', definedGlobals + importedGlobals);
        for (let i = 0; i < definedGlobals; i++) {
          globalType(r);
          constantExpression(r, importedGlobals + definedGlobals);
        }
        break;
      case 7:
        for (let n = r.count(shape, 'exports'), i = 0; i < n; i++) {
          const entry = { name: r.name(), kind: r.byte(), index: r.uleb() };
          // Checked here, not left to the engine: the metering rewriter adds a global after the guest's own.
          if (entry.kind === ExternKind.GLOBAL && entry.index >= importedGlobals + definedGlobals) {
            throw new BinaryFormatError(`export '${entry.name}' names global ${entry.index}, which does not exist`);
          }
          exports.push(entry);
        }
        break;
      case 9:
        for (let n = r.count(shape, 'elementSegments'), i = 0; i < n; i++) {
          elementEntries += elementSegment(r, shape, importedGlobals + definedGlobals);
          checkShape(shape, 'elementEntries', elementEntries);
        }
        break;
      case 11:
        for (let n = r.count(shape, 'dataSegments'), i = 0; i < n; i++) dataSegment(r, importedGlobals + definedGlobals);
        break;
      case 12:
        checkShape(shape, 'dataSegments', r.uleb());
        break;
      case 13:
        throw new ForbiddenFeatureError('tag section (exception handling)');
      case 8:
      case 10:
        break;
      default:
        throw new BinaryFormatError(`unknown section id ${id}`);
    }
    top.pos = bodyEnd;
  }
  return { types, imports, functionTypes, exports, memory, customSections, sections, importedGlobals, definedGlobals, tableEntries, memoryMaxPages };
}

/** Reads a table type; returns the most entries the table can have (without reference types nothing grows it). */
function tableType(r: Reader, shape: ModuleShapeLimits): number {
  const elem = r.byte();
  if (elem !== 0x70) throw new ForbiddenFeatureError(`table of element type 0x${elem.toString(16)} (reference types)`);
  const { initial, maximum } = r.limits('table');
  checkShape(shape, 'tableEntries', initial, 'table initial size');
  // A huge declared maximum still makes engines reserve for it.
  if (maximum !== undefined) checkShape(shape, 'tableEntries', maximum, 'table maximum size');
  return initial;
}

function globalType(r: Reader): void {
  valueType(r.byte());
  const mutability = r.byte();
  if (mutability > 1) throw new BinaryFormatError(`global mutability flag ${mutability} at byte ${r.pos - 1}`);
}

/** Skips a constant expression of the allowed features: one const or global.get of an existing global, then end. */
function constantExpression(r: Reader, globals: number): void {
  const op = r.byte();
  switch (op) {
    case 0x41:
    case 0x42:
      skipLeb(r);
      break;
    case 0x23: {
      const index = r.uleb();
      if (index >= globals) throw new BinaryFormatError(`a constant expression reads global ${index}, which does not exist`);
      break;
    }
    case 0x43:
      r.pos += 4;
      break;
    case 0x44:
      r.pos += 8;
      break;
    case 0xd0:
    case 0xd2:
      throw new ForbiddenFeatureError(`ref.${op === 0xd0 ? 'null' : 'func'} in a constant expression (reference types)`);
    default:
      throw new ForbiddenFeatureError(`instruction 0x${op.toString(16)} in a constant expression (extended constant expressions or another post-MVP proposal)`);
  }
  if (r.byte() !== 0x0b) throw new ForbiddenFeatureError('a constant expression of more than one instruction (extended constant expressions)');
}

function skipLeb(r: Reader): void {
  for (let i = 0; i < 10; i++) if ((r.byte() & 0x80) === 0) return;
  throw new BinaryFormatError(`LEB128 number too long at byte ${r.pos}`);
}

/** Reads one data segment: flags 0 (active, memory 0), 1 (passive) or 2 (active, explicit memory). */
function dataSegment(r: Reader, globals: number): void {
  const flags = r.uleb();
  if (flags > 2) throw new BinaryFormatError(`data segment flags ${flags}`);
  if (flags === 2 && r.uleb() !== 0) throw new ForbiddenFeatureError('a data segment for a memory other than memory 0 (multi-memory)');
  if (flags !== 1) constantExpression(r, globals);
  const size = r.uleb();
  if (r.pos + size > r.end) throw new BinaryFormatError(`data segment runs past its section at byte ${r.pos}`);
  r.pos += size;
}

/** Reads one element segment of the bulk-memory forms (table 0, funcref only); returns its entry count. */
function elementSegment(r: Reader, shape: ModuleShapeLimits, globals: number): number {
  const flags = r.uleb();
  if (flags > 7) throw new BinaryFormatError(`element segment flags ${flags}`);
  const explicitTable = (flags & 0x02) !== 0 && (flags & 0x01) === 0;
  const passiveOrDeclared = (flags & 0x01) !== 0;
  const usesExpressions = (flags & 0x04) !== 0;
  if (explicitTable && r.uleb() !== 0) throw new ForbiddenFeatureError('an element segment for a table other than table 0 (reference types)');
  if (!passiveOrDeclared) constantExpression(r, globals);
  if (flags === 3 || flags === 7) throw new ForbiddenFeatureError('a declarative element segment (reference types)');
  if ((flags & 0x03) !== 0) {
    const kind = r.byte();
    if (usesExpressions ? kind !== 0x70 : kind !== 0x00) throw new ForbiddenFeatureError(`element segment of kind 0x${kind.toString(16)} (reference types)`);
  }
  const n = r.count(shape, 'elementEntries');
  for (let i = 0; i < n; i++) {
    if (!usesExpressions) {
      r.uleb();
      continue;
    }
    const op = r.byte();
    if (op === 0xd2) r.uleb();
    else if (op === 0xd0) {
      if (r.byte() !== 0x70) throw new ForbiddenFeatureError('ref.null of a type other than funcref (reference types)');
    } else throw new ForbiddenFeatureError(`instruction 0x${op.toString(16)} in an element expression`);
    if (r.byte() !== 0x0b) throw new BinaryFormatError(`element expression without end at byte ${r.pos - 1}`);
  }
  return n;
}

/** The type of function `index` in the module's function index space (imports first). */
export function functionType(layout: ModuleLayout, index: number): FuncType | undefined {
  const imported = layout.imports.filter((i) => i.kind === ExternKind.FUNC);
  const typeIndex = index < imported.length ? imported[index]?.typeIndex : layout.functionTypes[index - imported.length];
  return typeIndex === undefined ? undefined : layout.types[typeIndex];
}

/** True when `type` is exactly `(params) -> (results)`. */
export function sameSignature(type: FuncType | undefined, params: readonly number[], results: readonly number[]): boolean {
  return (
    type !== undefined &&
    type.params.length === params.length &&
    type.results.length === results.length &&
    type.params.every((p, i) => p === params[i]) &&
    type.results.every((p, i) => p === results[i])
  );
}

/** Writes a signature for messages, for example `(i32, i32) -> i32`. */
export function formatSignature(params: readonly number[], results: readonly number[]): string {
  const name = (t: number): string =>
    ({ [ValType.I32]: 'i32', [ValType.I64]: 'i64', [ValType.F32]: 'f32', [ValType.F64]: 'f64' })[t] ?? `0x${t.toString(16)}`;
  const res = results.length === 0 ? '()' : results.length === 1 ? name(results[0] as number) : `(${results.map(name).join(', ')})`;
  return `(${params.map(name).join(', ')}) -> ${res}`;
}

/** An unsigned LEB128 encoding of `value`. */
export function uleb(value: number): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return out;
}

/** Returns a copy of `bytes` whose memory section declares `(memory initial maximum)`. */
export function rewriteMemoryLimits(bytes: Uint8Array, memory: MemoryDecl, maximum: number): Uint8Array {
  const body = [1, 0x01, ...uleb(memory.initial), ...uleb(maximum)];
  const section = [5, ...uleb(body.length), ...body];
  const out = new Uint8Array(bytes.length - (memory.sectionEnd - memory.sectionStart) + section.length);
  out.set(bytes.subarray(0, memory.sectionStart), 0);
  out.set(section, memory.sectionStart);
  out.set(bytes.subarray(memory.sectionEnd), memory.sectionStart + section.length);
  return out;
}

/** Returns a copy of `bytes` without its custom sections (names, producers, debug info). */
export function stripCustomSections(bytes: Uint8Array, layout: ModuleLayout): Uint8Array {
  if (layout.customSections.length === 0) return bytes;
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const [start, end] of layout.customSections) {
    parts.push(bytes.subarray(from, start));
    from = end;
  }
  parts.push(bytes.subarray(from));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
