import { childPointer } from './issues.js';
import { HOST_IMPORT_NAMES } from './constants.js';

// The upgrade rule: a new version of a plugin may not do more than the operator accepted. This file
// decides what "more" means, field by field, without I/O, so the registry, the CLI's `diff` and any
// host can share one answer. When a change cannot be shown to be covered, it counts as a widening.

/** The manifest fields the upgrade rule compares, as a grant stores them (any manifest fits). */
export interface ManifestGrant {
  /** `native` (the default when absent) or `wasm`. */
  runtime?: string;
  /** `none` (the default when absent), `worker` or `process`. */
  isolation?: string;
  /** The publisher's key, `ed25519:<base64>`. */
  publisher_key?: string;
  /** Claims `<action>:<pattern>`. */
  permissions?: readonly string[];
  /** Entity and event patterns the plugin receives. */
  subscriptions?: { readonly entities?: readonly string[]; readonly events?: readonly string[] };
  /** Services the plugin registers; only the names are compared. */
  services?: readonly { readonly name: string }[];
  /** Host imports a wasm module may use; absent means any of them (the load gate checks nothing). */
  host_imports_required?: readonly string[];
  /** The plugin's own limits; absent ones are the host's caps. */
  limits?: { readonly [name: string]: number | undefined };
}

/** The top-level manifest fields a ManifestGrant keeps, in the order differences are reported. */
export const GRANT_FIELDS = Object.freeze([
  'runtime',
  'isolation',
  'publisher_key',
  'permissions',
  'subscriptions',
  'services',
  'host_imports_required',
  'limits',
] as const);

/** The field a difference is about; subscriptions are split into their two lists. */
export type GrantField =
  | 'runtime'
  | 'isolation'
  | 'publisher_key'
  | 'permissions'
  | 'subscriptions.entities'
  | 'subscriptions.events'
  | 'services'
  | 'host_imports_required'
  | 'limits';

/** A value before or after a change: a claim, pattern, name, key, limit or list; null when absent. */
export type GrantValue = string | number | readonly string[] | null;

/** One thing a new manifest asks for beyond the accepted one (a widening), or gives up (a narrowing). */
export interface ManifestDifference {
  /** `widening`: the new version may do more here; `narrowing`: it may do less. */
  readonly kind: 'widening' | 'narrowing';
  /** The field, e.g. `permissions` or `subscriptions.entities`. */
  readonly field: GrantField;
  /**
   * JSON pointer to the value: in the new manifest for what it adds or changes (`/permissions/2`),
   * in the accepted one for what it no longer has.
   */
  readonly pointer: string;
  /** The accepted value (null when the new manifest adds it). */
  readonly old: GrantValue;
  /** The new value (null when the new manifest drops it). */
  readonly new: GrantValue;
  /** One line for people, e.g. `asks for state:write:lock.*: no state:write claim was accepted`. */
  readonly message: string;
}

/** What compareManifests found: every widening and every narrowing, in field order. */
export interface ManifestComparison {
  /** Changes that need the operator's acceptance. */
  readonly widenings: ManifestDifference[];
  /** Changes that only take something away. */
  readonly narrowings: ManifestDifference[];
}

/** A copy of the fields of `manifest` that the upgrade rule compares (services by name only), fit for JSON. */
export function grantOf(manifest: ManifestGrant): ManifestGrant {
  const out: { -readonly [K in keyof ManifestGrant]: ManifestGrant[K] } = {};
  if (typeof manifest.runtime === 'string') out.runtime = manifest.runtime;
  if (typeof manifest.isolation === 'string') out.isolation = manifest.isolation;
  if (typeof manifest.publisher_key === 'string') out.publisher_key = manifest.publisher_key;
  if (Array.isArray(manifest.permissions)) out.permissions = manifest.permissions.filter(isString);
  const subscriptions = manifest.subscriptions;
  if (isObject(subscriptions)) {
    const copy: { entities?: string[]; events?: string[] } = {};
    if (Array.isArray(subscriptions.entities)) copy.entities = subscriptions.entities.filter(isString);
    if (Array.isArray(subscriptions.events)) copy.events = subscriptions.events.filter(isString);
    out.subscriptions = copy;
  }
  if (Array.isArray(manifest.services)) {
    out.services = manifest.services.filter((s) => isObject(s) && typeof s.name === 'string').map((s) => ({ name: s.name }));
  }
  if (Array.isArray(manifest.host_imports_required)) out.host_imports_required = manifest.host_imports_required.filter(isString);
  if (isObject(manifest.limits)) {
    const limits: Record<string, number> = {};
    for (const [key, value] of Object.entries(manifest.limits)) if (isLimit(value)) limits[key] = value;
    out.limits = limits;
  }
  return out;
}

/**
 * True when every value `inner` matches is matched by `outer` too, with the glob semantics of
 * core-traits' matchesPattern (`*` is any run of non-dot characters, a lone `*` matches
 * everything). Exact for any alphabet with a character neither pattern uses; never true wrongly.
 */
export function patternCovers(outer: string, inner: string): boolean {
  if (outer === '*' || outer === inner) return true;
  if (inner === '*') return false; // matches values with any number of dots; outer matches one number
  return covers(compileOuter(outer), inner.split('.'));
}

// An outer pattern split once: per dot-separated segment, its literal text, or its parts between stars.
type OuterSegments = readonly (string | readonly string[])[];

function compileOuter(outer: string): OuterSegments {
  return outer.split('.').map((segment) => (segment.includes('*') ? segment.split('*') : segment));
}

function covers(outer: OuterSegments, inner: readonly string[]): boolean {
  if (outer.length !== inner.length) return false; // a star never spans a dot
  for (let i = 0; i < outer.length; i++) {
    const segment = outer[i] as string | readonly string[];
    const text = inner[i] as string;
    if (typeof segment === 'string' ? segment !== text : !segmentCovers(segment, text)) return false;
  }
  return true;
}

// One segment with stars: they may stand for any run of `inner`, its stars included; the literal
// characters must meet the same literal characters of `inner` (never a star, which could be anything).
// So the outer segment must match `inner` read as a plain string, `*` an ordinary character only a
// star absorbs. Star-only globs match greedily: anchor the prefix and suffix, then find each middle
// part leftmost (an earlier match never rules out a later part), as matchesPattern itself does.
function segmentCovers(parts: readonly string[], inner: string): boolean {
  const prefix = parts[0] as string;
  const suffix = parts[parts.length - 1] as string;
  if (inner.length < prefix.length + suffix.length) return false;
  if (!inner.startsWith(prefix) || !inner.endsWith(suffix)) return false;
  const limit = inner.length - suffix.length;
  let at = prefix.length;
  for (let k = 1; k < parts.length - 1; k++) {
    const part = parts[k] as string;
    if (part === '') continue;
    const found = inner.indexOf(part, at);
    if (found === -1 || found + part.length > limit) return false;
    at = found + part.length;
  }
  return true;
}

/**
 * Pattern pairs one comparison may check. Manifests have no limit on how many claims they list, so a
 * hostile upgrade could otherwise make the host spend minutes here; past the budget a pattern counts
 * as not covered (a widening), which is the safe answer.
 */
const PAIR_BUDGET = 100_000;

interface Budget {
  left: number;
}

const ISOLATION_RANK: Readonly<Record<string, number>> = Object.freeze({ none: 0, worker: 1, process: 2 });

/**
 * Compares what the operator accepted (`accepted`) with a new version's manifest (`next`): every
 * widening (a claim, subscription, service or host import not covered before, a limit raised or
 * removed, isolation lowered, the publisher key changed or removed, the runtime changed) and every
 * narrowing (the reverse; a publisher key added). Pure and deterministic.
 */
export function compareManifests(accepted: ManifestGrant, next: ManifestGrant): ManifestComparison {
  const a = grantOf(accepted);
  const b = grantOf(next);
  const widenings: ManifestDifference[] = [];
  const narrowings: ManifestDifference[] = [];
  const budget: Budget = { left: PAIR_BUDGET };
  const add = (difference: ManifestDifference) => (difference.kind === 'widening' ? widenings : narrowings).push(Object.freeze(difference));

  compareRuntime(a, b, add);
  compareIsolation(a, b, add);
  comparePublisherKey(a, b, add);
  compareClaims(a.permissions ?? [], b.permissions ?? [], budget, add);
  comparePatterns('subscriptions.entities', '/subscriptions/entities', 'entities', a.subscriptions?.entities ?? [], b.subscriptions?.entities ?? [], budget, add);
  comparePatterns('subscriptions.events', '/subscriptions/events', 'events', a.subscriptions?.events ?? [], b.subscriptions?.events ?? [], budget, add);
  compareServices((a.services ?? []).map((s) => s.name), (b.services ?? []).map((s) => s.name), add);
  compareImports(a.host_imports_required, b.host_imports_required, add);
  compareLimits(a.limits ?? {}, b.limits ?? {}, add);
  return { widenings, narrowings };
}

type Add = (difference: ManifestDifference) => void;

function compareRuntime(a: ManifestGrant, b: ManifestGrant, add: Add): void {
  const before = a.runtime ?? 'native';
  const after = b.runtime ?? 'native';
  if (before === after) return;
  // Either way round: other code runs, behind another boundary (wasm's sandbox, or none), so it needs a look.
  add({
    kind: 'widening',
    field: 'runtime',
    pointer: '/runtime',
    old: before,
    new: after,
    message: `runtime changed from ${before} to ${after}: another kind of code runs, behind another boundary`,
  });
}

function compareIsolation(a: ManifestGrant, b: ManifestGrant, add: Add): void {
  const before = a.isolation ?? 'none';
  const after = b.isolation ?? 'none';
  if (before === after) return;
  // An unknown level ranks below "none" (it cannot be shown to isolate anything); two unknown ones
  // cannot be ordered, so a change between them counts as lowered too.
  const rank = (level: string) => ISOLATION_RANK[level] ?? -1;
  const lowered = rank(after) <= rank(before);
  add({
    kind: lowered ? 'widening' : 'narrowing',
    field: 'isolation',
    pointer: '/isolation',
    old: before,
    new: after,
    message: lowered ? `isolation lowered from ${before} to ${after}` : `isolation raised from ${before} to ${after}`,
  });
}

function comparePublisherKey(a: ManifestGrant, b: ManifestGrant, add: Add): void {
  const before = a.publisher_key;
  const after = b.publisher_key;
  if (before === after) return;
  if (before === undefined) {
    // From unsigned to signed: a module must now verify against this key, and the host's trust policy still decides about the key.
    add({ kind: 'narrowing', field: 'publisher_key', pointer: '/publisher_key', old: null, new: after!, message: `now names publisher key ${after}: the module must carry that publisher's signature` });
    return;
  }
  add({
    kind: 'widening',
    field: 'publisher_key',
    pointer: '/publisher_key',
    old: before,
    new: after ?? null,
    message:
      after === undefined
        ? `publisher key ${before} removed: the module need no longer be signed by the accepted publisher`
        : `publisher key changed from ${before} to ${after}: the module comes from another publisher`,
  });
}

// Every action is `<noun>:<verb>`, so a claim's pattern starts after its second colon.
const CLAIM = /^([a-z]+:[a-z]+):(.*)$/s;

interface Claim {
  claim: string;
  /** The action, or the whole claim when it does not parse (then only the same claim covers it). */
  action: string;
  pattern: string | undefined;
}

function parseClaim(claim: string): Claim {
  const match = CLAIM.exec(claim);
  return match === null ? { claim, action: claim, pattern: undefined } : { claim, action: match[1] as string, pattern: match[2] as string };
}

/** Patterns prepared for repeated coverage checks: exact ones in a set, whether a lone `*` is among them, each split once. */
interface Outers {
  readonly compiled: readonly OuterSegments[];
  readonly exact: ReadonlySet<string>;
  readonly everything: boolean;
}

function outersOf(list: readonly string[]): Outers {
  const exact = new Set(list);
  return { compiled: list.map(compileOuter), exact, everything: exact.has('*') };
}

/** `covered` when one of `outers` covers `inner`, `unchecked` when the budget ran out first. */
function coveredByAny(inner: string, outers: Outers, budget: Budget): 'covered' | 'not covered' | 'unchecked' {
  if (outers.everything || outers.exact.has(inner)) return 'covered';
  if (inner === '*' || outers.compiled.length === 0) return 'not covered';
  const segments = inner.split('.');
  for (const outer of outers.compiled) {
    if (--budget.left < 0) return 'unchecked';
    if (covers(outer, segments)) return 'covered';
  }
  return 'not covered';
}

const UNCHECKED = `(not checked: more than ${PAIR_BUDGET} pattern pairs to compare, so it counts as not covered)`;

function compareClaims(before: readonly string[], after: readonly string[], budget: Budget, add: Add): void {
  const oldClaims = before.map(parseClaim);
  const newClaims = after.map(parseClaim);
  const patternsOf = (claims: readonly Claim[]) => {
    const byAction = new Map<string, string[]>();
    for (const c of claims) {
      if (c.pattern === undefined) continue;
      const patterns = byAction.get(c.action);
      if (patterns === undefined) byAction.set(c.action, [c.pattern]);
      else patterns.push(c.pattern);
    }
    return byAction;
  };
  const oldByAction = patternsOf(oldClaims);
  const newByAction = patternsOf(newClaims);
  const prepared = (byAction: ReadonlyMap<string, string[]>) => new Map([...byAction].map(([action, patterns]) => [action, outersOf(patterns)]));
  const oldOuters = prepared(oldByAction);
  const newOuters = prepared(newByAction);
  const none = outersOf([]);
  const oldSet = new Set(before);
  const newSet = new Set(after);
  const covered = (c: Claim, others: ReadonlySet<string>, outers: ReadonlyMap<string, Outers>) =>
    c.pattern === undefined ? (others.has(c.claim) ? 'covered' : 'not covered') : coveredByAny(c.pattern, outers.get(c.action) ?? none, budget);

  newClaims.forEach((c, index) => {
    const verdict = covered(c, oldSet, oldOuters);
    if (verdict === 'covered') return;
    const accepted = oldByAction.get(c.action) ?? [];
    add({
      kind: 'widening',
      field: 'permissions',
      pointer: childPointer('/permissions', index),
      old: null,
      new: c.claim,
      message:
        verdict === 'unchecked'
          ? `asks for ${c.claim} ${UNCHECKED}`
          : accepted.length === 0
            ? `asks for ${c.claim}: no ${c.action} claim was accepted`
            : `asks for ${c.claim}: no accepted ${c.action} claim covers all of it (accepted: ${list(accepted)})`,
    });
  });
  oldClaims.forEach((c, index) => {
    const verdict = covered(c, newSet, newOuters);
    if (verdict === 'covered') return;
    const kept = newByAction.get(c.action) ?? [];
    add({
      kind: 'narrowing',
      field: 'permissions',
      pointer: childPointer('/permissions', index),
      old: c.claim,
      new: null,
      message:
        verdict === 'unchecked'
          ? `may give up ${c.claim} ${UNCHECKED}`
          : kept.length === 0
            ? `gives up ${c.claim}: it asks for no ${c.action} claim`
            : `gives up part of ${c.claim} (now: ${list(kept)})`,
    });
  });
}

function comparePatterns(
  field: 'subscriptions.entities' | 'subscriptions.events',
  pointer: string,
  what: string,
  before: readonly string[],
  after: readonly string[],
  budget: Budget,
  add: Add,
): void {
  const accepted = outersOf(before);
  const asked = outersOf(after);
  after.forEach((pattern, index) => {
    const verdict = coveredByAny(pattern, accepted, budget);
    if (verdict === 'covered') return;
    add({
      kind: 'widening',
      field,
      pointer: childPointer(pointer, index),
      old: null,
      new: pattern,
      message:
        verdict === 'unchecked'
          ? `subscribes to ${what} ${pattern} ${UNCHECKED}`
          : before.length === 0
            ? `subscribes to ${what} ${pattern}: no ${what} subscription was accepted`
            : `subscribes to ${what} ${pattern}: no accepted ${what} subscription covers all of it (accepted: ${list(before)})`,
    });
  });
  before.forEach((pattern, index) => {
    const verdict = coveredByAny(pattern, asked, budget);
    if (verdict === 'covered') return;
    add({
      kind: 'narrowing',
      field,
      pointer: childPointer(pointer, index),
      old: pattern,
      new: null,
      message:
        verdict === 'unchecked'
          ? `may no longer subscribe to ${what} ${pattern} ${UNCHECKED}`
          : after.length === 0
            ? `no longer subscribes to ${what} ${pattern}`
            : `no longer subscribes to all ${what} ${pattern} (now: ${list(after)})`,
    });
  });
}

// A schema change is not compared: a service's schema bounds the data callers send the plugin, and
// grants the plugin nothing. Registering a service at all is a new capability (callers reach new code).
function compareServices(before: readonly string[], after: readonly string[], add: Add): void {
  const had = new Set(before);
  const has = new Set(after);
  after.forEach((name, index) => {
    if (!had.has(name)) add({ kind: 'widening', field: 'services', pointer: childPointer('/services', index), old: null, new: name, message: `registers a new service ${name}` });
  });
  before.forEach((name, index) => {
    if (!has.has(name)) add({ kind: 'narrowing', field: 'services', pointer: childPointer('/services', index), old: name, new: null, message: `no longer registers service ${name}` });
  });
}

// No list means the load gate checks nothing: the module may import every host function.
function compareImports(before: readonly string[] | undefined, after: readonly string[] | undefined, add: Add): void {
  if (before === undefined && after === undefined) return;
  if (before !== undefined && after === undefined) {
    const gained = HOST_IMPORT_NAMES.filter((name) => !before.includes(name));
    if (gained.length === 0) return;
    add({
      kind: 'widening',
      field: 'host_imports_required',
      pointer: '/host_imports_required',
      old: before,
      new: null,
      message: `no longer lists host_imports_required, so the module may import any host function (not accepted: ${gained.join(', ')})`,
    });
    return;
  }
  if (before === undefined && after !== undefined) {
    const given = HOST_IMPORT_NAMES.filter((name) => !after.includes(name));
    if (given.length === 0) return;
    add({
      kind: 'narrowing',
      field: 'host_imports_required',
      pointer: '/host_imports_required',
      old: null,
      new: after,
      message: `now lists host_imports_required, giving up ${given.join(', ')}`,
    });
    return;
  }
  const had = new Set(before);
  const has = new Set(after);
  after!.forEach((name, index) => {
    if (!had.has(name)) {
      add({ kind: 'widening', field: 'host_imports_required', pointer: childPointer('/host_imports_required', index), old: null, new: name, message: `imports ${name}, which was not accepted` });
    }
  });
  before!.forEach((name, index) => {
    if (!has.has(name)) {
      add({ kind: 'narrowing', field: 'host_imports_required', pointer: childPointer('/host_imports_required', index), old: name, new: null, message: `no longer imports ${name}` });
    }
  });
}

// Every limit bounds what the plugin may use, so a larger one is wider, and an absent one is the
// host's cap (manifest limits only ever lower the host's: the stricter wins).
function compareLimits(before: Readonly<Record<string, number | undefined>>, after: Readonly<Record<string, number | undefined>>, add: Add): void {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  for (const key of keys) {
    const was = before[key];
    const is = after[key];
    if (was === is) continue;
    const pointer = childPointer('/limits', key);
    const name = `limits.${key}`;
    if (was === undefined) {
      add({ kind: 'narrowing', field: 'limits', pointer, old: null, new: is!, message: `${name} set to ${is} (was the host's cap)` });
    } else if (is === undefined) {
      add({ kind: 'widening', field: 'limits', pointer, old: was, new: null, message: `${name} removed (was ${was}): the host's cap applies` });
    } else if (is > was) {
      add({ kind: 'widening', field: 'limits', pointer, old: was, new: is, message: `${name} raised from ${was} to ${is}` });
    } else {
      add({ kind: 'narrowing', field: 'limits', pointer, old: was, new: is, message: `${name} lowered from ${was} to ${is}` });
    }
  }
}

function list(patterns: readonly string[]): string {
  const shown = patterns.slice(0, 5).join(', ');
  return patterns.length > 5 ? `${shown} and ${patterns.length - 5} more` : shown;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isObject(value: unknown): value is Record<string, unknown> & { name?: unknown; entities?: unknown; events?: unknown } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLimit(value: unknown): value is number {
  return typeof value === 'number' && !Number.isNaN(value);
}
