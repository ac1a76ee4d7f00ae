// One WebSocket client, through Home Assistant's two phases (websocket_api/http.py, auth.py,
// connection.py): the auth phase (`auth_required`, `auth` -> `auth_ok` | `auth_invalid` and close),
// then commands with increasing ids, answered with `result` (or `pong`) and followed by `event`s.
import type { WebSocket } from 'ws';
import type { EntityState, EventContext, JsonValue } from '@homecore/core-traits';
import { compressState } from './compressed.js';
import { mapError } from './errors.js';
import type { Subscription } from './hub.js';
import { WsErrorCode, checkCommand, errorMessage, isPlainObject, resultMessage, type CommandSchema } from './protocol.js';
import type { ServerState } from './state.js';
import type { TokenUser } from './tokens.js';

type Msg = Record<string, unknown> & { id: number; type: string };

interface Command {
  readonly schema: CommandSchema;
  readonly run: (conn: WsConnection, msg: Msg) => void | Promise<void>;
}

/** Messages a client may send while its token is being checked; more closes the connection. */
const MAX_EARLY_MESSAGES = 64;

export class WsConnection {
  private phase: 'auth' | 'checking' | 'active' | 'closed' = 'auth';
  private user: TokenUser | undefined;
  private lastId = 0;
  private readonly subscriptions = new Map<number, Subscription>();
  private readonly early: string[] = [];
  private readonly outbox: string[] = [];
  private outboxBytes = 0;
  private coalesce = false;
  private corked = false;
  private readonly authTimer: NodeJS.Timeout;

  constructor(
    private readonly ws: WebSocket,
    readonly address: string,
    private readonly server: ServerState,
  ) {
    ws.on('message', (data, isBinary) => this.onFrame(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', (error) => {
      // ws reports protocol violations (a frame over maxPayload: close code 1009) here, then closes.
      const tooLarge = /max payload|too big/i.test(error.message);
      this.server.log({
        level: 'warn',
        event: tooLarge ? 'frame_too_large' : 'ws_error',
        client: address,
        ...(this.user ? { user: this.user.userId } : {}),
        message: tooLarge ? `a frame over ${server.maxFrameBytes} bytes closed the connection (1009)` : error.message,
      });
    });
    this.authTimer = setTimeout(() => {
      if (this.phase === 'auth' || this.phase === 'checking') this.close(1008, 'Did not receive auth message within the time limit');
    }, server.authTimeoutMs);
    this.authTimer.unref?.();
    this.sendRaw(JSON.stringify({ type: 'auth_required', ha_version: server.haVersion }));
  }

  /** The user, once authenticated. */
  get userId(): string | null {
    return this.user?.userId ?? null;
  }

  /**
   * Sends one message, or drops the client when too much is waiting for it. A client that asked for
   * `coalesce_messages` (supported_features) gets the messages of one turn of the event loop as one
   * JSON array in one frame, as Home Assistant's writer coalesces them.
   */
  send(text: string): void {
    if (this.phase === 'closed') return;
    if (this.ws.bufferedAmount + this.outboxBytes > this.server.maxBufferedBytes) {
      this.server.log({
        level: 'warn',
        event: 'slow_client_dropped',
        client: this.address,
        ...(this.user ? { user: this.user.userId } : {}),
        message: `client unable to keep up: more than ${this.server.maxBufferedBytes} bytes waiting to be sent, disconnected`,
      });
      this.phase = 'closed';
      this.outbox.length = 0;
      this.outboxBytes = 0;
      this.dispose();
      this.ws.terminate();
      return;
    }
    if (!this.coalesce) {
      // One frame per message, but the frames of one turn go to the kernel in one write: the
      // socket is corked for the turn (ws has no public call for it; without one, frames go singly).
      if (!this.corked) {
        const socket = (this.ws as unknown as { _socket?: { cork?: () => void; uncork?: () => void } })._socket;
        if (typeof socket?.cork === 'function' && typeof socket.uncork === 'function') {
          socket.cork();
          this.corked = true;
          queueMicrotask(() => {
            this.corked = false;
            socket.uncork?.();
          });
        }
      }
      this.ws.send(text);
      return;
    }
    this.outbox.push(text);
    this.outboxBytes += text.length;
    if (this.outbox.length === 1) queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    const messages = this.outbox.splice(0);
    this.outboxBytes = 0;
    if (messages.length === 0 || this.phase === 'closed' || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(messages.length === 1 ? (messages[0] as string) : `[${messages.join(',')}]`);
  };

  /** Turns coalescing on (the client sent `supported_features` with `coalesce_messages`). */
  setCoalesce(on: boolean): void {
    this.coalesce = on;
  }

  /** Closes the connection (with a close frame; terminated if the client does not answer). */
  close(code: number, reason: string): void {
    if (this.ws.readyState === this.ws.CLOSED) return;
    this.dispose();
    this.phase = 'closed';
    this.ws.close(code, reason.slice(0, 120));
    const kill = setTimeout(() => this.ws.terminate(), 1000);
    kill.unref?.();
    this.ws.once('close', () => clearTimeout(kill));
  }

  private sendRaw(text: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(text);
  }

  private dispose(): void {
    clearTimeout(this.authTimer);
    for (const sub of this.subscriptions.values()) this.server.hub.remove(sub);
    this.subscriptions.clear();
    if (this.phase !== 'closed') {
      this.phase = 'closed';
    }
    this.server.forget(this);
  }

  private onFrame(data: unknown, isBinary: boolean): void {
    if (this.phase === 'closed') return;
    if (isBinary) {
      // Home Assistant routes binary frames to handlers a command registered; there are none here.
      if (this.phase !== 'active') this.close(1003, 'Received non-Text message.');
      return;
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data as Buffer[]).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    if (this.phase === 'checking') {
      if (this.early.length >= MAX_EARLY_MESSAGES) this.close(1008, 'Too many messages before authentication finished');
      else this.early.push(text);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Home Assistant disconnects on invalid JSON in either phase ("Received invalid JSON.").
      this.server.log({ level: 'warn', event: 'invalid_json', client: this.address, message: 'received invalid JSON, disconnected' });
      this.close(1007, 'Received invalid JSON.');
      return;
    }
    if (this.phase === 'auth') {
      void this.authenticate(parsed);
      return;
    }
    if (Array.isArray(parsed)) for (const one of parsed) this.handle(one);
    else this.handle(parsed);
  }

  private async authenticate(msg: unknown): Promise<void> {
    this.phase = 'checking';
    const problem = authProblem(msg);
    if (problem !== null) {
      this.refuse(`Auth message incorrectly formatted: ${problem}`, false);
      return;
    }
    const wait = this.server.limiter.blockedFor(this.address);
    if (wait > 0) {
      this.server.log({ level: 'warn', event: 'auth_rate_limited', client: this.address, message: `too many failed logins; refused for ${Math.ceil(wait / 1000)} s more` });
      this.refuse(`Too many failed login attempts from ${this.address}; try again in ${Math.ceil(wait / 1000)} s`, false);
      return;
    }
    const token = (msg as { access_token?: string }).access_token;
    let user: TokenUser | undefined;
    try {
      user = token === undefined ? undefined : await this.server.tokens.verify(token);
    } catch (error) {
      this.server.log({ level: 'warn', event: 'auth_failed', client: this.address, message: `the token store cannot be read: ${mapError(error).message}` });
      this.refuse('Invalid access token or password', false);
      return;
    }
    if ((this.phase as string) === 'closed') return;
    if (user === undefined) {
      this.refuse('Invalid access token or password', true);
      return;
    }
    this.server.limiter.succeed(this.address);
    clearTimeout(this.authTimer);
    this.user = user;
    this.phase = 'active';
    this.sendRaw(JSON.stringify({ type: 'auth_ok', ha_version: this.server.haVersion }));
    this.server.log({ level: 'info', event: 'ws_connected', client: this.address, user: user.userId, message: `authenticated as ${user.userId} (token ${JSON.stringify(user.name)})` });
    const early = this.early.splice(0);
    for (const text of early) this.onFrame(Buffer.from(text, 'utf8'), false);
  }

  private refuse(message: string, countsAsFailure: boolean): void {
    if (countsAsFailure) {
      this.server.limiter.fail(this.address);
      this.server.log({ level: 'warn', event: 'auth_failed', client: this.address, message: 'invalid access token' });
    }
    this.sendRaw(JSON.stringify({ type: 'auth_invalid', message }));
    this.close(1008, 'auth_invalid');
  }

  /** One command, as ActiveConnection.async_handle checks it. */
  private handle(raw: unknown): void {
    if (this.phase !== 'active') return;
    const id = isPlainObject(raw) ? raw.id : undefined;
    if (
      !isPlainObject(raw) ||
      typeof raw.id !== 'number' ||
      !Number.isInteger(raw.id) ||
      raw.id <= 0 ||
      typeof raw.type !== 'string' ||
      raw.type === ''
    ) {
      this.send(errorMessage(typeof id === 'number' ? id : null, WsErrorCode.INVALID_FORMAT, 'Message incorrectly formatted.'));
      return;
    }
    const msg = raw as Msg;
    if (msg.id <= this.lastId) {
      this.send(errorMessage(msg.id, WsErrorCode.ID_REUSE, 'Identifier values have to increase.'));
      return;
    }
    const command = COMMANDS.get(msg.type);
    if (command === undefined) {
      this.send(errorMessage(msg.id, WsErrorCode.UNKNOWN_COMMAND, 'Unknown command.'));
      return;
    }
    this.lastId = msg.id;
    const problem = checkCommand(msg, command.schema);
    if (problem !== null) {
      this.send(errorMessage(msg.id, WsErrorCode.INVALID_FORMAT, problem));
      return;
    }
    try {
      const pending = command.run(this, msg);
      if (pending !== undefined) pending.catch((error: unknown) => this.fail(msg.id, error));
    } catch (error) {
      this.fail(msg.id, error);
    }
  }

  private fail(id: number, error: unknown): void {
    const mapped = mapError(error);
    this.send(errorMessage(id, mapped.code, mapped.message, mapped.homecoreCode));
  }

  // ------------------------------------------------------------------ helpers for the commands

  get state(): ServerState {
    return this.server;
  }

  context(): EventContext {
    return this.server.core.createContext({ userId: this.user?.userId ?? null });
  }

  result(id: number, result: unknown = null): void {
    this.send(resultMessage(id, result));
  }

  error(id: number, code: string, message: string): void {
    this.send(errorMessage(id, code, message));
  }

  subscribe(id: number, kind: Subscription['kind'], filter: Subscription['filter']): boolean {
    if (this.subscriptions.size >= this.server.maxSubscriptions) {
      this.error(
        id,
        WsErrorCode.NOT_ALLOWED,
        `Too many subscriptions on this connection (the limit is ${this.server.maxSubscriptions}): unsubscribe some first`,
      );
      return false;
    }
    const sub: Subscription = { id, to: this, kind, filter };
    this.subscriptions.set(id, sub);
    this.server.hub.add(sub);
    return true;
  }

  unsubscribe(id: number): boolean {
    const sub = this.subscriptions.get(id);
    if (sub === undefined) return false;
    this.subscriptions.delete(id);
    this.server.hub.remove(sub);
    return true;
  }
}

function authProblem(msg: unknown): string | null {
  if (!isPlainObject(msg)) return `expected a dictionary. Got ${JSON.stringify(msg)}`;
  if (msg.type !== 'auth') return `value must be one of ['auth'] for dictionary value @ data['type']. Got ${JSON.stringify(msg.type) ?? 'None'}`;
  for (const key of Object.keys(msg)) {
    if (key !== 'type' && key !== 'access_token' && key !== 'api_password') return `extra keys not allowed @ data['${key}']. Got ${JSON.stringify(msg[key])}`;
  }
  if (msg.access_token !== undefined && msg.api_password !== undefined) return `two or more values in the same group of exclusion 'auth' @ data[<auth>]`;
  if (msg.access_token !== undefined && typeof msg.access_token !== 'string') return `expected str for dictionary value @ data['access_token']. Got ${JSON.stringify(msg.access_token)}`;
  if (msg.api_password !== undefined && typeof msg.api_password !== 'string') return `expected str for dictionary value @ data['api_password']. Got ${JSON.stringify(msg.api_password)}`;
  return null;
}

function entityIds(value: unknown): Set<string> | null {
  if (value === undefined) return null;
  const list = typeof value === 'string' ? value.split(',') : (value as string[]);
  const ids = new Set(list.map((id) => id.trim().toLowerCase()).filter((id) => id !== ''));
  return ids.size === 0 ? null : ids;
}

function compressAll(states: readonly EntityState[], ids: ReadonlySet<string> | null): string {
  const parts: string[] = [];
  for (const state of states) {
    if (ids !== null && !ids.has(state.entity_id)) continue;
    parts.push(`${JSON.stringify(state.entity_id)}:${JSON.stringify(compressState(state))}`);
  }
  return `{${parts.join(',')}}`;
}

/** Service data with the call's `target` merged in (Home Assistant merges target fields into the data). */
function serviceData(msg: Msg): Record<string, JsonValue> {
  const data: Record<string, JsonValue> = { ...((msg.service_data as Record<string, JsonValue> | undefined) ?? {}) };
  if (isPlainObject(msg.target)) Object.assign(data, msg.target as Record<string, JsonValue>);
  return data;
}

const COMMANDS = new Map<string, Command>([
  ['ping', { schema: {}, run: (c, m) => c.send(`{"id":${m.id},"type":"pong"}`) }],
  [
    'supported_features',
    {
      schema: { features: { kind: 'feature_map', required: true } },
      run: (c, m) => {
        c.setCoalesce(Object.hasOwn(m.features as object, 'coalesce_messages'));
        c.result(m.id);
      },
    },
  ],
  ['get_states', { schema: {}, run: (c, m) => c.result(m.id, c.state.core.getStates()) }],
  ['get_config', { schema: {}, run: (c, m) => c.result(m.id, c.state.haConfig()) }],
  ['get_services', { schema: {}, run: (c, m) => c.result(m.id, c.state.catalog.describe()) }],
  [
    'subscribe_events',
    {
      schema: { event_type: { kind: 'string' } },
      run: (c, m) => {
        const type = m.event_type as string | undefined;
        if (c.subscribe(m.id, 'events', type === undefined || type === '*' ? null : type)) c.result(m.id);
      },
    },
  ],
  [
    'unsubscribe_events',
    {
      schema: { subscription: { kind: 'non_negative_int', required: true } },
      run: (c, m) => {
        if (c.unsubscribe(m.subscription as number)) c.result(m.id);
        else c.error(m.id, WsErrorCode.NOT_FOUND, 'Subscription not found.');
      },
    },
  ],
  [
    'subscribe_entities',
    {
      schema: { entity_ids: { kind: 'entity_ids' } },
      run: (c, m) => {
        const ids = entityIds(m.entity_ids);
        // Read the states and subscribe with no await in between, so no change falls in a gap.
        const states = c.state.core.getStates();
        if (!c.subscribe(m.id, 'entities', ids)) return;
        c.result(m.id);
        c.send(`{"id":${m.id},"type":"event","event":{"a":${compressAll(states, ids)}}}`);
      },
    },
  ],
  [
    'call_service',
    {
      schema: {
        domain: { kind: 'string', required: true },
        service: { kind: 'string', required: true },
        service_data: { kind: 'object' },
        target: { kind: 'object' },
        return_response: { kind: 'bool' },
      },
      run: async (c, m) => {
        const context = c.context();
        const returnResponse = m.return_response === true;
        try {
          const response = await c.state.core.callService(m.domain as string, m.service as string, serviceData(m), { context, returnResponse });
          c.result(m.id, returnResponse ? { context, response: response ?? null } : { context });
        } catch (error) {
          const mapped = mapError(error);
          const message = mapped.homecoreCode === 'HC_ERR_SERVICE_NOT_FOUND' ? `Service ${String(m.domain)}.${String(m.service)} not found.` : mapped.message;
          c.send(errorMessage(m.id, mapped.code, message, mapped.homecoreCode));
        }
      },
    },
  ],
  [
    'fire_event',
    {
      schema: { event_type: { kind: 'string', required: true }, event_data: { kind: 'object' } },
      run: (c, m) => {
        const context = c.context();
        c.state.core.fireEvent(m.event_type as string, (m.event_data as Record<string, JsonValue> | undefined) ?? {}, context);
        c.result(m.id, { context });
      },
    },
  ],
  // ---------------------------------------------------------------- HOMECORE's own
  ['homecore/plugins', { schema: {}, run: async (c, m) => c.result(m.id, await c.state.plugins()) }],
  ['homecore/entries', { schema: { domain: { kind: 'string' } }, run: async (c, m) => c.result(m.id, await c.state.registry.entries(m.domain as string | undefined)) }],
  ['homecore/stats', { schema: {}, run: (c, m) => c.result(m.id, c.state.registry.stats()) }],
  [
    'homecore/audit',
    {
      schema: { plugin: { kind: 'string' } },
      run: (c, m) => c.result(m.id, c.state.registry.audit(m.plugin as string | undefined)),
    },
  ],
  [
    'homecore/reload',
    {
      schema: { plugin: { kind: 'string', required: true } },
      run: async (c, m) => {
        c.state.requirePlugin(m.plugin as string);
        await c.state.registry.reload(m.plugin as string);
        c.result(m.id, await c.state.plugin(m.plugin as string));
      },
    },
  ],
  [
    'homecore/entry/update',
    {
      schema: { plugin: { kind: 'string', required: true }, title: { kind: 'string' }, data: { kind: 'object' }, options: { kind: 'object' } },
      run: async (c, m) => {
        c.state.requirePlugin(m.plugin as string);
        const update: { title?: string; data?: Record<string, JsonValue>; options?: Record<string, JsonValue> } = {};
        if (m.title !== undefined) update.title = m.title as string;
        if (m.data !== undefined) update.data = m.data as Record<string, JsonValue>;
        if (m.options !== undefined) update.options = m.options as Record<string, JsonValue>;
        await c.state.registry.updateConfigEntry(m.plugin as string, update);
        c.result(m.id, c.state.registry.getConfig(m.plugin as string) ?? null);
      },
    },
  ],
  [
    'homecore/entry/add',
    {
      schema: { plugin: { kind: 'string', required: true }, title: { kind: 'string' }, data: { kind: 'object' }, options: { kind: 'object' }, unique_id: { kind: 'string' } },
      run: async (c, m) => {
        c.state.requirePlugin(m.plugin as string);
        const init: { title?: string; data?: Record<string, JsonValue>; options?: Record<string, JsonValue>; unique_id?: string } = {};
        if (m.title !== undefined) init.title = m.title as string;
        if (m.data !== undefined) init.data = m.data as Record<string, JsonValue>;
        if (m.options !== undefined) init.options = m.options as Record<string, JsonValue>;
        if (m.unique_id !== undefined) init.unique_id = m.unique_id as string;
        c.result(m.id, await c.state.registry.addEntry(m.plugin as string, init));
      },
    },
  ],
  [
    'homecore/entry/remove',
    {
      schema: { entry_id: { kind: 'string', required: true } },
      run: async (c, m) => {
        await c.state.registry.removeEntry(m.entry_id as string);
        c.result(m.id, { removed: m.entry_id });
      },
    },
  ],
  ...(['disable', 'enable'] as const).map(
    (what): [string, Command] => [
      `homecore/entry/${what}`,
      {
        schema: { plugin: { kind: 'string', required: true } },
        run: async (c, m) => {
          c.state.requirePlugin(m.plugin as string);
          if (what === 'disable') await c.state.registry.disableEntry(m.plugin as string, 'user');
          else await c.state.registry.enableEntry(m.plugin as string);
          c.result(m.id, await c.state.plugin(m.plugin as string));
        },
      },
    ],
  ),
  [
    'homecore/clear_quarantine',
    {
      schema: { plugin: { kind: 'string', required: true } },
      run: async (c, m) => c.result(m.id, { cleared: await c.state.registry.clearQuarantine(m.plugin as string) }),
    },
  ],
]);

/** The WebSocket commands this server answers, sorted. */
export const WS_COMMANDS: readonly string[] = Object.freeze([...COMMANDS.keys()].sort());
