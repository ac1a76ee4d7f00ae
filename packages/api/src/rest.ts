// Home Assistant's REST API subset (homeassistant/components/api/__init__.py): the same routes,
// bodies, statuses and messages, behind `Authorization: Bearer <long-lived access token>`.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cachedJson, type BusEvent, type EntityState, type EventContext, type JsonValue, type StateChangedData } from '@homecore/core-traits';
import { mapError } from './errors.js';
import { isPlainObject } from './protocol.js';
import type { ServerState } from './state.js';
import type { TokenUser } from './tokens.js';

class BodyTooLarge extends Error {}

function send(res: ServerResponse, status: number, body: string, type = 'application/json', headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

// cachedJson: JSON.stringify byte for byte, reusing the core's cached JSON of each state.
const json = (res: ServerResponse, status: number, value: unknown, headers?: Record<string, string>) => send(res, status, cachedJson(value), 'application/json', headers);
const message = (res: ServerResponse, status: number, text: string) => json(res, status, { message: text });
// aiohttp's plain-text errors, which Home Assistant's middleware answers with.
const plain = (res: ServerResponse, status: number, text: string, headers?: Record<string, string>) =>
  send(res, status, `${status}: ${text}`, 'text/plain; charset=utf-8', headers);

function readBody(req: IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        req.removeAllListeners('data');
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

function bearer(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** Handles one request under `/api/` (the caller has checked the prefix). */
export async function handleRest(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const address = clientAddress(req);
  const wait = state.limiter.blockedFor(address);
  if (wait > 0) {
    state.log({ level: 'warn', event: 'auth_rate_limited', client: address, message: `too many failed logins; refused for ${Math.ceil(wait / 1000)} s more` });
    plain(res, 429, 'Too Many Requests', { 'Retry-After': String(Math.ceil(wait / 1000)) });
    return;
  }
  const token = bearer(req);
  let user: TokenUser | undefined;
  try {
    user = token === undefined ? undefined : await state.tokens.verify(token);
  } catch (error) {
    state.log({ level: 'warn', event: 'auth_failed', client: address, message: `the token store cannot be read: ${mapError(error).message}` });
    plain(res, 401, 'Unauthorized');
    return;
  }
  if (user === undefined) {
    if (token !== undefined) {
      state.limiter.fail(address);
      state.log({ level: 'warn', event: 'auth_failed', client: address, message: 'invalid access token (REST)' });
    }
    plain(res, 401, 'Unauthorized');
    return;
  }
  state.limiter.succeed(address);
  try {
    await route(state, user, req, res);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      plain(res, 413, 'Request Entity Too Large', { Connection: 'close' });
      return;
    }
    const mapped = mapError(error);
    message(res, mapped.status === 404 ? 400 : mapped.status, mapped.message);
  }
}

async function route(state: ServerState, user: TokenUser, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const context = () => state.core.createContext({ userId: user.userId });
  const segments = path.split('/').slice(2).map((s) => decodeURIComponent(s)); // after "/api"
  const [first = '', second, third, ...more] = segments;
  const notAllowed = () => plain(res, 405, 'Method Not Allowed');

  if (segments.length === 1 && first === '') {
    if (method !== 'GET') return notAllowed();
    return message(res, 200, 'API running.');
  }
  if (first === 'config' && second === undefined) {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.haConfig());
  }
  if (first === 'services' && second === undefined) {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, Object.entries(state.catalog.describe()).map(([domain, services]) => ({ domain, services })));
  }
  if (first === 'states' && second === undefined) {
    if (method !== 'GET') return notAllowed();
    return json(res, 200, state.core.getStates());
  }
  if (first === 'states' && second !== undefined && third === undefined) {
    return entityState(state, second, method, context, req, res);
  }
  if (first === 'services' && second !== undefined && third !== undefined && more.length === 0) {
    if (method !== 'POST') return notAllowed();
    return callService(state, second, third, url.searchParams.has('return_response'), context(), req, res);
  }
  if (first === 'events' && second !== undefined && third === undefined) {
    if (method !== 'POST') return notAllowed();
    const body = await readBody(req, state.maxFrameBytes);
    let data: unknown = null;
    try {
      data = body === '' ? null : JSON.parse(body);
    } catch {
      return message(res, 400, 'Event data should be valid JSON.');
    }
    if (data !== null && !isPlainObject(data)) return message(res, 400, 'Event data should be a JSON object');
    state.core.fireEvent(second, (data as Record<string, JsonValue> | null) ?? {}, context());
    return message(res, 200, `Event ${second} fired.`);
  }
  return plain(res, 404, 'Not Found');
}

async function entityState(
  state: ServerState,
  entityId: string,
  method: string,
  context: () => EventContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (method === 'GET') {
    const found = state.core.getState(entityId);
    return found === undefined ? message(res, 404, 'Entity not found.') : json(res, 200, found);
  }
  if (method === 'DELETE') {
    return state.core.removeState(entityId, context()) ? message(res, 200, 'Entity removed.') : message(res, 404, 'Entity not found.');
  }
  if (method !== 'POST') return plain(res, 405, 'Method Not Allowed');
  const body = await readBody(req, state.maxFrameBytes);
  let data: unknown;
  try {
    data = body === '' ? null : JSON.parse(body);
  } catch {
    return message(res, 400, 'Invalid JSON specified.');
  }
  if (!isPlainObject(data)) return message(res, 400, 'State data should be a JSON object');
  if (data.state === undefined || data.state === null) return message(res, 400, 'No state attribute specified.');
  if (data.attributes !== undefined && data.attributes !== null && !isPlainObject(data.attributes)) return message(res, 400, 'Invalid state specified.');
  const isNew = state.core.getState(entityId) === undefined;
  let written: EntityState;
  try {
    written = state.core.setState(
      entityId,
      typeof data.state === 'string' ? data.state : JSON.stringify(data.state),
      (data.attributes as Record<string, JsonValue> | null | undefined) ?? undefined,
      { context: context(), forceUpdate: data.force_update === true },
    );
  } catch (error) {
    const code = mapError(error).homecoreCode;
    if (code === 'HC_ERR_ENTITY_ID_INVALID') return message(res, 400, 'Invalid entity ID specified.');
    if (code === 'HC_ERR_STATE_INVALID') return message(res, 400, 'Invalid state specified.');
    throw error;
  }
  return json(res, isNew ? 201 : 200, written, { Location: `/api/states/${written.entity_id}` });
}

async function callService(
  state: ServerState,
  domain: string,
  service: string,
  returnResponse: boolean,
  context: EventContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const body = await readBody(req, state.maxFrameBytes);
  let data: unknown;
  try {
    data = body === '' ? null : JSON.parse(body);
  } catch {
    return message(res, 400, 'Data should be valid JSON.');
  }
  if (data !== null && !isPlainObject(data)) return message(res, 400, 'Data should be a JSON object.');
  // The states this call changed: writes with its context, or made while handling it (a plugin's
  // writes carry the call's context as their parent).
  const changed: EntityState[] = [];
  const unlisten = state.core.listen((event: BusEvent) => {
    if (event.event_type !== 'state_changed') return;
    const ctx = event.context;
    if (ctx.id !== context.id && ctx.parent_id !== context.id) return;
    const next = (event.data as unknown as StateChangedData).new_state;
    if (next !== null) changed.push(next);
  });
  let response: unknown;
  try {
    response = await state.core.callService(domain, service, (data as Record<string, JsonValue> | null) ?? {}, { context, returnResponse });
  } catch (error) {
    const mapped = mapError(error);
    if (mapped.homecoreCode === 'HC_ERR_SERVICE_NOT_FOUND') return message(res, 400, `Service ${domain}.${service} not found.`);
    return message(res, mapped.status === 404 ? 400 : mapped.status, mapped.message);
  } finally {
    unlisten();
  }
  return json(res, 200, returnResponse ? { changed_states: changed, service_response: response ?? null } : changed);
}
