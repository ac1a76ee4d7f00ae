import { PERMISSION_CLAIM_REGEX, matchesPattern, type PermissionAction, type PluginManifest } from '@homecore/core-traits';

/** Event types delivered by entity (filtered by `state:read` on the entity id), not by `event:subscribe`. */
const STATE_EVENTS = new Set(['state_changed', 'state_reported']);

/**
 * Finds manifest subscriptions that can never (or only partly) deliver because no permission
 * covers them: an entity pattern without a `state:read` claim covering it, an event pattern
 * without an `event:subscribe` claim. One message per subscription, naming the claim to add.
 */
export function subscriptionWarnings(manifest: PluginManifest): string[] {
  const claims = new Map<PermissionAction, string[]>();
  for (const claim of manifest.permissions ?? []) {
    const match = typeof claim === 'string' ? PERMISSION_CLAIM_REGEX.exec(claim) : null;
    if (match === null) continue; // invalid claims are refused at load with their own error
    const action = match[1] as PermissionAction;
    claims.set(action, [...(claims.get(action) ?? []), match[2] as string]);
  }
  const reads = claims.get('state:read') ?? [];
  const subscribes = claims.get('event:subscribe') ?? [];
  const out: string[] = [];
  for (const pattern of manifest.subscriptions?.entities ?? []) {
    const warning = uncovered('subscriptions.entities', pattern, 'state:read', reads, 'changes of the other entities it matches');
    if (warning !== undefined) out.push(warning);
  }
  for (const pattern of manifest.subscriptions?.events ?? []) {
    if (STATE_EVENTS.has(pattern)) {
      if (reads.length === 0) {
        out.push(
          `subscriptions.events ${JSON.stringify(pattern)} will never be delivered: ${pattern} events reach a plugin only for ` +
            `entities it may read; add "state:read:<entity pattern>" (for example "state:read:sensor.*") to permissions`,
        );
      }
      continue;
    }
    const warning = uncovered('subscriptions.events', pattern, 'event:subscribe', subscribes, 'the other event types it matches');
    if (warning !== undefined) out.push(warning);
  }
  return out;
}

function uncovered(field: string, pattern: string, action: PermissionAction, granted: readonly string[], rest: string): string | undefined {
  if (granted.some((claim) => matchesPattern(claim, pattern))) return undefined;
  const fix = `add "${action}:${pattern}" to permissions`;
  const partial = granted.filter((claim) => patternsOverlap(claim, pattern));
  if (partial.length > 0) {
    return `${field} ${JSON.stringify(pattern)} is only partly covered by ${action} (${partial.join(', ')}): ${rest} will never be delivered; ${fix} to receive them all`;
  }
  return `${field} ${JSON.stringify(pattern)} will never be delivered: no ${action} permission covers it; ${fix}`;
}

/**
 * True when some value matches both glob patterns (`*` matches a run of non-dot characters, a
 * lone `*` everything), decided over the two patterns without enumerating values.
 */
export function patternsOverlap(a: string, b: string): boolean {
  if (a === '*' || b === '*') return true;
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    if (i === a.length && j === b.length) result = true;
    else if (i < a.length && a[i] === '*') {
      // The star matches nothing more, or one more character of b that is no dot (another star's run included).
      result = walk(i + 1, j) || (j < b.length && (b[j] === '*' ? walk(i, j + 1) : b[j] !== '.' && walk(i, j + 1)));
    } else if (j < b.length && b[j] === '*') {
      result = walk(i, j + 1) || (i < a.length && a[i] !== '.' && walk(i + 1, j));
    } else result = i < a.length && j < b.length && a[i] === b[j] && walk(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return walk(0, 0);
}
