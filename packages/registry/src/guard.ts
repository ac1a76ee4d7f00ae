import {
  ErrorCode,
  HomecoreError,
  RESERVED_EVENT_TYPES,
  type Clock,
  type ErrorCodeValue,
  type HostCore,
  type PermissionAction,
} from '@homecore/core-traits';
import type { ResolvedManifest } from '@homecore/manifest';
import type { Bookkeeping } from './bookkeeping.js';
import type { Activation, PluginRecord } from './record.js';
import type { HostLimits } from './settings.js';

/** Home Assistant's longest entity id (`MAX_LENGTH_STATE_ENTITY_ID`), enforced whatever the core. */
export const MAX_ENTITY_ID_LENGTH = 255;

/** Context ids whose place in a causal chain is remembered at least (oldest forgotten first). */
const LOOP_MEMORY = 8192;
/** Shared repeat refusals kept per plugin (by kind, limit and hook). */
const REPEAT_REFUSALS = 64;

/** The host-side limits of one activation: its manifest's, capped by the host's. */
export interface PluginLimits {
  readonly writesPerSecond: number;
  readonly eventsPerSecond: number;
  readonly serviceCallsPerSecond: number;
  readonly stateBytes: number;
  readonly entities: number;
  readonly subscriptions: number;
  readonly subscriptionBytes: number;
  readonly timers: number;
  readonly pendingServiceCalls: number;
}

const MANIFEST_FIELDS: Readonly<Record<keyof PluginLimits, string>> = {
  writesPerSecond: 'writes_per_second',
  eventsPerSecond: 'events_per_second',
  serviceCallsPerSecond: 'service_calls_per_second',
  stateBytes: 'state_bytes',
  entities: 'entities',
  subscriptions: 'subscriptions',
  subscriptionBytes: 'subscription_bytes',
  timers: 'timers',
  pendingServiceCalls: 'pending_service_calls',
};

/** The smaller of the manifest's limit and the host's cap, for each host-side limit. */
export function pluginLimits(manifest: ResolvedManifest, host: HostLimits): PluginLimits {
  const asked = (manifest.limits ?? {}) as Record<string, number | undefined>;
  const out = {} as Record<keyof PluginLimits, number>;
  for (const key of Object.keys(MANIFEST_FIELDS) as (keyof PluginLimits)[]) out[key] = Math.min(asked[MANIFEST_FIELDS[key]] ?? Infinity, host[key]);
  return Object.freeze(out);
}

/** A token bucket holding one second's budget, refilled continuously on the registry clock. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private rate: number,
    now: number,
  ) {
    this.tokens = Math.max(1, rate);
    this.last = now;
  }

  /** Takes one token; false when the budget is spent. */
  take(now: number): boolean {
    if (this.rate === Infinity) return true;
    // A clock that moves back refills nothing (and restarts from where it is now).
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(Math.max(1, this.rate), this.tokens + (elapsed * this.rate) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** A reload may change the rate; the tokens left stay, up to the new budget. */
  retune(rate: number): void {
    if (rate === this.rate) return;
    this.rate = rate;
    this.tokens = Math.min(this.tokens, Math.max(1, rate));
  }
}

/** What every action descended from one root event shares. */
export interface ChainRoot {
  /** Actions admitted so far. */
  actions: number;
  /** Plugins already reported (audited) as closing a loop of this chain; later refusals are only counted. */
  reported?: Set<string>;
}

/** Where an action sits in the causal chain of the event that started it. */
export interface ChainLink {
  /** Shared by every action descended from one root. */
  readonly root: ChainRoot;
  /** Hops from the root (an action caused directly by an outside event is at depth 1). */
  readonly depth: number;
}

/**
 * Bounds feedback loops: remembers, per context id, its chain's root and depth, so an action
 * caused by an event (or a service call) extends that event's chain. Memory is bounded: the oldest
 * ids are forgotten first (a root is kept fresh while actions answer it directly; a deeper link
 * needs no refresh, as what it causes is remembered on its own), and an action whose parent was
 * forgotten starts a new chain.
 */
export class LoopGuard {
  // Two generations instead of one Map evicting its first key: a Map used as a FIFO keeps deleted
  // entries as holes that keys().next() walks past, which cost ~10 µs per eviction once it is full.
  // The recent ids live in `young`; when it holds LOOP_MEMORY, it becomes `old` and the previous
  // old is forgotten, so at least the LOOP_MEMORY most recent ids are always remembered.
  private young = new Map<string, ChainLink>();
  private old = new Map<string, ChainLink>();

  constructor(
    readonly maxDepth: number,
    readonly maxActions: number,
  ) {}

  /** The link an action caused by `parent` would have; a depth or action count past the bounds is the caller's to refuse. */
  next(parent: string | null): ChainLink {
    if (parent === null) return { root: { actions: 0 }, depth: 0 };
    let link = this.young.get(parent);
    if (link === undefined) {
      link = this.old.get(parent);
      if (link === undefined) {
        // An event from outside (or one whose chain was forgotten): the root of a new chain.
        link = { root: { actions: 0 }, depth: 0 };
        this.remember(parent, link);
      } else if (link.depth === 0) {
        this.remember(parent, link); // a root answered again stays fresh
      }
    }
    return { root: link.root, depth: link.depth + 1 };
  }

  /** The chain an event belongs to, if remembered (no refresh: dispatch only looks). */
  rootOf(contextId: string): ChainRoot | undefined {
    return (this.young.get(contextId) ?? this.old.get(contextId))?.root;
  }

  /** Counts an admitted action against its root and remembers its context for what it causes. */
  commit(contextId: string, link: ChainLink): void {
    link.root.actions++;
    // An action with no parent needs no entry: a miss makes its context a root, which it is.
    if (link.depth > 0) this.remember(contextId, link);
  }

  private remember(id: string, link: ChainLink): void {
    this.young.set(id, link);
    if (this.young.size < LOOP_MEMORY) return;
    this.old = this.young;
    this.young = new Map();
  }
}

/** Which plugin created each entity it still owns (shared by every plugin of a registry). */
export class EntityOwners {
  private readonly owners = new Map<string, PluginRecord>();

  /** The plugin that created `entityId` and still owns it, if any (the host's own entities have none). */
  owner(entityId: string): PluginRecord | undefined {
    return this.owners.get(entityId);
  }

  /** `rec` created `entityId`: it counts against the plugin's `entities` cap until removed. */
  claim(rec: PluginRecord, entityId: string): void {
    this.owners.set(entityId, rec);
    rec.owned.add(entityId);
  }

  /** The entity is gone (whoever removed it). */
  release(entityId: string): void {
    const rec = this.owners.get(entityId);
    if (rec === undefined) return;
    this.owners.delete(entityId);
    rec.owned.delete(entityId);
  }

  /** The plugin is unloaded: its entities stay in the core, owned by nobody. */
  releaseAll(rec: PluginRecord): void {
    for (const id of rec.owned) if (this.owners.get(id) === rec) this.owners.delete(id);
    rec.owned.clear();
  }
}

/** What the guards share across a registry. */
export interface GuardHost {
  readonly core: HostCore;
  readonly clock: Clock;
  readonly book: Bookkeeping;
  readonly loops: LoopGuard;
  readonly owners: EntityOwners;
}

/** The kinds of action that spend a budget and extend a causal chain. */
export type ActionKind = 'write' | 'event' | 'serviceCall';

const BUDGET: Readonly<Record<ActionKind, { key: 'writesPerSecond' | 'eventsPerSecond' | 'serviceCallsPerSecond'; what: string }>> = {
  write: { key: 'writesPerSecond', what: 'state writes' },
  event: { key: 'eventsPerSecond', what: 'fired events' },
  serviceCall: { key: 'serviceCallsPerSecond', what: 'service calls' },
};

/**
 * The host-side limits of one plugin activation, checked at its context: reserved event types,
 * feedback loops, per-second budgets and what the plugin may hold. Each refusal is a coded error
 * naming the plugin, the hook and the limit to change, and is counted in the plugin's stats.
 */
export class ActionGuard {
  constructor(
    private readonly shared: GuardHost,
    private readonly activation: Activation,
  ) {}

  private get rec(): PluginRecord {
    return this.activation.record;
  }

  private get limits(): PluginLimits {
    return this.activation.limits;
  }

  private hook(): string | undefined {
    return this.activation.hook ?? undefined;
  }

  /** Refuses a core-owned event type whatever the grants; audited like a permission denial. */
  checkEventType(eventType: string): void {
    if (!RESERVED_EVENT_TYPES.has(eventType)) return;
    this.shared.book.recordDenial(this.rec, 'event:fire', eventType, this.activation.hook, ErrorCode.EVENT_TYPE_RESERVED);
    throw new HomecoreError(
      ErrorCode.EVENT_TYPE_RESERVED,
      `may not fire ${eventType}: only the core fires it, whatever the plugin's permissions (even "event:fire:*"); ` +
        'fire an event of your own type instead (for example <domain>_<what>)',
      { plugin: this.rec.id, hook: this.hook(), details: { action: 'event:fire', target: eventType } },
    );
  }

  /** Refuses an entity id longer than Home Assistant allows, whatever the core checks. */
  checkEntityId(entityId: string): void {
    if (entityId.length <= MAX_ENTITY_ID_LENGTH) return;
    throw new HomecoreError(
      ErrorCode.ENTITY_ID_INVALID,
      `the entity id ${JSON.stringify(`${entityId.slice(0, 40)}…`)} is ${entityId.length} characters long; ` +
        `the limit is ${MAX_ENTITY_ID_LENGTH}: use a shorter object id`,
      { plugin: this.rec.id, hook: this.hook(), details: { entity_id: entityId.slice(0, MAX_ENTITY_ID_LENGTH), limit: MAX_ENTITY_ID_LENGTH } },
    );
  }

  /**
   * Checks a state write before it is made: its size, and whether it creates an entity the plugin
   * may not own. Returns true when it creates one.
   */
  checkWrite(entityId: string, state: string, attributes: unknown): boolean {
    const limit = this.limits.stateBytes;
    if (limit !== Infinity) {
      const size = stateSize(state, attributes, limit);
      if (size > limit) {
        this.resourceLimit(
          'stateBytes',
          `the state and attributes of ${entityId} are ${size} bytes as JSON; the limit is ${limit}: keep attributes small ` +
            '(move bulky data elsewhere)',
          { entity_id: entityId, bytes: size },
        );
      }
      this.passed('stateBytes');
    }
    if (this.shared.core.getState(entityId) !== undefined) return false;
    const owned = this.rec.owned.size;
    if (owned >= this.limits.entities) {
      this.resourceLimit(
        'entities',
        `creating ${entityId} would make ${owned + 1} entities created by this plugin; the limit is ${this.limits.entities}: ` +
          'remove entities it no longer needs',
        { entity_id: entityId, entities: owned },
      );
    }
    this.passed('entities');
    return true;
  }

  /** Records an entity the plugin just created. */
  created(entityId: string): void {
    if (this.shared.owners.owner(entityId) === undefined) this.shared.owners.claim(this.rec, entityId);
  }

  /** Forgets an entity the plugin just removed. */
  removed(entityId: string): void {
    this.shared.owners.release(entityId);
  }

  /** Refuses one more subscription beyond the plugin's caps; `bytes` is the patterns' size. */
  checkSubscriptions(count: number, bytes: number): void {
    const { runtimeSubscriptions: subscriptions, subscriptionBytes } = this.activation;
    if (subscriptions + count > this.limits.subscriptions) {
      this.resourceLimit(
        'subscriptions',
        `adding ${count} subscription pattern${count === 1 ? '' : 's'} would make ${subscriptions + count}; the limit is ${this.limits.subscriptions}: ` +
          'call the unsubscribe functions of patterns no longer needed, or subscribe to a broader pattern',
        { subscriptions },
      );
    }
    if (subscriptionBytes + bytes > this.limits.subscriptionBytes) {
      this.resourceLimit(
        'subscriptionBytes',
        `adding ${bytes} bytes of subscription patterns would make ${subscriptionBytes + bytes}; the limit is ${this.limits.subscriptionBytes}: ` +
          'unsubscribe patterns no longer needed',
        { subscriptionBytes },
      );
    }
    this.passed('subscriptions');
    this.passed('subscriptionBytes');
  }

  /** Refuses a timer beyond the plugin's cap. */
  checkTimer(): void {
    const pending = this.activation.timers.size + this.activation.dueTimers;
    if (pending < this.limits.timers) return this.passed('timers');
    this.resourceLimit(
      'timers',
      `${pending} ctx.callLater timers are pending; the limit is ${this.limits.timers}: cancel timers no longer needed, or reuse one`,
      { timers: pending },
    );
  }

  /** Refuses a service call while too many of the plugin's calls are in flight. */
  checkServiceCall(): void {
    const pending = this.rec.pendingServiceCalls;
    if (pending < this.limits.pendingServiceCalls) return this.passed('pendingServiceCalls');
    this.resourceLimit(
      'pendingServiceCalls',
      `${pending} of the plugin's service calls have not settled; the limit is ${this.limits.pendingServiceCalls}: ` +
        'wait for calls to settle before making more',
      { pendingServiceCalls: pending },
    );
  }

  /**
   * Admits one action caused by `parent` (the event or service call being handled, or null): the
   * loop bounds, then the per-second budget. Returns the chain link to commit once the action's
   * context exists. Refusals throw HC_ERR_FEEDBACK_LOOP (audited) or HC_ERR_RATE_LIMITED.
   */
  admit(kind: ActionKind, action: PermissionAction, target: string, parent: string | null): ChainLink {
    const { loops, clock, book } = this.shared;
    const link = loops.next(parent);
    const overDepth = link.depth > loops.maxDepth;
    if (overDepth || link.root.actions >= loops.maxActions) {
      const rec = this.rec;
      rec.refused.feedbackLoop++;
      // Audited once per plugin and chain: a flood inside one runaway chain must not flood the audit trail.
      const reported = (link.root.reported ??= new Set());
      const repeat = reported.has(rec.id);
      if (!repeat) {
        reported.add(rec.id);
        book.recordDenial(rec, action, target, this.activation.hook, ErrorCode.FEEDBACK_LOOP);
        book.emit({ type: 'action_refused', plugin: rec.id, action, target, hook: this.activation.hook, code: ErrorCode.FEEDBACK_LOOP });
      }
      const { maxDepth, maxActions } = loops;
      this.refuse(
        repeat,
        `loop|${action}`,
        ErrorCode.FEEDBACK_LOOP,
        (detailed) => {
          const why = !detailed
            ? `its chain already ran past the host's limits.loopDepth (${maxDepth}) or limits.loopActions (${maxActions})`
            : overDepth
              ? `it would be ${link.depth} hops from the event that started the chain (the host's limits.loopDepth is ${maxDepth})`
              : `that event has already caused ${link.root.actions} actions (the host's limits.loopActions is ${maxActions})`;
          return (
            `refused ${action}${detailed ? ` ${target}` : ''}: ${why}, so this is a feedback loop; stop reacting to the plugin's own output ` +
            `(skip events whose context.user_id is "plugin:${rec.id}", or compare with the current state before writing)`
          );
        },
        (detailed) => (detailed ? { action, target, depth: link.depth, actions: link.root.actions } : { action }),
      );
    }
    const budget = BUDGET[kind];
    const rate = this.limits[budget.key];
    if (rate !== Infinity) {
      const rec = this.rec;
      const now = clock.now();
      const bucket = (rec.buckets[kind] ??= new TokenBucket(rate, now));
      bucket.retune(rate);
      if (!bucket.take(now)) {
        rec.refused.rateLimited++;
        // A refused attempt still counts against its chain: a plugin hammering a spent budget from
        // inside a chain (retrying, or a guest spending its whole host-call quota) soon closes the
        // loop, and the chain is then cut for it instead of costing the host an attempt per call.
        link.root.actions++;
        // Once per run of refusals: a plugin hammering its budget must not flood the activity log.
        const repeat = rec.limitedNow.has(kind);
        if (!repeat) {
          rec.limitedNow.add(kind);
          book.emit({ type: 'action_refused', plugin: rec.id, action, target, hook: this.activation.hook, code: ErrorCode.RATE_LIMITED });
        }
        this.refuse(
          repeat,
          `rate|${kind}|${rate}`,
          ErrorCode.RATE_LIMITED,
          (detailed) =>
            `refused ${action}${detailed ? ` ${target}` : ''}: the plugin spent its budget of ${rate} ${budget.what} per second ` +
            `(limits.${MANIFEST_FIELDS[budget.key]}, capped by the host's limits.${budget.key}); ` +
            'act less often (coalesce updates); the budget refills continuously',
          () => ({ limit: MANIFEST_FIELDS[budget.key], perSecond: rate }),
        );
      }
      if (rec.limitedNow.size > 0) rec.limitedNow.delete(kind);
    }
    return link;
  }

  /** A check passed: the next refusal of `key` starts a new run (reported, with a stack trace). */
  private passed(key: keyof PluginLimits): void {
    const now = this.rec.limitedNow;
    if (now.size > 0) now.delete(key);
  }

  private resourceLimit(key: keyof PluginLimits, what: string, details: Record<string, unknown>): never {
    const rec = this.rec;
    rec.refused.resourceLimit++;
    const limit = this.limits[key];
    const repeat = rec.limitedNow.has(key);
    if (!repeat) {
      rec.limitedNow.add(key);
      const target = String(details.entity_id ?? '');
      this.shared.book.emit({ type: 'action_refused', plugin: rec.id, action: MANIFEST_FIELDS[key], target, hook: this.activation.hook, code: ErrorCode.RESOURCE_LIMIT });
    }
    const field = MANIFEST_FIELDS[key];
    this.refuse(
      repeat,
      `${key}|${limit}`,
      ErrorCode.RESOURCE_LIMIT,
      (detailed) =>
        `${detailed ? what : `the plugin is still at its limit of ${limit} (${field})`} (limits.${field}, capped by the host's limits.${key})`,
      (detailed) => (detailed ? { limit: field, max: limit, ...details } : { limit: field, max: limit }),
    );
  }

  /**
   * Throws a refusal. Repeats within one run of refusals share one error per kind and hook, with
   * no stack trace: capturing one costs more than the rest of a refused call, and refusing must
   * stay cheaper than the attack.
   */
  private refuse(
    repeat: boolean,
    key: string,
    code: ErrorCodeValue,
    message: (detailed: boolean) => string,
    details: (detailed: boolean) => Record<string, unknown>,
  ): never {
    const options = (detailed: boolean) => ({ plugin: this.rec.id, hook: this.hook(), details: details(detailed) });
    if (!repeat) throw new HomecoreError(code, message(true), options(true));
    const cacheKey = `${key}|${this.activation.hook ?? ''}`;
    const cache = this.rec.repeatRefusals;
    let error = cache.get(cacheKey);
    if (error === undefined) {
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        error = new HomecoreError(code, `${message(false)}; refused again`, options(false));
      } finally {
        Error.stackTraceLimit = limit;
      }
      if (cache.size < REPEAT_REFUSALS) cache.set(cacheKey, error);
    }
    throw error;
  }
}

/** UTF-8 bytes of `text`. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/**
 * UTF-8 bytes of a state plus its attributes as JSON; attributes JSON cannot carry count as 0
 * (the core refuses them with its own error). Exact only up to `limit`: a UTF-16 length small
 * enough that even 3 bytes per unit fits skips the byte count.
 */
function stateSize(state: string, attributes: unknown, limit: number): number {
  let json: string | undefined;
  try {
    json = attributes === undefined ? '' : JSON.stringify(attributes);
  } catch {
    json = '';
  }
  const text = typeof state === 'string' ? state : '';
  const units = text.length + (json ?? '').length;
  if (units * 3 <= limit) return units;
  return utf8Bytes(text) + utf8Bytes(json ?? '');
}
