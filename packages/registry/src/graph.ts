/** A plugin's edges: hard `dependencies` and ordering-only `after_dependencies`. */
export interface DependencyNode {
  readonly dependencies: readonly string[];
  readonly after: readonly string[];
}

/** The edges of `node` that point at domains present in `nodes` (after-dependencies only count then). */
function edges(nodes: ReadonlyMap<string, DependencyNode>, node: DependencyNode): string[] {
  const out: string[] = [];
  for (const d of node.dependencies) if (nodes.has(d)) out.push(d);
  for (const d of node.after) if (nodes.has(d) && !out.includes(d)) out.push(d);
  return out;
}

/**
 * Every dependency cycle among `nodes`, each as a closed path `[a, b, c, a]` (a depends on b...).
 * After-dependencies count as edges, which catches HA's "A depends on B and B after-depends on A".
 * Uses Tarjan's strongly connected components, so each cycle group is reported once.
 */
export function findCycles(nodes: ReadonlyMap<string, DependencyNode>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];

  const connect = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges(nodes, nodes.get(v) as DependencyNode)) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const group: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      const selfLoop = group.length === 1 && edges(nodes, nodes.get(v) as DependencyNode).includes(v);
      if (group.length > 1 || selfLoop) groups.push(group);
    }
  };

  for (const v of [...nodes.keys()].sort()) if (!index.has(v)) connect(v);
  return groups.map((group) => cyclePath(nodes, new Set(group)));
}

/** A closed path through one strongly connected group, starting at its smallest domain. */
function cyclePath(nodes: ReadonlyMap<string, DependencyNode>, group: ReadonlySet<string>): string[] {
  const start = [...group].sort()[0] as string;
  const path = [start];
  const seen = new Set([start]);
  const walk = (v: string): boolean => {
    for (const w of edges(nodes, nodes.get(v) as DependencyNode)) {
      if (!group.has(w)) continue;
      if (w === start) {
        path.push(start);
        return true;
      }
      if (seen.has(w)) continue;
      seen.add(w);
      path.push(w);
      if (walk(w)) return true;
      path.pop();
    }
    return false;
  };
  walk(start);
  return path;
}

/**
 * Domains ordered so every plugin comes after the plugins it (after-)depends on; ties keep
 * alphabetical order. Assumes no cycles (call `findCycles` first).
 */
export function dependencyOrder(nodes: ReadonlyMap<string, DependencyNode>): string[] {
  const order: string[] = [];
  const done = new Set<string>();
  const visit = (v: string): void => {
    if (done.has(v)) return;
    done.add(v);
    for (const w of edges(nodes, nodes.get(v) as DependencyNode)) visit(w);
    order.push(v);
  };
  for (const v of [...nodes.keys()].sort()) visit(v);
  return order;
}
