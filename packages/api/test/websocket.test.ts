// The WebSocket protocol message by message, with a raw client: the auth phase, ids, every
// command, HOMECORE's commands, and Home Assistant's error replies.
import { afterEach, describe, expect, it } from 'vitest';
import { HA_API_VERSION, WS_COMMANDS } from '@homecore/api';
import { RawClient, startHub } from './helpers.js';

let hub: Awaited<ReturnType<typeof startHub>> | undefined;
const clients: RawClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await hub?.stop();
  hub = undefined;
});

async function connect(options: Parameters<typeof startHub>[0] = {}) {
  hub ??= await startHub(options);
  const client = await RawClient.authed(hub.wsUrl, hub.token);
  clients.push(client);
  return client;
}

function raw(url: string) {
  const client = new RawClient(url);
  clients.push(client);
  return client;
}

describe('auth phase', () => {
  it('sends auth_required with ha_version, then auth_ok for a valid token', async () => {
    hub = await startHub();
    const client = raw(hub.wsUrl);
    expect(await client.next(() => true)).toEqual({ type: 'auth_required', ha_version: HA_API_VERSION });
    client.sendJson({ type: 'auth', access_token: hub.token });
    expect(await client.next(() => true)).toEqual({ type: 'auth_ok', ha_version: HA_API_VERSION });
    expect(hub.logs.some((l) => l.event === 'ws_connected' && l.user === 'user:alice')).toBe(true);
  });

  it('answers a bad token with auth_invalid and closes', async () => {
    hub = await startHub();
    const client = raw(hub.wsUrl);
    await client.next(() => true);
    client.sendJson({ type: 'auth', access_token: 'hc_wrong' });
    expect(await client.next(() => true)).toEqual({ type: 'auth_invalid', message: 'Invalid access token or password' });
    expect((await client.waitClosed()).code).toBe(1008);
  });

  it('answers a malformed auth message with auth_invalid naming the problem, and closes', async () => {
    hub = await startHub();
    const client = raw(hub.wsUrl);
    await client.next(() => true);
    client.sendJson({ type: 'auth', access_token: 5 });
    const reply = (await client.next(() => true)) as { type: string; message: string };
    expect(reply.type).toBe('auth_invalid');
    expect(reply.message).toMatch(/^Auth message incorrectly formatted: expected str for dictionary value @ data\['access_token'\]/);
    await client.waitClosed();
  });

  it('rate-limits repeated failures from one address, even with a good token afterwards', async () => {
    hub = await startHub({ authRateLimit: { maxFailures: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++) {
      const bad = raw(hub.wsUrl);
      await bad.next(() => true);
      bad.sendJson({ type: 'auth', access_token: `hc_wrong_${i}` });
      expect(((await bad.next(() => true)) as { message: string }).message).toBe('Invalid access token or password');
      await bad.waitClosed();
    }
    const good = raw(hub.wsUrl);
    await good.next(() => true);
    good.sendJson({ type: 'auth', access_token: hub.token });
    const reply = (await good.next(() => true)) as { type: string; message: string };
    expect(reply.type).toBe('auth_invalid');
    expect(reply.message).toMatch(/^Too many failed login attempts/);
    expect(hub.logs.some((l) => l.event === 'auth_rate_limited')).toBe(true);
    // REST is refused from that address too.
    const res = await fetch(`${hub.base}/api/`, { headers: { Authorization: `Bearer ${hub.token}` } });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('lets an address try again once the window has passed since its last failure', async () => {
    let time = 5_000_000;
    hub = await startHub({ authRateLimit: { maxFailures: 1, windowMs: 60_000 }, now: () => time });
    const bad = raw(hub.wsUrl);
    await bad.next(() => true);
    bad.sendJson({ type: 'auth', access_token: 'hc_wrong' });
    await bad.waitClosed();
    expect((await fetch(`${hub.base}/api/`, { headers: { Authorization: `Bearer ${hub.token}` } })).status).toBe(429);
    time += 60_000;
    expect((await fetch(`${hub.base}/api/`, { headers: { Authorization: `Bearer ${hub.token}` } })).status).toBe(200);
    const good = await RawClient.authed(hub.wsUrl, hub.token);
    clients.push(good);
    expect(await good.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
  });

  it('closes a connection that does not authenticate in time', async () => {
    hub = await startHub({ authTimeoutMs: 50 });
    const client = raw(hub.wsUrl);
    expect((await client.waitClosed()).code).toBe(1008);
  });

  it('handles commands a client pipelined right after its auth message', async () => {
    hub = await startHub();
    const client = raw(hub.wsUrl);
    await client.next(() => true);
    client.sendJson({ type: 'auth', access_token: hub.token });
    client.sendJson({ id: 1, type: 'ping' });
    expect(await client.reply(1)).toEqual({ id: 1, type: 'pong' });
  });
});

describe('commands', () => {
  it('answers ping with pong, and get_states / get_config / get_services with results', async () => {
    const c = await connect();
    hub!.core.setState('light.hall', 'on', {}, { context: hub!.core.createContext() });
    expect(await c.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
    const states = await c.command(2, 'get_states');
    expect(states).toMatchObject({ id: 2, type: 'result', success: true });
    expect(states.result).toEqual(hub!.core.getStates());
    const config = (await c.command(3, 'get_config')) as { result: Record<string, unknown> };
    expect(config.result).toMatchObject({ version: HA_API_VERSION, state: 'RUNNING', time_zone: 'UTC', unit_system: { temperature: '°C' } });
    const services = (await c.command(4, 'get_services')) as { result: Record<string, Record<string, unknown>> };
    expect(Object.keys(services.result.echo ?? {})).toEqual(['double']);
    expect(await c.command(5, 'supported_features', { features: { coalesce_messages: 1 } })).toMatchObject({ success: true, result: null });
  });

  it('coalesces the messages of one turn into one JSON array frame once the client asks for coalesce_messages', async () => {
    const c = await connect();
    const frames: string[] = [];
    c.ws.on('message', (data) => frames.push(data.toString()));
    await c.command(1, 'subscribe_events', { event_type: 'burst' });
    const ctx = hub!.core.createContext();
    hub!.core.fireEvent('burst', { n: 0 }, ctx);
    hub!.core.fireEvent('burst', { n: 1 }, ctx);
    await c.event(1);
    await c.event(1);
    expect(frames.slice(-2).every((f) => f.startsWith('{'))).toBe(true); // one frame each before
    expect(await c.command(2, 'supported_features', { features: { coalesce_messages: 1 } })).toMatchObject({ success: true });
    frames.length = 0;
    for (let n = 0; n < 3; n++) hub!.core.fireEvent('burst', { n }, ctx);
    for (let n = 0; n < 3; n++) expect(await c.event(1)).toMatchObject({ event: { data: { n } } });
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0]!)).toHaveLength(3);
  });

  it('subscribes to all events or one type, and unsubscribes', async () => {
    const c = await connect();
    expect(await c.command(1, 'subscribe_events')).toEqual({ id: 1, type: 'result', success: true, result: null });
    expect(await c.command(2, 'subscribe_events', { event_type: 'my_event' })).toMatchObject({ success: true });
    const fired = (await c.command(3, 'fire_event', { event_type: 'my_event', event_data: { n: 1 } })) as { result: { context: { user_id: string } } };
    expect(fired.result.context.user_id).toBe('user:alice');
    const all = (await c.event(1)) as { event: Record<string, unknown> };
    const typed = (await c.event(2)) as { event: Record<string, unknown> };
    expect(all.event).toMatchObject({ event_type: 'my_event', data: { n: 1 }, origin: 'LOCAL', context: fired.result.context });
    expect(typed.event).toEqual(all.event);
    expect(await c.command(4, 'unsubscribe_events', { subscription: 2 })).toMatchObject({ success: true });
    expect(await c.command(5, 'unsubscribe_events', { subscription: 2 })).toEqual({
      id: 5,
      type: 'result',
      success: false,
      error: { code: 'not_found', message: 'Subscription not found.' },
    });
  });

  it('never sends state_reported to an all-events subscription (Home Assistant does not)', async () => {
    const c = await connect();
    await c.command(1, 'subscribe_events');
    await c.command(2, 'subscribe_events', { event_type: 'state_reported' });
    const ctx = hub!.core.createContext();
    hub!.core.setState('sensor.same', '1', {}, { context: ctx });
    hub!.core.setState('sensor.same', '1', {}, { context: ctx }); // state_reported
    hub!.core.fireEvent('marker', {}, ctx);
    const reported = (await c.event(2)) as { event: { event_type: string } };
    expect(reported.event.event_type).toBe('state_reported');
    const seen: string[] = [];
    for (;;) {
      const e = (await c.event(1)) as { event: { event_type: string } };
      seen.push(e.event.event_type);
      if (e.event.event_type === 'marker') break;
    }
    expect(seen).toEqual(['state_changed', 'marker']);
  });

  it('calls services with the caller as user, merging target into the data, with and without a response', async () => {
    const c = await connect();
    const calls: unknown[] = [];
    hub!.core.registerService('light', 'turn_on', (call) => {
      calls.push({ data: call.data, user: call.context.user_id });
      return { ok: true };
    });
    const plain = (await c.command(1, 'call_service', { domain: 'light', service: 'turn_on', service_data: { brightness: 5 }, target: { entity_id: 'light.a' } })) as {
      result: Record<string, unknown>;
    };
    expect(Object.keys(plain.result)).toEqual(['context']);
    expect(calls).toEqual([{ data: { brightness: 5, entity_id: 'light.a' }, user: 'user:alice' }]);
    const withResponse = (await c.command(2, 'call_service', { domain: 'light', service: 'turn_on', return_response: true })) as { result: Record<string, unknown> };
    expect(withResponse.result.response).toEqual({ ok: true });
  });

  it("answers an unknown service with not_found and a failing one with the failure, as Home Assistant's codes", async () => {
    const c = await connect();
    expect(await c.command(1, 'call_service', { domain: 'nope', service: 'x' })).toMatchObject({
      success: false,
      error: { code: 'not_found', message: 'Service nope.x not found.', homecore_code: 'HC_ERR_SERVICE_NOT_FOUND' },
    });
    hub!.core.registerService('broken', 'go', () => {
      throw new Error('device offline');
    });
    const failed = (await c.command(2, 'call_service', { domain: 'broken', service: 'go' })) as { error: { code: string; message: string } };
    expect(failed.error.code).toBe('home_assistant_error');
    expect(failed.error.message).toMatch(/device offline/);
    const badEvent = (await c.command(3, 'fire_event', { event_type: 'Bad Type!' })) as { success: boolean; error: { code: string } };
    expect(badEvent.success).toBe(false);
    expect(['invalid_format', 'home_assistant_error']).toContain(badEvent.error.code);
  });

  it('subscribe_entities sends the compressed states, then a/c/r updates, optionally for some entity ids', async () => {
    const c = await connect();
    const ctx = hub!.core.createContext();
    const a = hub!.core.setState('sensor.a', '1', { keep: 1, drop: 2 }, { context: ctx });
    expect(await c.command(1, 'subscribe_entities', { entity_ids: ['sensor.a', 'sensor.new'] })).toMatchObject({ success: true, result: null });
    const first = (await c.event(1)) as { event: { a: Record<string, Record<string, unknown>> } };
    expect(Object.keys(first.event.a)).toEqual(['sensor.a']);
    const compressed = first.event.a['sensor.a']!;
    expect(Object.keys(compressed).sort()).toEqual(['a', 'c', 'lc', 's']); // no lu: it equals lc
    expect(compressed).toMatchObject({ s: '1', a: { keep: 1, drop: 2 }, c: a.context.id }); // c: a plain id (no parent, no user)
    // Seconds since the epoch with the microseconds of HA's timestamp.
    expect(compressed.lc as number).toBeCloseTo(Date.parse(a.last_changed) / 1000 + Number(`0.000${a.last_changed.slice(23, 26)}`), 6);

    const userCtx = hub!.core.createContext({ userId: 'bob' });
    hub!.core.setState('sensor.a', '1', { keep: 3 }, { context: userCtx }); // attributes only: lu, not lc
    const change = (await c.event(1)) as { event: { c: Record<string, { '+': Record<string, unknown>; '-': { a: string[] } }> } };
    const diff = change.event.c['sensor.a']!;
    expect(diff['+'].s).toBeUndefined();
    expect(diff['+'].lc).toBeUndefined();
    expect(typeof diff['+'].lu).toBe('number');
    expect(diff['+'].a).toEqual({ keep: 3 });
    expect(diff['+'].c).toEqual({ user_id: 'bob', id: userCtx.id });
    expect(diff['-']).toEqual({ a: ['drop'] });

    hub!.core.setState('sensor.other', 'x', {}, { context: ctx }); // filtered out
    hub!.core.setState('sensor.new', 'x', {}, { context: ctx });
    const added = (await c.event(1)) as { event: { a: Record<string, unknown> } };
    expect(Object.keys(added.event.a)).toEqual(['sensor.new']);
    hub!.core.removeState('sensor.a', ctx);
    expect(((await c.event(1)) as { event: unknown }).event).toEqual({ r: ['sensor.a'] });
  });

  it('lists its commands', () => {
    expect(WS_COMMANDS).toEqual(expect.arrayContaining(['ping', 'get_states', 'subscribe_entities', 'call_service', 'homecore/plugins', 'homecore/reload']));
  });
});

describe("HOMECORE's commands", () => {
  it('lists plugins with health and entries, stats and the audit trail', async () => {
    const c = await connect();
    const plugins = (await c.command(1, 'homecore/plugins')) as { result: Array<Record<string, unknown>> };
    expect(plugins.result).toHaveLength(1);
    expect(plugins.result[0]).toMatchObject({ id: 'echo', name: 'Echo', version: '1.0.0', runtime: 'native', state: 'loaded', health: 'ok', reason: null });
    expect(plugins.result[0]!.entries).toEqual([hub!.registry.getConfig('echo')]);
    expect(((await c.command(2, 'homecore/entries', { domain: 'echo' })) as { result: unknown }).result).toEqual(await hub!.registry.entries('echo'));
    const stats = (await c.command(3, 'homecore/stats')) as { result: { plugins: Record<string, unknown> } };
    expect(Object.keys(stats.result.plugins)).toEqual(['echo']);
    const audit = (await c.command(4, 'homecore/audit', { plugin: 'echo' })) as { result: unknown[] };
    expect(audit.result).toEqual(hub!.registry.audit('echo'));
  });

  it('reloads a plugin, and answers not_found for an unknown one', async () => {
    const c = await connect();
    const reloaded = (await c.command(1, 'homecore/reload', { plugin: 'echo' })) as { result: Record<string, unknown> };
    expect(reloaded.result).toMatchObject({ id: 'echo', state: 'loaded' });
    expect(await c.command(2, 'homecore/reload', { plugin: 'ghost' })).toMatchObject({
      success: false,
      error: { code: 'not_found', homecore_code: 'HC_ERR_PLUGIN_NOT_FOUND' },
    });
  });

  it('updates a config entry (options) through the registry', async () => {
    const c = await connect();
    const updated = (await c.command(1, 'homecore/entry/update', { plugin: 'echo', options: { mode: 'fast' }, title: 'Fast echo' })) as {
      result: Record<string, unknown>;
    };
    expect(updated.result).toMatchObject({ domain: 'echo', title: 'Fast echo', options: { mode: 'fast' } });
    expect(hub!.registry.getConfig('echo')?.options).toEqual({ mode: 'fast' });
  });

  it('adds a second entry of a plugin and removes it; a duplicate unique_id gets an error reply', async () => {
    const c = await connect();
    const added = (await c.command(1, 'homecore/entry/add', { plugin: 'echo', title: 'Second echo', unique_id: 'two' })) as { result: { entry_id: string; title: string; state: string } };
    expect(added.result).toMatchObject({ title: 'Second echo', state: 'loaded' });
    expect((await hub!.registry.entries('echo')).map((e) => e.entry_id)).toContain(added.result.entry_id);
    const again = (await c.command(2, 'homecore/entry/add', { plugin: 'echo', unique_id: 'two' })) as { success: boolean; error: { homecore_code?: string } };
    expect(again).toMatchObject({ success: false, error: { homecore_code: 'HC_ERR_ALREADY_CONFIGURED' } });
    expect(await c.command(3, 'homecore/entry/remove', { entry_id: added.result.entry_id })).toMatchObject({ success: true, result: { removed: added.result.entry_id } });
    expect((await hub!.registry.entries('echo')).map((e) => e.entry_id)).not.toContain(added.result.entry_id);
    expect(await c.command(4, 'homecore/entry/remove', { entry_id: 'nope' })).toMatchObject({ success: false, error: { homecore_code: 'HC_ERR_CONFIG_ENTRY_NOT_FOUND' } });
  });

  it('disables and enables an entry, and clears a quarantine', async () => {
    const c = await connect();
    const disabled = (await c.command(1, 'homecore/entry/disable', { plugin: 'echo' })) as { result: { state: string; entries: Array<Record<string, unknown>> } };
    expect(disabled.result.entries[0]).toMatchObject({ disabled_by: 'user', state: 'not_loaded' });
    expect(hub!.registry.getConfig('echo')?.disabled_by).toBe('user');
    const enabled = (await c.command(2, 'homecore/entry/enable', { plugin: 'echo' })) as { result: { state: string; entries: Array<Record<string, unknown>> } };
    expect(enabled.result).toMatchObject({ state: 'loaded' });
    expect(enabled.result.entries[0]).toMatchObject({ disabled_by: null });
    expect(await c.command(3, 'homecore/clear_quarantine', { plugin: 'echo' })).toMatchObject({ success: true, result: { cleared: false } });
    expect(await c.command(4, 'homecore/entry/disable', { plugin: 'ghost' })).toMatchObject({ success: false, error: { code: 'not_found' } });
  });
});

describe('bad input gets Home Assistant replies and never crashes the server', () => {
  it('invalid_format for messages without a proper id or type, echoing the id when there is one', async () => {
    const c = await connect();
    const error = { code: 'invalid_format', message: 'Message incorrectly formatted.' };
    c.sendJson({ type: 'ping' });
    expect(await c.next((m) => (m as { id?: unknown }).id === null)).toEqual({ id: null, type: 'result', success: false, error });
    c.sendJson({ id: 7 });
    expect(await c.reply(7)).toEqual({ id: 7, type: 'result', success: false, error });
    c.sendJson({ id: -3, type: 'ping' });
    expect(await c.reply(-3)).toMatchObject({ success: false, error });
    c.sendJson({ id: 1.5, type: 'ping' });
    expect(await c.reply(1.5)).toMatchObject({ success: false, error });
    c.sendJson([1, 2]);
    expect(await c.next((m) => (m as { id?: unknown }).id === null)).toMatchObject({ error });
    expect(await c.command(8, 'ping')).toEqual({ id: 8, type: 'pong' });
  });

  it('id_reuse for an id that does not increase; unknown_command for an unknown type', async () => {
    const c = await connect();
    await c.command(5, 'ping');
    expect(await c.command(5, 'ping')).toEqual({
      id: 5,
      type: 'result',
      success: false,
      error: { code: 'id_reuse', message: 'Identifier values have to increase.' },
    });
    expect(await c.command(4, 'get_states')).toMatchObject({ error: { code: 'id_reuse' } });
    expect(await c.command(6, 'no_such_thing')).toEqual({
      id: 6,
      type: 'result',
      success: false,
      error: { code: 'unknown_command', message: 'Unknown command.' },
    });
    // An unknown command does not use its id up (as in Home Assistant).
    expect(await c.command(6, 'ping')).toEqual({ id: 6, type: 'pong' });
  });

  it('invalid_format with voluptuous-style messages for missing, mistyped and extra fields', async () => {
    const c = await connect();
    expect(((await c.command(1, 'call_service', { service: 'x' })) as { error: unknown }).error).toEqual({
      code: 'invalid_format',
      message: "required key not provided @ data['domain']. Got None",
    });
    expect(((await c.command(2, 'call_service', { domain: 1, service: 'x' })) as { error: { message: string } }).error.message).toBe(
      "expected str for dictionary value @ data['domain']. Got 1",
    );
    expect(((await c.command(3, 'get_states', { extra: true })) as { error: { message: string } }).error.message).toBe(
      "extra keys not allowed @ data['extra']. Got true",
    );
    expect(((await c.command(4, 'unsubscribe_events', { subscription: -1 })) as { error: { code: string } }).error.code).toBe('invalid_format');
    expect(((await c.command(5, 'subscribe_events', { event_type: ['a'] })) as { error: { code: string } }).error.code).toBe('invalid_format');
    // A command that failed validation still used its id up.
    expect(((await c.command(5, 'ping')) as { error: { code: string } }).error.code).toBe('id_reuse');
  });

  it('closes the connection on malformed JSON (Home Assistant disconnects) and keeps serving others', async () => {
    const c = await connect();
    const other = await connect();
    c.ws.send('{"id": 1, "type": ');
    const closed = await c.waitClosed();
    expect(closed).toEqual({ code: 1007, reason: 'Received invalid JSON.' });
    expect(await other.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
    expect(hub!.logs.some((l) => l.event === 'invalid_json')).toBe(true);
  });

  it('closes a connection that sends a frame over the cap (1009), and keeps serving others', async () => {
    const c = await connect({ maxFrameBytes: 1024 });
    const other = await connect();
    c.sendJson({ id: 1, type: 'fire_event', event_type: 'big', event_data: { blob: 'x'.repeat(2000) } });
    expect((await c.waitClosed()).code).toBe(1009);
    expect(await other.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
  });

  it('refuses subscriptions beyond the cap with not_allowed, and frees them on unsubscribe', async () => {
    const c = await connect({ maxSubscriptions: 50 });
    for (let id = 1; id <= 50; id++) c.sendJson({ id, type: 'subscribe_events', event_type: `e${id}` });
    for (let id = 1; id <= 50; id++) expect(await c.reply(id)).toMatchObject({ success: true });
    expect(hub!.server.subscriptions).toBe(50);
    const refused = (await c.command(51, 'subscribe_entities')) as { error: { code: string; message: string } };
    expect(refused.error.code).toBe('not_allowed');
    expect(refused.error.message).toMatch(/limit is 50/);
    await c.command(52, 'unsubscribe_events', { subscription: 1 });
    expect(await c.command(53, 'subscribe_events')).toMatchObject({ success: true });
    c.close();
    await c.waitClosed();
    await expect.poll(() => hub!.server.subscriptions).toBe(0);
  });

  it('survives thousands of subscription requests from one client at the default cap', async () => {
    const c = await connect();
    const n = 3000;
    for (let id = 1; id <= n; id++) c.sendJson({ id, type: 'subscribe_events', event_type: 'flood' });
    const last = await c.reply(n);
    expect(last).toMatchObject({ success: false, error: { code: 'not_allowed' } });
    expect(hub!.server.subscriptions).toBe(1000);
    hub!.core.fireEvent('flood', {}, hub!.core.createContext());
    expect(await c.event(1000)).toMatchObject({ event: { event_type: 'flood' } });
  });

  it('drops a client that never reads once its send buffer passes the cap, and keeps serving others', async () => {
    hub = await startHub({ maxBufferedBytes: 256 * 1024 });
    const slow = await RawClient.authed(hub.wsUrl, hub.token);
    clients.push(slow);
    const other = await connect();
    await slow.command(1, 'subscribe_events', { event_type: 'blob' });
    // The slow client stops reading: the kernel buffers fill, then the server's buffer does.
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const blob = 'y'.repeat(64 * 1024);
    const ctx = hub.core.createContext();
    for (let i = 0; i < 2000 && !hub.logs.some((l) => l.event === 'slow_client_dropped'); i++) {
      hub.core.fireEvent('blob', { blob, i }, ctx);
      if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(hub.logs.some((l) => l.event === 'slow_client_dropped')).toBe(true);
    await expect.poll(() => hub!.server.connections).toBe(1);
    expect(await other.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
  });

  it('ignores binary frames after authentication', async () => {
    const c = await connect();
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await c.command(1, 'ping')).toEqual({ id: 1, type: 'pong' });
  });

  it('close() closes every connection with 1001 and stops accepting', async () => {
    const c = await connect();
    await c.command(1, 'subscribe_events');
    const url = hub!.wsUrl;
    await hub!.server.close();
    expect((await c.waitClosed()).code).toBe(1001);
    expect(hub!.server.address).toBeNull();
    const late = raw(url);
    await late.waitClosed();
    expect(late.messages).toEqual([]);
  });
});
