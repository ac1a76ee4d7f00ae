// Home Assistant's own frontend library drives the server over a real port: authentication,
// states, config, services, entity subscriptions (the compressed form) and service calls.
import { WebSocket } from 'ws';
import {
  callService,
  createConnection,
  createLongLivedTokenAuth,
  ERR_INVALID_AUTH,
  getConfig,
  getServices,
  getStates,
  subscribeEntities,
  type Connection,
  type HassEntities,
} from 'home-assistant-js-websocket';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHub } from './helpers.js';

// Node 20 has no global WebSocket; the library's own createSocket uses the global, so give it ws's.
beforeAll(() => {
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
    (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
  }
});

let hub: Awaited<ReturnType<typeof startHub>> | undefined;
let conn: Connection | undefined;

afterEach(async () => {
  conn?.close();
  conn = undefined;
  await hub?.stop();
  hub = undefined;
});

function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) resolve();
      else if (Date.now() - started > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 5);
    };
    tick();
  });
}

describe('home-assistant-js-websocket against the API server', () => {
  it('authenticates, reads states, config and services, and calls a service with a response', async () => {
    hub = await startHub();
    hub.core.setState('light.kitchen', 'off', { friendly_name: 'Kitchen' }, { context: hub.core.createContext() });
    conn = await createConnection({ auth: createLongLivedTokenAuth(hub.base, hub.token) });
    expect(conn.haVersion).toMatch(/^20\d\d\.\d+\.\d+$/);

    const states = await getStates(conn);
    expect(states.find((s) => s.entity_id === 'light.kitchen')).toMatchObject({ state: 'off', attributes: { friendly_name: 'Kitchen' } });

    const config = await getConfig(conn);
    expect(config.components).toContain('echo');
    expect(config.location_name).toBe('Home');

    const services = await getServices(conn);
    expect(services.echo?.double).toMatchObject({ description: 'Doubles a number', fields: { value: { description: 'The number', required: true } } });

    const result = (await callService(conn, 'echo', 'double', { value: 21 }, undefined, true)) as {
      context: { id: string; user_id: string };
      response: { doubled: number };
    };
    expect(result.response).toEqual({ doubled: 42 });
    expect(result.context.user_id).toBe('user:alice');
    const doubled = hub.core.getState('sensor.doubled');
    expect(doubled?.state).toBe('42');
    // The plugin's write is attributed to the plugin, caused by the API user's call.
    expect(doubled?.context.user_id).toBe('plugin:echo');
    expect(doubled?.context.parent_id).toBe(result.context.id);
  });

  it('keeps subscribeEntities in step with the core: adds, changes (state, attributes, removed attributes) and removals', async () => {
    hub = await startHub();
    const ctx = () => hub!.core.createContext();
    hub.core.setState('sensor.a', '1', { unit: 'W', extra: true }, { context: ctx() });
    conn = await createConnection({ auth: createLongLivedTokenAuth(hub.base, hub.token) });
    let entities: HassEntities = {};
    subscribeEntities(conn, (e) => (entities = e));
    await waitFor(() => entities['sensor.a'] !== undefined, 'the initial states');
    expect(entities['sensor.a']).toMatchObject({ state: '1', attributes: { unit: 'W', extra: true } });

    hub.core.setState('sensor.a', '2', { unit: 'kW' }, { context: hub.core.createContext({ userId: 'someone' }) });
    hub.core.setState('sensor.b', 'new', { nested: { x: [1, 2] } }, { context: ctx() });
    await waitFor(() => entities['sensor.a']?.state === '2' && entities['sensor.b'] !== undefined, 'the change and the addition');
    expect(entities['sensor.a']?.attributes).toEqual({ unit: 'kW' });
    expect(entities['sensor.a']?.context.user_id).toBe('someone');
    expect(entities['sensor.b']).toMatchObject({ state: 'new', attributes: { nested: { x: [1, 2] } } });

    // A plugin reacting to a write made through the API shows up too.
    hub.core.setState('input_number.target', '7', {}, { context: ctx() });
    await waitFor(() => entities['sensor.echo']?.state === '7', "the plugin's write");

    hub.core.removeState('sensor.b', ctx());
    await waitFor(() => entities['sensor.b'] === undefined, 'the removal');

    // Every entity the client holds matches the core (state, attributes, context).
    for (const state of hub.core.getStates()) {
      expect(entities[state.entity_id], state.entity_id).toMatchObject({ state: state.state, attributes: state.attributes, context: state.context });
      expect(Date.parse(entities[state.entity_id]!.last_changed)).toBe(Math.floor(Date.parse(state.last_changed)));
    }
    expect(Object.keys(entities).sort()).toEqual(hub.core.getStates().map((s) => s.entity_id).sort());
  });

  it('is refused with a wrong token, as Home Assistant refuses it', async () => {
    hub = await startHub();
    await expect(createConnection({ auth: createLongLivedTokenAuth(hub.base, 'hc_not-a-token') })).rejects.toBe(ERR_INVALID_AUTH);
  });
});
