// Effects after return (host-abi.md section 9): host imports check, copy and record; writes,
// service calls, events and subscriptions reach the home once the guest call has returned, in
// order; a call that traps has none; a read in the same call sees the call's own writes.
import { ErrorCode, type BusEvent } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry } from '@homecore/registry';
import { WasmRuntime } from '@homecore/runtime-wasm';
import { describe, expect, test } from 'vitest';
import { guest, wat } from './helpers.js';

const DATA = `(data (i32.const 300) "sensor.a")
  (data (i32.const 310) "sensor.b")
  (data (i32.const 320) "sensor.c")
  (data (i32.const 330) "1")
  (data (i32.const 331) "2")
  (data (i32.const 340) "state_changed")
  (data (i32.const 360) "call_service")
  (data (i32.const 380) "time_changed")`;

const set = (id: number, value: number): string => `(drop (call $hc_state_set (i32.const ${id}) (i32.const 8) (i32.const ${value}) (i32.const 1) (i32.const 0) (i32.const 0)))`;

async function house(body: string, permissions: string[] = ['state:read:sensor.*', 'state:write:sensor.*', 'event:subscribe:*']) {
  const core = new InMemoryCore();
  const runtime = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined });
  const registry = new PluginRegistry({ core, runtimes: [runtime] });
  const failures: { code: string; message: string }[] = [];
  registry.on((activity) => {
    if (activity.type === 'handler_failed') failures.push({ code: activity.error.code, message: activity.error.message });
  });
  const seen: BusEvent[] = [];
  core.listen((event) => void seen.push(event));
  const manifest = { domain: 'probe', name: 'probe', version: '1.0.0', runtime: 'wasm', permissions, subscriptions: { events: ['go'] } };
  await registry.load(manifest, wat(guest({ head: DATA, body })));
  const go = async (): Promise<void> => {
    core.fireEvent('go', {}, core.createContext());
    await registry.idle();
  };
  const stats = (): Record<string, number> => registry.stats().plugins.probe?.runtime as Record<string, number>;
  return { core, registry, failures, seen, go, stats };
}

describe('effects after return', () => {
  test('a call that traps has no effects: its writes are discarded and the error says so', async () => {
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) ${set(300, 330)} ${set(310, 330)} ${set(320, 330)} (unreachable))`;
    const { core, failures, go, stats } = await house(body);
    await go();
    for (const id of ['sensor.a', 'sensor.b', 'sensor.c']) expect(core.getState(id)).toBeUndefined();
    expect(failures[0]?.code).toBe(ErrorCode.WASM_TRAP);
    expect(failures[0]?.message).toContain('effects discarded: 3 actions');
    expect(stats()).toMatchObject({ effectsDiscarded: 3, effectsApplied: 0, traps: 1 });
  });

  test('a call that runs out of fuel has no effects either', async () => {
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) ${set(300, 330)} (loop $l (br $l)) (i32.const 0))`;
    const { core, failures, go } = await house(body);
    await go();
    expect(core.getState('sensor.a')).toBeUndefined();
    expect(failures[0]?.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(failures[0]?.message).toContain('effects discarded: 1 action');
  });

  test('writes are applied in the order they were made, after the call returns', async () => {
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) ${set(300, 330)} ${set(310, 330)} ${set(300, 331)} (i32.const 0))`;
    const { core, seen, go, stats } = await house(body);
    await go();
    const changes = seen.filter((e) => e.event_type === 'state_changed').map((e) => {
      const data = e.data as { entity_id: string; new_state: { state: string } };
      return `${data.entity_id}=${data.new_state.state}`;
    });
    expect(changes).toEqual(['sensor.a=1', 'sensor.b=1', 'sensor.a=2']);
    expect(core.getState('sensor.a')?.state).toBe('2');
    expect(stats().effectsApplied).toBe(3);
  });

  test("a read in the same call sees the call's own pending write", async () => {
    // Write sensor.a = 2, read it back into memory at 1024, and store what was read as sensor.b's attributes.
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (local $n i32)
      ${set(300, 331)}
      (local.set $n (call $hc_state_get (i32.const 300) (i32.const 8) (i32.const 1024) (i32.const 2048)))
      (call $hc_state_set (i32.const 310) (i32.const 8) (i32.const 330) (i32.const 1) (i32.const 1024) (local.get $n)))`;
    const { core, go, failures } = await house(body);
    core.setState('sensor.a', '1', {}, { context: core.createContext() });
    await go();
    expect(failures).toEqual([]);
    expect(core.getState('sensor.a')?.state).toBe('2');
    const read = core.getState('sensor.b')?.attributes as { entity_id: string; state: string; last_updated: string; last_changed: string };
    expect(read).toMatchObject({ entity_id: 'sensor.a', state: '2' });
    // Home Assistant's timestamp shape, as the core writes it: microseconds and +00:00.
    expect(read.last_updated).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    expect(read.last_changed).toBe(read.last_updated);
  });

  test('core events are reserved: DENIED to the guest even with event:fire:*, audited, never on the bus', async () => {
    // Returns 0 only if all three fires came back DENIED (-3).
    const fire = (at: number, len: number): string => `(i32.eq (call $hc_event_fire (i32.const ${at}) (i32.const ${len}) (i32.const 0) (i32.const 0)) (i32.const -3))`;
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32)
      (if (result i32) (i32.and (i32.and ${fire(340, 13)} ${fire(360, 12)}) ${fire(380, 12)}) (then (i32.const 0)) (else (i32.const -1))))`;
    const { seen, go, failures, registry } = await house(body, ['event:fire:*', 'event:subscribe:*']);
    await go();
    expect(failures).toEqual([]);
    expect(seen.map((e) => e.event_type).filter((t) => t !== 'go')).toEqual([]);
    expect(registry.audit('probe').map((d) => d.target)).toEqual(['state_changed', 'call_service', 'time_changed']);
  });

  test('many effects are applied in slices that hand the event loop back, in order, with their cause', async () => {
    // 400 writes to sensor.a with alternating values, in one call.
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (local $i i32)
      (loop $l
        (drop (call $hc_state_set (i32.const 300) (i32.const 8) (i32.add (i32.const 330) (i32.and (local.get $i) (i32.const 1))) (i32.const 1) (i32.const 0) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $i) (i32.const 400))))
      (i32.const 0))`;
    const { core, seen, go, stats, failures } = await house(body);
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    await go();
    clearInterval(ticker);
    expect(failures).toEqual([]);
    const writes = seen.filter((e) => e.event_type === 'state_changed');
    expect(writes).toHaveLength(400);
    expect(writes.map((e) => (e.data as { new_state: { state: string } }).new_state.state).slice(0, 4)).toEqual(['1', '2', '1', '2']);
    const trigger = seen.find((e) => e.event_type === 'go');
    expect(new Set(writes.map((e) => e.context.parent_id))).toEqual(new Set([trigger?.context.id]));
    expect(core.getState('sensor.a')?.state).toBe('2');
    expect(stats().effectsApplied).toBe(400);
    expect(turns).toBeGreaterThan(0); // the loop ran between slices
  });

  test('hc_clock_now counts in the host call quota', async () => {
    const body = `(func (export "hc_on_event") (param i32 i32) (result i32) (local $i i32)
      (loop $l (drop (call $hc_clock_now)) (local.set $i (i32.add (local.get $i) (i32.const 1))) (br_if $l (i32.lt_u (local.get $i) (i32.const 5000))))
      (i32.const 0))`;
    const { go, stats, failures } = await house(body);
    await go();
    expect(failures).toEqual([]);
    expect(stats().hostCalls).toBe(5000);
    expect(stats().quotaHits).toBe(4000);
  });
});
