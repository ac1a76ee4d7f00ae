import {
  AbiStatus,
  ErrorCode,
  EventType,
  GuestExport,
  HOST_MODULE,
  HomecoreError,
  isHomecoreError,
  HostImport,
  PermissionSet,
  SubscriptionKind,
  type ConfigEntry,
  type DeliveredEvent,
  type JsonValue,
  type PluginContext,
  type PluginHooks,
  type PluginInstance,
  type PluginManifest,
  type RuntimeStats,
  type ServiceCall,
} from '@homecore/core-traits';
import { FUEL_GET_EXPORT, FUEL_SET_EXPORT, OUT_OF_FUEL_IMPORT } from './metering.js';
import type { PluginLimits } from './options.js';
import { FuelExhausted, GuestAbort, readAssemblyScriptString, trapError } from './traps.js';

/** Bytes of one `hc_log` message the host keeps; the rest is cut at a character boundary. */
export const LOG_MESSAGE_MAX_BYTES = 4096;

const PAGE = 65_536;
// Home Assistant's valid_entity_id.
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;
const STATUS_NAMES = new Map<number, string>(Object.entries(AbiStatus).map(([name, value]) => [value, name]));
const decoder = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

type JsonObject = Record<string, JsonValue>;

interface GuestExports {
  readonly memory: WebAssembly.Memory;
  hc_alloc(size: number): number;
  hc_free(ptr: number, size: number): void;
  [FUEL_SET_EXPORT](fuel: number): void;
  [FUEL_GET_EXPORT](): number;
  readonly [name: string]: unknown;
}

/** A status a host import returns to the guest, thrown internally to stop at the first failed check. */
class AbiFailure {
  constructor(readonly status: number) {}
}

/** What the runtime hands a new instance after the load gate and metering. */
export interface WasmInstanceInit {
  /** The metered, compiled `WebAssembly.Module` (typed opaquely so the public types need no DOM lib). */
  readonly module: object;
  readonly manifest: PluginManifest;
  readonly limits: PluginLimits;
  readonly exportNames: ReadonlySet<string>;
  readonly maxPages: number;
  readonly cacheHit: boolean;
  /** The host's cap on fuel per call, named in fuel-trap messages. */
  readonly hostFuelPerCall?: number;
}

/**
 * One loaded wasm plugin: a metered instance, its host imports bound to the plugin's context, and
 * the bookkeeping that re-creates the instance after a trap. Calls never overlap.
 */
export class WasmPluginInstance implements PluginInstance {
  readonly kind = 'wasm' as const;
  readonly hooks: PluginHooks;
  private readonly plugin: string;
  private readonly permissions: PermissionSet;
  private readonly imports: WebAssembly.Imports;
  private exports: GuestExports | undefined;
  private context: PluginContext | undefined;
  private setupDone = false;
  private disposed = false;
  /** 'call' only while a hook runs; host imports refuse to act otherwise (start function). */
  private phase: 'idle' | 'start' | 'call' = 'idle';
  private busy = false;
  private readonly waiting: (() => void)[] = [];
  private subscriptions: (() => void)[] = [];
  private pendingServiceCalls: [string, string, JsonObject][] = [];
  private callsLeft = 0;
  private bytesLeft = 0;
  /** Why the last refused host call of the current guest call was refused, for its error message. */
  private lastDenial: string | undefined;
  private readonly counters = {
    fuelLastCall: 0,
    fuelTotal: 0,
    calls: 0,
    traps: 0,
    instantiations: 0,
    hostCalls: 0,
    quotaHits: 0,
    deniedCalls: 0,
    logTruncated: 0,
    serviceCallFailures: 0,
  };

  /** Instantiates the module (its start function runs under the start budget); throws coded errors. */
  constructor(private readonly init: WasmInstanceInit) {
    this.plugin = init.manifest.domain;
    this.permissions = PermissionSet.parse(init.manifest.permissions ?? [], this.plugin);
    const has = (name: string): boolean => init.exportNames.has(name);
    this.hooks = Object.freeze({
      teardown: has(GuestExport.TEARDOWN),
      stateChanged: has(GuestExport.ON_STATE_CHANGED),
      event: has(GuestExport.ON_EVENT),
      serviceCall: has(GuestExport.ON_SERVICE_CALL),
      configUpdate: has(GuestExport.ON_CONFIG_UPDATE),
    });
    this.imports = this.buildImports();
    this.exports = this.instantiate();
  }

  async setup(context: PluginContext): Promise<void> {
    return this.exclusive(() => {
      this.context = context;
      this.setupDone = false;
      if (this.exports === undefined) this.exports = this.instantiate();
      try {
        this.runSetup(context.configEntry);
      } catch (err) {
        this.dropSubscriptions();
        throw err;
      }
      this.setupDone = true;
    });
  }

  async teardown(): Promise<void> {
    return this.exclusive(() => {
      try {
        // After a trap there is no instance to tear down: the discarded one is gone.
        if (this.exports !== undefined && this.setupDone && this.hooks.teardown) {
          this.expectOk(GuestExport.TEARDOWN, this.invoke(GuestExport.TEARDOWN, undefined));
        }
      } finally {
        this.setupDone = false;
        this.dropSubscriptions();
      }
    });
  }

  /**
   * The guest call is synchronous, so a delivery that succeeds returns nothing: no promise and no
   * microtask per plugin per event. A failure comes back as a rejected promise; a call that finds
   * the instance busy waits its turn.
   */
  handleEvent(delivered: DeliveredEvent): void | Promise<void> {
    const hook = delivered.event.event_type === EventType.STATE_CHANGED ? GuestExport.ON_STATE_CHANGED : GuestExport.ON_EVENT;
    if (!this.init.exportNames.has(hook)) return undefined;
    const run = (): void => {
      this.restoreIfNeeded();
      this.expectOk(hook, this.invoke(hook, delivered.bytes()));
    };
    if (this.busy) return this.exclusive(run);
    try {
      this.busy = true;
      this.holding(run);
      return undefined;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async handleServiceCall(call: ServiceCall): Promise<unknown> {
    const hook = GuestExport.ON_SERVICE_CALL;
    if (!this.hooks.serviceCall) {
      throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, `module exports no ${hook}: export it to handle ${call.domain}.${call.service}`, {
        plugin: this.plugin,
        hook,
      });
    }
    return this.exclusive(() => {
      this.restoreIfNeeded();
      this.expectOk(hook, this.invoke(hook, encoder.encode(JSON.stringify(call))));
      return null; // v1 service hooks return no response data
    });
  }

  async handleConfigUpdate(entry: ConfigEntry): Promise<boolean> {
    const hook = GuestExport.ON_CONFIG_UPDATE;
    if (!this.hooks.configUpdate) return false;
    return this.exclusive(() => {
      this.restoreIfNeeded();
      this.expectOk(hook, this.invoke(hook, encoder.encode(JSON.stringify(entry))));
      return true;
    });
  }

  stats(): RuntimeStats {
    const memory = this.exports?.memory;
    return {
      memoryPages: memory === undefined ? 0 : memory.buffer.byteLength / PAGE,
      memoryMaxPages: this.init.maxPages,
      fuelPerCall: this.init.limits.fuelPerCall,
      ...this.counters,
      cacheHit: this.init.cacheHit ? 1 : 0,
    };
  }

  dispose(): void {
    this.disposed = true;
    this.exports = undefined;
    this.dropSubscriptions();
  }

  // ---- calling the guest ----

  /** Runs `fn` when no other call of this instance runs; calls start in arrival order. */
  private async exclusive<T>(fn: () => T): Promise<T> {
    if (this.busy) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.busy = true;
    return this.holding(fn);
  }

  /** Runs `fn` while this caller holds the instance, then hands it to the next waiter or frees it. */
  private holding<T>(fn: () => T): T {
    try {
      if (this.disposed) {
        throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'the wasm instance was disposed: load the plugin again', { plugin: this.plugin });
      }
      return fn();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.busy = false;
    }
  }

  private instantiate(): GuestExports {
    this.phase = 'start';
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(this.init.module as WebAssembly.Module, this.imports);
    } catch (err) {
      this.counters.traps++;
      throw trapError(err, this.plugin, 'start', this.init.limits.startFuel, this.init.limits.startFuel);
    } finally {
      this.phase = 'idle';
    }
    this.counters.instantiations++;
    return instance.exports as unknown as GuestExports;
  }

  private runSetup(entry: ConfigEntry): void {
    if (!this.init.exportNames.has(GuestExport.SETUP)) return;
    const status = this.invoke(GuestExport.SETUP, encoder.encode(JSON.stringify(entry)));
    if (status === AbiStatus.NOT_READY) {
      throw new HomecoreError(ErrorCode.CONFIG_ENTRY_NOT_READY, 'hc_setup returned NOT_READY: the host retries setup later with backoff', {
        plugin: this.plugin,
        hook: GuestExport.SETUP,
      });
    }
    this.expectOk(GuestExport.SETUP, status);
  }

  /** After a trap: a fresh instance from the cached module, and setup re-run with the current entry. */
  private restoreIfNeeded(): void {
    if (this.exports !== undefined) return;
    this.dropSubscriptions();
    this.exports = this.instantiate();
    if (this.setupDone && this.context !== undefined) {
      try {
        this.runSetup(this.context.configEntry);
      } catch (err) {
        this.exports = undefined; // try again on the next call
        this.dropSubscriptions();
        throw err;
      }
    }
  }

  /** One guest call under a fresh fuel budget and fresh quotas; a trap discards the instance. */
  private invoke(hook: string, payload: Uint8Array | undefined): number {
    const exports = this.exports as GuestExports;
    const { limits } = this.init;
    if (payload !== undefined && payload.length > limits.payloadBytes) {
      throw new HomecoreError(
        ErrorCode.WASM_QUOTA_EXCEEDED,
        `payload of ${payload.length} bytes is above limits.payload_bytes (${limits.payloadBytes}); it was not delivered. Raise limits.payload_bytes if the plugin needs it`,
        { plugin: this.plugin, hook, details: { size: payload.length, limit: limits.payloadBytes } },
      );
    }
    const budget = limits.fuelPerCall;
    this.callsLeft = limits.hostCallsPerEvent;
    this.bytesLeft = limits.bytesWrittenPerEvent;
    this.lastDenial = undefined;
    this.counters.calls++;
    let status = 0;
    let badAlloc: string | undefined;
    this.phase = 'call';
    try {
      exports[FUEL_SET_EXPORT](budget);
      const fn = exports[hook] as (...args: number[]) => number;
      if (payload === undefined) status = fn();
      else {
        const size = payload.length;
        const ptr = exports.hc_alloc(size) >>> 0;
        const buffer = exports.memory.buffer;
        if (ptr === 0 || ptr + size > buffer.byteLength) {
          badAlloc = ptr === 0 ? `hc_alloc(${size}) returned 0` : `hc_alloc(${size}) returned ${ptr}, outside memory`;
        } else {
          new Uint8Array(buffer, ptr, size).set(payload);
          status = fn(ptr, size);
          exports.hc_free(ptr, size);
        }
      }
      this.recordFuel(budget - exports[FUEL_GET_EXPORT]());
    } catch (err) {
      this.recordFuel(err instanceof FuelExhausted ? budget : budget - safeFuelLeft(exports, budget));
      this.counters.traps++;
      const pages = exports.memory.buffer.byteLength / 65_536;
      this.exports = undefined; // discarded: its memory may be half-way through an update
      const error = trapError(err, this.plugin, hook, budget, this.init.hostFuelPerCall ?? budget);
      // A guest allocator that cannot grow by what it needs ends in `unreachable`, usually before the
      // cap itself is reached: when most of the cap is in use, say that this is the likely cause.
      if (error.code === ErrorCode.WASM_TRAP && pages * 2 > this.init.maxPages) {
        throw new HomecoreError(
          ErrorCode.WASM_TRAP,
          `${error.message.replace(/^\[[^\]]*\] /, '')} (its memory was at ${pages} of its ${this.init.maxPages}-page cap: it may have run out of memory; free what it keeps, or raise limits.memory_pages)`,
          { plugin: this.plugin, hook, cause: err, details: { memoryPages: pages, maxPages: this.init.maxPages } },
        );
      }
      throw error;
    } finally {
      this.phase = 'idle';
      this.flushServiceCalls();
    }
    if (badAlloc !== undefined) {
      throw new HomecoreError(ErrorCode.WASM_STATUS, `${badAlloc}: the guest allocator could not provide memory for the payload`, {
        plugin: this.plugin,
        hook,
      });
    }
    return status;
  }

  private recordFuel(used: number): void {
    this.counters.fuelLastCall = used;
    this.counters.fuelTotal += used;
  }

  private expectOk(hook: string, status: number): void {
    if (status === AbiStatus.OK) return;
    const name = STATUS_NAMES.get(status);
    // A guest that hands back the DENIED it got from a host call: say which permission was missing.
    const why =
      status === AbiStatus.DENIED && this.lastDenial !== undefined
        ? `a host call in this hook was refused (${this.lastDenial})`
        : 'the plugin reported a failure; see its log';
    throw new HomecoreError(
      ErrorCode.WASM_STATUS,
      `${hook} returned status ${status}${name === undefined ? '' : ` (${name})`}: ${why}`,
      { plugin: this.plugin, hook, details: { status } },
    );
  }

  private dropSubscriptions(): void {
    const subs = this.subscriptions;
    this.subscriptions = [];
    for (const unsubscribe of subs) {
      try {
        unsubscribe();
      } catch {
        // an unsubscribe that fails leaves nothing for us to undo
      }
    }
  }

  /** Service calls accepted during a hook run once it has returned; failures are logged, never thrown. */
  private flushServiceCalls(): void {
    if (this.pendingServiceCalls.length === 0) return;
    const calls = this.pendingServiceCalls;
    this.pendingServiceCalls = [];
    const context = this.context;
    if (context === undefined) return;
    for (const [domain, service, data] of calls) {
      const failed = (err: unknown): void => {
        this.counters.serviceCallFailures++;
        const message = err instanceof Error ? err.message : String(err);
        context.logger.warn(`service call ${domain}.${service} from the wasm plugin failed: ${message}`);
      };
      try {
        context.callService(domain, service, data).catch(failed);
      } catch (err) {
        failed(err);
      }
    }
  }

  // ---- host imports ----

  private buildImports(): WebAssembly.Imports {
    return {
      [HOST_MODULE]: {
        [HostImport.LOG]: (level: number, ptr: number, len: number) => this.hostCall((mem, ctx) => this.log(mem, ctx, level, ptr, len)),
        [HostImport.STATE_GET]: (idPtr: number, idLen: number, outPtr: number, outCap: number) =>
          this.hostCall((mem, ctx) => {
            const id = this.range(mem, idPtr, idLen);
            const out = this.range(mem, outPtr, outCap);
            const entityId = this.entityId(this.text(mem, id));
            const state = ctx.getState(entityId);
            if (state === undefined) throw new AbiFailure(AbiStatus.NOT_FOUND);
            return this.output(mem, out, JSON.stringify(state));
          }),
        [HostImport.STATE_SET]: (idPtr: number, idLen: number, statePtr: number, stateLen: number, attrsPtr: number, attrsLen: number) =>
          this.hostCall((mem, ctx) => {
            const ranges = [this.range(mem, idPtr, idLen), this.range(mem, statePtr, stateLen), this.range(mem, attrsPtr, attrsLen)] as const;
            this.charge(ranges);
            const entityId = this.text(mem, ranges[0]);
            const state = this.text(mem, ranges[1]);
            const attributes = this.object(mem, ranges[2]);
            ctx.setState(this.entityId(entityId), state, attributes);
            return AbiStatus.OK;
          }),
        [HostImport.SERVICE_CALL]: (dPtr: number, dLen: number, sPtr: number, sLen: number, dataPtr: number, dataLen: number) =>
          this.hostCall((mem, ctx) => {
            const ranges = [this.range(mem, dPtr, dLen), this.range(mem, sPtr, sLen), this.range(mem, dataPtr, dataLen)] as const;
            this.charge(ranges);
            const domain = this.text(mem, ranges[0]);
            const service = this.text(mem, ranges[1]);
            const data = this.object(mem, ranges[2]);
            if (!this.permissions.allows('service:call', `${domain}.${service}`)) {
              // Let the context refuse it too, so the denial lands in the registry's audit trail.
              try {
                ctx.callService(domain, service, data).catch(() => undefined);
              } catch {
                // refused synchronously: that is the expected outcome
              }
              this.counters.deniedCalls++;
              this.lastDenial = `may not call the service "${domain}.${service}": add "service:call:${domain}.${service}" to permissions`;
              return AbiStatus.DENIED;
            }
            this.pendingServiceCalls.push([domain, service, data]);
            return AbiStatus.OK;
          }),
        [HostImport.EVENT_FIRE]: (tPtr: number, tLen: number, dataPtr: number, dataLen: number) =>
          this.hostCall((mem, ctx) => {
            const ranges = [this.range(mem, tPtr, tLen), this.range(mem, dataPtr, dataLen)] as const;
            this.charge(ranges);
            const eventType = this.text(mem, ranges[0]);
            const data = this.object(mem, ranges[1]);
            ctx.fireEvent(eventType, data);
            return AbiStatus.OK;
          }),
        [HostImport.SUBSCRIBE]: (kind: number, ptr: number, len: number) =>
          this.hostCall((mem, ctx) => {
            const pattern = this.text(mem, this.range(mem, ptr, len));
            if (kind !== SubscriptionKind.ENTITY && kind !== SubscriptionKind.EVENT) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
            const unsubscribe = ctx.subscribe(kind === SubscriptionKind.ENTITY ? { entities: [pattern] } : { events: [pattern] });
            this.subscriptions.push(unsubscribe);
            return AbiStatus.OK;
          }),
        [HostImport.CONFIG_GET]: (outPtr: number, outCap: number) =>
          this.hostCall((mem, ctx) => this.output(mem, this.range(mem, outPtr, outCap), JSON.stringify(ctx.configEntry))),
        [HostImport.CLOCK_NOW]: (): number => {
          if (this.phase !== 'call' || this.context === undefined) return 0;
          try {
            return this.context.now();
          } catch {
            return 0;
          }
        },
        [OUT_OF_FUEL_IMPORT]: (): never => {
          throw new FuelExhausted('fuel exhausted');
        },
      },
      env: {
        abort: (msgPtr: number, filePtr: number, line: number, column: number): never => {
          const memory = this.phase === 'call' ? this.exports?.memory : undefined;
          const message = readAssemblyScriptString(memory, msgPtr) || 'abort';
          const file = readAssemblyScriptString(memory, filePtr) || '?';
          throw new GuestAbort(`${message} at ${file}:${line >>> 0}:${column >>> 0}`);
        },
      },
    };
  }

  /** Runs one host import: call quota, then `fn`; every failure becomes a status, nothing throws into the guest. */
  private hostCall(fn: (mem: Uint8Array, ctx: PluginContext) => number): number {
    const context = this.context;
    const exports = this.exports;
    if (this.phase !== 'call' || context === undefined || exports === undefined) return AbiStatus.FAILED;
    this.counters.hostCalls++;
    if (this.callsLeft <= 0) {
      this.counters.quotaHits++;
      return AbiStatus.QUOTA_EXCEEDED;
    }
    this.callsLeft--;
    try {
      return fn(new Uint8Array(exports.memory.buffer), context);
    } catch (err) {
      return this.statusOf(err);
    }
  }

  private statusOf(err: unknown): number {
    if (err instanceof AbiFailure) {
      if (err.status === AbiStatus.QUOTA_EXCEEDED) this.counters.quotaHits++;
      return err.status;
    }
    if (isHomecoreError(err)) {
      switch (err.code) {
        case ErrorCode.PERMISSION_DENIED:
          this.counters.deniedCalls++;
          this.lastDenial = err.message.replace(/^\[[^\]]*\] /, '');
          return AbiStatus.DENIED;
        case ErrorCode.ENTITY_ID_INVALID:
        case ErrorCode.STATE_INVALID:
        case ErrorCode.EVENT_TYPE_INVALID:
        case ErrorCode.SERVICE_INVALID:
        case ErrorCode.PERMISSION_INVALID:
          return AbiStatus.INVALID_ARGUMENT;
        case ErrorCode.SERVICE_NOT_FOUND:
        case ErrorCode.PLUGIN_NOT_FOUND:
          return AbiStatus.NOT_FOUND;
        default:
          return AbiStatus.FAILED;
      }
    }
    return AbiStatus.FAILED;
  }

  /** A guest (ptr, len) read as unsigned, checked against memory without overflow. */
  private range(mem: Uint8Array, ptr: number, len: number): readonly [number, number] {
    const start = ptr >>> 0;
    const length = len >>> 0;
    if (start + length > mem.length) throw new AbiFailure(AbiStatus.BAD_POINTER);
    return [start, length];
  }

  private charge(ranges: readonly (readonly [number, number])[]): void {
    let total = 0;
    for (const [, length] of ranges) total += length;
    if (total > this.bytesLeft) throw new AbiFailure(AbiStatus.QUOTA_EXCEEDED);
    this.bytesLeft -= total;
  }

  private text(mem: Uint8Array, [start, length]: readonly [number, number]): string {
    if (length > this.init.limits.payloadBytes) throw new AbiFailure(AbiStatus.TOO_LARGE);
    try {
      return decoder.decode(mem.subarray(start, start + length));
    } catch {
      throw new AbiFailure(AbiStatus.INVALID_UTF8);
    }
  }

  private object(mem: Uint8Array, range: readonly [number, number]): JsonObject {
    if (range[1] === 0) return {};
    const text = this.text(mem, range);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new AbiFailure(AbiStatus.INVALID_JSON);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new AbiFailure(AbiStatus.INVALID_JSON);
    return value as JsonObject;
  }

  private entityId(value: string): string {
    if (!ENTITY_ID.test(value)) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
    return value;
  }

  /** Writes `json` to the guest's buffer only if it fits; returns its full size. */
  private output(mem: Uint8Array, [start, capacity]: readonly [number, number], json: string): number {
    const bytes = encoder.encode(json);
    if (bytes.length > this.init.limits.payloadBytes) throw new AbiFailure(AbiStatus.TOO_LARGE);
    if (bytes.length <= capacity) mem.set(bytes, start);
    return bytes.length;
  }

  private log(mem: Uint8Array, ctx: PluginContext, level: number, ptr: number, len: number): number {
    const [start, length] = this.range(mem, ptr, len);
    this.charge([[start, length]]);
    let kept = length;
    if (length > LOG_MESSAGE_MAX_BYTES) {
      kept = LOG_MESSAGE_MAX_BYTES;
      while (kept > 0 && ((mem[start + kept] as number) & 0xc0) === 0x80) kept--; // cut before a continuation byte
    }
    let message: string;
    try {
      message = decoder.decode(mem.subarray(start, start + kept));
    } catch {
      throw new AbiFailure(AbiStatus.INVALID_UTF8);
    }
    const write = [ctx.logger.debug, ctx.logger.info, ctx.logger.warn, ctx.logger.error][level];
    if (write === undefined) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
    if (kept < length) {
      this.counters.logTruncated++;
      message += ` [truncated ${length - kept} bytes]`;
    }
    write.call(ctx.logger, message);
    return AbiStatus.OK;
  }
}

function safeFuelLeft(exports: GuestExports, budget: number): number {
  try {
    return Math.max(0, exports[FUEL_GET_EXPORT]());
  } catch {
    return budget;
  }
}
