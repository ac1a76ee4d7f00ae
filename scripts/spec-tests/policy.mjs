// The oracle for "does this module need a feature the host forbids?": wabt's validator with only
// the allowed features, refined where wabt's feature switches do not match the host's policy.
//
// wabt with reference types off still accepts (1.0.39) several reference-types constructs at the
// module level, and it rejects one bulk-memory construct. The refinements, read straight from the
// import, table and element sections:
//   - stricter: more than one table (imported or defined), a table whose element type is not
//     funcref, a declarative element segment, an element segment for a table other than 0: all
//     reference types, all forbidden;
//   - looser: `ref.null func` as an element-segment expression. Element expressions
//     (`ref.func x`, `ref.null`) came with the bulk-memory proposal (passive segments need them),
//     which the host allows; wabt only accepts ref.null there with reference types on. For wabt's
//     check each such expression is replaced by `ref.func 0` (or dropped when the module has no
//     function), which keeps the rest of the module's validity as it was.
// A module these section readers cannot parse is left to wabt as it is.

class Reader {
  constructor(bytes, pos = 0, end = bytes.length) {
    this.b = bytes;
    this.pos = pos;
    this.end = end;
  }
  byte() {
    if (this.pos >= this.end) throw new Error('eof');
    return this.b[this.pos++];
  }
  uleb() {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new Error('leb');
    }
  }
  skipLeb() {
    while (this.byte() & 0x80);
  }
  skip(n) {
    if (this.pos + n > this.end) throw new Error('eof');
    this.pos += n;
  }
  name() {
    this.skip(this.uleb());
  }
  limits() {
    const flags = this.byte();
    this.uleb();
    if (flags & 1) this.uleb();
  }
  /** Skips a constant expression, up to and including its `end`. */
  constExpr() {
    for (;;) {
      const op = this.byte();
      if (op === 0x0b) return;
      if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) this.skipLeb();
      else if (op === 0x43) this.skip(4);
      else if (op === 0x44) this.skip(8);
      else if (op === 0xd0) this.byte();
      else if (op >= 0x6a && op <= 0x7c) continue; // extended-const arithmetic: wabt decides
      else throw new Error(`opcode ${op}`);
    }
  }
}

function uleb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/**
 * Returns { forbidden: string | null, normalized: Uint8Array }: `forbidden` names a reference-types
 * construct wabt would miss; `normalized` is the module for wabt's check (see above).
 */
export function policyScan(bytes) {
  try {
    return scan(bytes);
  } catch {
    return { forbidden: null, normalized: bytes };
  }
}

function scan(bytes) {
  const r = new Reader(bytes, 8);
  let tables = 0;
  let functions = 0;
  let forbidden = null;
  const sections = [];
  while (r.pos < r.end) {
    const start = r.pos;
    const id = r.byte();
    const size = r.uleb();
    const bodyStart = r.pos;
    r.skip(size);
    sections.push({ id, start, bodyStart, end: r.pos });
  }
  let replaced;
  for (const s of sections) {
    const r2 = new Reader(bytes, s.bodyStart, s.end);
    if (s.id === 2) {
      for (let n = r2.uleb(), i = 0; i < n; i++) {
        r2.name();
        r2.name();
        const kind = r2.byte();
        if (kind === 0) {
          r2.uleb();
          functions++;
        } else if (kind === 1) {
          const elem = r2.byte();
          if (elem !== 0x70) forbidden ??= `an imported table of element type 0x${elem.toString(16)}`;
          r2.limits();
          tables++;
        } else if (kind === 2) r2.limits();
        else if (kind === 3) r2.skip(2);
        else throw new Error('import kind');
      }
    } else if (s.id === 3) {
      functions += r2.uleb();
    } else if (s.id === 4) {
      for (let n = r2.uleb(), i = 0; i < n; i++) {
        const elem = r2.byte();
        if (elem !== 0x70) forbidden ??= `a table of element type 0x${elem.toString(16)}`;
        r2.limits();
        tables++;
      }
    } else if (s.id === 9) {
      const out = [];
      let changed = false;
      const n = r2.uleb();
      for (let i = 0; i < n; i++) {
        const flags = r2.uleb();
        const from = r2.pos;
        if (flags === 3 || flags === 7) forbidden ??= 'a declarative element segment';
        if (flags === 2 || flags === 6) {
          if (r2.uleb() !== 0) forbidden ??= 'an element segment for a table other than 0';
        }
        if ((flags & 1) === 0) r2.constExpr();
        if ((flags & 4) === 0) {
          if (flags & 3) r2.byte(); // elemkind
          for (let m = r2.uleb(), j = 0; j < m; j++) r2.uleb();
          out.push([...uleb(flags), ...bytes.subarray(from, r2.pos)]);
          continue;
        }
        if (flags & 3) r2.byte(); // reftype
        const head = bytes.subarray(from, r2.pos);
        const exprs = [];
        for (let m = r2.uleb(), j = 0; j < m; j++) {
          const e = r2.pos;
          r2.constExpr();
          const expr = bytes.subarray(e, r2.pos);
          if (expr.length === 3 && expr[0] === 0xd0 && expr[1] === 0x70 && expr[2] === 0x0b) {
            changed = true;
            if (functions > 0) exprs.push([0xd2, 0x00, 0x0b]);
          } else exprs.push([...expr]);
        }
        out.push([...uleb(flags), ...head, ...uleb(exprs.length), ...exprs.flat()]);
      }
      if (changed) {
        const body = [...uleb(n), ...out.flat()];
        replaced = { s, section: [9, ...uleb(body.length), ...body] };
      }
    }
  }
  if (tables > 1) forbidden ??= `${tables} tables`;
  let normalized = bytes;
  if (replaced !== undefined) {
    normalized = new Uint8Array([...bytes.subarray(0, replaced.s.start), ...replaced.section, ...bytes.subarray(replaced.s.end)]);
  }
  return { forbidden, normalized };
}
