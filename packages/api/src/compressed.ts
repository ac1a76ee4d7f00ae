// The compressed states `subscribe_entities` sends, as Home Assistant builds them
// (websocket_api/messages.py: compressed_state_dict_add, _state_diff) and as
// home-assistant-js-websocket's entities.ts reads them: `a` adds, `c` changes (`+` / `-`), `r` removes.
import type { EntityState, EventContext, JsonValue, StateChangedData } from '@homecore/core-traits';

/** A state in compressed form: s(tate), a(ttributes), c(ontext), l(ast_)c(hanged), l(ast_)u(pdated). */
export interface CompressedState {
  s: string;
  a: Readonly<Record<string, JsonValue>>;
  c: EventContext | string;
  lc: number;
  lu?: number;
}

/** A change to one entity: what to add or overwrite (`+`) and which attributes to remove (`-`). */
export interface CompressedDiff {
  '+': { s?: string; lc?: number; lu?: number; c?: Partial<EventContext> | string; a?: Record<string, JsonValue> };
  '-'?: { a: string[] };
}

/** One `subscribe_entities` event. */
export interface EntitiesUpdate {
  a?: Record<string, CompressedState>;
  c?: Record<string, CompressedDiff>;
  r?: string[];
}

/** An ISO 8601 timestamp as seconds since the epoch with its microseconds (Python's `datetime.timestamp()`). */
export function toSeconds(iso: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(iso);
  if (match === null) return Date.parse(iso) / 1000;
  const whole = Date.parse(`${match[1]}${match[3] || 'Z'}`) / 1000;
  const fraction = match[2] === undefined ? 0 : Number(`0.${match[2]}`);
  return whole + fraction;
}

/** A state as `subscribe_entities` adds it: `lu` only when it differs from `lc`, `c` a plain id when it has no parent or user. */
export function compressState(state: EntityState): CompressedState {
  const ctx = state.context;
  const out: CompressedState = {
    s: state.state,
    a: state.attributes,
    c: ctx.parent_id === null && ctx.user_id === null ? ctx.id : { id: ctx.id, parent_id: ctx.parent_id, user_id: ctx.user_id },
    lc: toSeconds(state.last_changed),
  };
  if (state.last_updated !== state.last_changed) out.lu = toSeconds(state.last_updated);
  return out;
}

/** What one `state_changed` event becomes for `subscribe_entities`. */
export function entitiesUpdate(data: StateChangedData): EntitiesUpdate {
  if (data.new_state === null) return { r: [data.entity_id] };
  if (data.old_state === null) return { a: { [data.new_state.entity_id]: compressState(data.new_state) } };
  return { c: { [data.new_state.entity_id]: stateDiff(data.old_state, data.new_state) } };
}

/** The difference between two states of one entity, as Home Assistant's `_state_diff` builds it. */
export function stateDiff(oldState: EntityState, newState: EntityState): CompressedDiff {
  const additions: CompressedDiff['+'] = {};
  if (oldState.state !== newState.state) additions.s = newState.state;
  if (oldState.last_changed !== newState.last_changed) additions.lc = toSeconds(newState.last_changed);
  else if (oldState.last_updated !== newState.last_updated) additions.lu = toSeconds(newState.last_updated);
  const oldCtx = oldState.context;
  const newCtx = newState.context;
  let ctx: { -readonly [K in keyof EventContext]?: EventContext[K] } | undefined;
  if (oldCtx.parent_id !== newCtx.parent_id) (ctx ??= {}).parent_id = newCtx.parent_id;
  if (oldCtx.user_id !== newCtx.user_id) (ctx ??= {}).user_id = newCtx.user_id;
  if (oldCtx.id !== newCtx.id) {
    if (ctx !== undefined) ctx.id = newCtx.id;
    else additions.c = newCtx.id;
  }
  if (ctx !== undefined) additions.c = ctx;
  const oldAttributes = oldState.attributes;
  for (const [key, value] of Object.entries(newState.attributes)) {
    if (!Object.hasOwn(oldAttributes, key) || !jsonEqual(oldAttributes[key] as JsonValue, value)) (additions.a ??= {})[key] = value;
  }
  const diff: CompressedDiff = { '+': additions };
  const removed = Object.keys(oldAttributes).filter((key) => !Object.hasOwn(newState.attributes, key));
  if (removed.length > 0) diff['-'] = { a: removed };
  return diff;
}

function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => jsonEqual(item, b[i] as JsonValue));
  }
  if (Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key] as JsonValue, b[key] as JsonValue));
}
