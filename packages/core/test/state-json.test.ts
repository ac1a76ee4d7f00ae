import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cachedJson, cachedJsonBytes, isJsonSealed, sealJson, type BusEvent, type EntityState, type EventContext, type JsonValue } from '@homecore/core-traits';
import { InMemoryCore, formatTimestamp } from '@homecore/core';

const encoder = new TextEncoder();

// Strings that stress JSON escaping: unicode, lone surrogates, control characters, quotes.
const text = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.constantFrom('', '"', '\\', '\u2028', '\ud800', '\udfff', '\u0000\u001f', 'é😀'),
);
const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(-0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, -1.5e300));
const key = fc.oneof(text, fc.constantFrom('__proto__', 'constructor', 'toJSON', 'entity_id', '0', '1'));
const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(key, tie('json'), { maxKeys: 4 }),
  ),
}));
const attributes = fc.dictionary(key, json, { maxKeys: 5 });
const entityId = fc.constantFrom('sensor.a', 'sensor.b', 'light.kitchen_2');
const write = fc.record({
  entity: entityId,
  state: fc.oneof(text, fc.constantFrom('on', 'off', '21.5')),
  attributes: fc.oneof(attributes, fc.constant({})),
  parentId: fc.constantFrom(null, '', '01HZZZZZZZZZZZZZZZZZZZZZZZ'),
  userId: fc.constantFrom(null, '', 'plugin:x'),
  remove: fc.boolean(),
  bytesFirst: fc.boolean(),
});

/** Through JSON text, as writes arrive from wasm and the network: `__proto__` becomes an own key. */
const parsed = (value: Record<string, JsonValue>): Record<string, JsonValue> => JSON.parse(JSON.stringify(value)) as Record<string, JsonValue>;

/** Byte equality (Buffer.equals: vitest's deep equality is slow on byte arrays). */
function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
  return Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(expected);
}

function expectSameAsStringify(value: object, bytesFirst: boolean): void {
  const expected = JSON.stringify(value);
  const bytes = encoder.encode(expected);
  if (bytesFirst) expect(sameBytes(cachedJsonBytes(value), bytes)).toBe(true);
  expect(cachedJson(value)).toBe(expected);
  expect(sameBytes(cachedJsonBytes(value), bytes)).toBe(true);
  // Asked again: the same (cached) answer.
  expect(cachedJson(value)).toBe(expected);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the core's cached JSON is byte for byte JSON.stringify", () => {
  it('for every state and state event, whatever the attributes and in whichever order JSON and bytes are asked for', () => {
    fc.assert(
      fc.property(fc.array(write, { minLength: 1, maxLength: 8 }), (writes) => {
        const core = new InMemoryCore();
        const events: BusEvent[] = [];
        core.listen((event) => events.push(event));
        for (const w of writes) {
          const context = core.createContext({ parentId: w.parentId, userId: w.userId });
          if (w.remove) core.removeState(w.entity, context);
          else core.setState(w.entity, w.state, parsed(w.attributes), { context });
          // Reuse: the event and the states it carries, serialised in the order the write chose.
          const event = events.at(-1);
          if (event !== undefined) expectSameAsStringify(event, w.bytesFirst);
        }
        for (const event of events) expectSameAsStringify(event, false);
        for (const state of core.getStates()) expectSameAsStringify(state, true);
      }),
      { numRuns: 200 },
    );
  });

  it('for state_reported events (only the report time moved)', () => {
    const core = new InMemoryCore();
    const events: BusEvent[] = [];
    core.listen((event) => events.push(event));
    const context = core.createContext();
    core.setState('sensor.a', 'on', { nested: { list: [1, -0, 1e21, 'ü'] } }, { context });
    core.setState('sensor.a', 'on', { nested: { list: [1, -0, 1e21, 'ü'] } }, { context });
    expect(events.map((e) => e.event_type)).toEqual(['state_changed', 'state_reported']);
    for (const event of events) expectSameAsStringify(event, true);
  });

  it('for an event without a sealed state (other cores) and for plain values', () => {
    const event = Object.freeze({ event_type: 'x', data: { a: [1, undefined, () => 1] }, origin: 'LOCAL', time_fired: 't', context: { id: 'c' } });
    expect(cachedJson(event)).toBe(JSON.stringify(event));
    expect(sameBytes(cachedJsonBytes(event), encoder.encode(JSON.stringify(event)))).toBe(true);
    expect(cachedJson('é')).toBe('"é"');
    expect(cachedJson(null)).toBe('null');
  });

  it('assembles around sealed objects what JSON.stringify would write (skipped values, toJSON, class instances, unicode)', () => {
    const inner = sealJson({ a: 1, text: 'é😀\ud800' });
    expect(isJsonSealed(inner)).toBe(true);
    const composite = {
      u: undefined,
      f: () => 1,
      s: Symbol('s'),
      list: [undefined, inner, () => 1, { inner }],
      inner,
      n: -0,
      big: 1e21,
      date: new Date(0),
      boxed: new String('x'),
      withToJson: { toJSON: () => 'custom', inner },
      map: new Map([[1, 2]]),
      'ключ\u2028': 'значение',
    };
    expect(cachedJson(composite)).toBe(JSON.stringify(composite));
    expect(sameBytes(cachedJsonBytes(composite), encoder.encode(JSON.stringify(composite)))).toBe(true);
    expect(cachedJson([inner, undefined])).toBe(JSON.stringify([inner, undefined]));
    expect(sameBytes(cachedJsonBytes([inner, { inner }]), encoder.encode(JSON.stringify([inner, { inner }])))).toBe(true);
  });
});

describe('each state is serialised once, lazily', () => {
  it('serialises nothing until a consumer asks', () => {
    const stringify = vi.spyOn(JSON, 'stringify');
    const core = new InMemoryCore();
    core.setState('sensor.a', '1', { unit: '°C' }, { context: core.createContext() });
    core.setState('sensor.a', '2', { unit: '°C' }, { context: core.createContext() });
    expect(stringify).not.toHaveBeenCalled();
  });

  it('reuses a state JSON as new_state, as old_state of the next change and in get_states', () => {
    const core = new InMemoryCore();
    const events: BusEvent[] = [];
    core.listen((event) => events.push(event));
    core.setState('sensor.a', '1', { unit: '°C' }, { context: core.createContext() });
    const first = core.getState('sensor.a') as EntityState;
    core.setState('sensor.a', '2', { unit: '°C' }, { context: core.createContext() });
    const stringify = vi.spyOn(JSON, 'stringify');
    const [e1, e2] = events as [BusEvent, BusEvent];
    cachedJsonBytes(e1);
    cachedJson(e2);
    cachedJsonBytes(e2);
    expect(cachedJson(first)).toBe(JSON.stringify(first));
    stringify.mockClear();
    // The second event's old_state is the first state: its JSON is not made again.
    expect((e2.data as { old_state: unknown }).old_state).toBe(first);
    cachedJson(first);
    cachedJsonBytes(first);
    for (const state of core.getStates()) cachedJson(state);
    expect(stringify.mock.calls.filter(([value]) => typeof value === 'object' && value !== null)).toEqual([]);
    expect(isJsonSealed(first)).toBe(true);
  });
});

describe('a cached state cannot change', () => {
  it('is deeply frozen, so a plugin that tries to change it gets a TypeError and the JSON stays right', () => {
    const core = new InMemoryCore();
    core.setState('sensor.a', '1', { nested: { list: [1] } }, { context: core.createContext() });
    const state = core.getState('sensor.a') as EntityState;
    const before = cachedJson(state);
    const attributes = state.attributes as { nested: { list: number[] } };
    expect(() => {
      (state as { state: string }).state = 'x';
    }).toThrow(TypeError);
    expect(() => attributes.nested.list.push(2)).toThrow(TypeError);
    expect(() => {
      (state.context as { user_id: string | null }).user_id = 'x';
    }).toThrow(TypeError);
    expect(cachedJson(state)).toBe(before);
    expect(before).toBe(JSON.stringify(state));
  });

  it('does not keep a caller context that could change (an object id, extra properties): it copies it', () => {
    const core = new InMemoryCore();
    const parent = { mutable: true };
    const odd = Object.freeze({ id: 'ctx', parent_id: parent, user_id: null }) as unknown as EventContext;
    const extra = Object.freeze({ id: 'ctx2', parent_id: null, user_id: null, more: { x: 1 } }) as unknown as EventContext;
    const a = core.setState('sensor.a', '1', {}, { context: odd });
    const b = core.setState('sensor.b', '1', {}, { context: extra });
    expect(a.context).toEqual({ id: 'ctx', parent_id: null, user_id: null });
    expect(b.context).toEqual({ id: 'ctx2', parent_id: null, user_id: null });
    const own = core.createContext({ parentId: 'p' });
    expect(core.setState('sensor.c', '1', {}, { context: own }).context).toBe(own);
  });

  it('freezes what it seals, and leaves an object frozen before unsealed (it could not be stamped)', () => {
    const sealed = sealJson({ a: 1 });
    expect(Object.isFrozen(sealed)).toBe(true);
    expect(isJsonSealed(sealed)).toBe(true);
    const frozen = sealJson(Object.freeze({ a: 1 }));
    expect(isJsonSealed(frozen)).toBe(false);
    expect(cachedJson(frozen)).toBe('{"a":1}');
    // The cache is invisible: no keys, symbols or prototype change.
    expect(Reflect.ownKeys(sealed)).toEqual(['a']);
    expect(Object.getPrototypeOf(sealed)).toBe(Object.prototype);
    expect(structuredClone(sealed)).toEqual({ a: 1 });
  });
});

describe('formatTimestamp', () => {
  const reference = (ms: number): string => {
    const micros = Math.round(ms * 1000);
    const seconds = Math.floor(micros / 1_000_000);
    const fraction = micros - seconds * 1_000_000;
    return `${new Date(seconds * 1000).toISOString().slice(0, 19)}.${String(fraction).padStart(6, '0')}+00:00`;
  };

  it('formats like toISOString with microseconds and +00:00, in any order of times', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 253402300799999, noNaN: true }), { minLength: 1, maxLength: 20 }), (times) => {
        for (const ms of times) {
          expect(formatTimestamp(ms)).toBe(reference(ms));
          expect(formatTimestamp(ms + 1)).toBe(reference(ms + 1));
        }
      }),
    );
    expect(formatTimestamp(1480124244265.39)).toBe('2016-11-26T01:37:24.265390+00:00');
    expect(formatTimestamp(1480124245000 - 0.0004)).toBe('2016-11-26T01:37:25.000000+00:00');
  });
});
