import type { BusEvent, DeliveredEvent } from '@homecore/core-traits';
import { cachedJson, cachedJsonBytes, matchesPattern } from '@homecore/core-traits';
import { GlobIndex } from './glob-index.js';

const encoder = new TextEncoder();

class SharedEvent implements DeliveredEvent {
  readonly event: BusEvent;
  private text: string | undefined;
  private encoded: Uint8Array | undefined;

  constructor(event: BusEvent) {
    this.event = event;
  }

  // A core's sealed state events are assembled from their states' cached JSON (see sealJson).
  json(): string {
    if (this.text === undefined) this.text = cachedJson(this.event);
    return this.text;
  }

  bytes(): Uint8Array {
    if (this.encoded === undefined) this.encoded = this.text === undefined ? cachedJsonBytes(this.event) : encoder.encode(this.text);
    return this.encoded;
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}

/**
 * Wraps a bus event for delivery: the event is frozen so no plugin can change what others see,
 * and `json()` / `bytes()` are computed at most once however many plugins read them.
 */
export function createDeliveredEvent(event: BusEvent): DeliveredEvent {
  deepFreeze(event);
  return new SharedEvent(event);
}

/** One subscription pattern held by the index, owned by some subscriber (a plugin activation). */
export interface IndexEntry<Owner> {
  readonly owner: Owner;
  readonly kind: 'entity' | 'event';
  readonly pattern: string;
}

function domainPattern(pattern: string): string | undefined {
  // `sensor.*` is by far the most common glob: index it by domain so lookup stays O(1).
  const dot = pattern.indexOf('.');
  if (dot <= 0 || pattern.slice(dot) !== '.*') return undefined;
  const domain = pattern.slice(0, dot);
  return domain.includes('*') ? undefined : domain;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (set === undefined) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/**
 * The subscription index: exact entity ids and event types in Maps (O(1)), `domain.*` entity
 * patterns in a Map by domain, and every other glob in a segment trie (GlobIndex): one event costs
 * what its matching subscriptions cost, not one test per subscription.
 */
export class SubscriptionIndex<Owner> {
  private readonly entityExact = new Map<string, Set<IndexEntry<Owner>>>();
  private readonly entityDomain = new Map<string, Set<IndexEntry<Owner>>>();
  private readonly entityGlobs = new GlobIndex<IndexEntry<Owner>>();
  private readonly eventExact = new Map<string, Set<IndexEntry<Owner>>>();
  private readonly eventGlobs = new GlobIndex<IndexEntry<Owner>>();

  add(entry: IndexEntry<Owner>): void {
    const { kind, pattern } = entry;
    if (kind === 'event') {
      if (pattern.includes('*')) this.eventGlobs.add(pattern, entry);
      else addTo(this.eventExact, pattern, entry);
      return;
    }
    if (!pattern.includes('*')) return addTo(this.entityExact, pattern, entry);
    const domain = domainPattern(pattern);
    if (domain !== undefined) addTo(this.entityDomain, domain, entry);
    else this.entityGlobs.add(pattern, entry);
  }

  remove(entry: IndexEntry<Owner>): void {
    const { kind, pattern } = entry;
    if (kind === 'event') {
      if (pattern.includes('*')) this.eventGlobs.remove(pattern, entry);
      else removeFrom(this.eventExact, pattern, entry);
      return;
    }
    if (!pattern.includes('*')) return removeFrom(this.entityExact, pattern, entry);
    const domain = domainPattern(pattern);
    if (domain !== undefined) removeFrom(this.entityDomain, domain, entry);
    else this.entityGlobs.remove(pattern, entry);
  }

  /**
   * Calls `visit` for every entry matching the event (an owner may be visited more than once).
   * `state_changed` matches entity subscriptions on its entity id and exact `state_changed`
   * event subscriptions; `state_reported` matches only an exact `state_reported` subscription;
   * other events match event types and event globs.
   */
  match(eventType: string, entityId: string | undefined, visit: (entry: IndexEntry<Owner>) => void): void {
    const exact = this.eventExact.get(eventType);
    if (exact !== undefined) for (const entry of exact) visit(entry);
    if (eventType === 'state_reported') return;
    if (eventType === 'state_changed') {
      if (entityId === undefined) return;
      const byId = this.entityExact.get(entityId);
      if (byId !== undefined) for (const entry of byId) visit(entry);
      const dot = entityId.indexOf('.');
      if (dot > 0) {
        const byDomain = this.entityDomain.get(entityId.slice(0, dot));
        if (byDomain !== undefined) for (const entry of byDomain) visit(entry);
      }
      this.entityGlobs.match(entityId, visit);
      return;
    }
    this.eventGlobs.match(eventType, visit);
  }
}

/** True when one subscription list selects the event (the same rules as the index). */
export function subscriptionSelects(
  entries: Iterable<{ kind: 'entity' | 'event'; pattern: string }>,
  eventType: string,
  entityId: string | undefined,
): boolean {
  for (const { kind, pattern } of entries) {
    if (kind === 'event') {
      if (pattern === eventType) return true;
      if (eventType !== 'state_changed' && eventType !== 'state_reported' && matchesPattern(pattern, eventType)) return true;
    } else if (eventType === 'state_changed' && entityId !== undefined && matchesPattern(pattern, entityId)) {
      return true;
    }
  }
  return false;
}

/** A FIFO with O(1) push and shift (a growable ring). */
export class Fifo<T> {
  private items: (T | undefined)[] = new Array(16);
  private head = 0;
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) {
      const grown: (T | undefined)[] = new Array(this.items.length * 2);
      for (let i = 0; i < this.size; i++) grown[i] = this.items[(this.head + i) % this.items.length];
      this.items = grown;
      this.head = 0;
    }
    this.items[(this.head + this.size) % this.items.length] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.size--;
    return item;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    const out: T[] = [];
    while (this.size > 0) out.push(this.shift() as T);
    return out;
  }

  /** Removes the first item matching `test`; returns it. */
  removeFirst(test: (item: T) => boolean): T | undefined {
    for (let i = 0; i < this.size; i++) {
      const at = (this.head + i) % this.items.length;
      const item = this.items[at] as T;
      if (!test(item)) continue;
      if (i === 0) return this.shift();
      const rest: T[] = [];
      for (let j = i + 1; j < this.size; j++) rest.push(this.items[(this.head + j) % this.items.length] as T);
      for (let j = i; j < this.size; j++) this.items[(this.head + j) % this.items.length] = undefined;
      this.size = i;
      for (const r of rest) this.push(r);
      return item;
    }
    return undefined;
  }
}
