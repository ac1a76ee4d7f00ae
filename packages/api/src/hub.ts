// Fans bus events out to the WebSocket subscriptions of every connection. One core listener for the
// whole server; each event is serialised once however many connections receive it (as Home
// Assistant's cached_event_message does), and each state_changed is compressed once for every
// `subscribe_entities` subscriber.
import { cachedJson, type BusEvent, type StateChangedData } from '@homecore/core-traits';
import { entitiesUpdate } from './compressed.js';

/** Where a subscription's messages go. */
export interface Subscriber {
  send(text: string): void;
}

/** A `subscribe_events` or `subscribe_entities` subscription. */
export interface Subscription {
  readonly id: number;
  readonly to: Subscriber;
  /** `events`: an event type or all (null); `entities`: some entity ids or all (null). */
  readonly kind: 'events' | 'entities';
  readonly filter: string | ReadonlySet<string> | null;
}

// Home Assistant never sends these to MATCH_ALL listeners (core.py: EVENTS_EXCLUDED_FROM_MATCH_ALL).
const NOT_FOR_ALL = new Set(['state_reported', 'homeassistant_close']);

export class EventHub {
  private readonly byType = new Map<string, Set<Subscription>>();
  private readonly all = new Set<Subscription>();
  private readonly entities = new Set<Subscription>();

  add(sub: Subscription): void {
    if (sub.kind === 'entities') this.entities.add(sub);
    else if (sub.filter === null) this.all.add(sub);
    else {
      const type = sub.filter as string;
      let set = this.byType.get(type);
      if (set === undefined) this.byType.set(type, (set = new Set()));
      set.add(sub);
    }
  }

  remove(sub: Subscription): void {
    if (sub.kind === 'entities') this.entities.delete(sub);
    else if (sub.filter === null) this.all.delete(sub);
    else {
      const type = sub.filter as string;
      const set = this.byType.get(type);
      set?.delete(sub);
      if (set?.size === 0) this.byType.delete(type);
    }
  }

  get size(): number {
    let n = this.all.size + this.entities.size;
    for (const set of this.byType.values()) n += set.size;
    return n;
  }

  dispatch(event: BusEvent): void {
    let json: string | undefined;
    const typed = this.byType.get(event.event_type);
    if (typed !== undefined) {
      json ??= cachedJson(event); // around the states' cached JSON
      for (const sub of typed) sub.to.send(`{"id":${sub.id},"type":"event","event":${json}}`);
    }
    if (this.all.size > 0 && !NOT_FOR_ALL.has(event.event_type)) {
      json ??= cachedJson(event); // around the states' cached JSON
      for (const sub of this.all) sub.to.send(`{"id":${sub.id},"type":"event","event":${json}}`);
    }
    if (this.entities.size > 0 && event.event_type === 'state_changed') {
      const data = event.data as unknown as StateChangedData;
      let diff: string | undefined;
      for (const sub of this.entities) {
        const ids = sub.filter as ReadonlySet<string> | null;
        if (ids !== null && !ids.has(data.entity_id)) continue;
        diff ??= JSON.stringify(entitiesUpdate(data));
        sub.to.send(`{"id":${sub.id},"type":"event","event":${diff}}`);
      }
    }
  }
}
