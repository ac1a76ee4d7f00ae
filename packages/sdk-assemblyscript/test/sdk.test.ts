import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ASC_FLAGS, ASSEMBLY_DIR, HOST_ABI_VERSION, compilePlugin, type CompiledPlugin } from '@homecore/sdk-assemblyscript';

const PROBE = fileURLToPath(new URL('./assembly/sdk-probe.ts', import.meta.url));

interface HostCall {
  name: string;
  args: (string | number)[];
}

/** A fake `homecore` host: records every call, serves states from a map, and answers like the real one. */
class FakeHost {
  calls: HostCall[] = [];
  states = new Map<string, string>();
  configJson = '{}';
  clock = 1_700_000_000_000;
  memory!: WebAssembly.Memory;

  private text(ptr: number, len: number): string {
    return new TextDecoder().decode(new Uint8Array(this.memory.buffer, ptr >>> 0, len >>> 0));
  }

  private output(json: string, out: number, cap: number): number {
    const bytes = new TextEncoder().encode(json);
    if (bytes.length <= cap) new Uint8Array(this.memory.buffer, out, bytes.length).set(bytes);
    return bytes.length;
  }

  imports(): WebAssembly.Imports {
    return {
      env: {
        abort: (msg: number, file: number, line: number, col: number) => {
          throw new Error(`abort at ${line}:${col} (${msg}, ${file})`);
        },
      },
      homecore: {
        hc_log: (level: number, p: number, n: number) => {
          this.calls.push({ name: 'log', args: [level, this.text(p, n)] });
          return 0;
        },
        hc_state_get: (ip: number, il: number, out: number, cap: number) => {
          const id = this.text(ip, il);
          this.calls.push({ name: 'state_get', args: [id, cap] });
          const json = this.states.get(id);
          return json === undefined ? -2 : this.output(json, out, cap);
        },
        hc_state_set: (ip: number, il: number, sp: number, sl: number, ap: number, al: number) => {
          this.calls.push({ name: 'state_set', args: [this.text(ip, il), this.text(sp, sl), al === 0 ? '' : this.text(ap, al)] });
          return 0;
        },
        hc_service_call: (dp: number, dl: number, sp: number, sl: number, ap: number, al: number) => {
          this.calls.push({ name: 'service_call', args: [this.text(dp, dl), this.text(sp, sl), this.text(ap, al)] });
          return 0;
        },
        hc_event_fire: (tp: number, tl: number, dp: number, dl: number) => {
          this.calls.push({ name: 'event_fire', args: [this.text(tp, tl), this.text(dp, dl)] });
          return 0;
        },
        hc_subscribe: (kind: number, p: number, n: number) => {
          this.calls.push({ name: 'subscribe', args: [kind, this.text(p, n)] });
          return 0;
        },
        hc_config_get: (out: number, cap: number) => {
          this.calls.push({ name: 'config_get', args: [cap] });
          return this.output(this.configJson, out, cap);
        },
        hc_clock_now: () => this.clock,
      },
    };
  }
}

interface ProbeExports {
  memory: WebAssembly.Memory;
  hc_alloc(size: number): number;
  hc_free(ptr: number, size: number): void;
  hc_setup(ptr: number, len: number): number;
  hc_teardown(): number;
  hc_on_state_changed(ptr: number, len: number): number;
  hc_on_event(ptr: number, len: number): number;
  hc_on_service_call(ptr: number, len: number): number;
  hc_on_config_update(ptr: number, len: number): number;
  probe_result_ptr(): number;
  probe_result_len(): number;
  probe_parse(ptr: number, len: number): number;
  probe_quote(ptr: number, len: number): void;
  probe_quote_lone_surrogates(): void;
  probe_accessors(ptr: number, len: number): void;
  probe_build(): void;
  probe_seen(): void;
  probe_config_title(): void;
  probe_view_path(docPtr: number, docLen: number, pathPtr: number, pathLen: number): void;
  probe_tree_path(docPtr: number, docLen: number, pathPtr: number, pathLen: number): void;
  probe_view_accessors(ptr: number, len: number): void;
  probe_view_validate(ptr: number, len: number): number;
  probe_kept(): void;
}

let compiled: CompiledPlugin;

beforeAll(async () => {
  compiled = await compilePlugin(PROBE);
});

async function instantiate(): Promise<{ host: FakeHost; exports: ProbeExports }> {
  const host = new FakeHost();
  const { instance } = await WebAssembly.instantiate(compiled.binary, host.imports());
  const exports = instance.exports as unknown as ProbeExports;
  host.memory = exports.memory;
  return { host, exports };
}

/** Copies `text` into guest memory the way the host does, calls `fn(ptr, len)`, then frees it. */
function withPayload<T>(exports: ProbeExports, text: string, fn: (ptr: number, len: number) => T): T {
  const bytes = new TextEncoder().encode(text);
  const ptr = exports.hc_alloc(bytes.length);
  expect(ptr).toBeGreaterThan(0);
  new Uint8Array(exports.memory.buffer, ptr, bytes.length).set(bytes);
  try {
    return fn(ptr, bytes.length);
  } finally {
    exports.hc_free(ptr, bytes.length);
  }
}

function result(exports: ProbeExports): string {
  return new TextDecoder().decode(new Uint8Array(exports.memory.buffer, exports.probe_result_ptr(), exports.probe_result_len()));
}

describe('package entry', () => {
  it('exposes the ABI version, the assembly folder and the build flags', () => {
    expect(HOST_ABI_VERSION).toBe(1);
    expect(ASSEMBLY_DIR.endsWith('assembly/')).toBe(true);
    expect(ASC_FLAGS).toContain('incremental');
  });

  it('compiles to a module that imports only homecore functions and env.abort', () => {
    expect(compiled.imports).toContain('env.abort');
    for (const name of compiled.imports) expect(name === 'env.abort' || name.startsWith('homecore.hc_')).toBe(true);
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(compiled.binary)).map((e) => e.name);
    for (const name of [
      'memory',
      'homecore_abi_version_1',
      'hc_alloc',
      'hc_free',
      'hc_setup',
      'hc_teardown',
      'hc_on_state_changed',
      'hc_on_event',
      'hc_on_service_call',
      'hc_on_config_update',
    ]) {
      expect(exports).toContain(name);
    }
  });

  it('reports compile errors with the compiler output', async () => {
    const broken = fileURLToPath(new URL('./assembly/broken.ts', import.meta.url));
    await expect(compilePlugin(broken)).rejects.toThrow(/asc failed to compile .*broken\.ts[\s\S]*TS2322|asc failed/);
  });

  it('refuses a module that imports something the host would refuse', async () => {
    const random = fileURLToPath(new URL('./assembly/uses-random.ts', import.meta.url));
    await expect(compilePlugin(random)).rejects.toThrow(/env\.seed.*Math\.random/);
  });
});

describe('JSON reader', () => {
  async function parse(text: string): Promise<{ ok: boolean; out: string }> {
    const { exports } = await instantiate();
    const ok = withPayload(exports, text, (p, n) => exports.probe_parse(p, n)) === 1;
    return { ok, out: result(exports) };
  }

  it.each([
    ['{"a":1}', '{"a":1}'],
    [' \t\r\n{ "a" : [ 1 , 2 ] , "b" : { } } \n', '{"a":[1,2],"b":{}}'],
    ['"plain"', '"plain"'],
    ['[true,false,null]', '[true,false,null]'],
    ['-0.5e10', '-5000000000'],
    ['[0, -0, 1.5, 1E2, 2e-3, 1e+2, 123456789012]', '[0,0,1.5,100,0.002,100,123456789012]'],
    ['"esc: \\" \\\\ \\/ \\b \\f \\n \\r \\t"', '"esc: \\" \\\\ / \\b \\f \\n \\r \\t"'],
    ['"\\u00e9\\u20AC"', '"é€"'],
    ['"\\ud83d\\ude00 smile"', '"😀 smile"'],
    ['"raw é€😀 unicode"', '"raw é€😀 unicode"'],
    ['"\\u0001\\u001f"', '"\\u0001\\u001f"'],
    ['{"dup":1,"x":2,"dup":3}', '{"dup":3,"x":2}'],
  ])('parses %j and writes it back as %j', async (input, expected) => {
    const { ok, out } = await parse(input);
    expect(ok).toBe(true);
    expect(out).toBe(expected);
  });

  it('round-trips numbers the way JavaScript reads them', async () => {
    const numbers = [0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -123.456, 1e21, 2 ** 53 + 2, 25.5];
    const { ok, out } = await parse(JSON.stringify(numbers));
    expect(ok).toBe(true);
    expect(JSON.parse(out)).toEqual(numbers);
  });

  it('parses deep nesting up to the limit', async () => {
    const depth = 200;
    const text = '['.repeat(depth) + '{"k":"v"}' + ']'.repeat(depth);
    const { ok, out } = await parse(text);
    expect(ok).toBe(true);
    expect(out).toBe(text);
  });

  it.each([
    ['', 'unexpected end of input'],
    ['   ', 'unexpected end of input'],
    ['{', 'expected a string key'],
    ['{"a"}', "expected ':'"],
    ['{"a":1,}', 'expected a string key'],
    ['[1,]', 'expected a value'],
    ['[1 2]', "expected ',' or ']'"],
    ['{"a":1 "b":2}', "expected ',' or '}'"],
    ['01', 'unexpected text after'],
    ['1.', 'digit after the decimal point'],
    ['-', 'expected a digit'],
    ['1e', 'digit in the exponent'],
    ['+1', 'unexpected character'],
    ['.5', 'unexpected character'],
    ['NaN', 'unexpected character'],
    ['tru', 'unexpected character'],
    ["{'a':1}", 'expected a string key'],
    ['"unterminated', 'unterminated string'],
    ['"bad \\x escape"', 'invalid escape'],
    ['"\\u12G4"', 'invalid hex digit'],
    ['"\\u12"', 'truncated'],
    ['"tab\there"', 'control character'],
    ['"new\nline"', 'control character'],
    ['{"a":1} x', 'unexpected text after'],
    ['[' .repeat(300) + ']'.repeat(300), 'nesting too deep'],
  ])('rejects %j with an error instead of aborting', async (input, message) => {
    const { ok, out } = await parse(input);
    expect(ok).toBe(false);
    expect(out).toMatch(/^\d+:/);
    expect(out).toContain(message);
  });

  it('reports where the error is', async () => {
    const { out } = await parse('{"a": [1, 2, }');
    expect(out).toBe('13:unexpected character, expected a value');
  });

  it('reads fields with typed accessors', async () => {
    const { exports } = await instantiate();
    const text = '{"s":"x\\"y","n":-0.5e10,"b":true,"o":{"k":7},"a":[1,2,3],"z":null}';
    withPayload(exports, text, (p, n) => exports.probe_accessors(p, n));
    expect(result(exports)).toBe('s=x"y n=-5000000000.0 missing=42.0 wrongType=null b=true o.k=7.0 a.length=3 z=null size=6');
  });
});

describe('lazy JSON reader (JsonView)', () => {
  type Step = string | number;

  /** What JsonView and the tree parser find at `path` in `doc` (each `absent`, `malformed` or the value as JSON). */
  function lookup(exports: ProbeExports, doc: string, path: Step[]): { view: string; tree: string } {
    const pathText = JSON.stringify(path);
    const run = (fn: 'probe_view_path' | 'probe_tree_path') =>
      withPayload(exports, doc, (dp, dn) => withPayload(exports, pathText, (pp, pn) => (exports[fn](dp, dn, pp, pn), result(exports))));
    return { view: run('probe_view_path'), tree: run('probe_tree_path') };
  }

  const docs = [
    // a decoy "entity_id" inside a string value, and one in a nested object before the real key
    String.raw`{"note":"\"entity_id\":\"sensor.fake\"","inner":{"entity_id":"sensor.nested"},"entity_id":"sensor.real"}`,
    // an escaped key, whitespace everywhere
    ' \n{ \t"entity\\u005fid" \r\n:  "sensor.escaped" ,\n "x" : [ 1 , { "entity_id" : 2 } ] }\n',
    // unicode keys and values: raw UTF-8, \u escapes, a surrogate pair; every simple escape
    String.raw`{"température":"21 °C","\u00e9t\u00e9":"\ud83d\ude00 ok","emoji😀":"😀","esc":"a\"b\\c\/d\b\f\n\r\t"}`,
    // every kind, nested arrays, numbers in every form
    '{"a":[true,false,null,-0,0.5,1e3,-2.5E-3,1234567890123456,[[]],{}],"b":{"c":{"d":[{"e":"deep"}]}},"n":-1.25e+2}',
  ];

  it.each([
    [0, ['entity_id'], '"sensor.real"'],
    [0, ['inner', 'entity_id'], '"sensor.nested"'],
    [0, ['note'], String.raw`"\"entity_id\":\"sensor.fake\""`],
    [1, ['entity_id'], '"sensor.escaped"'],
    [1, ['x', 1, 'entity_id'], '2'],
    [1, ['x', 0], '1'],
    [1, ['x', 2], 'absent'],
    [2, ['température'], '"21 °C"'],
    [2, ['été'], '"😀 ok"'],
    [2, ['emoji😀'], '"😀"'],
    [2, ['esc'], String.raw`"a\"b\\c/d\b\f\n\r\t"`],
    [2, ['missing'], 'absent'],
    [3, ['a'], '[true,false,null,0,0.5,1000,-0.0025,1234567890123456,[[]],{}]'],
    [3, ['a', 3], '0'],
    [3, ['a', 6], '-0.0025'],
    [3, ['a', 7], '1234567890123456'],
    [3, ['b', 'c', 'd', 0, 'e'], '"deep"'],
    [3, ['n'], '-125'],
    [3, ['a', 'x'], 'absent'],
    [3, ['b', 0], 'absent'],
  ] as [number, Step[], string][])('doc %i at %j gives %s, as the tree parser does', async (doc, path, expected) => {
    const { exports } = await instantiate();
    expect(lookup(exports, docs[doc]!, path)).toEqual({ view: expected, tree: expected });
  });

  it('agrees with the tree parser and JSON.parse on every path of a pretty-printed state_changed event', async () => {
    const { exports } = await instantiate();
    const state = (value: string) => ({
      entity_id: 'sensor.kitchen',
      state: value,
      attributes: { unit_of_measurement: '°C', friendly_name: 'Kitchen "main" \\ temp', list: [1, 2.5, { entity_id: 'decoy' }] },
      last_changed: '2025-01-01T00:00:00.000000+00:00',
      context: { id: 'ctx', parent_id: null, user_id: null },
    });
    const event = { event_type: 'state_changed', data: { entity_id: 'sensor.kitchen', old_state: state('21.5'), new_state: state('22') }, context: { id: 'c' } };
    const paths: Step[][] = [];
    const walk = (value: unknown, path: Step[]) => {
      paths.push(path);
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
      else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    walk(event, []);
    expect(paths.length).toBeGreaterThan(30);
    const doc = JSON.stringify(event, null, 2);
    for (const path of paths) {
      const expected = JSON.stringify(path.reduce<unknown>((v, k) => (v as Record<string, unknown>)[k], event));
      expect(lookup(exports, doc, path), JSON.stringify(path)).toEqual({ view: expected, tree: expected });
    }
  });

  it('typed lookups, lengths, keys and in-place comparisons', async () => {
    const { exports } = await instantiate();
    const text = String.raw`{"s":"x\"y","n":-0.5e10,"b":true,"o":{"k":7},"a":[1,2,3],"z":null}`;
    withPayload(exports, text, (p, n) => exports.probe_view_accessors(p, n));
    expect(result(exports)).toBe(
      's=x"y n=-5000000000.0 missing=42.0 wrongType=null b=true o.k=7.0 a.length=3 z=null size=6 keys=s,n,b,o,a,z ' +
        String.raw`kindOf(o)=5 kindOf(nope)=-1 s==x"y:yes s==xy:no s.raw="x\"y" s.isString=yes s.equals=yes a.isArray=yes a[2]=3.0 a[3]=absent ` +
        'valid=yes empty.kind=-1',
    );
  });

  it('never reads past the end: every prefix of a document gives the right answer, absent or malformed', async () => {
    const { exports } = await instantiate();
    const doc = String.raw`{"a":"x\u00e9\"y","b":[1,{"c":true}],"d":{"e":-1.5e3},"f":null,"g":"end"}`;
    const paths: Step[][] = [['a'], ['b', 1, 'c'], ['d', 'e'], ['f'], ['g']];
    const full = paths.map((path) => lookup(exports, doc, path).view);
    expect(full).toEqual([String.raw`"xé\"y"`, 'true', '-1500', 'null', '"end"']);
    for (let cut = 0; cut < doc.length; cut++) {
      const prefix = doc.slice(0, cut);
      paths.forEach((path, i) => {
        const found = lookup(exports, prefix, path).view;
        // A number cut short can still read as a shorter number (`-1.5e3` -> `-1.5`); nothing else may differ.
        const shorterNumber = path[0] === 'd' && '-1.5e3'.startsWith(found);
        expect(found === full[i] || found === 'absent' || found === 'malformed' || shorterNumber, `${prefix} ${JSON.stringify(path)} -> ${found}`).toBe(true);
      });
      expect(withPayload(exports, prefix, (p, n) => exports.probe_view_validate(p, n)), prefix).toBe(0);
    }
    expect(withPayload(exports, doc, (p, n) => exports.probe_view_validate(p, n))).toBe(1);
  });

  it.each([
    ['{"a":1,"b":}', ['b'], 'malformed'],
    ['{"a":[1,,2],"b":2}', ['b'], 'absent'],
    [String.raw`{"a":"bad \x escape","b":2}`, ['b'], 'absent'],
    ['{"a":"raw\ncontrol","b":2}', ['b'], 'absent'],
    ['{"a":01,"b":2}', ['b'], 'absent'],
    ['{"a":tru,"b":2}', ['b'], 'absent'],
    ["{'a':1}", ['a'], 'absent'],
    ['[1,2', [1], '2'],
    [String.raw`{"a":"\u12G4"}`, ['a'], 'malformed'],
    ['{"a":1.}', ['a'], 'malformed'],
    ['{"a":nul}', ['a'], 'malformed'],
    ['', ['a'], 'absent'],
  ] as [string, Step[], string][])('malformed %j at %j gives %s without aborting', async (doc, path, expected) => {
    const { exports } = await instantiate();
    expect(lookup(exports, doc, path).view).toBe(expected);
    expect(withPayload(exports, doc, (p, n) => exports.probe_view_validate(p, n))).toBe(0);
  });

  it('finds no key in a value that is not an object, and no index in one that is not an array', async () => {
    const { exports } = await instantiate();
    expect(lookup(exports, '"not an object"', ['a'])).toEqual({ view: 'absent', tree: 'absent' });
    expect(lookup(exports, '{"0":1}', [0])).toEqual({ view: 'absent', tree: 'absent' });
    expect(lookup(exports, '[1]', ['0'])).toEqual({ view: 'absent', tree: 'absent' });
  });

  it('keeps the first of duplicate keys (the tree parser keeps the last)', async () => {
    const { exports } = await instantiate();
    expect(lookup(exports, '{"dup":1,"x":2,"dup":3}', ['dup'])).toEqual({ view: '1', tree: '3' });
  });

  it('limits nesting like the tree parser', async () => {
    const { exports } = await instantiate();
    const nested = (depth: number) => '{"k":'.repeat(depth) + '"v"' + '}'.repeat(depth);
    expect(lookup(exports, nested(256), Array<Step>(256).fill('k'))).toEqual({ view: '"v"', tree: '"v"' });
    expect(lookup(exports, nested(257), Array<Step>(257).fill('k'))).toEqual({ view: 'absent', tree: 'absent' });
    expect(withPayload(exports, '['.repeat(300) + ']'.repeat(300), (p, n) => exports.probe_view_validate(p, n))).toBe(0);
    expect(withPayload(exports, '['.repeat(200) + ']'.repeat(200), (p, n) => exports.probe_view_validate(p, n))).toBe(1);
  });
});

describe('JSON writer', () => {
  it('escapes quotes, backslashes and control characters and keeps unicode as UTF-8', async () => {
    const { exports } = await instantiate();
    const nasty = 'a"b\\c\u0000\u0007\b\f\n\r\t\u001f é€😀 \u2028';
    withPayload(exports, nasty, (p, n) => exports.probe_quote(p, n));
    const out = result(exports);
    expect(out).toBe('"a\\"b\\\\c\\u0000\\u0007\\b\\f\\n\\r\\t\\u001f é€😀 \u2028"');
    expect(JSON.parse(out)).toBe(nasty);
  });

  it('escapes lone surrogates so the output stays valid UTF-8', async () => {
    const { exports } = await instantiate();
    exports.probe_quote_lone_surrogates();
    expect(result(exports)).toBe('"\\ud800x\\udc00"');
  });

  it('builds objects in insertion order, replaces keys in place and writes numbers like JSON.stringify', async () => {
    const { exports } = await instantiate();
    exports.probe_build();
    const out = result(exports);
    expect(out).toBe(
      '{"quote\\"back\\\\slash":"tab\\tnewline\\nnul\\u0000é€😀","int":27,"neg_zero":0,"frac":-0.5,' +
        '"big":1e+21,"nan":null,"flag":true,"nothing":null,"list":[1.5,"two",{}]}',
    );
    expect(JSON.parse(out)).toEqual({
      'quote"back\\slash': 'tab\tnewline\nnul\u0000é€😀',
      int: 27,
      neg_zero: 0,
      frac: -0.5,
      big: 1e21,
      nan: null,
      flag: true,
      nothing: null,
      list: [1.5, 'two', {}],
    });
  });
});

describe('ABI exports and host wrappers', () => {
  const entry = {
    entry_id: '01J0000000000000000000000',
    domain: 'probe',
    title: 'Probe',
    data: { sensor: 'sensor.kitchen' },
    options: {},
    version: 1,
    minor_version: 1,
    state: 'setup_in_progress',
  };

  function state(id: string, value: string, attributes: Record<string, unknown> = {}) {
    return {
      entity_id: id,
      state: value,
      attributes,
      last_changed: '2025-01-01T00:00:00.000000+00:00',
      last_reported: '2025-01-01T00:00:00.000000+00:00',
      last_updated: '2025-01-01T00:00:00.000000+00:00',
      context: { id: 'ctx-state', parent_id: null, user_id: null },
    };
  }

  it('hc_alloc returns distinct writable blocks and 0 for impossible sizes', async () => {
    const { exports } = await instantiate();
    const a = exports.hc_alloc(100);
    const b = exports.hc_alloc(100);
    expect(a).toBeGreaterThan(0);
    expect(Math.abs(a - b)).toBeGreaterThanOrEqual(100);
    expect(exports.hc_alloc(-1)).toBe(0);
    expect(exports.hc_alloc(0x7fffffff)).toBe(0);
    exports.hc_free(a, 100);
    exports.hc_free(b, 100);
    exports.hc_free(0, 0);
  });

  it('hc_alloc/hc_free keep memory flat over many payloads', async () => {
    const { exports } = await instantiate();
    const payload = JSON.stringify({ event_type: 'x', data: { blob: 'y'.repeat(2000) } });
    for (let i = 0; i < 50; i++) withPayload(exports, payload, (p, n) => exports.hc_on_event(p, n));
    const pages = exports.memory.buffer.byteLength / 65536;
    for (let i = 0; i < 2000; i++) withPayload(exports, payload, (p, n) => exports.hc_on_event(p, n));
    expect(exports.memory.buffer.byteLength / 65536).toBe(pages);
  });

  it('hc_setup decodes the entry, runs the handler and lets it subscribe', async () => {
    const { host, exports } = await instantiate();
    expect(withPayload(exports, JSON.stringify(entry), (p, n) => exports.hc_setup(p, n))).toBe(0);
    expect(host.calls).toEqual([
      { name: 'log', args: [1, 'setup Probe sensor=sensor.kitchen at 1700000000000.0'] },
      { name: 'subscribe', args: [0, 'sensor.kitchen'] },
      { name: 'subscribe', args: [1, 'time_changed'] },
    ]);
  });

  it('hc_setup returns NOT_READY from the handler and INVALID_JSON for a bad payload', async () => {
    const { exports } = await instantiate();
    const incomplete = { ...entry, data: {} };
    expect(withPayload(exports, JSON.stringify(incomplete), (p, n) => exports.hc_setup(p, n))).toBe(1);
    expect(withPayload(exports, '{"data": ', (p, n) => exports.hc_setup(p, n))).toBe(-5);
    expect(withPayload(exports, '[1]', (p, n) => exports.hc_setup(p, n))).toBe(-5);
  });

  it('hc_on_state_changed hands a typed event to the handler, whose writes reach the host', async () => {
    const { host, exports } = await instantiate();
    // A state larger than the SDK's first read buffer, so getState must call again with the size asked for.
    host.states.set('sensor.big', JSON.stringify(state('sensor.big', 'huge', { blob: 'z'.repeat(5000) })));
    const event = {
      event_type: 'state_changed',
      data: { entity_id: 'sensor.kitchen', old_state: null, new_state: state('sensor.kitchen', '26.5') },
      origin: 'LOCAL',
      time_fired: '2025-01-01T00:00:00.000000+00:00',
      context: { id: 'ctx-1', parent_id: null, user_id: null },
    };
    expect(withPayload(exports, JSON.stringify(event), (p, n) => exports.hc_on_state_changed(p, n))).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('sensor.kitchen null->26.5 ctx=ctx-1');
    const gets = host.calls.filter((c) => c.name === 'state_get');
    expect(gets[0]).toEqual({ name: 'state_get', args: ['sensor.big', 1024] });
    expect(gets[1]?.args[0]).toBe('sensor.big');
    expect(Number(gets[1]?.args[1])).toBeGreaterThan(5000);
    expect(host.calls.filter((c) => c.name !== 'state_get')).toEqual([
      { name: 'state_set', args: ['binary_sensor.alert', 'on', '{"temperature":26.5,"via":"huge:5000"}'] },
      { name: 'state_set', args: ['binary_sensor.plain', 'off', ''] },
      { name: 'service_call', args: ['light', 'turn_on', '{"entity_id":"light.hall"}'] },
      { name: 'event_fire', args: ['probe_fired', '{}'] },
      { name: 'log', args: [2, 'missing=-2'] },
    ]);
  });

  it('hc_on_state_changed reads the event lazily in place: whitespace, escaped keys and decoy keys', async () => {
    const { exports } = await instantiate();
    const tricky = String.raw`
      { "event_type" : "state_changed",
        "decoy" : { "data" : { "entity_id" : "sensor.wrong" } },
        "data" : {
          "note" : "\"entity_id\": \"sensor.in_a_string\"",
          "old_state" : null ,
          "entity\u005fid" : "sensor.k\u00fcche",
          "new_state" : { "attributes" : { "state" : "nested" }, "state" : "26\u002e5", "entity_id" : "sensor.küche" }
        },
        "context" : { "parent_id" : null, "id" : "ctx-\ud83d\ude00" } }`;
    expect(withPayload(exports, tricky, (p, n) => exports.hc_on_state_changed(p, n))).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('sensor.küche null->26.5 ctx=ctx-😀');
  });

  it('an event kept past its call stays readable after the host freed the payload', async () => {
    const { exports } = await instantiate();
    const event = {
      event_type: 'state_changed',
      data: { entity_id: 'sensor.kitchen', old_state: null, new_state: { ...state('sensor.kitchen', '21'), attributes: { unit: '°C', n: 1 } } },
      time_fired: '2025-06-01T12:00:00.000000+00:00',
      context: { id: 'ctx-kept' },
    };
    expect(withPayload(exports, JSON.stringify(event), (p, n) => exports.hc_on_state_changed(p, n))).toBe(0);
    // Other payloads reuse the memory and the collector runs; the kept event must not change.
    const other = JSON.stringify({ event_type: 'x', data: { blob: 'q'.repeat(3000) } });
    for (let i = 0; i < 500; i++) withPayload(exports, other, (p, n) => exports.hc_on_event(p, n));
    exports.probe_kept();
    expect(result(exports)).toBe('2025-06-01T12:00:00.000000+00:00 2025-01-01T00:00:00.000000+00:00 unit=°C attrs={"unit":"°C","n":1}');
  });

  it('config() fetches the entry from the host once when no setup has run', async () => {
    const { host, exports } = await instantiate();
    host.configJson = JSON.stringify({ ...entry, title: 'From host', data: { a: 1, b: 2 }, options: { b: 3 } });
    exports.probe_config_title();
    expect(result(exports)).toBe('From host {"a":1,"b":3}');
    expect(host.calls.filter((c) => c.name === 'config_get')).toHaveLength(1);
  });

  it('rejects a state_changed payload without data.entity_id', async () => {
    const { exports } = await instantiate();
    expect(withPayload(exports, '{"event_type":"state_changed","data":{}}', (p, n) => exports.hc_on_state_changed(p, n))).toBe(-5);
    expect(withPayload(exports, 'not json', (p, n) => exports.hc_on_state_changed(p, n))).toBe(-5);
  });

  it('hc_on_event, hc_on_service_call, hc_on_config_update and hc_teardown reach their handlers', async () => {
    const { exports } = await instantiate();
    const tick = { event_type: 'time_changed', data: { now: 1234.5 }, origin: 'LOCAL', time_fired: '', context: { id: 'c' } };
    expect(withPayload(exports, JSON.stringify(tick), (p, n) => exports.hc_on_event(p, n))).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('time_changed 1234.5');
    expect(withPayload(exports, JSON.stringify({ ...tick, event_type: 'fail_me' }), (p, n) => exports.hc_on_event(p, n))).toBe(-10);

    const call = { domain: 'probe', service: 'set_timeout', data: { seconds: 5 }, context: { id: 'c' }, return_response: false };
    expect(withPayload(exports, JSON.stringify(call), (p, n) => exports.hc_on_service_call(p, n))).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('probe.set_timeout {"seconds":5}');

    const updated = { ...entry, title: 'Updated', options: { high: 30 } };
    expect(withPayload(exports, JSON.stringify(updated), (p, n) => exports.hc_on_config_update(p, n))).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('options {"high":30} config().title=Updated');

    expect(exports.hc_teardown()).toBe(0);
    exports.probe_seen();
    expect(result(exports)).toBe('teardown');
  });
});
