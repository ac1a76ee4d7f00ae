import type { ErrorCodeValue } from './codes.js';

/** What an error is about, beyond its code and message. */
export interface ErrorOptions {
  /** The plugin (its domain) the error concerns. */
  plugin?: string;
  /** The lifecycle hook or host call that was running, for example `setup` or `hc_state_set`. */
  hook?: string;
  /** Structured facts for programs: JSON pointers, limits, the offending value. */
  details?: Record<string, unknown>;
  /** The error that caused this one. */
  cause?: unknown;
}

/**
 * The one error type of HOMECORE: a stable `code`, a message that says what to fix, and the
 * plugin and hook involved. The message is prefixed with `[plugin x, hook y]` when they are known.
 */
export class HomecoreError extends Error {
  /** The stable code, for programs and docs (`docs/errors.md`). */
  readonly code: ErrorCodeValue;
  /** The plugin the error concerns, if any. */
  readonly plugin: string | undefined;
  /** The hook or host call that was running, if any. */
  readonly hook: string | undefined;
  /** Structured facts for programs. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCodeValue, message: string, options: ErrorOptions = {}) {
    super(prefix(options) + message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HomecoreError';
    this.code = code;
    this.plugin = options.plugin;
    this.hook = options.hook;
    this.details = options.details;
  }

  /**
   * A plain object for logs and `--json` output. An error thrown by plugin code comes along as
   * `cause` (name, message, stack) and `location` (`file:line:column` where it was thrown).
   */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { code: this.code, message: this.message };
    if (this.plugin !== undefined) out.plugin = this.plugin;
    if (this.hook !== undefined) out.hook = this.hook;
    if (this.details !== undefined) out.details = this.details;
    const location = errorLocation(this);
    if (location !== undefined) out.location = location;
    if (this.cause instanceof HomecoreError) out.cause = this.cause.toJSON();
    else if (this.cause instanceof Error) out.cause = { name: this.cause.name, message: this.cause.message, ...(this.cause.stack !== undefined ? { stack: this.cause.stack } : {}) };
    return out;
  }
}

function prefix({ plugin, hook }: ErrorOptions): string {
  if (plugin === undefined && hook === undefined) return '';
  const parts: string[] = [];
  if (plugin !== undefined) parts.push(`plugin ${plugin}`);
  if (hook !== undefined) parts.push(`hook ${hook}`);
  return `[${parts.join(', ')}] `;
}

/**
 * True when `value` is a HomecoreError, optionally with the given code. Recognised by its code, so
 * an error from another copy of this package (a plugin bundling its own) counts too.
 */
export function isHomecoreError(value: unknown, code?: ErrorCodeValue): value is HomecoreError {
  if (!(value instanceof HomecoreError)) {
    const foreign = value instanceof Error ? (value as { code?: unknown }).code : undefined;
    if (typeof foreign !== 'string' || !/^HC_ERR_[A-Z0-9_]+$/.test(foreign)) return false;
  }
  return code === undefined || (value as HomecoreError).code === code;
}

/**
 * Wraps anything thrown by plugin code into a HomecoreError with `code`, keeping the original as
 * `cause`; a HomecoreError passes through unchanged.
 */
export function toHomecoreError(
  thrown: unknown,
  code: ErrorCodeValue,
  options: Omit<ErrorOptions, 'cause'> = {},
): HomecoreError {
  if (isHomecoreError(thrown)) return thrown;
  const text = thrown instanceof Error ? thrown.message : String(thrown);
  return new HomecoreError(code, text, { ...options, cause: thrown });
}

// `    at fn (file:///x/index.js?v=1-2:3:9)` or `    at file:///x/index.js:3:9` or `    at /x/index.js:3:9`
const FRAME = /^\s*at (?:.*? \()?((?:file:\/\/|\/|[A-Za-z]:\\|wasm:\/\/)[^)]*?):(\d+):(\d+)\)?$/;

/**
 * Where the innermost non-HOMECORE error in `error`'s cause chain was thrown, as
 * `path:line:column` (a plugin's own file when one is on the stack; `details.location` when an
 * error in the chain gives one), or undefined.
 */
export function errorLocation(error: unknown): string | undefined {
  let inner: unknown = error;
  for (let depth = 0; depth < 8 && inner instanceof HomecoreError; depth++) {
    // Set where the stack cannot tell (a syntax error names no frame of the file it is in).
    if (typeof inner.details?.location === 'string') return inner.details.location;
    if (inner.cause === undefined) break;
    inner = inner.cause;
  }
  if (!(inner instanceof Error) || inner instanceof HomecoreError || typeof inner.stack !== 'string') return undefined;
  const frames: { file: string; line: string; column: string; entry: boolean }[] = [];
  for (const text of inner.stack.split('\n')) {
    const match = FRAME.exec(text);
    if (match === null) continue;
    const raw = match[1]!;
    // A native plugin's entry is imported with a `?v=` query that makes each load fresh.
    const entry = /\?v=\d+-\d+$/.test(raw);
    let file = raw.replace(/\?v=\d+-\d+$/, '');
    if (file.startsWith('file://')) file = filePath(file);
    frames.push({ file, line: match[2]!, column: match[3]!, entry });
  }
  const pick = frames.find((f) => f.entry) ?? frames.find((f) => !f.file.includes('/node_modules/')) ?? frames[0];
  return pick === undefined ? undefined : `${pick.file}:${pick.line}:${pick.column}`;
}

/** The path of a `file://` URL, or the URL as it is when it does not parse. */
function filePath(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}
