import { compilePattern, type PatternMatcher } from '@homecore/core-traits';

// An index of glob patterns (`*` matches any run of characters except `.`) that finds the patterns
// matching a value without trying each one. A `*` never crosses a dot, so a pattern and a value
// pair up segment by segment: the index is a trie of segments. At each node, literal segments are
// looked up in a Map; segments with a `*` are bucketed by their literal prefix (or, when that is
// empty, by their literal suffix), and only the buckets a value's segment can reach are tried. The
// cost of one lookup grows with the value's length and the patterns that match, not with how many
// patterns are held.

interface WildChild<T> {
  readonly test: PatternMatcher;
  readonly node: SegmentNode<T>;
}

/** The wildcard segments below one node, bucketed by the literal text they must start or end with. */
class WildSegments<T> {
  readonly bySegment = new Map<string, WildChild<T>>();
  /** prefix -> segments starting with it (segments with a non-empty prefix). */
  readonly byPrefix = new Map<string, Set<string>>();
  /** suffix -> segments ending with it (empty prefix, non-empty suffix). */
  readonly bySuffix = new Map<string, Set<string>>();
  /** Segments with neither (`*`, `*x*`): tried for every value segment. */
  readonly open = new Set<string>();
  /** Lengths present among the prefixes and suffixes, so a lookup only tries those. */
  readonly prefixLengths = new Map<number, number>();
  readonly suffixLengths = new Map<number, number>();

  child(segment: string, create: boolean): WildChild<T> | undefined {
    let child = this.bySegment.get(segment);
    if (child !== undefined || !create) return child;
    child = { test: compilePattern(segment), node: new SegmentNode<T>() };
    this.bySegment.set(segment, child);
    const star = segment.indexOf('*');
    const last = segment.lastIndexOf('*');
    const prefix = segment.slice(0, star);
    const suffix = segment.slice(last + 1);
    if (prefix !== '') bucket(this.byPrefix, this.prefixLengths, prefix, segment, +1);
    else if (suffix !== '') bucket(this.bySuffix, this.suffixLengths, suffix, segment, +1);
    else this.open.add(segment);
    return child;
  }

  drop(segment: string): void {
    if (!this.bySegment.delete(segment)) return;
    const star = segment.indexOf('*');
    const last = segment.lastIndexOf('*');
    const prefix = segment.slice(0, star);
    const suffix = segment.slice(last + 1);
    if (prefix !== '') bucket(this.byPrefix, this.prefixLengths, prefix, segment, -1);
    else if (suffix !== '') bucket(this.bySuffix, this.suffixLengths, suffix, segment, -1);
    else this.open.delete(segment);
  }

  get size(): number {
    return this.bySegment.size;
  }

  /** Calls `visit` with the node of every wildcard segment matching `value`. */
  matching(value: string, visit: (node: SegmentNode<T>) => void): void {
    const tryKey = (segment: string) => {
      const child = this.bySegment.get(segment)!;
      if (child.test(value)) visit(child.node);
    };
    for (const length of this.prefixLengths.keys()) {
      if (length > value.length) continue;
      const found = this.byPrefix.get(value.slice(0, length));
      if (found !== undefined) for (const segment of found) tryKey(segment);
    }
    for (const length of this.suffixLengths.keys()) {
      if (length > value.length) continue;
      const found = this.bySuffix.get(value.slice(value.length - length));
      if (found !== undefined) for (const segment of found) tryKey(segment);
    }
    for (const segment of this.open) tryKey(segment);
  }
}

function bucket(map: Map<string, Set<string>>, lengths: Map<number, number>, key: string, segment: string, delta: 1 | -1): void {
  let set = map.get(key);
  if (delta > 0) {
    if (set === undefined) {
      set = new Set();
      map.set(key, set);
    }
    set.add(segment);
    lengths.set(key.length, (lengths.get(key.length) ?? 0) + 1);
    return;
  }
  if (set === undefined || !set.delete(segment)) return;
  if (set.size === 0) map.delete(key);
  const left = (lengths.get(key.length) ?? 1) - 1;
  if (left === 0) lengths.delete(key.length);
  else lengths.set(key.length, left);
}

class SegmentNode<T> {
  literal: Map<string, SegmentNode<T>> | undefined;
  wild: WildSegments<T> | undefined;
  /** Items whose pattern ends at this node. */
  items: Set<T> | undefined;

  get empty(): boolean {
    return (this.literal === undefined || this.literal.size === 0) && (this.wild === undefined || this.wild.size === 0) && (this.items === undefined || this.items.size === 0);
  }
}

/**
 * Glob patterns and the items registered under them, found by the value they match. Every pattern
 * shape is indexed (a lone `*` matches every value, as in `matchesPattern`).
 */
export class GlobIndex<T> {
  readonly #root = new SegmentNode<T>();
  /** Items under the pattern `*`, which matches every value whatever its dots. */
  readonly #everything = new Set<T>();
  #size = 0;

  /** Items held. */
  get size(): number {
    return this.#size;
  }

  /** Registers `item` under `pattern`. */
  add(pattern: string, item: T): void {
    if (pattern === '*') {
      if (!this.#everything.has(item)) this.#size++;
      this.#everything.add(item);
      return;
    }
    let node = this.#root;
    for (const segment of pattern.split('.')) {
      if (segment.includes('*')) {
        node.wild ??= new WildSegments<T>();
        node = node.wild.child(segment, true)!.node;
      } else {
        node.literal ??= new Map();
        let next = node.literal.get(segment);
        if (next === undefined) {
          next = new SegmentNode<T>();
          node.literal.set(segment, next);
        }
        node = next;
      }
    }
    node.items ??= new Set();
    if (!node.items.has(item)) this.#size++;
    node.items.add(item);
  }

  /** Removes `item` from under `pattern` (and any nodes that become empty). */
  remove(pattern: string, item: T): void {
    if (pattern === '*') {
      if (this.#everything.delete(item)) this.#size--;
      return;
    }
    const path: { node: SegmentNode<T>; segment: string }[] = [];
    let node: SegmentNode<T> | undefined = this.#root;
    for (const segment of pattern.split('.')) {
      path.push({ node, segment });
      node = segment.includes('*') ? node.wild?.child(segment, false)?.node : node.literal?.get(segment);
      if (node === undefined) return;
    }
    if (node.items?.delete(item) !== true) return;
    this.#size--;
    // Prune from the leaf up while nodes hold nothing.
    for (let i = path.length - 1; i >= 0 && node.empty; i--) {
      const { node: parent, segment } = path[i]!;
      if (segment.includes('*')) parent.wild?.drop(segment);
      else parent.literal?.delete(segment);
      node = parent;
    }
  }

  /** Calls `visit` for every item whose pattern matches `value` (an item under two matching patterns twice). */
  match(value: string, visit: (item: T) => void): void {
    for (const item of this.#everything) visit(item);
    if (this.#size === this.#everything.size) return;
    const segments = value.split('.');
    const walk = (node: SegmentNode<T>, depth: number): void => {
      if (depth === segments.length) {
        if (node.items !== undefined) for (const item of node.items) visit(item);
        return;
      }
      const segment = segments[depth]!;
      const next = node.literal?.get(segment);
      if (next !== undefined) walk(next, depth + 1);
      node.wild?.matching(segment, (child) => walk(child, depth + 1));
    };
    walk(this.#root, 0);
  }
}
