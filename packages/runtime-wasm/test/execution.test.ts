import { AbiStatus, ErrorCode, type PluginInstance } from '@homecore/core-traits';
import { describe, expect, test } from 'vitest';
import { configEntry, delivered, devRuntime, guest, manifest, probe, rejection, statusOf, stubContext, wat } from './helpers.js';

const SPIN = '(func (export "hc_on_event") (param i32 i32) (result i32) (loop (br 0)) (i32.const 0))';
// hc_setup logs "on" so tests can count how often setup ran.
const COUNTING_SETUP = '(func (export "hc_setup") (param i32 i32) (result i32) (drop (call $hc_log (i32.const 1) (i32.const 48) (i32.const 2))) (i32.const 0))';

async function ready(bytes: Uint8Array, m = manifest(), runtime = devRuntime().runtime) {
  const instance = await runtime.load(bytes, m);
  const stub = stubContext(m);
  await instance.setup(stub.ctx);
  return { instance, ...stub, runtime };
}

describe('a trap with memory at its cap', () => {
  test('says the plugin probably ran out of memory', async () => {
    // Grows until memory.grow fails, then gives up the way an allocator does: unreachable.
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32)
      (loop $more (br_if $more (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
      (unreachable))`;
    const { instance } = await ready(wat(guest({ body, memory: '(memory (export "memory") 1)' })), manifest({ limits: { memory_pages: 4 } }));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_TRAP);
    expect(err.message).toContain('its memory was at 4 of its 4-page cap: it may have run out of memory');
    expect(err.plugin).toBe('probe');
  });
});

describe('a guest that returns DENIED', () => {
  test('fails with a message naming the refused host call', async () => {
    // hc_state_set on sensor.kitchen, returning whatever the host answered.
    const body = '(func (export "hc_on_event") (param i32 i32) (result i32) (call $hc_state_set (i32.const 16) (i32.const 14) (i32.const 48) (i32.const 2) (i32.const 0) (i32.const 0)))';
    const m = manifest({ permissions: ['event:subscribe:*'] });
    const { instance } = await ready(wat(guest({ body })), m);
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_STATUS);
    expect(err.message).toContain('returned status -3 (DENIED): a host call in this hook was refused (state:write sensor.kitchen is not granted: add "state:write:sensor.kitchen" to permissions)');
  });
});

describe('fuel', () => {
  test('an endless loop in a handler traps with FUEL_EXHAUSTED under the per-call budget', async () => {
    const { instance } = await ready(wat(guest({ body: SPIN })), manifest({ limits: { fuel_per_call: 50_000 } }));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(err.plugin).toBe('probe');
    expect(err.hook).toBe('hc_on_event');
    expect(instance.stats()).toMatchObject({ traps: 1, fuelLastCall: 50_000, fuelPerCall: 50_000 });
  });

  test('the host cap wins over a larger manifest budget, with a warning at load and the cap named in the trap', async () => {
    const { runtime, warnings } = devRuntime({ limits: { fuelPerCall: 10_000 } });
    const { instance } = await ready(wat(guest({ body: SPIN })), manifest({ limits: { fuel_per_call: 1_000_000 } }), runtime);
    expect(instance.stats().fuelPerCall).toBe(10_000);
    expect(warnings).toContain("plugin probe: limits.fuel_per_call 1000000 is above the host's cap of 10000; the cap applies");
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(err.message).toContain("10000 is this host's cap on limits.fuel_per_call");
  });

  test('a budget below the host cap says how far it may be raised', async () => {
    const { instance } = await ready(wat(guest({ body: SPIN })), manifest({ limits: { fuel_per_call: 50_000 } }));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.message).toContain('raise limits.fuel_per_call (this host allows up to 10000000)');
  });

  test('a normal handler runs and reports the fuel it used, the same every time', async () => {
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (local $i i32)
      (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
      (i32.const 0))`;
    const { instance } = await ready(wat(guest({ body })), manifest({ limits: { fuel_per_call: 50_000 } }));
    await instance.handleEvent(delivered('my_event'));
    const first = instance.stats().fuelLastCall ?? 0;
    await instance.handleEvent(delivered('my_event'));
    expect(instance.stats().fuelLastCall).toBe(first);
    // 8 instructions per iteration (docs/host-abi.md section 10), + i32.const 0, + hc_alloc (7) and hc_free (2).
    expect(first).toBe(100 * 8 + 1 + 7 + 2);
    expect(instance.stats().fuelTotal).toBe(2 * first);
  });

  test('an endless start function fails the load with FUEL_EXHAUSTED under the start budget', async () => {
    const { runtime } = devRuntime({ limits: { startFuel: 20_000 } });
    const bytes = wat(guest({ body: '(func $start (loop (br 0))) (start $start)' }));
    const err = await rejection(runtime.load(bytes, manifest()));
    expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(err.hook).toBe('start');
    expect(err.message).toContain('do the work in hc_setup');
  });

  test('a second load of the same bytes is a cache hit', async () => {
    const { runtime } = devRuntime();
    const bytes = probe('(i32.const 0)');
    const first = await runtime.load(bytes, manifest());
    const second = await runtime.load(bytes, manifest());
    expect(first.stats().cacheHit).toBe(0);
    expect(second.stats().cacheHit).toBe(1);
    expect(runtime.stats()).toEqual({ cacheHits: 1, cacheMisses: 1, cachedModules: 1, meteringRuns: 1, diskCacheHits: 0, diskCacheMisses: 0, diskCacheRejected: 0 });
    // Different metering parameters (a smaller memory cap) are a different entry.
    await runtime.load(bytes.slice(), manifest());
    expect(runtime.stats().cacheHits).toBe(2);
  });
});

describe('memory', () => {
  const GROW = '(func (export "hc_on_event") (param i32 i32) (result i32) (memory.grow (i32.const 1)))';

  test('memory.grow past the maximum returns -1 inside the guest; stats show pages in use', async () => {
    const { instance } = await ready(wat(guest({ memory: '(memory (export "memory") 1 3)', body: GROW })));
    expect(instance.stats().memoryPages).toBe(1);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(1); // old size
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(2);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(-1);
    expect(instance.stats()).toMatchObject({ memoryPages: 3, memoryMaxPages: 3, traps: 0 });
  });

  test('an unbounded memory is clamped to the policy', async () => {
    const { runtime } = devRuntime({ limits: { memoryPages: 2 } });
    const { instance } = await ready(wat(guest({ memory: '(memory (export "memory") 1)', body: GROW })), manifest(), runtime);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(1);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(-1);
    expect(instance.stats().memoryPages).toBe(2);
  });
});

describe('traps', () => {
  test('unreachable fails the call, the instance is re-created and setup re-run before the next call', async () => {
    const body = `${COUNTING_SETUP}
      (global $events (mut i32) (i32.const 0))
      (func (export "hc_on_event") (param i32 i32) (result i32)
        (global.set $events (i32.add (global.get $events) (i32.const 1)))
        (if (i32.eq (global.get $events) (i32.const 2)) (then unreachable))
        (i32.const 0))`;
    const { instance, record } = await ready(wat(guest({ body })));
    await instance.handleEvent(delivered('my_event'));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_TRAP);
    expect(err.message).toContain('unreachable');
    expect(instance.stats()).toMatchObject({ traps: 1, instantiations: 1, memoryPages: 0 });
    // The fresh instance starts with $events = 0 again, so the next event succeeds.
    await instance.handleEvent(delivered('my_event'));
    expect(instance.stats()).toMatchObject({ traps: 1, instantiations: 2 });
    expect(record.logs.filter((l) => l.message === 'on')).toHaveLength(2);
  });

  test('deep recursion is a stack overflow trap', async () => {
    const body = `(func $down (param i32) (result i32) (call $down (i32.add (local.get 0) (i32.const 1))))
      (func (export "hc_on_event") (param i32 i32) (result i32) (call $down (i32.const 0)))`;
    const { instance } = await ready(wat(guest({ body })));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect([ErrorCode.WASM_TRAP, ErrorCode.WASM_FUEL_EXHAUSTED]).toContain(err.code);
    expect(instance.stats().traps).toBe(1);
    // Still usable afterwards.
    expect(instance.stats().instantiations).toBe(1);
  });

  test('out-of-bounds memory access and divide by zero are traps', async () => {
    for (const expr of ['(i32.load (i32.const 70000))', '(i32.div_s (i32.const 1) (i32.const 0))']) {
      const { instance } = await ready(probe(expr));
      expect((await rejection(instance.handleEvent(delivered('my_event')))).code).toBe(ErrorCode.WASM_TRAP);
    }
  });

  test('env.abort decodes the AssemblyScript message and file', async () => {
    const head = '(import "env" "abort" (func $abort (param i32 i32 i32 i32)))';
    const body = `(data (i32.const 296) "\\08\\00\\00\\00b\\00o\\00o\\00m\\00")
      (data (i32.const 316) "\\08\\00\\00\\00a\\00.\\00t\\00s\\00")
      (func (export "hc_on_event") (param i32 i32) (result i32)
        (call $abort (i32.const 300) (i32.const 320) (i32.const 28) (i32.const 32)) unreachable)`;
    const { instance } = await ready(wat(guest({ head, body })));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_ABORT);
    expect(err.message).toContain('plugin aborted: boom at a.ts:28:32');
  });

  test('abort with null or hostile string pointers still reports', async () => {
    const head = '(import "env" "abort" (func $abort (param i32 i32 i32 i32)))';
    const body = `(data (i32.const 296) "\\ff\\ff\\ff\\7f")
      (func (export "hc_on_event") (param i32 i32) (result i32)
        (call $abort (i32.const 300) (i32.const -1) (i32.const 1) (i32.const 2)) unreachable)`;
    const { instance } = await ready(wat(guest({ head, body })));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_ABORT);
    expect(err.message).toContain('abort at ?:1:2');
  });
});

describe('hooks and statuses', () => {
  test('hc_setup returning NOT_READY asks for a retry', async () => {
    const m = manifest();
    const instance = await devRuntime().runtime.load(wat(guest({ body: '(func (export "hc_setup") (param i32 i32) (result i32) (i32.const 1))' })), m);
    const err = await rejection(instance.setup(stubContext(m).ctx));
    expect(err.code).toBe(ErrorCode.CONFIG_ENTRY_NOT_READY);
  });

  test('a negative status fails the call with WASM_STATUS naming it; the instance is kept', async () => {
    const { instance } = await ready(probe('(i32.const -3)'));
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_STATUS);
    expect(err.message).toContain('-3 (DENIED)');
    expect(instance.stats()).toMatchObject({ traps: 0, instantiations: 1 });
  });

  test('hc_alloc returning 0 fails the call with WASM_STATUS', async () => {
    const bytes = wat(`(module (memory (export "memory") 1 1) (func (export "homecore_abi_version_1"))
      (func (export "hc_alloc") (param i32) (result i32) (i32.const 0)) (func (export "hc_free") (param i32 i32))
      (func (export "hc_on_event") (param i32 i32) (result i32) (i32.const 0)))`);
    const { instance } = await ready(bytes);
    const err = await rejection(instance.handleEvent(delivered('my_event')));
    expect(err.code).toBe(ErrorCode.WASM_STATUS);
    expect(err.message).toContain('hc_alloc');
  });

  test('an event larger than payload_bytes is not delivered', async () => {
    const { instance } = await ready(probe('(i32.const 0)'), manifest({ limits: { payload_bytes: 100 } }));
    const err = await rejection(instance.handleEvent(delivered('my_event', { pad: 'x'.repeat(200) })));
    expect(err.code).toBe(ErrorCode.WASM_QUOTA_EXCEEDED);
    expect(err.message).toContain('limits.payload_bytes');
  });

  test('state_changed goes to hc_on_state_changed, other events to hc_on_event; missing hooks are skipped', async () => {
    const body = `(func (export "hc_on_state_changed") (param i32 i32) (result i32) (i32.const -2))
      (func (export "hc_on_event") (param i32 i32) (result i32) (i32.const -8))`;
    const { instance } = await ready(wat(guest({ body })));
    expect(await statusOf(instance.handleEvent(delivered('state_changed')))).toBe(AbiStatus.NOT_FOUND);
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(AbiStatus.INVALID_ARGUMENT);
    const { instance: bare } = await ready(probe('(i32.const 0)'));
    await bare.handleEvent(delivered('state_changed'));
    expect(bare.stats().calls).toBe(0);
  });

  test('one event is serialised once for every instance', async () => {
    const a = await ready(probe('(i32.const 0)'));
    const b = await ready(probe('(i32.const 0)'));
    const event = delivered('my_event');
    await a.instance.handleEvent(event);
    await b.instance.handleEvent(event);
    expect(event.serialisations).toBe(1);
  });

  test('service calls and config updates', async () => {
    const body = `(func (export "hc_on_service_call") (param i32 i32) (result i32) (i32.const 0))
      (func (export "hc_on_config_update") (param i32 i32) (result i32) (i32.const 0))
      (func (export "hc_teardown") (result i32) (i32.const 0))`;
    const { instance } = await ready(wat(guest({ body })));
    expect(instance.hooks).toMatchObject({ serviceCall: true, configUpdate: true, teardown: true });
    const call = { domain: 'probe', service: 'ping', data: {}, context: { id: 'x', parent_id: null, user_id: null }, return_response: false };
    expect(await instance.handleServiceCall(call)).toBeNull();
    expect(await instance.handleConfigUpdate(configEntry('probe', { threshold: 3 }))).toBe(true);
    await instance.teardown();
    const { instance: bare } = await ready(probe('(i32.const 0)'));
    expect(await bare.handleConfigUpdate(configEntry())).toBe(false);
    expect((await rejection(bare.handleServiceCall(call))).code).toBe(ErrorCode.SERVICE_NOT_FOUND);
  });

  test('host imports called from the start function return FAILED', async () => {
    const body = `(global $seen (mut i32) (i32.const 1))
      (func $start (global.set $seen (call $hc_log (i32.const 1) (i32.const 48) (i32.const 2))))
      (start $start)
      (func (export "hc_on_event") (param i32 i32) (result i32) (global.get $seen))`;
    const { instance, record } = await ready(wat(guest({ body })));
    expect(await statusOf(instance.handleEvent(delivered('my_event')))).toBe(AbiStatus.FAILED);
    expect(record.logs).toEqual([]);
  });
});

describe('re-entrancy', () => {
  test('an event caused by the plugin’s own write is delivered after the current call, never inside it', async () => {
    // The handler refuses to run nested (returns -8 if $inside is set) and counts its calls.
    const body = `(global $inside (mut i32) (i32.const 0)) (global $calls (mut i32) (i32.const 0))
      (func (export "hc_on_event") (param i32 i32) (result i32)
        (if (global.get $inside) (then (return (i32.const -8))))
        (global.set $inside (i32.const 1))
        (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
        (if (i32.lt_u (global.get $calls) (i32.const 3))
          (then (drop (call $hc_state_set (i32.const 16) (i32.const 14) (i32.const 48) (i32.const 2) (i32.const 0) (i32.const 0)))))
        (global.set $inside (i32.const 0))
        (i32.const 0))`;
    const m = manifest();
    const instance = await devRuntime().runtime.load(wat(guest({ body })), m);
    // A naive host that delivers synchronously from inside the write.
    const nested: (void | Promise<void>)[] = [];
    const box: { target?: PluginInstance } = {};
    const stub = stubContext(m, () => {
      if (box.target) nested.push(box.target.handleEvent(delivered('my_event')));
    });
    await instance.setup(stub.ctx);
    box.target = instance;
    await instance.handleEvent(delivered('my_event'));
    while (nested.length > 0) await nested.shift();
    expect(instance.stats()).toMatchObject({ calls: 3, traps: 0 });
  });
});
