import {
  formatTimestamp,
  AbiStatus,
  ErrorCode,
  EventType,
  GuestExport,
  HOST_MODULE,
  HomecoreError,
  isHomecoreError,
  HostImport,
  PermissionSet,
  RESERVED_EVENT_TYPES,
  cachedJsonBytes,
  patternProblem,
  SubscriptionKind,
  type ConfigEntry,
  type DeliveredEvent,
  type EntityState,
  type JsonValue,
  type PluginContext,
  type PluginHooks,
  type PluginInstance,
  type PluginManifest,
  type RuntimeStats,
  type ServiceCall,
} from '@homecore/core-traits';
import type { PluginLimits } from './options.js';
import { FUEL_COSTS, FUEL_EXPORT, START_EXPORT } from './rewriter.js';
import { FuelExhausted, GuestAbort, readAssemblyScriptString, trapError } from './traps.js';

/** Effects applied in one turn of the event loop; a call with more hands the loop back between slices. */
const EFFECTS_PER_SLICE = 128;

/** Bytes of one `hc_log` message the host keeps; the rest is cut at a character boundary. */
export const LOG_MESSAGE_MAX_BYTES = 4096;

const PAGE = 65_536;
// Home Assistant's valid_entity_id, and its 255-character limit.
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;
const ENTITY_ID_MAX = 255;
/** How a state read inside a call shows a write of the same call that is not applied yet. */
const PENDING_CONTEXT = Object.freeze({ id: '00000000000000000000000000', parent_id: null, user_id: null });
const STATUS_NAMES = new Map<number, string>(Object.entries(AbiStatus).map(([name, value]) => [value, name]));
const decoder = new TextDecoder('utf-8', { fatal: true });
/**
 * The optional config entry migration export (host-abi.md, "hc_migrate_entry"), an addition v1
 * hosts call when present: `(entry_ptr, entry_len) -> i64`; v1 modules without it load unchanged.
 */
const MIGRATE_ENTRY_EXPORT = GuestExport.MIGRATE_ENTRY;
const encoder = new TextEncoder();

type JsonObject = Record<string, JsonValue>;

/** An instance's exports as each call uses them (see WasmPluginInstance.boundTo). */
interface BoundExports {
  readonly exports: GuestExports;
  readonly fuel: WebAssembly.Global;
  readonly alloc: (size: number) => number;
  readonly free: (ptr: number, size: number) => void;
  readonly hooks: Map<string, (...args: number[]) => number>;
  view: Uint8Array;
}

interface GuestExports {
  readonly memory: WebAssembly.Memory;
  hc_alloc(size: number): number;
  hc_free(ptr: number, size: number): void;
  readonly [FUEL_EXPORT]: WebAssembly.Global;
  readonly [name: string]: unknown;
}

/** Something a host import did that reaches the home once the guest call has returned. */
type Effect = (context: PluginContext) => void;

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
  /** Test-only, under the preemption backstop: the module was not metered, so it has no fuel counter. */
  readonly unmetered?: boolean;
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
  /** Effects of the running call, applied in order after it returns; dropped if it traps. */
  private effects: Effect[] = [];
  /** Resolves when the effects of the last call are all applied, while they are being applied in slices. */
  private effectsTail: Promise<void> | undefined;
  /** The fuel counter while the start function runs (before `exports` is set). */
  private startFuel: WebAssembly.Global | undefined;
  /** Log lines of the running call, written after it returns (also after a trap: they help explain it). */
  private logs: [number, string][] = [];
  /** The running call's own writes, so that its reads see them. */
  private pendingStates = new Map<string, { state: string; attributes: JsonObject }>();
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
    effectsApplied: 0,
    effectsRefused: 0,
    effectsDiscarded: 0,
  };

  /** Largest event this instance accepts: its payload cap (the registry skips larger ones). */
  readonly maxEventBytes: number;
  /** The module's `hc_migrate_entry`, present only when it exports one. */
  readonly migrateEntry?: (entry: ConfigEntry) => Promise<unknown>;

  /** Instantiates the module (its start function runs under the start budget); throws coded errors. */
  constructor(private readonly init: WasmInstanceInit) {
    this.plugin = init.manifest.domain;
    this.maxEventBytes = init.limits.payloadBytes;
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
    if (has(MIGRATE_ENTRY_EXPORT)) this.migrateEntry = (entry) => this.exclusive(() => this.runMigration(entry));
  }

  /**
   * Calls `hc_migrate_entry` with the stored entry JSON. Its i64 result: negative, the migration
   * failed (false); 0, migrated with data unchanged (true); otherwise `(ptr << 32) | len` of a UTF-8
   * JSON object with the migrated fields, in guest memory the guest keeps owning (read at once).
   */
  private runMigration(entry: ConfigEntry): unknown {
    const hook = MIGRATE_ENTRY_EXPORT;
    if (this.exports === undefined) this.exports = this.instantiate(); // before setup: nothing to restore
    const result: unknown = this.invoke(hook, encoder.encode(JSON.stringify(entry)));
    const bad = (why: string) => new HomecoreError(ErrorCode.WASM_STATUS, `${hook} ${why} (see docs/host-abi.md, hc_migrate_entry)`, { plugin: this.plugin, hook });
    if (typeof result !== 'bigint') throw bad('must return an i64: negative (failed), 0 (data unchanged) or (ptr << 32) | len of the migrated fields');
    if (result < 0n) return false;
    if (result === 0n) return true;
    const ptr = Number(result >> 32n);
    const len = Number(result & 0xffff_ffffn);
    const buffer = this.exports?.memory.buffer;
    if (buffer === undefined || len > this.init.limits.payloadBytes || ptr + len > buffer.byteLength) {
      throw bad(`returned (${ptr}, ${len}), outside its memory or above limits.payload_bytes`);
    }
    try {
      return JSON.parse(decoder.decode(new Uint8Array(buffer, ptr, len).slice())) as unknown;
    } catch (error) {
      throw bad(`returned bytes that are not UTF-8 JSON (${error instanceof Error ? error.message : String(error)})`);
    }
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
    if (this.busy) return this.exclusive(run).then(() => this.effectsTail);
    try {
      this.busy = true;
      this.holding(run);
      return this.effectsTail;
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
    const result = this.holding(fn);
    if (this.effectsTail !== undefined) await this.effectsTail;
    return result;
  }

  /** Runs `fn` while this caller holds the instance, then hands it to the next waiter or frees it. */
  private holding<T>(fn: () => T): T {
    let released = false;
    try {
      if (this.disposed) {
        throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'the wasm instance was disposed: load the plugin again', { plugin: this.plugin });
      }
      const result = fn();
      const tail = this.effectsTail;
      if (tail !== undefined) {
        // The call's effects are still being applied: the next call waits for them, in order.
        released = true;
        void tail.then(() => this.release());
      }
      return result;
    } finally {
      if (!released) this.release();
    }
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.busy = false;
  }

  /** The fuel counter the rewriter exported; an unmetered test module gets a counter nothing reads. */
  private fuelOf(exports: GuestExports): WebAssembly.Global {
    return this.boundTo(exports).fuel;
  }

  /**
   * What every call uses of an instance's exports, looked up once per instance: the exports object
   * is a frozen dictionary, and five lookups per guest call (plus one per host call) showed in
   * fan-out profiles.
   */
  private boundTo(exports: GuestExports): BoundExports {
    const bound = this.bound;
    if (bound !== undefined && bound.exports === exports) return bound;
    let fuel = exports[FUEL_EXPORT] as WebAssembly.Global | undefined;
    if (fuel === undefined) {
      if (this.init.unmetered !== true) throw new HomecoreError(ErrorCode.INTERNAL, 'the metered module has no fuel counter: please report this with the module', { plugin: this.plugin });
      fuel = this.spareFuel ??= new WebAssembly.Global({ value: 'i32', mutable: true }, 0);
    }
    const fresh: BoundExports = { exports, fuel, alloc: exports.hc_alloc, free: exports.hc_free, hooks: new Map(), view: new Uint8Array(0) };
    this.bound = fresh;
    return fresh;
  }

  /**
   * A view of the guest's whole memory, reused between calls: growing a memory detaches its old
   * buffer (the view's length drops to 0), and only then is a new view made.
   */
  private memoryOf(bound: BoundExports): Uint8Array {
    if (bound.view.byteLength === 0) bound.view = new Uint8Array(bound.exports.memory.buffer);
    return bound.view;
  }

  private bound: BoundExports | undefined;
  private spareFuel: WebAssembly.Global | undefined;

  /** A fresh instance; its start function (exported by the rewriter) runs here under the start budget. */
  private instantiate(): GuestExports {
    this.phase = 'start';
    let fuel: WebAssembly.Global | undefined;
    try {
      const instance = new WebAssembly.Instance(this.init.module as WebAssembly.Module, this.imports);
      const exports = instance.exports as unknown as GuestExports;
      fuel = this.fuelOf(exports);
      this.startFuel = fuel; // host calls from the start function are refused, but still cost fuel
      const start = exports[START_EXPORT] as (() => void) | undefined;
      if (start !== undefined) {
        fuel.value = this.init.limits.startFuel;
        start();
        if ((fuel.value as number) < 0) throw new FuelExhausted('fuel exhausted');
      }
      this.counters.instantiations++;
      return exports;
    } catch (err) {
      this.counters.traps++;
      const exhausted = fuel !== undefined && safeFuelLeft(fuel) < 0 && !(err instanceof GuestAbort);
      throw trapError(exhausted ? new FuelExhausted('fuel exhausted') : err, this.plugin, 'start', this.init.limits.startFuel, this.init.limits.startFuel);
    } finally {
      this.phase = 'idle';
      this.startFuel = undefined;
    }
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

  /**
   * One guest call under a fresh fuel budget and fresh quotas. Its effects are applied after it
   * returns; a trap discards them and the instance.
   */
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
    const bound = this.boundTo(exports);
    const fuel = bound.fuel;
    this.callsLeft = limits.hostCallsPerEvent;
    this.bytesLeft = limits.bytesWrittenPerEvent;
    this.lastDenial = undefined;
    this.counters.calls++;
    let status = 0;
    let badAlloc: string | undefined;
    this.phase = 'call';
    try {
      fuel.value = budget;
      let fn = bound.hooks.get(hook);
      if (fn === undefined) {
        fn = exports[hook] as (...args: number[]) => number;
        bound.hooks.set(hook, fn);
      }
      if (payload === undefined) status = fn();
      else {
        const size = payload.length;
        const ptr = bound.alloc(size) >>> 0;
        const memory = this.memoryOf(bound); // after hc_alloc, which may have grown it
        if (ptr === 0 || ptr + size > memory.length) {
          badAlloc = ptr === 0 ? `hc_alloc(${size}) returned 0` : `hc_alloc(${size}) returned ${ptr}, outside memory`;
        } else {
          memory.set(payload, ptr);
          status = fn(ptr, size);
          bound.free(ptr, size);
        }
      }
      // Runs between checks may take the counter below zero without trapping (host-abi.md
      // section 10): a call that ends there used more than its budget and fails like a fuel trap.
      if ((fuel.value as number) < 0) throw new FuelExhausted('fuel exhausted');
      this.recordFuel(budget - (fuel.value as number));
    } catch (err) {
      this.phase = 'idle';
      const left = safeFuelLeft(fuel);
      this.recordFuel(Math.min(budget, budget - left));
      this.counters.traps++;
      const discarded = this.discardEffects();
      this.writeLogs();
      const pages = exports.memory.buffer.byteLength / 65_536;
      this.exports = undefined; // discarded: its memory may be half-way through an update
      // The rewriter's charge traps with `unreachable` once the counter is below zero.
      const thrown = left < 0 && !(err instanceof GuestAbort) ? new FuelExhausted('fuel exhausted') : err;
      const error = withDiscardNote(trapError(thrown, this.plugin, hook, budget, this.init.hostFuelPerCall ?? budget), discarded);
      // A guest allocator that cannot grow by what it needs ends in `unreachable`, usually before the
      // cap itself is reached: when most of the cap is in use, say that this is the likely cause.
      if (error.code === ErrorCode.WASM_TRAP && pages * 2 > this.init.maxPages) {
        throw new HomecoreError(
          ErrorCode.WASM_TRAP,
          `${error.message.replace(/^\[[^\]]*\] /, '')} (its memory was at ${pages} of its ${this.init.maxPages}-page cap: it may have run out of memory; free what it keeps, or raise limits.memory_pages)`,
          { plugin: this.plugin, hook, cause: err, details: { ...error.details, memoryPages: pages, maxPages: this.init.maxPages } },
        );
      }
      throw error;
    }
    this.phase = 'idle';
    this.writeLogs();
    this.applyEffects();
    if (badAlloc !== undefined) {
      throw new HomecoreError(ErrorCode.WASM_STATUS, `${badAlloc}: the guest allocator could not provide memory for the payload`, {
        plugin: this.plugin,
        hook,
      });
    }
    return status;
  }

  /**
   * Applies the call's effects in the order they were made, on the host's own stack. Many effects
   * are applied in slices that hand the event loop back between them (`effectsTail` resolves when
   * all are done; the instance's next call waits for it).
   */
  private applyEffects(): void {
    // Map#clear allocates a fresh table even when empty: most calls write nothing.
    if (this.pendingStates.size > 0) this.pendingStates.clear();
    if (this.effects.length === 0) return;
    const effects = this.effects;
    this.effects = [];
    const context = this.context;
    if (context === undefined) return;
    const refusals = new Map<string, { count: number; first: string }>();
    let at = this.applySlice(context, effects, 0, refusals);
    if (at >= effects.length) {
      this.logRefusals(context, refusals);
      return;
    }
    this.effectsTail = new Promise<void>((resolve) => {
      const step = (): void => {
        if (!this.disposed) at = this.applySlice(context, effects, at, refusals);
        if (at < effects.length && !this.disposed) {
          setImmediate(step);
          return;
        }
        this.logRefusals(context, refusals);
        this.effectsTail = undefined;
        resolve();
      };
      setImmediate(step);
    });
  }

  /** Applies up to EFFECTS_PER_SLICE effects from `from`; returns where it stopped. */
  private applySlice(context: PluginContext, effects: readonly Effect[], from: number, refusals: Map<string, { count: number; first: string }>): number {
    const to = Math.min(effects.length, from + EFFECTS_PER_SLICE);
    for (let i = from; i < to; i++) {
      try {
        (effects[i] as Effect)(context);
        this.counters.effectsApplied++;
      } catch (err) {
        if (err === DENIAL_REPLAYED) continue;
        // Refused when applied (a rate limit, a loop bound, a resource cap): the guest already had
        // OK, so refusals are counted, and logged once per call and reason.
        this.counters.effectsRefused++;
        const code = isHomecoreError(err) ? err.code : 'error';
        const seen = refusals.get(code);
        if (seen === undefined) refusals.set(code, { count: 1, first: err instanceof Error ? err.message : String(err) });
        else seen.count++;
      }
    }
    return to;
  }

  private logRefusals(context: PluginContext, refusals: ReadonlyMap<string, { count: number; first: string }>): void {
    for (const { count, first } of refusals.values()) {
      try {
        context.logger.warn(`${count === 1 ? 'an action' : `${count} actions`} of the wasm plugin ${count === 1 ? 'was' : 'were'} refused: ${first}`);
      } catch {
        // a failing logger must not break the plugin
      }
    }
  }

  /** Drops the effects of a call that trapped; returns how many there were. */
  private discardEffects(): number {
    const n = this.effects.length;
    this.effects = [];
    this.pendingStates.clear();
    this.counters.effectsDiscarded += n;
    return n;
  }

  private writeLogs(): void {
    if (this.logs.length === 0) return;
    const logs = this.logs;
    this.logs = [];
    const logger = this.context?.logger;
    if (logger === undefined) return;
    for (const [level, message] of logs) {
      try {
        const write = [logger.debug, logger.info, logger.warn, logger.error][level] ?? logger.info;
        write.call(logger, message);
      } catch {
        // a failing logger must not stop the plugin
      }
    }
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

  // ---- host imports ----

  private buildImports(): WebAssembly.Imports {
    return {
      [HOST_MODULE]: {
        [HostImport.LOG]: (level: number, ptr: number, len: number) => this.hostCall((mem) => this.log(mem, level, ptr, len)),
        [HostImport.STATE_GET]: (idPtr: number, idLen: number, outPtr: number, outCap: number) =>
          this.hostCall((mem, ctx) => {
            const id = this.range(mem, idPtr, idLen);
            const out = this.range(mem, outPtr, outCap);
            this.burnBytes(id[1]);
            const entityId = this.entityId(this.text(mem, id));
            if (!this.permissions.allows('state:read', entityId)) {
              this.deny(notGranted('state:read', entityId), (c) => c.getState(entityId));
            }
            const state = this.readState(ctx, entityId);
            if (state === undefined) throw new AbiFailure(AbiStatus.NOT_FOUND);
            // A core's state carries its JSON bytes, made once (the same bytes as in its events).
            return this.output(mem, out, cachedJsonBytes(state));
          }),
        [HostImport.STATE_SET]: (idPtr: number, idLen: number, statePtr: number, stateLen: number, attrsPtr: number, attrsLen: number) =>
          this.hostCall((mem) => {
            const ranges = [this.range(mem, idPtr, idLen), this.range(mem, statePtr, stateLen), this.range(mem, attrsPtr, attrsLen)] as const;
            this.charge(ranges);
            const entityId = this.entityId(this.text(mem, ranges[0]));
            const state = this.text(mem, ranges[1]);
            const attributes = this.object(mem, ranges[2]);
            if (!this.permissions.allows('state:write', entityId)) {
              this.deny(notGranted('state:write', entityId), (c) => c.setState(entityId, state, attributes));
            }
            this.pendingStates.set(entityId, { state, attributes });
            this.effects.push((c) => c.setState(entityId, state, attributes));
            return AbiStatus.OK;
          }),
        [HostImport.SERVICE_CALL]: (dPtr: number, dLen: number, sPtr: number, sLen: number, dataPtr: number, dataLen: number) =>
          this.hostCall((mem) => {
            const ranges = [this.range(mem, dPtr, dLen), this.range(mem, sPtr, sLen), this.range(mem, dataPtr, dataLen)] as const;
            this.charge(ranges);
            const domain = this.text(mem, ranges[0]);
            const service = this.text(mem, ranges[1]);
            const data = this.object(mem, ranges[2]);
            const call = (c: PluginContext): void => {
              c.callService(domain, service, data).catch((err: unknown) => this.serviceCallFailed(c, domain, service, err));
            };
            if (!this.permissions.allows('service:call', `${domain}.${service}`)) {
              this.deny(notGranted('service:call', `${domain}.${service}`), call);
            }
            this.effects.push(call);
            return AbiStatus.OK;
          }),
        [HostImport.EVENT_FIRE]: (tPtr: number, tLen: number, dataPtr: number, dataLen: number) =>
          this.hostCall((mem) => {
            const ranges = [this.range(mem, tPtr, tLen), this.range(mem, dataPtr, dataLen)] as const;
            this.charge(ranges);
            const eventType = this.text(mem, ranges[0]);
            const data = this.object(mem, ranges[1]);
            const fire = (c: PluginContext): void => c.fireEvent(eventType, data);
            if (RESERVED_EVENT_TYPES.has(eventType)) this.deny(`event type ${eventType} is reserved to the core: no permission lets a plugin fire it`, fire);
            if (!this.permissions.allows('event:fire', eventType)) {
              this.deny(notGranted('event:fire', eventType), fire);
            }
            this.effects.push(fire);
            return AbiStatus.OK;
          }),
        [HostImport.SUBSCRIBE]: (kind: number, ptr: number, len: number) =>
          this.hostCall((mem) => {
            const range = this.range(mem, ptr, len);
            this.charge([range]);
            const pattern = this.text(mem, range);
            if (kind !== SubscriptionKind.ENTITY && kind !== SubscriptionKind.EVENT) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
            // Over the glob limits: refused now, so the guest learns it (the registry would refuse it later).
            if (patternProblem(pattern) !== undefined) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
            const entities = kind === SubscriptionKind.ENTITY;
            const subscribe = (c: PluginContext): void => {
              this.subscriptions.push(c.subscribe(entities ? { entities: [pattern] } : { events: [pattern] }));
            };
            if (!this.permissions.allows(entities ? 'state:read' : 'event:subscribe', pattern)) {
              this.deny(notGranted(entities ? 'state:read' : 'event:subscribe', pattern), subscribe);
            }
            this.effects.push(subscribe);
            return AbiStatus.OK;
          }),
        [HostImport.CONFIG_GET]: (outPtr: number, outCap: number) =>
          this.hostCall((mem, ctx) => this.output(mem, this.range(mem, outPtr, outCap), encoder.encode(JSON.stringify(ctx.configEntry)))),
        [HostImport.CLOCK_NOW]: (): number => {
          const now = this.hostCall((_mem, ctx) => ctx.now());
          return now < 0 ? 0 : now; // a refused read (outside a call, quota spent) reads as 0
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

  /** A state as the running call sees it: its own pending write if it made one, else the host's. */
  private readState(ctx: PluginContext, entityId: string): EntityState | undefined {
    const current = ctx.getState(entityId);
    const pending = this.pendingStates.get(entityId);
    if (pending === undefined) return current;
    const now = formatTimestamp(ctx.now());
    return {
      entity_id: entityId,
      state: pending.state,
      attributes: pending.attributes,
      last_changed: current !== undefined && current.state === pending.state ? current.last_changed : now,
      last_reported: now,
      last_updated: now,
      context: PENDING_CONTEXT,
    };
  }

  /** Refuses a host call for a missing grant; `replay` runs after the call returns so the denial is audited. */
  private deny(why: string, replay: Effect): never {
    this.counters.deniedCalls++;
    this.lastDenial = why;
    this.effects.push((c) => {
      try {
        replay(c);
      } catch {
        // refused again by the context, which audits it: the expected outcome
      }
      throw DENIAL_REPLAYED;
    });
    throw new AbiFailure(AbiStatus.DENIED);
  }

  private serviceCallFailed(context: PluginContext, domain: string, service: string, err: unknown): void {
    this.counters.serviceCallFailures++;
    const message = err instanceof Error ? err.message : String(err);
    try {
      context.logger.warn(`service call ${domain}.${service} from the wasm plugin failed: ${message}`);
    } catch {
      // a failing logger must not break the plugin
    }
  }

  /** Takes host-side fuel from the running call: `FUEL_COSTS.hostCall` per call, and this per byte handled. */
  private burnBytes(bytes: number): void {
    this.burn(bytes * FUEL_COSTS.hostByte);
  }

  private burn(units: number): void {
    const fuel = (this.exports === undefined ? undefined : this.fuelOf(this.exports)) ?? this.startFuel;
    if (fuel === undefined) return;
    const left = (fuel.value as number) - units;
    fuel.value = Math.max(left, -1);
    if (left < 0) throw new FuelExhausted('fuel exhausted in a host call');
  }

  /** Runs one host import: call quota and fuel, then `fn`; every failure but fuel becomes a status. */
  private hostCall(fn: (mem: Uint8Array, ctx: PluginContext) => number): number {
    const context = this.context;
    const exports = this.exports;
    if (this.phase !== 'call' || context === undefined || exports === undefined) {
      if (this.phase === 'start') this.burn(FUEL_COSTS.hostCall);
      return AbiStatus.FAILED;
    }
    this.counters.hostCalls++;
    // Before the quota: a refused call is still a trip through the host, and a loop of them is work.
    this.burn(FUEL_COSTS.hostCall);
    if (this.callsLeft <= 0) {
      this.counters.quotaHits++;
      return AbiStatus.QUOTA_EXCEEDED;
    }
    this.callsLeft--;
    try {
      return fn(this.memoryOf(this.boundTo(exports)), context);
    } catch (err) {
      if (err instanceof FuelExhausted) throw err;
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
        case ErrorCode.EVENT_TYPE_RESERVED:
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
        case ErrorCode.RATE_LIMITED:
        case ErrorCode.RESOURCE_LIMIT:
        case ErrorCode.FEEDBACK_LOOP:
          this.counters.quotaHits++;
          return AbiStatus.QUOTA_EXCEEDED;
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

  /** Charges what the guest hands the host to the call's byte quota and to its fuel. */
  private charge(ranges: readonly (readonly [number, number])[]): void {
    let total = 0;
    for (const [, length] of ranges) total += length;
    if (total > this.bytesLeft) throw new AbiFailure(AbiStatus.QUOTA_EXCEEDED);
    this.bytesLeft -= total;
    this.burnBytes(total);
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
    if (value.length > ENTITY_ID_MAX || !ENTITY_ID.test(value)) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
    return value;
  }

  /** Writes the JSON `bytes` to the guest's buffer only if they fit; returns their full size. */
  private output(mem: Uint8Array, [start, capacity]: readonly [number, number], bytes: Uint8Array): number {
    this.burnBytes(bytes.length);
    if (bytes.length > this.init.limits.payloadBytes) throw new AbiFailure(AbiStatus.TOO_LARGE);
    if (bytes.length <= capacity) mem.set(bytes, start);
    return bytes.length;
  }

  private log(mem: Uint8Array, level: number, ptr: number, len: number): number {
    const [start, length] = this.range(mem, ptr, len);
    this.charge([[start, length]]);
    if (level < 0 || level > 3) throw new AbiFailure(AbiStatus.INVALID_ARGUMENT);
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
    if (kept < length) {
      this.counters.logTruncated++;
      message += ` [truncated ${length - kept} bytes]`;
    }
    this.logs.push([level, message]);
    return AbiStatus.OK;
  }
}

function notGranted(action: string, target: string): string {
  return `${action} ${target} is not granted: add "${action}:${target}" to permissions`;
}

/** Thrown by a denial's replay so that it counts neither as applied nor as refused. */
const DENIAL_REPLAYED = Symbol('denial replayed');

function withDiscardNote(error: HomecoreError, discarded: number): HomecoreError {
  if (discarded === 0) return error;
  return new HomecoreError(error.code, `${error.message.replace(/^\[[^\]]*\] /, '')} (effects discarded: ${discarded} action${discarded === 1 ? '' : 's'} of this call did not happen)`, {
    ...(error.plugin === undefined ? {} : { plugin: error.plugin }),
    ...(error.hook === undefined ? {} : { hook: error.hook }),
    cause: error.cause,
    details: { ...error.details, effectsDiscarded: discarded },
  });
}

function safeFuelLeft(fuel: WebAssembly.Global): number {
  try {
    return fuel.value as number;
  } catch {
    return 0;
  }
}
