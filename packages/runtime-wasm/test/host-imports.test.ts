import { AbiStatus } from '@homecore/core-traits';
import { describe, expect, test } from 'vitest';
import { GUEST_BYTES, S, delivered, devRuntime, entityState, guest, manifest, probe, statusOf, stubContext, wat } from './helpers.js';

const { runtime } = devRuntime();

/** Loads a probe whose handler returns `expr`, sets it up with a stub context, delivers one event. */
async function run(expr: string, m = manifest()) {
  const instance = await runtime.load(probe(expr), m);
  const stub = stubContext(m);
  await instance.setup(stub.ctx);
  const status = await statusOf(instance.handleEvent(delivered('my_event')));
  return { status, ...stub, instance };
}

const s = (name: keyof typeof S): string => `(i32.const ${S[name][0]}) (i32.const ${S[name][1]})`;
const ptrs = (p: number | string, l: number | string): string => `(i32.const ${p}) (i32.const ${l})`;

// Bad (ptr, len) pairs: out of bounds, negative pointer, negative length, overflowing ptr + len, end just past memory.
const BAD_PAIRS: [string, string][] = [
  ['out of bounds', ptrs(GUEST_BYTES + 16, 4)],
  ['negative pointer', ptrs(-16, 4)],
  ['negative length', ptrs(16, -1)],
  ['overflowing ptr + len', ptrs(0x7fffffff, 0x7fffffff)],
  ['one byte past the end', ptrs(GUEST_BYTES - 3, 4)],
];

const CALLS: Record<string, (a: string) => string> = {
  hc_log: (a) => `(call $hc_log (i32.const 1) ${a})`,
  'hc_state_get id': (a) => `(call $hc_state_get ${a} ${ptrs(1024, 512)})`,
  'hc_state_get out': (a) => `(call $hc_state_get ${s('entity')} ${a})`,
  'hc_state_set id': (a) => `(call $hc_state_set ${a} ${s('on')} ${ptrs(0, 0)})`,
  'hc_state_set state': (a) => `(call $hc_state_set ${s('entity')} ${a} ${ptrs(0, 0)})`,
  'hc_state_set attrs': (a) => `(call $hc_state_set ${s('entity')} ${s('on')} ${a})`,
  'hc_service_call domain': (a) => `(call $hc_service_call ${a} ${s('turnOn')} ${ptrs(0, 0)})`,
  'hc_service_call service': (a) => `(call $hc_service_call ${s('light')} ${a} ${ptrs(0, 0)})`,
  'hc_service_call data': (a) => `(call $hc_service_call ${s('light')} ${s('turnOn')} ${a})`,
  'hc_event_fire type': (a) => `(call $hc_event_fire ${a} ${ptrs(0, 0)})`,
  'hc_event_fire data': (a) => `(call $hc_event_fire ${s('myEvent')} ${a})`,
  hc_subscribe: (a) => `(call $hc_subscribe (i32.const 0) ${a})`,
  hc_config_get: (a) => `(call $hc_config_get ${a})`,
};

describe('every (ptr, len) is checked', () => {
  for (const [callName, call] of Object.entries(CALLS)) {
    test.each(BAD_PAIRS)(`${callName}: %s returns BAD_POINTER and the host keeps running`, async (_label, pair) => {
      const { status, record, instance } = await run(call(pair));
      expect(status).toBe(AbiStatus.BAD_POINTER);
      expect(record.states.size + record.events.length + record.serviceCalls.length + record.logs.length).toBe(0);
      expect(instance.stats().traps).toBe(0);
    });
  }

  test('a pair ending exactly at the end of memory is valid', async () => {
    // 2 zero bytes at the very end decode as two NUL characters: valid UTF-8.
    const { status, record } = await run(`(call $hc_log (i32.const 1) ${ptrs(GUEST_BYTES - 2, 2)})`);
    expect(status).toBe(AbiStatus.OK);
    expect(record.logs).toEqual([{ level: 'info', message: '\0\0' }]);
  });
});

describe('hc_log', () => {
  test('maps levels to the logger and rejects unknown ones', async () => {
    for (const [level, name] of [[0, 'debug'], [1, 'info'], [2, 'warn'], [3, 'error']] as const) {
      const { record } = await run(`(call $hc_log (i32.const ${level}) ${s('entity')})`);
      expect(record.logs).toEqual([{ level: name, message: 'sensor.kitchen' }]);
    }
    expect((await run(`(call $hc_log (i32.const 4) ${s('entity')})`)).status).toBe(AbiStatus.INVALID_ARGUMENT);
    expect((await run(`(call $hc_log (i32.const -1) ${s('entity')})`)).status).toBe(AbiStatus.INVALID_ARGUMENT);
  });

  test('invalid UTF-8 returns INVALID_UTF8', async () => {
    expect((await run(`(call $hc_log (i32.const 1) ${s('badUtf8')})`)).status).toBe(AbiStatus.INVALID_UTF8);
  });

  test('a huge message is truncated and counted', async () => {
    const { status, record, instance } = await run(`(call $hc_log (i32.const 1) ${ptrs(8192, 50000)})`);
    expect(status).toBe(AbiStatus.OK);
    expect(record.logs[0]?.message).toContain('[truncated 45904 bytes]');
    expect(instance.stats().logTruncated).toBe(1);
  });
});

describe('hc_state_get', () => {
  const withState = (expr: string) => {
    const m = manifest();
    return async () => {
      const instance = await runtime.load(probe(expr), m);
      const stub = stubContext(m);
      stub.record.states.set('sensor.kitchen', entityState('sensor.kitchen', '21.5', { unit: 'C' }));
      await instance.setup(stub.ctx);
      return { status: await statusOf(instance.handleEvent(delivered('my_event'))), instance, stub };
    };
  };
  const size = JSON.stringify(entityState('sensor.kitchen', '21.5', { unit: 'C' })).length;

  test('returns the size and writes the JSON when it fits', async () => {
    // The handler returns the size minus the size it expects, so OK means "equal"; then it logs the buffer.
    const expr = `(drop (call $hc_state_get ${s('entity')} ${ptrs(1024, 4096)})) (call $hc_log (i32.const 1) ${ptrs(1024, size)})`;
    const { status, stub } = await withState(expr)();
    expect(status).toBe(AbiStatus.OK);
    expect(JSON.parse(stub.record.logs[0]?.message ?? '')).toEqual(entityState('sensor.kitchen', '21.5', { unit: 'C' }));
  });

  test('a too-small buffer returns the size needed and writes nothing', async () => {
    // Status is the returned size (a positive status fails the hook with WASM_STATUS carrying it).
    const expr = `(call $hc_state_get ${s('entity')} ${ptrs(1024, 8)})`;
    const { status } = await withState(expr)();
    expect(status).toBe(size);
    const untouched = `(drop (call $hc_state_get ${s('entity')} ${ptrs(1024, 8)})) (i32.load8_u (i32.const 1024))`;
    expect((await withState(untouched)()).status).toBe(0);
  });

  test('unknown entity, bad entity id, denied read', async () => {
    expect((await run(`(call $hc_state_get ${s('entity')} ${ptrs(1024, 4096)})`)).status).toBe(AbiStatus.NOT_FOUND);
    expect((await run(`(call $hc_state_get ${s('badEntity')} ${ptrs(1024, 4096)})`)).status).toBe(AbiStatus.INVALID_ARGUMENT);
    const denied = await run(`(call $hc_state_get ${s('entity')} ${ptrs(1024, 4096)})`, manifest({ permissions: [] }));
    expect(denied.status).toBe(AbiStatus.DENIED);
    expect(denied.record.denied).toEqual(['state:read:sensor.kitchen']);
    expect(denied.instance.stats().deniedCalls).toBe(1);
  });

  test('a result above payload_bytes is TOO_LARGE', async () => {
    const { status } = await withState(`(call $hc_state_get ${s('entity')} ${ptrs(1024, 4096)})`)();
    expect(status).toBe(size);
    const m = manifest({ limits: { payload_bytes: 200 } }); // above the event, below the state
    const instance = await runtime.load(probe(`(call $hc_state_get ${s('entity')} ${ptrs(1024, 4096)})`), m);
    const stub = stubContext(m);
    stub.record.states.set('sensor.kitchen', entityState('sensor.kitchen', '21.5'));
    await instance.setup(stub.ctx);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(AbiStatus.TOO_LARGE);
  });
});

describe('hc_state_set', () => {
  test('writes with attributes, or {} when attrs_len is 0', async () => {
    const a = await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${s('attrs')})`);
    expect(a.status).toBe(AbiStatus.OK);
    expect(a.record.states.get('sensor.kitchen')).toMatchObject({ state: 'on', attributes: { unit: 'C' } });
    const b = await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${ptrs(0, 0)})`);
    expect(b.record.states.get('sensor.kitchen')?.attributes).toEqual({});
  });

  test('invalid JSON, non-object JSON, invalid UTF-8, bad id, denied', async () => {
    expect((await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${s('badJson')})`)).status).toBe(AbiStatus.INVALID_JSON);
    expect((await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${s('array')})`)).status).toBe(AbiStatus.INVALID_JSON);
    expect((await run(`(call $hc_state_set ${s('entity')} ${s('badUtf8')} ${ptrs(0, 0)})`)).status).toBe(AbiStatus.INVALID_UTF8);
    expect((await run(`(call $hc_state_set ${s('badEntity')} ${s('on')} ${ptrs(0, 0)})`)).status).toBe(AbiStatus.INVALID_ARGUMENT);
    const denied = await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${ptrs(0, 0)})`, manifest({ permissions: ['state:read:*'] }));
    expect(denied.status).toBe(AbiStatus.DENIED);
    expect(denied.record.states.size).toBe(0);
  });

  test('an argument above payload_bytes is TOO_LARGE', async () => {
    const m = manifest({ limits: { payload_bytes: 200 } });
    expect((await run(`(call $hc_state_set ${s('entity')} ${s('on')} ${ptrs(8192, 300)})`, m)).status).toBe(AbiStatus.TOO_LARGE);
  });
});

describe('hc_service_call', () => {
  test('is accepted during the call and runs after the hook returns', async () => {
    const { status, record } = await run(`(call $hc_service_call ${s('light')} ${s('turnOn')} ${s('attrs')})`);
    expect(status).toBe(AbiStatus.OK);
    expect(record.serviceCalls).toEqual([{ domain: 'light', service: 'turn_on', data: { unit: 'C' } }]);
  });

  test('a denied call returns DENIED and is refused by the context too (audited there)', async () => {
    const { status, record, instance } = await run(`(call $hc_service_call ${s('light')} ${s('myEvent')} ${ptrs(0, 0)})`);
    expect(status).toBe(AbiStatus.DENIED);
    expect(record.denied).toEqual(['service:call:light.my_event']);
    expect(record.serviceCalls).toEqual([]);
    expect(instance.stats().deniedCalls).toBe(1);
  });

  test('a call that fails later is logged and counted, never thrown', async () => {
    const body = `(data (i32.const 300) "explode") (func (export "hc_on_event") (param i32 i32) (result i32)
      (call $hc_service_call ${s('light')} (i32.const 300) (i32.const 7) (i32.const 0) (i32.const 0)))`;
    const m = manifest({ permissions: ['service:call:light.*'] });
    const instance = await runtime.load(wat(guest({ body })), m);
    const stub = stubContext(m);
    await instance.setup(stub.ctx);
    await instance.handleEvent(delivered('my_event'));
    await new Promise((r) => setTimeout(r, 0));
    expect(instance.stats().serviceCallFailures).toBe(1);
    expect(stub.record.logs).toEqual([{ level: 'warn', message: expect.stringContaining('light.explode') }]);
  });

  test('invalid JSON data', async () => {
    expect((await run(`(call $hc_service_call ${s('light')} ${s('turnOn')} ${s('badJson')})`)).status).toBe(AbiStatus.INVALID_JSON);
  });
});

describe('hc_event_fire', () => {
  test('fires with data, or {}', async () => {
    const { status, record } = await run(`(call $hc_event_fire ${s('myEvent')} ${s('attrs')})`);
    expect(status).toBe(AbiStatus.OK);
    expect(record.events).toEqual([{ type: 'my_event', data: { unit: 'C' } }]);
  });

  test('invalid UTF-8, invalid JSON, denied', async () => {
    expect((await run(`(call $hc_event_fire ${s('badUtf8')} ${ptrs(0, 0)})`)).status).toBe(AbiStatus.INVALID_UTF8);
    expect((await run(`(call $hc_event_fire ${s('myEvent')} ${s('badJson')})`)).status).toBe(AbiStatus.INVALID_JSON);
    expect((await run(`(call $hc_event_fire ${s('light')} ${ptrs(0, 0)})`)).status).toBe(AbiStatus.DENIED);
  });
});

describe('hc_subscribe', () => {
  test('subscribes entities and events, refuses a bad kind and a denied pattern', async () => {
    const a = await run(`(call $hc_subscribe (i32.const 0) ${s('pattern')})`);
    expect(a.status).toBe(AbiStatus.OK);
    expect(a.record.subscriptions).toEqual([{ entities: ['sensor.*'] }]);
    const b = await run(`(call $hc_subscribe (i32.const 1) ${s('myEvent')})`);
    expect(b.record.subscriptions).toEqual([{ events: ['my_event'] }]);
    expect((await run(`(call $hc_subscribe (i32.const 2) ${s('myEvent')})`)).status).toBe(AbiStatus.INVALID_ARGUMENT);
    expect((await run(`(call $hc_subscribe (i32.const 0) ${s('light')})`)).status).toBe(AbiStatus.DENIED);
  });

  test('subscriptions end at teardown', async () => {
    const m = manifest();
    const bytes = wat(guest({ body: `(func (export "hc_setup") (param i32 i32) (result i32) (call $hc_subscribe (i32.const 0) ${s('pattern')}))` }));
    const instance = await runtime.load(bytes, m);
    const stub = stubContext(m);
    await instance.setup(stub.ctx);
    expect(stub.record.subscriptions).toHaveLength(1);
    await instance.teardown();
    expect(stub.record.unsubscribed).toBe(1);
  });
});

describe('hc_config_get and hc_clock_now', () => {
  test('config: too small returns the size, big enough writes it', async () => {
    const { status, ctx } = await run(`(call $hc_config_get ${ptrs(1024, 4)})`);
    const size = new TextEncoder().encode(JSON.stringify(ctx.configEntry)).length;
    expect(status).toBe(size);
    const fits = await run(`(drop (call $hc_config_get ${ptrs(1024, 4096)})) (call $hc_log (i32.const 1) ${ptrs(1024, size)})`);
    expect(JSON.parse(fits.record.logs[0]?.message ?? '')).toEqual(fits.ctx.configEntry);
  });

  test('clock returns ctx.now() as f64', async () => {
    // 1_700_000_000_000 ms / 1e9 = 1700 exactly: the handler returns it as its status.
    const { status } = await run('(i32.trunc_f64_s (f64.div (call $hc_clock_now) (f64.const 1e9)))');
    expect(status).toBe(1700);
  });
});

describe('quotas', () => {
  test('host calls per event: further calls return QUOTA_EXCEEDED, counted, and reset for the next event', async () => {
    const m = manifest({ limits: { host_calls_per_event: 3 } });
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (local $i i32) (local $last i32)
      (loop $l
        (local.set $last (call $hc_log (i32.const 0) ${s('on')}))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 5))))
      (local.get $last))`;
    const instance = await runtime.load(wat(guest({ body })), m);
    const stub = stubContext(m);
    await instance.setup(stub.ctx);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(AbiStatus.QUOTA_EXCEEDED);
    expect(stub.record.logs).toHaveLength(3);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(AbiStatus.QUOTA_EXCEEDED);
    expect(stub.record.logs).toHaveLength(6);
    expect(instance.stats().quotaHits).toBe(4);
    expect(instance.stats().hostCalls).toBe(10);
  });

  test('bytes written per event', async () => {
    const m = manifest({ limits: { bytes_written_per_event: 20 } });
    const expr = `(drop (call $hc_log (i32.const 0) ${s('entity')})) (call $hc_log (i32.const 0) ${s('entity')})`;
    const { status, record, instance } = await run(expr, m);
    expect(status).toBe(AbiStatus.QUOTA_EXCEEDED);
    expect(record.logs).toHaveLength(1);
    expect(instance.stats().quotaHits).toBe(1);
  });
});
