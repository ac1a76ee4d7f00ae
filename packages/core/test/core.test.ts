import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, HomecoreError, type BusEvent, type Clock, type JsonValue } from '@homecore/core-traits';
import { InMemoryCore, createUlidGenerator, formatTimestamp, isValidEntityId } from '@homecore/core';

/** A clock that only moves when told to. */
class ManualClock implements Clock {
  constructor(public ms = Date.UTC(2016, 10, 26, 1, 37, 24, 265)) {}
  now(): number {
    return this.ms;
  }
  advance(ms: number): void {
    this.ms += ms;
  }
  setTimeout(): unknown {
    throw new Error('not used');
  }
  clearTimeout(): void {}
}

function setup(options: { onListenerError?: (error: unknown, event: BusEvent) => void } = {}) {
  const clock = new ManualClock();
  const core = new InMemoryCore({ clock, ...options });
  const events: BusEvent[] = [];
  core.listen((e) => events.push(e));
  const context = core.createContext({ userId: 'plugin:test' });
  return { clock, core, events, context };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof HomecoreError) return error.code;
    throw error;
  }
  return undefined;
}

describe('formatTimestamp', () => {
  it('formats like Home Assistant, with microseconds and +00:00', () => {
    expect(formatTimestamp(Date.UTC(2016, 10, 26, 1, 37, 24, 265) + 0.39)).toBe('2016-11-26T01:37:24.265390+00:00');
    expect(formatTimestamp(0)).toBe('1970-01-01T00:00:00.000000+00:00');
  });

  it('refuses a clock value that is not a finite number', () => {
    expect(() => formatTimestamp(Number.NaN)).toThrow(/Clock\.now\(\) must return finite/);
  });
});

describe('isValidEntityId', () => {
  it('follows the HA rule after lowercasing', () => {
    for (const ok of ['light.kitchen', 'Sensor.Living_Room', 'a.b', 'sensor.1st_floor']) expect(isValidEntityId(ok)).toBe(true);
    for (const bad of ['light', 'light.', '.x', '_light.x', 'light_.x', 'light._x', 'light.x_', 'li__ght.x', 'light.a__b', 'light.kit-chen', 'a.b.c', 'light.kit chen', '']) {
      expect(isValidEntityId(bad)).toBe(false);
    }
  });
});

describe('createUlidGenerator', () => {
  it('makes 26-character Crockford ids that sort in creation order within one millisecond', () => {
    const clock = new ManualClock(1_469_918_176_385);
    const next = createUlidGenerator(clock);
    const ids = Array.from({ length: 50 }, () => next());
    for (const id of ids) expect(id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(ids[0]!.slice(0, 10)).toBe('01ARYZ6S41'); // the ULID spec's example time
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('stays monotonic when the clock steps back', () => {
    const clock = new ManualClock(2_000_000);
    const next = createUlidGenerator(clock);
    const a = next();
    clock.advance(-1000);
    const b = next();
    expect(b > a).toBe(true);
  });
});

describe('InMemoryCore state machine', () => {
  it('adds an entity: state_changed with old_state null and all timestamps equal to the clock', () => {
    const { core, events, context } = setup();
    const state = core.setState('Light.Kitchen', 'on', { brightness: 180 }, { context });
    expect(state).toEqual({
      entity_id: 'light.kitchen',
      state: 'on',
      attributes: { brightness: 180 },
      last_changed: '2016-11-26T01:37:24.265000+00:00',
      last_reported: '2016-11-26T01:37:24.265000+00:00',
      last_updated: '2016-11-26T01:37:24.265000+00:00',
      context,
    });
    expect(state.context).toBe(context);
    expect(core.getState('light.KITCHEN')).toBe(state);
    expect(events).toHaveLength(1);
    expect(events[0]).toEqual({
      event_type: 'state_changed',
      data: { entity_id: 'light.kitchen', old_state: null, new_state: state },
      origin: 'LOCAL',
      time_fired: state.last_updated,
      context,
    });
  });

  it('same state and attributes: only last_reported moves and state_reported fires', () => {
    const { core, events, context, clock } = setup();
    const first = core.setState('sensor.t', '21', { unit: '°C', list: [1, 2] }, { context });
    clock.advance(1000);
    const writer = core.createContext({ userId: 'plugin:other' });
    const second = core.setState('sensor.t', '21', { list: [1, 2], unit: '°C' }, { context: writer });
    expect(second.last_reported).toBe('2016-11-26T01:37:25.265000+00:00');
    expect(second.last_changed).toBe(first.last_changed);
    expect(second.last_updated).toBe(first.last_updated);
    expect(second.context).toBe(context); // HA keeps the state's context; the event names the writer
    expect(events.map((e) => e.event_type)).toEqual(['state_changed', 'state_reported']);
    expect(events[1]!.data).toEqual({ entity_id: 'sensor.t', old_last_reported: first.last_reported, new_state: second });
    expect(events[1]!.context).toBe(writer);
    expect(core.getState('sensor.t')).toBe(second);
  });

  it('same state with new attributes: last_changed kept, last_updated and last_reported move', () => {
    const { core, events, context, clock } = setup();
    const first = core.setState('sensor.t', '21', { unit: 'C' }, { context });
    clock.advance(5);
    const second = core.setState('sensor.t', '21', { unit: 'F' }, { context });
    expect(second.last_changed).toBe(first.last_changed);
    expect(second.last_updated).toBe('2016-11-26T01:37:24.270000+00:00');
    expect(second.last_reported).toBe(second.last_updated);
    expect(events.map((e) => e.event_type)).toEqual(['state_changed', 'state_changed']);
    expect(events[1]!.data).toMatchObject({ old_state: first, new_state: second });
  });

  it('a new state or forceUpdate sets all three timestamps', () => {
    const { core, events, context, clock } = setup();
    core.setState('switch.a', 'off', undefined, { context });
    clock.advance(1);
    const changed = core.setState('switch.a', 'on', undefined, { context });
    expect(changed.last_changed).toBe('2016-11-26T01:37:24.266000+00:00');
    clock.advance(1);
    const forced = core.setState('switch.a', 'on', {}, { context, forceUpdate: true });
    expect(forced.attributes).toEqual({});
    for (const ts of [forced.last_changed, forced.last_updated, forced.last_reported]) {
      expect(ts).toBe('2016-11-26T01:37:24.267000+00:00');
    }
    expect(events.map((e) => e.event_type)).toEqual(['state_changed', 'state_changed', 'state_changed']);
  });

  it('removes an entity with new_state null, and reports false without an event when absent', () => {
    const { core, events, context } = setup();
    const state = core.setState('light.a', 'on', {}, { context });
    expect(core.removeState('LIGHT.A', context)).toBe(true);
    expect(core.getState('light.a')).toBeUndefined();
    expect(events[1]!.data).toEqual({ entity_id: 'light.a', old_state: state, new_state: null });
    expect(core.removeState('light.a', context)).toBe(false);
    expect(core.removeState('not valid', context)).toBe(false);
    expect(events).toHaveLength(2);
  });

  it('lists every state', () => {
    const { core, context } = setup();
    core.setState('light.a', 'on', {}, { context });
    core.setState('light.b', 'off', {}, { context });
    expect(core.getStates().map((s) => s.entity_id)).toEqual(['light.a', 'light.b']);
  });

  it('hands out deeply frozen copies that writers cannot change afterwards', () => {
    const { core, events, context } = setup();
    const attrs: Record<string, JsonValue> = { nested: { list: [1, { x: 2 }] } };
    const state = core.setState('sensor.x', '1', attrs, { context });
    (attrs.nested as Record<string, JsonValue>).list = [];
    expect(state.attributes).toEqual({ nested: { list: [1, { x: 2 }] } });
    expect(Object.isFrozen(state)).toBe(true);
    expect(Object.isFrozen(state.attributes.nested)).toBe(true);
    expect(Object.isFrozen((state.attributes.nested as { list: unknown[] }).list[1])).toBe(true);
    expect(Object.isFrozen(events[0])).toBe(true);
    expect(Object.isFrozen(events[0]!.data)).toBe(true);
    expect(() => {
      (state as { state: string }).state = 'hacked';
    }).toThrow(TypeError);
  });

  it('leaves out undefined attribute values, as JSON does', () => {
    const { core, context } = setup();
    const state = core.setState('sensor.x', '1', { a: 1, b: undefined } as unknown as Record<string, JsonValue>, { context });
    expect(Object.keys(state.attributes)).toEqual(['a']);
  });

  it('gives a frozen copy of an unfrozen caller context', () => {
    const { core } = setup();
    const context = { id: '01ARZ3NDEKTSV4RRFFQ69G5FAV', parent_id: null, user_id: 'u' };
    const state = core.setState('light.a', 'on', {}, { context });
    expect(state.context).toEqual(context);
    expect(Object.isFrozen(state.context)).toBe(true);
  });

  describe('rejects bad writes with coded errors and changes nothing', () => {
    it('entity ids', () => {
      const { core, events, context } = setup();
      let error: unknown;
      try {
        core.setState('light..kitchen', 'on', {}, { context });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HomecoreError);
      expect((error as HomecoreError).code).toBe(ErrorCode.ENTITY_ID_INVALID);
      expect((error as HomecoreError).message).toContain('"light..kitchen"');
      expect((error as HomecoreError).message).toContain('domain.object_id in lowercase letters, digits and underscores');
      expect(codeOf(() => core.setState(42 as unknown as string, 'on', {}, { context }))).toBe('HC_ERR_ENTITY_ID_INVALID');
      expect(events).toHaveLength(0);
      expect(core.getStates()).toEqual([]);
    });

    it('states longer than 255 characters or not strings', () => {
      const { core, context } = setup();
      expect(core.setState('sensor.x', 'x'.repeat(255), {}, { context }).state).toHaveLength(255);
      expect(() => core.setState('sensor.x', 'x'.repeat(256), {}, { context })).toThrow(/256 characters long; the limit is 255/);
      expect(codeOf(() => core.setState('sensor.x', 'x'.repeat(256), {}, { context }))).toBe('HC_ERR_STATE_INVALID');
      // 255 emoji are 510 UTF-16 units but 255 characters, as HA counts them.
      expect(core.setState('sensor.y', '😀'.repeat(255), {}, { context }).state).toBe('😀'.repeat(255));
      expect(codeOf(() => core.setState('sensor.x', 21 as unknown as string, {}, { context }))).toBe('HC_ERR_STATE_INVALID');
    });

    it('attributes that are not plain JSON', () => {
      const { core, context } = setup();
      const bad: unknown[] = [[1, 2], 'text', { f: () => 1 }, { n: Number.NaN }, { d: new Date(0) }, { m: new Map() }, { big: 1n }, { arr: [undefined] }];
      for (const attributes of bad) {
        expect(codeOf(() => core.setState('sensor.x', '1', attributes as Record<string, JsonValue>, { context }))).toBe('HC_ERR_STATE_INVALID');
      }
      expect(() => core.setState('sensor.x', '1', { f: (() => 1) as unknown as JsonValue }, { context })).toThrow(
        /attributes\.f is a function, which JSON cannot carry/,
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(() => core.setState('sensor.x', '1', cyclic as Record<string, JsonValue>, { context })).toThrow(/cycle/);
      expect(core.getState('sensor.x')).toBeUndefined();
    });
  });
});

describe('InMemoryCore contexts', () => {
  it('creates frozen contexts with ULID ids and parent links', () => {
    const { core } = setup();
    const parent = core.createContext();
    const child = core.createContext({ parentId: parent.id, userId: 'plugin:x' });
    expect(parent).toEqual({ id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/), parent_id: null, user_id: null });
    expect(child).toMatchObject({ parent_id: parent.id, user_id: 'plugin:x' });
    expect(child.id > parent.id).toBe(true);
    expect(Object.isFrozen(child)).toBe(true);
  });

  it('gives an event without a context a fresh one', () => {
    const { core } = setup();
    const event = core.fireEvent('x', {}, undefined as never);
    expect(event.context.id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
  });
});

describe('InMemoryCore event bus', () => {
  it('fires frozen HA-shaped events to listeners in registration order', () => {
    const { core, context, clock } = setup();
    const calls: string[] = [];
    core.listen((e) => calls.push(`a:${e.event_type}`));
    core.listen((e) => calls.push(`b:${e.event_type}`));
    clock.advance(0.001);
    const data = { n: 1 };
    const event = core.fireEvent('my_event', data, context);
    data.n = 2;
    expect(event).toEqual({ event_type: 'my_event', data: { n: 1 }, origin: 'LOCAL', time_fired: '2016-11-26T01:37:24.265001+00:00', context });
    expect(Object.isFrozen(event.data)).toBe(true);
    expect(calls).toEqual(['a:my_event', 'b:my_event']);
  });

  it('validates event types and data', () => {
    const { core, context, events } = setup();
    for (const type of ['', 'x'.repeat(65), 'has space', 'tab\there', 7]) {
      expect(codeOf(() => core.fireEvent(type as string, {}, context))).toBe('HC_ERR_EVENT_TYPE_INVALID');
    }
    expect(core.fireEvent('x'.repeat(64), {}, context).event_type).toHaveLength(64);
    expect(codeOf(() => core.fireEvent('x', { f: Symbol('s') } as unknown as Record<string, JsonValue>, context))).toBe('HC_ERR_EVENT_DATA_INVALID');
    expect(() => core.fireEvent('x', [] as unknown as Record<string, JsonValue>, context)).toThrow(/data must be a plain JSON object, got an array/);
    expect(events).toHaveLength(1);
  });

  it('isolates a throwing listener: others, and the writer, are unaffected', () => {
    const errors: [unknown, BusEvent][] = [];
    const { core, context, events } = setup({ onListenerError: (error, event) => errors.push([error, event]) });
    const boom = new Error('listener bug');
    core.listen(() => {
      throw boom;
    });
    const after: string[] = [];
    core.listen((e) => after.push(e.event_type));
    const state = core.setState('light.a', 'on', {}, { context });
    expect(state.state).toBe('on');
    expect(events).toHaveLength(1);
    expect(after).toEqual(['state_changed']);
    expect(errors).toEqual([[boom, events[0]]]);
  });

  it('routes async listener rejections to onListenerError', async () => {
    const errors: unknown[] = [];
    const { core, context } = setup({ onListenerError: (error) => errors.push(error) });
    core.listen(async () => {
      throw new Error('async bug');
    });
    core.fireEvent('x', {}, context);
    await Promise.resolve();
    await Promise.resolve();
    expect(errors).toEqual([new Error('async bug')]);
  });

  it('logs listener errors with a clear prefix by default, and survives a throwing error handler', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const core = new InMemoryCore({ clock: new ManualClock() });
      core.listen(() => {
        throw new Error('bad');
      });
      core.fireEvent('x', {}, core.createContext());
      expect(spy).toHaveBeenCalledWith(expect.stringContaining('[homecore/core] A bus listener threw while handling x'), new Error('bad'));

      const strict = new InMemoryCore({
        clock: new ManualClock(),
        onListenerError: () => {
          throw new Error('handler bug');
        },
      });
      strict.listen(() => {
        throw new Error('bad');
      });
      expect(() => strict.fireEvent('x', {}, strict.createContext())).not.toThrow();
      expect(spy).toHaveBeenCalledWith(expect.any(String), new Error('handler bug'));
    } finally {
      spy.mockRestore();
    }
  });

  it('unsubscribes, even during dispatch', () => {
    const { core, context } = setup();
    const seen: string[] = [];
    let offB = (): void => {};
    const offA = core.listen((e) => {
      seen.push(`a:${e.event_type}`);
      offB();
    });
    offB = core.listen((e) => seen.push(`b:${e.event_type}`));
    core.fireEvent('one', {}, context);
    offA();
    offA(); // idempotent
    core.fireEvent('two', {}, context);
    expect(seen).toEqual(['a:one']);
  });

  it('delivers events fired by a listener after the current one, so everyone sees the same order', () => {
    const { core, context } = setup();
    const seenA: string[] = [];
    const seenB: string[] = [];
    core.listen((e) => {
      seenA.push(e.event_type);
      if (e.event_type === 'first') core.fireEvent('second', {}, context);
    });
    core.listen((e) => seenB.push(e.event_type));
    core.fireEvent('first', {}, context);
    expect(seenA).toEqual(['first', 'second']);
    expect(seenB).toEqual(['first', 'second']);
  });
});

describe('InMemoryCore services', () => {
  it('registers, announces, calls and removes a service', async () => {
    const { core, events, context } = setup();
    const handler = vi.fn((call) => ({ echoed: call.data.level }));
    const remove = core.registerService('Light', 'Turn_On', handler);
    expect(core.hasService('light', 'turn_on')).toBe(true);
    expect(core.hasService('LIGHT', 'TURN_ON')).toBe(true);
    expect(events.at(-1)).toMatchObject({ event_type: 'service_registered', data: { domain: 'light', service: 'turn_on' } });

    const response = await core.callService('light', 'turn_on', { level: 3 }, { context, returnResponse: true });
    expect(response).toEqual({ echoed: 3 });
    const call = handler.mock.calls[0]![0];
    expect(call).toEqual({ domain: 'light', service: 'turn_on', data: { level: 3 }, context, return_response: true });
    expect(Object.isFrozen(call)).toBe(true);
    expect(Object.isFrozen(call.data)).toBe(true);
    expect(events.at(-1)).toEqual({
      event_type: 'call_service',
      data: { domain: 'light', service: 'turn_on', service_data: { level: 3 } },
      origin: 'LOCAL',
      time_fired: expect.any(String),
      context,
    });

    expect(await core.callService('light', 'turn_on', {}, { context })).toBeUndefined();

    remove();
    expect(core.hasService('light', 'turn_on')).toBe(false);
    expect(events.at(-1)).toMatchObject({ event_type: 'service_removed', data: { domain: 'light', service: 'turn_on' } });
    remove(); // a second call changes nothing
    expect(events.filter((e) => e.event_type === 'service_removed')).toHaveLength(1);
  });

  it('fires call_service before the handler runs', async () => {
    const { core, events, context } = setup();
    let firedBefore = false;
    core.registerService('demo', 'ping', () => {
      firedBefore = events.at(-1)?.event_type === 'call_service';
    });
    await core.callService('demo', 'ping', {}, { context });
    expect(firedBefore).toBe(true);
  });

  it('a stale remover does not remove a newer registration', () => {
    const { core } = setup();
    const removeOld = core.registerService('demo', 'ping', () => null);
    removeOld();
    core.registerService('demo', 'ping', () => null);
    removeOld();
    expect(core.hasService('demo', 'ping')).toBe(true);
  });

  it('refuses duplicates, bad names and non-function handlers', () => {
    const { core } = setup();
    core.registerService('demo', 'ping', () => null);
    expect(codeOf(() => core.registerService('DEMO', 'PING', () => null))).toBe('HC_ERR_SERVICE_EXISTS');
    for (const [d, s] of [['demo', 'bad name'], ['_demo', 'x'], ['demo', ''], ['de__mo', 'x'], ['demo.x', 'y']]) {
      expect(codeOf(() => core.registerService(d!, s!, () => null))).toBe('HC_ERR_SERVICE_INVALID');
    }
    expect(codeOf(() => core.registerService('demo', 'other', 'nope' as never))).toBe('HC_ERR_SERVICE_INVALID');
  });

  it('rejects an unknown service naming it and what the domain offers', async () => {
    const { core, context, events } = setup();
    await expect(core.callService('light', 'turn_on', {}, { context })).rejects.toMatchObject({
      code: 'HC_ERR_SERVICE_NOT_FOUND',
      message: expect.stringContaining('Service light.turn_on is not registered; no service is registered in domain light'),
    });
    for (let i = 0; i < 12; i++) core.registerService('light', `s${i}`, () => null);
    await expect(core.callService('light', 'turn_on', {}, { context })).rejects.toThrow(/services in domain light: s0, s1, .*s9 and 2 more$/);
    expect(events.some((e) => e.event_type === 'call_service')).toBe(false);
  });

  it('rejects bad call input instead of throwing synchronously', async () => {
    const { core, context } = setup();
    core.registerService('demo', 'ping', () => null);
    const bad = core.callService('demo', 'ping', { f: (() => 1) as unknown as JsonValue }, { context });
    await expect(bad).rejects.toMatchObject({ code: 'HC_ERR_SERVICE_INVALID', message: expect.stringContaining('service_data.f is a function') });
    await expect(core.callService('demo', 'bad name', {}, { context })).rejects.toMatchObject({ code: 'HC_ERR_SERVICE_INVALID' });
  });

  it('checks that a requested response is a plain object, null or nothing', async () => {
    const { core, context } = setup();
    core.registerService('demo', 'nothing', () => undefined);
    core.registerService('demo', 'list', () => [1, 2]);
    core.registerService('demo', 'text', async () => 'hi');
    expect(await core.callService('demo', 'nothing', {}, { context, returnResponse: true })).toBeNull();
    await expect(core.callService('demo', 'list', {}, { context, returnResponse: true })).rejects.toMatchObject({
      code: 'HC_ERR_SERVICE_INVALID',
      message: expect.stringContaining('return a plain object, null or nothing'),
    });
    await expect(core.callService('demo', 'text', {}, { context, returnResponse: true })).rejects.toMatchObject({ code: 'HC_ERR_SERVICE_INVALID' });
    // Without returnResponse the response is ignored.
    expect(await core.callService('demo', 'list', {}, { context })).toBeUndefined();
  });

  it('propagates handler errors: foreign ones wrapped with their cause, coded ones unchanged', async () => {
    const { core, context } = setup();
    const cause = new Error('device offline');
    const coded = new HomecoreError(ErrorCode.PERMISSION_DENIED, 'no');
    core.registerService('demo', 'sync_throw', () => {
      throw cause;
    });
    core.registerService('demo', 'async_throw', async () => {
      throw 'plain string';
    });
    core.registerService('demo', 'coded', () => {
      throw coded;
    });
    const error = await core.callService('demo', 'sync_throw', {}, { context }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HomecoreError);
    expect(error).toMatchObject({ code: 'HC_ERR_HANDLER_FAILED', message: 'Service demo.sync_throw failed: device offline', cause });
    await expect(core.callService('demo', 'async_throw', {}, { context })).rejects.toMatchObject({
      code: 'HC_ERR_HANDLER_FAILED',
      cause: 'plain string',
    });
    await expect(core.callService('demo', 'coded', {}, { context })).rejects.toBe(coded);
  });
});
