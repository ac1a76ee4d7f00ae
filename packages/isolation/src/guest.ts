import { Socket } from 'node:net';
import { getHeapStatistics } from 'node:v8';
import { parentPort } from 'node:worker_threads';
import {
  formatTimestamp,
  ErrorCode,
  HomecoreError,
  PermissionSet,
  checkPattern,
  matchesPattern,
  permissionDeniedMessage,
  type Attributes,
  type ConfigEntry,
  type DeliveredEvent,
  type EntityState,
  type JsonValue,
  type PermissionAction,
  type PluginContext,
  type PluginInstance,
  type PluginManifest,
  type ServiceCall,
  type ServiceHandler,
  type Subscription,
} from '@homecore/core-traits';
import { FrameDecoder, encodeFrame } from './framing.js';
import { toWire, type Effect, type GuestMessage, type HostMessage, type MirrorChange } from './protocol.js';

/** Loads the plugin inside the guest: the runtime's own `load`, run where the host can stop it. */
export type GuestLoader = (code: string | Uint8Array, manifest: PluginManifest, options: { baseDir?: string; options?: unknown }) => Promise<PluginInstance>;

interface Channel {
  send(message: GuestMessage): void;
  onMessage(handler: (message: HostMessage) => void): void;
}

// Largest frame the guest accepts from the host; the host enforces its own limit the other way.
const HOST_FRAME_LIMIT = 64 * 1024 * 1024;
const HEAP_REPORT_MS = 250;

/**
 * Serves one isolated plugin: call it from the module a worker or child process runs. It talks to
 * the host over the worker's port, or over file descriptor 3 in a child process.
 */
export function serveGuest(load: GuestLoader): void {
  const channel = parentPort !== null ? portChannel() : socketChannel();
  const guest = new Guest(channel, load);
  channel.onMessage((message) => guest.receive(message));
}

function portChannel(): Channel {
  const port = parentPort!;
  return {
    send: (message) => port.postMessage(message),
    onMessage: (handler) => port.on('message', handler),
  };
}

function socketChannel(): Channel {
  const socket = new Socket({ fd: 3, readable: true, writable: true });
  const decoder = new FrameDecoder(HOST_FRAME_LIMIT);
  // The host went away: nothing is left to serve.
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(0));
  return {
    send: (message) => socket.write(encodeFrame(message)),
    onMessage: (handler) =>
      socket.on('data', (chunk: Buffer) => {
        for (const message of decoder.push(chunk)) handler(message as unknown as HostMessage);
      }),
  };
}

class Guest {
  readonly #channel: Channel;
  readonly #load: GuestLoader;
  #instance: PluginInstance | undefined;
  #manifest!: PluginManifest;
  #permissions!: PermissionSet;
  #entry: ConfigEntry | undefined;
  #abort = new AbortController();
  readonly #mirror = new Map<string, EntityState>();
  #ops: Effect[] = [];
  #flushArmed = false;
  #nextId = 1;
  readonly #services = new Map<number, ServiceHandler>();
  readonly #timers = new Map<number, () => void | Promise<void>>();
  readonly #requests = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  #hostNow = 0;
  #receivedAt = 0;
  #live = false;
  #hook: string | undefined;
  #heapReportedAt = -Infinity;

  constructor(channel: Channel, load: GuestLoader) {
    this.#channel = channel;
    this.#load = load;
  }

  receive(message: HostMessage): void {
    switch (message.t) {
      case 'init':
        void this.#init(message);
        return;
      case 'call':
        // A setup starts from the host's snapshot of every state the plugin may read.
        if (message.op === 'setup') this.#mirror.clear();
        if (message.s !== undefined) this.#applyMirror(message.s);
        this.#clock(message.now, message.live);
        void this.#call(message.id, message.op, message.arg);
        return;
      case 'states':
        this.#applyMirror(message.s);
        this.#clock(message.now, message.live);
        return;
      case 'reply': {
        const request = this.#requests.get(message.id);
        if (request === undefined) return;
        this.#requests.delete(message.id);
        if (message.ok) request.resolve(message.value);
        else request.reject(new HomecoreError((message.error?.code ?? ErrorCode.INTERNAL) as typeof ErrorCode.INTERNAL, message.error?.message ?? 'the call failed', { plugin: this.#manifest.domain, ...(message.error?.details ? { details: message.error.details } : {}) }));
        return;
      }
      case 'abort':
        this.#abort.abort();
        return;
    }
  }

  async #init(message: Extract<HostMessage, { t: 'init' }>): Promise<void> {
    try {
      this.#manifest = message.manifest as PluginManifest;
      this.#permissions = PermissionSet.parse(this.#manifest.permissions ?? [], this.#manifest.domain);
      this.#instance = await this.#load(message.code, this.#manifest, {
        ...(message.baseDir !== undefined ? { baseDir: message.baseDir } : {}),
        ...(message.options !== undefined ? { options: message.options } : {}),
      });
      const instance = this.#instance;
      this.#channel.send({ t: 'ready', hooks: { ...instance.hooks, migrate: typeof instance.migrateEntry === 'function' }, ...(instance.maxEventBytes !== undefined ? { maxEventBytes: instance.maxEventBytes } : {}) });
    } catch (error) {
      this.#channel.send({ t: 'fail', error: toWire(error) });
    }
  }

  async #call(id: number, op: string, arg: unknown): Promise<void> {
    let value: unknown;
    try {
      value = await this.#run(op, arg);
    } catch (error) {
      const ops = this.#takeOps();
      this.#channel.send({ t: 'error', id, error: toWire(error, op === 'timer' || op === 'handler'), ...(ops !== undefined ? { ops } : {}), ...this.#heap() });
      return;
    }
    // The call's last effects travel with its answer: one message back, not two.
    const ops = this.#takeOps();
    try {
      this.#channel.send({ t: 'done', id, value, ...(ops !== undefined ? { ops } : {}), ...this.#heap() });
    } catch (error) {
      // A response the channel cannot carry (a function, a cycle) fails the call instead.
      if (ops !== undefined) this.#channel.send({ t: 'fx', ops });
      this.#channel.send({ t: 'error', id, error: toWire(new HomecoreError(ErrorCode.SERVICE_INVALID, `the response cannot be sent to the host: ${(error as Error).message}; return plain JSON`)) });
    }
  }

  async #run(op: string, arg: unknown): Promise<unknown> {
    const instance = this.#instance!;
    switch (op) {
      case 'setup': {
        this.#entry = arg as ConfigEntry;
        this.#abort = new AbortController();
        return this.#hooked('setup', () => instance.setup(this.#context()));
      }
      case 'teardown':
        this.#abort.abort();
        return this.#hooked('teardown', () => instance.teardown());
      case 'event': {
        const json = String(arg);
        const event = deepFreeze(JSON.parse(json) as DeliveredEvent['event']);
        let bytes: Uint8Array | undefined;
        const delivered: DeliveredEvent = { event, json: () => json, bytes: () => (bytes ??= new TextEncoder().encode(json)) };
        return this.#hooked(event.event_type === 'state_changed' ? 'onStateChanged' : 'onEvent', () => instance.handleEvent(delivered));
      }
      case 'service':
        return this.#hooked('onServiceCall', () => instance.handleServiceCall(arg as ServiceCall));
      case 'migrate': {
        const migrate = instance.migrateEntry;
        if (migrate === undefined) throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'the plugin has no migrateEntry hook');
        return this.#hooked('migrateEntry', () => migrate.call(instance, arg as ConfigEntry));
      }
      case 'config':
        this.#entry = arg as ConfigEntry;
        return this.#hooked('onConfigUpdate', () => instance.handleConfigUpdate(arg as ConfigEntry));
      case 'timer': {
        const { timerId } = arg as { timerId: number };
        const callback = this.#timers.get(timerId);
        this.#timers.delete(timerId);
        return callback === undefined ? undefined : this.#hooked('callLater', () => callback());
      }
      case 'handler': {
        const { regId, call } = arg as { regId: number; call: ServiceCall };
        const handler = this.#services.get(regId);
        if (handler === undefined) throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, `service ${call.domain}.${call.service} is no longer registered`);
        return this.#hooked('service', () => handler(call));
      }
      default:
        throw new HomecoreError(ErrorCode.IPC_INVALID, `unknown call ${JSON.stringify(op)}`);
    }
  }

  async #hooked<T>(hook: string, work: () => T | Promise<T>): Promise<T> {
    this.#hook = hook;
    try {
      return await work();
    } finally {
      this.#hook = undefined;
    }
  }

  #heap(): { heap?: number } {
    const now = performance.now();
    if (now - this.#heapReportedAt < HEAP_REPORT_MS) return {};
    this.#heapReportedAt = now;
    return { heap: getHeapStatistics().used_heap_size };
  }

  #clock(now: number, live: boolean): void {
    this.#hostNow = now;
    this.#live = live;
    this.#receivedAt = performance.now();
  }

  #now(): number {
    return this.#live ? this.#hostNow + Math.floor(performance.now() - this.#receivedAt) : this.#hostNow;
  }

  #applyMirror(changes: readonly MirrorChange[]): void {
    for (const [entityId, state] of changes) {
      if (state === null) this.#mirror.delete(entityId);
      else this.#mirror.set(entityId, deepFreeze(state as EntityState));
    }
  }

  #effect(op: Effect): void {
    this.#ops.push(op);
    if (this.#flushArmed) return;
    this.#flushArmed = true;
    // After the current turn: a call that ends first takes the effects along with its answer.
    setImmediate(() => this.#flush());
  }

  #takeOps(): Effect[] | undefined {
    if (this.#ops.length === 0) return undefined;
    const ops = this.#ops;
    this.#ops = [];
    return ops;
  }

  #flush(): void {
    this.#flushArmed = false;
    const ops = this.#takeOps();
    if (ops !== undefined) this.#channel.send({ t: 'fx', ops });
  }

  /** Throws the error the registry's context throws for a denied call, after reporting it for the audit. */
  #check(action: PermissionAction, target: string): void {
    if (this.#permissions.allows(action, target)) return;
    this.#effect(['denied', action, target]);
    throw new HomecoreError(
      ErrorCode.PERMISSION_DENIED,
      permissionDeniedMessage(action, target),
      { plugin: this.#manifest.domain, ...(this.#hook !== undefined ? { hook: this.#hook } : {}), details: { action, target } },
    );
  }

  #ensureOpen(what: string): void {
    if (this.#abort.signal.aborted && what !== 'getState' && what !== 'getStates' && what !== 'log') {
      throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, `${what} after teardown started: stop timers and I/O when ctx.signal aborts`, {
        plugin: this.#manifest.domain,
      });
    }
  }

  #context(): PluginContext {
    const domain = this.#manifest.domain;
    const signal = this.#abort.signal;
    const log =
      (level: string) =>
      (message: string, data?: Record<string, unknown>): void =>
        this.#effect(['log', level, String(message), data === undefined ? undefined : jsonCopy(data, 'log data')]);
    const entry = (): ConfigEntry => this.#entry!;
    const registered = (services: readonly { name: string }[] | undefined, name: string) => (services ?? []).some((s) => s.name === name);
    return {
      pluginId: domain,
      manifest: this.#manifest,
      get configEntry() {
        return entry();
      },
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      signal,
      now: () => this.#now(),
      getState: (entityId) => {
        const target = String(entityId);
        this.#check('state:read', target);
        return this.#mirror.get(target) ?? this.#mirror.get(target.toLowerCase());
      },
      getStates: (pattern) => [...this.#mirror.values()].filter((s) => pattern === undefined || matchesPattern(pattern, s.entity_id)),
      setState: (entityId, state, attributes, options) => {
        this.#ensureOpen('setState');
        const target = String(entityId);
        this.#check('state:write', target);
        const attrs = attributes === undefined ? {} : (jsonCopy(attributes, 'attributes') as Attributes);
        const written = this.#predictWrite(target.toLowerCase(), String(state), attrs, options?.forceUpdate === true);
        this.#effect(['set', target, String(state), attributes === undefined ? undefined : attrs, options?.forceUpdate === true]);
        return written;
      },
      removeState: (entityId) => {
        this.#ensureOpen('removeState');
        const target = String(entityId);
        this.#check('state:write', target);
        const existed = this.#mirror.delete(target.toLowerCase()) || this.#mirror.delete(target);
        this.#effect(['remove', target]);
        return existed;
      },
      callService: async (service_domain, service, data = {}, options) => {
        this.#ensureOpen('callService');
        this.#check('service:call', `${service_domain}.${service}`);
        const requestId = this.#nextId++;
        const reply = new Promise<unknown>((resolve, reject) => this.#requests.set(requestId, { resolve, reject }));
        this.#effect(['call', requestId, String(service_domain), String(service), jsonCopy(data, 'service data'), options?.returnResponse === true]);
        return reply;
      },
      registerService: (service, handler) => {
        this.#ensureOpen('registerService');
        const name = String(service);
        if (!registered(this.#manifest.services, name)) {
          this.#effect(['denied', 'service:register', `${domain}.${name}`]);
          throw new HomecoreError(
            ErrorCode.PERMISSION_DENIED,
            `plugin ${domain} may not register service ${domain}.${name}: add { "name": ${JSON.stringify(name)} } to services in its manifest`,
            { plugin: domain, details: { action: 'service:register', target: `${domain}.${name}` } },
          );
        }
        if (typeof handler !== 'function') throw new HomecoreError(ErrorCode.SERVICE_INVALID, `the handler of service ${domain}.${name} must be a function`, { plugin: domain });
        const regId = this.#nextId++;
        this.#services.set(regId, handler);
        this.#effect(['register', regId, name]);
        return () => {
          if (!this.#services.delete(regId)) return;
          this.#effect(['unregister', regId]);
        };
      },
      fireEvent: (eventType, data = {}) => {
        this.#ensureOpen('fireEvent');
        const target = String(eventType);
        this.#check('event:fire', target);
        this.#effect(['fire', target, jsonCopy(data, 'event data')]);
      },
      subscribe: (subscription: Subscription) => {
        this.#ensureOpen('subscribe');
        const entities = (subscription.entities ?? []).map(String);
        const events = (subscription.events ?? []).map(String);
        for (const pattern of [...entities, ...events]) checkPattern(pattern, domain);
        for (const pattern of entities) this.#check('state:read', pattern);
        for (const pattern of events) this.#check('event:subscribe', pattern);
        const subId = this.#nextId++;
        this.#effect(['sub', subId, entities, events]);
        let active = true;
        return () => {
          if (!active) return;
          active = false;
          this.#effect(['unsub', subId]);
        };
      },
      callLater: (ms, callback) => {
        this.#ensureOpen('callLater');
        if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || typeof callback !== 'function') {
          throw new HomecoreError(
            ErrorCode.OPERATION_NOT_ALLOWED,
            `callLater needs a delay in ms (a finite number >= 0) and a callback function, got ${typeof ms === 'number' ? String(ms) : typeof ms} and ${typeof callback}`,
            { plugin: domain },
          );
        }
        const timerId = this.#nextId++;
        this.#timers.set(timerId, callback);
        this.#effect(['later', timerId, ms]);
        return () => {
          if (!this.#timers.delete(timerId)) return;
          this.#effect(['cancel', timerId]);
        };
      },
    };
  }

  /** The state a write will produce, as the core would make it; the host's echo replaces it. */
  #predictWrite(entityId: string, state: string, attributes: Attributes, forceUpdate: boolean): EntityState {
    const old = this.#mirror.get(entityId);
    const stamp = formatTimestamp(this.#now());
    const same = old !== undefined && old.state === state && sameJson(old.attributes, attributes);
    const context = { id: `pending-${this.#nextId++}`, parent_id: null, user_id: `plugin:${this.#manifest.domain}` };
    const written: EntityState =
      same && !forceUpdate
        ? { ...old, last_reported: stamp }
        : {
            entity_id: entityId,
            state,
            attributes,
            last_changed: old !== undefined && old.state === state ? old.last_changed : stamp,
            last_reported: stamp,
            last_updated: stamp,
            context,
          };
    const frozen = deepFreeze(written);
    if (this.#permissions.allows('state:read', entityId)) this.#mirror.set(entityId, frozen);
    return frozen;
  }
}

function jsonCopy(value: unknown, what: string): JsonValue {
  try {
    return JSON.parse(JSON.stringify(value)) as JsonValue;
  } catch (error) {
    throw new HomecoreError(ErrorCode.STATE_INVALID, `${what} must be plain JSON: ${(error as Error).message}`);
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  return Object.freeze(value);
}
