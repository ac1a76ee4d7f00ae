import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, type BusEvent, type JsonValue } from '@homecore/core-traits';
import { InMemoryCore, isValidEntityId } from '@homecore/core';

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'];

// JSON values whose object keys are often the names that reach prototypes.
const key = fc.oneof(fc.constantFrom(...PROTO_KEYS), fc.string({ maxLength: 6 }));
const { json } = fc.letrec<{ json: JsonValue }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 8 }),
    fc.array(tie('json'), { maxLength: 4 }),
    fc.dictionary(key, tie('json'), { maxKeys: 4 }),
  ),
}));
const object = fc.dictionary(key, json, { maxKeys: 5 });

/** Through JSON text, as a wasm plugin's payload arrives: `__proto__` becomes an own key. */
const parsed = (value: unknown): Record<string, JsonValue> => JSON.parse(JSON.stringify(value)) as Record<string, JsonValue>;

/** Every object in `value` has Object.prototype and only own keys equal to its JSON keys. */
function assertPlain(value: unknown): void {
  if (value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    expect(Object.getPrototypeOf(value)).toBe(Array.prototype);
    value.forEach(assertPlain);
    return;
  }
  expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
  for (const k of Object.keys(value)) assertPlain((value as Record<string, unknown>)[k]);
}

describe('JSON from plugins never sets a prototype', () => {
  const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();

  it('attributes, event data and service data round-trip, keys like __proto__ kept as plain own data', async () => {
    const core = new InMemoryCore();
    const context = core.createContext();
    const events: BusEvent[] = [];
    core.listen((event) => events.push(event));
    let received: unknown;
    core.registerService('demo', 'echo', (call) => {
      received = call.data;
      return call.data;
    });
    await fc.assert(
      fc.asyncProperty(object, async (value) => {
        const input = parsed(value);
        const text = JSON.stringify(input);

        const state = core.setState('sensor.x', 'on', input, { context, forceUpdate: true });
        expect(JSON.stringify(state.attributes)).toBe(text);
        expect(JSON.stringify(core.getState('sensor.x')?.attributes)).toBe(text);
        assertPlain(state.attributes);

        const fired = core.fireEvent('demo_event', input, context);
        expect(JSON.stringify(fired.data)).toBe(text);
        assertPlain(fired.data);
        expect(events.at(-1)).toBe(fired);

        const response = await core.callService('demo', 'echo', input, { context, returnResponse: true });
        expect(JSON.stringify(received)).toBe(text);
        expect(JSON.stringify(response)).toBe(text);
        assertPlain(received);
        assertPlain(response);

        expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('keeps an own "__proto__" key as data and leaves the copy an ordinary object', () => {
    const core = new InMemoryCore();
    const input = JSON.parse('{"__proto__": {"polluted": true, "isAdmin": true}, "constructor": {"prototype": {"x": 1}}}') as Record<string, JsonValue>;
    const state = core.setState('sensor.x', 'on', input, { context: core.createContext() });
    const attrs = state.attributes as Record<string, unknown>;
    expect(Object.getPrototypeOf(attrs)).toBe(Object.prototype);
    expect(Object.keys(attrs)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(attrs, '__proto__')?.value).toEqual({ polluted: true, isAdmin: true });
    expect(attrs.isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(attrs)).toBe('{"__proto__":{"polluted":true,"isAdmin":true},"constructor":{"prototype":{"x":1}}}');
    // Equal attributes written again are recognised as unchanged.
    expect(core.setState('sensor.x', 'on', JSON.parse(JSON.stringify(attrs)), { context: core.createContext() }).last_updated).toBe(state.last_updated);
  });
});

describe('entity id length', () => {
  it('allows Home Assistant\'s 255 characters and refuses more with HC_ERR_ENTITY_ID_INVALID', () => {
    const core = new InMemoryCore();
    const context = core.createContext();
    const longest = `sensor.${'a'.repeat(255 - 'sensor.'.length)}`;
    expect(isValidEntityId(longest)).toBe(true);
    expect(core.setState(longest, 'on', {}, { context }).entity_id).toBe(longest);
    const tooLong = `${longest}b`;
    expect(isValidEntityId(tooLong)).toBe(false);
    let error: unknown;
    try {
      core.setState(tooLong, 'on', {}, { context });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: ErrorCode.ENTITY_ID_INVALID, message: expect.stringContaining('256 characters long, the limit is 255') });
    // A huge id is refused without being echoed in full.
    const huge = `sensor.${'a'.repeat(1_000_000)}`;
    try {
      core.setState(huge, 'on', {}, { context });
    } catch (e) {
      expect((e as Error).message.length).toBeLessThan(600);
    }
  });
});

describe('a listener that overflows the stack', () => {
  it('costs that listener the event; the others, and later events, still arrive', () => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const reported: unknown[] = [];
    const core = new InMemoryCore({
      onListenerError: (error) => {
        reported.push(error);
        throw new RangeError('Maximum call stack size exceeded'); // the reporter fails too
      },
    });
    let calls = 0;
    core.listen(() => {
      calls++;
      if (calls === 1) throw new RangeError('Maximum call stack size exceeded');
    });
    const seen: string[] = [];
    core.listen((event) => seen.push(event.event_type));
    const context = core.createContext();
    expect(() => core.fireEvent('first', {}, context)).not.toThrow();
    core.fireEvent('second', {}, context);
    expect(seen).toEqual(['first', 'second']);
    expect(calls).toBe(2);
    expect(reported).toHaveLength(1);
    expect(log).toHaveBeenCalledTimes(1); // the failing reporter's error went to the default one
    log.mockRestore();
  });
});
