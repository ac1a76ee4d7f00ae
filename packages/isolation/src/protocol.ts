import { ErrorCode, HomecoreError, isHomecoreError, type ErrorCodeValue } from '@homecore/core-traits';

// The messages between the host and an isolated guest. One ordered channel each way: a worker's
// message port, or a child process's fd 3 carrying length-prefixed frames (see framing.ts).

/** A state as the guest's mirror holds it: an entity id and its state object, or null once removed. */
export type MirrorChange = readonly [entityId: string, state: unknown];

/** What the host sends. */
export type HostMessage =
  | { readonly t: 'init'; readonly kind: string; readonly code: string | Uint8Array; readonly manifest: unknown; readonly baseDir?: string; readonly options?: unknown }
  | { readonly t: 'call'; readonly id: number; readonly op: CallOp; readonly arg?: unknown; readonly now: number; readonly live: boolean; readonly s?: readonly MirrorChange[] }
  | { readonly t: 'states'; readonly s: readonly MirrorChange[]; readonly now: number; readonly live: boolean }
  | { readonly t: 'reply'; readonly id: number; readonly ok: boolean; readonly value?: unknown; readonly error?: WireError }
  | { readonly t: 'abort' };

/** The calls the host makes into the guest; each gets exactly one `done` or `error`. */
export type CallOp = 'setup' | 'teardown' | 'event' | 'service' | 'config' | 'timer' | 'handler' | 'migrate';

/** What the guest sends. */
export type GuestMessage =
  | { readonly t: 'ready'; readonly hooks: Record<string, boolean>; readonly maxEventBytes?: number }
  | { readonly t: 'fail'; readonly error: WireError }
  | { readonly t: 'done'; readonly id: number; readonly value?: unknown; readonly ops?: readonly Effect[]; readonly heap?: number }
  | { readonly t: 'error'; readonly id: number; readonly error: WireError; readonly ops?: readonly Effect[]; readonly heap?: number }
  | { readonly t: 'fx'; readonly ops: readonly Effect[] };

/**
 * What a guest asks the host to do through the plugin's context, in the order the plugin did it.
 * The host applies each through the registry's context (permissions, limits, audit).
 */
export type Effect =
  | readonly ['set', entityId: string, state: string, attributes: unknown, forceUpdate: boolean]
  | readonly ['remove', entityId: string]
  | readonly ['fire', eventType: string, data: unknown]
  | readonly ['log', level: string, message: string, data: unknown]
  | readonly ['denied', action: string, target: string]
  | readonly ['sub', subId: number, entities: readonly string[], events: readonly string[]]
  | readonly ['unsub', subId: number]
  | readonly ['register', regId: number, service: string]
  | readonly ['unregister', regId: number]
  | readonly ['later', timerId: number, ms: number]
  | readonly ['cancel', timerId: number]
  | readonly ['call', requestId: number, domain: string, service: string, data: unknown, returnResponse: boolean];

/** A coded error as it crosses the channel. */
export interface WireError {
  readonly code: string;
  readonly message: string;
  readonly name?: string;
  readonly hook?: string;
  readonly details?: Record<string, unknown>;
  /** Thrown by the plugin's own function as a plain error: the host rethrows it plain, so the registry wraps it as it would in process. */
  readonly plain?: boolean;
  /** A plain error's stack, so logs name the plugin's file and line as they do in process. */
  readonly stack?: string;
  /** What the plugin threw, under a coded error (its stack, for the same reason). */
  readonly cause?: { readonly name?: string; readonly message?: string; readonly stack?: string };
}

// A stack is for people reading logs; the guest may be hostile, so it is text and bounded.
const MAX_STACK_CHARS = 16 * 1024;

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/**
 * Turns anything thrown into a WireError (a HomecoreError keeps its code, hook and details). With
 * `plain`, another error stays plain (the host side wraps it as the registry would in process).
 */
export function toWire(error: unknown, plain = false): WireError {
  if (isHomecoreError(error)) {
    const e = error as HomecoreError;
    return {
      code: e.code,
      message: stripPrefix(e.message),
      name: e.name,
      ...(e.hook !== undefined ? { hook: e.hook } : {}),
      ...(e.details !== undefined ? { details: plainDetails(e.details) } : {}),
      ...(e.cause instanceof Error && !isHomecoreError(e.cause)
        ? { cause: { name: e.cause.name, message: e.cause.message, ...(typeof e.cause.stack === 'string' ? { stack: e.cause.stack.slice(0, MAX_STACK_CHARS) } : {}) } }
        : {}),
    };
  }
  const message = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  if (plain) {
    const stack = error instanceof Error && typeof error.stack === 'string' ? { stack: error.stack.slice(0, MAX_STACK_CHARS) } : {};
    return { code: ErrorCode.HANDLER_FAILED, message: error instanceof Error ? error.message : String(error), name: error instanceof Error ? error.name : 'Error', plain: true, ...stack };
  }
  return { code: ErrorCode.INTERNAL, message, name: error instanceof Error ? error.name : 'Error' };
}

/** Rebuilds the error from the wire, naming the plugin; an unknown code becomes HC_ERR_IPC_INVALID. */
export function fromWire(wire: WireError, plugin: string): Error {
  if (wire.plain === true) {
    const plain = new Error(String(wire.message).slice(0, 4096));
    if (typeof wire.name === 'string' && /^[A-Za-z]{1,64}$/.test(wire.name)) plain.name = wire.name;
    if (typeof wire.stack === 'string') plain.stack = wire.stack.slice(0, MAX_STACK_CHARS);
    return plain;
  }
  const code = CODES.has(wire.code) ? (wire.code as ErrorCodeValue) : ErrorCode.IPC_INVALID;
  const details = wire.details !== undefined && typeof wire.details === 'object' ? wire.details : undefined;
  const error = new HomecoreError(code, String(wire.message).slice(0, 4096), {
    plugin,
    ...(typeof wire.hook === 'string' ? { hook: wire.hook } : {}),
    ...(details !== undefined ? { details } : {}),
    ...(typeof wire.cause === 'object' && wire.cause !== null ? { cause: plainError(wire.cause) } : {}),
  });
  // Keep the class name a plugin threw (ConfigEntryNotReady...): hosts print it.
  if (typeof wire.name === 'string' && /^[A-Za-z]{1,64}$/.test(wire.name)) error.name = wire.name;
  return error;
}

/** A plain Error rebuilt from the guest's name, message and stack (text only, bounded). */
function plainError(wire: { readonly name?: unknown; readonly message?: unknown; readonly stack?: unknown }): Error {
  const plain = new Error(String(wire.message ?? '').slice(0, 4096));
  if (typeof wire.name === 'string' && /^[A-Za-z]{1,64}$/.test(wire.name)) plain.name = wire.name;
  if (typeof wire.stack === 'string') plain.stack = wire.stack.slice(0, MAX_STACK_CHARS);
  return plain;
}

/** The message without the `[plugin x, hook y] ` prefix the host side adds back. */
function stripPrefix(message: string): string {
  return message.replace(/^\[[^\]]*\] /, '');
}

function plainDetails(details: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isText = (v: unknown): v is string => typeof v === 'string';
const isTextList = (v: unknown): v is string[] => Array.isArray(v) && v.every(isText);

/** True when `value` is a well-formed WireError. */
function isWireError(value: unknown): value is WireError {
  const e = value as WireError | null;
  return typeof e === 'object' && e !== null && isText(e.code) && isText(e.message);
}

/**
 * Checks a message from the guest before the host acts on it: the guest may be hostile, so a
 * malformed message is a protocol violation (the host stops the guest), never a host crash.
 * Returns a description of what is wrong, or undefined when the message is well formed.
 */
export function guestMessageProblem(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return 'a message must be an object';
  const m = message as Record<string, unknown>;
  switch (m.t) {
    case 'ready':
      return typeof m.hooks === 'object' && m.hooks !== null ? undefined : 'ready needs hooks';
    case 'fail':
      return isWireError(m.error) ? undefined : 'fail needs an error';
    case 'done':
      return !isInt(m.id) ? 'done needs a call id' : m.ops === undefined ? undefined : opsProblem(m.ops);
    case 'error':
      return !(isInt(m.id) && isWireError(m.error)) ? 'error needs a call id and an error' : m.ops === undefined ? undefined : opsProblem(m.ops);
    case 'fx':
      return opsProblem(m.ops);
    default:
      return `unknown message type ${JSON.stringify(String(m.t)).slice(0, 40)}`;
  }
}

function opsProblem(ops: unknown): string | undefined {
  if (!Array.isArray(ops)) return 'ops must be a list';
  for (const op of ops as unknown[]) {
    const problem = effectProblem(op);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function effectProblem(op: unknown): string | undefined {
  if (!Array.isArray(op)) return 'an op must be a list';
  const [name, a, b, c, d, e] = op as unknown[];
  const ok = (() => {
    switch (name) {
      case 'set':
        return isText(a) && isText(b) && typeof d === 'boolean';
      case 'remove':
        return isText(a);
      case 'fire':
        return isText(a);
      case 'log':
        return isText(a) && isText(b);
      case 'denied':
        return isText(a) && isText(b);
      case 'sub':
        return isInt(a) && isTextList(b) && isTextList(c);
      case 'unsub':
      case 'unregister':
      case 'cancel':
        return isInt(a);
      case 'register':
        return isInt(a) && isText(b);
      case 'later':
        return isInt(a) && typeof b === 'number' && Number.isFinite(b) && b >= 0;
      case 'call':
        return isInt(a) && isText(b) && isText(c) && typeof e === 'boolean' && (d === undefined || (typeof d === 'object' && d !== null));
      default:
        return false;
    }
  })();
  return ok ? undefined : `malformed op ${JSON.stringify(String(name)).slice(0, 40)}`;
}
