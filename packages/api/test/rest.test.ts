// The REST API with plain fetch: routes, statuses and bodies as Home Assistant's, Bearer auth.
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startHub } from './helpers.js';

let hub: Awaited<ReturnType<typeof startHub>> | undefined;

afterEach(async () => {
  await hub?.stop();
  hub = undefined;
});

async function api(path: string, init: RequestInit & { token?: string | null } = {}) {
  const { token, ...rest } = init;
  const headers: Record<string, string> = { ...(rest.headers as Record<string, string> | undefined) };
  if (token !== null) headers.Authorization = `Bearer ${token ?? hub!.token}`;
  const res = await fetch(`${hub!.base}${path}`, { ...rest, headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // plain text
  }
  return { status: res.status, body, headers: res.headers };
}

describe('REST API', () => {
  it('401 without a token or with a wrong one; GET /api/ with one', async () => {
    hub = await startHub();
    expect(await api('/api/', { token: null })).toMatchObject({ status: 401, body: '401: Unauthorized' });
    expect(await api('/api/', { token: 'hc_wrong' })).toMatchObject({ status: 401 });
    expect(await api('/api/', { headers: { Authorization: 'Basic abc' }, token: null })).toMatchObject({ status: 401 });
    expect(await api('/api/')).toMatchObject({ status: 200, body: { message: 'API running.' } });
    expect(hub.logs.filter((l) => l.event === 'auth_failed')).toHaveLength(1); // only the wrong token counts
  });

  it('GET /api/config and /api/states and /api/states/<entity_id>', async () => {
    hub = await startHub({ config: { location_name: 'Cottage', time_zone: 'Europe/Amsterdam' } });
    hub.core.setState('light.hall', 'on', { brightness: 3 }, { context: hub.core.createContext() });
    const config = await api('/api/config');
    expect(config.body).toMatchObject({ location_name: 'Cottage', time_zone: 'Europe/Amsterdam', state: 'RUNNING' });
    expect((await api('/api/states')).body).toEqual(hub.core.getStates());
    expect((await api('/api/states/light.hall')).body).toEqual(hub.core.getState('light.hall'));
    expect(await api('/api/states/light.none')).toMatchObject({ status: 404, body: { message: 'Entity not found.' } });
    const services = (await api('/api/services')).body as Array<{ domain: string; services: Record<string, unknown> }>;
    expect(services.find((s) => s.domain === 'echo')?.services).toHaveProperty('double');
  });

  it('POST /api/states/<entity_id>: 201 for a new entity, 200 after, with Location, as the token user', async () => {
    hub = await startHub();
    const created = await api('/api/states/sensor.outside', { method: 'POST', body: JSON.stringify({ state: '12.5', attributes: { unit_of_measurement: '°C' } }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/api/states/sensor.outside');
    expect(created.body).toMatchObject({ entity_id: 'sensor.outside', state: '12.5', attributes: { unit_of_measurement: '°C' }, context: { user_id: 'user:alice' } });
    const again = await api('/api/states/sensor.outside', { method: 'POST', body: JSON.stringify({ state: '13' }) });
    expect(again.status).toBe(200);
    expect(hub.core.getState('sensor.outside')?.state).toBe('13');
  });

  it('POST /api/states rejects bad bodies with Home Assistant messages', async () => {
    hub = await startHub();
    const post = (path: string, body: string) => api(path, { method: 'POST', body });
    expect(await post('/api/states/sensor.x', '{nope')).toMatchObject({ status: 400, body: { message: 'Invalid JSON specified.' } });
    expect(await post('/api/states/sensor.x', '[1]')).toMatchObject({ status: 400, body: { message: 'State data should be a JSON object' } });
    expect(await post('/api/states/sensor.x', '{}')).toMatchObject({ status: 400, body: { message: 'No state attribute specified.' } });
    expect(await post('/api/states/not_an_entity', '{"state":"1"}')).toMatchObject({ status: 400, body: { message: 'Invalid entity ID specified.' } });
    expect(await post('/api/states/sensor.x', JSON.stringify({ state: 'x'.repeat(300) }))).toMatchObject({ status: 400, body: { message: 'Invalid state specified.' } });
    expect(await api('/api/states/sensor.x', { method: 'PUT', body: '{}' })).toMatchObject({ status: 405 });
    expect(await api('/api/nothing/here')).toMatchObject({ status: 404 });
  });

  it('POST /api/services/<domain>/<service>: the changed states, or with ?return_response the response too', async () => {
    hub = await startHub();
    const plain = await api('/api/services/echo/double', { method: 'POST', body: JSON.stringify({ value: 4 }) });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual([hub.core.getState('sensor.doubled')]);
    const withResponse = await api('/api/services/echo/double?return_response', { method: 'POST', body: JSON.stringify({ value: 5 }) });
    expect(withResponse.body).toEqual({ changed_states: [hub.core.getState('sensor.doubled')], service_response: { doubled: 10 } });
    expect(await api('/api/services/nope/x', { method: 'POST' })).toMatchObject({ status: 400, body: { message: 'Service nope.x not found.' } });
    expect(await api('/api/services/echo/double', { method: 'POST', body: 'nope' })).toMatchObject({ status: 400, body: { message: 'Data should be valid JSON.' } });
  });

  it('POST /api/events/<event_type> fires it with the caller as user, and reaches a WebSocket subscriber', async () => {
    hub = await startHub();
    const client = await RawClient.authed(hub.wsUrl, hub.token);
    await client.command(1, 'subscribe_events', { event_type: 'doorbell' });
    expect(await api('/api/events/doorbell', { method: 'POST', body: JSON.stringify({ door: 'front' }) })).toMatchObject({
      status: 200,
      body: { message: 'Event doorbell fired.' },
    });
    expect(await client.event(1)).toMatchObject({ event: { event_type: 'doorbell', data: { door: 'front' }, context: { user_id: 'user:alice' } } });
    expect(await api('/api/events/doorbell', { method: 'POST', body: '[1]' })).toMatchObject({ status: 400, body: { message: 'Event data should be a JSON object' } });
    expect(await api('/api/events/doorbell', { method: 'POST', body: '{' })).toMatchObject({ status: 400, body: { message: 'Event data should be valid JSON.' } });
    client.close();
  });

  it('refuses a body over the cap with 413 and keeps serving', async () => {
    hub = await startHub({ maxFrameBytes: 1024 });
    const res = await api('/api/states/sensor.big', { method: 'POST', body: JSON.stringify({ state: 'x', attributes: { blob: 'z'.repeat(4096) } }) });
    expect(res.status).toBe(413);
    expect(hub.core.getState('sensor.big')).toBeUndefined();
    expect((await api('/api/')).status).toBe(200);
  });

  it('a request to /api/websocket without an upgrade gets 400, other paths 404', async () => {
    hub = await startHub();
    expect((await api('/api/websocket')).status).toBe(400);
    expect((await fetch(`${hub.base}/elsewhere`)).status).toBe(404);
  });
});
