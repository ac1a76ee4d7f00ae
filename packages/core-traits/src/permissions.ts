import { ErrorCode, HomecoreError } from '@homecore/errors';

/** What a permission claim lets a plugin do. */
export type PermissionAction = 'state:read' | 'state:write' | 'service:call' | 'event:fire' | 'event:subscribe';

/** Every action a claim may name, in documentation order. */
export const PERMISSION_ACTIONS: readonly PermissionAction[] = Object.freeze([
  'state:read',
  'state:write',
  'service:call',
  'event:fire',
  'event:subscribe',
]);

/**
 * The grammar of one claim in a manifest's `permissions`: `<action>:<pattern>`, for example
 * `state:write:binary_sensor.*` or `service:call:light.turn_on`.
 */
export const PERMISSION_CLAIM_REGEX = /^(state:read|state:write|service:call|event:fire|event:subscribe):([A-Za-z0-9_.*:-]+)$/;

const compiled = new Map<string, (value: string) => boolean>();

/**
 * True when `value` matches `pattern`. A `*` matches any run of characters except `.`, so
 * `sensor.*` matches `sensor.kitchen` and `light*` does not match `lighting.x`; a lone `*`
 * matches everything.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  let test = compiled.get(pattern);
  if (test === undefined) {
    test = compilePattern(pattern);
    if (compiled.size > 4096) compiled.clear();
    compiled.set(pattern, test);
  }
  return test(value);
}

function compilePattern(pattern: string): (value: string) => boolean {
  if (pattern === '*') return () => true;
  if (!pattern.includes('*')) return (value) => value === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*');
  const regex = new RegExp(`^${source}$`);
  return (value) => regex.test(value);
}

/** The permissions of one plugin, parsed from its manifest. Deny by default. */
export class PermissionSet {
  private readonly byAction: ReadonlyMap<PermissionAction, readonly string[]>;

  private constructor(byAction: Map<PermissionAction, string[]>) {
    this.byAction = byAction;
  }

  /** Parses manifest claims; throws `HC_ERR_PERMISSION_INVALID` naming each bad claim. */
  static parse(claims: readonly string[] = [], plugin?: string): PermissionSet {
    const byAction = new Map<PermissionAction, string[]>();
    const bad: string[] = [];
    for (const claim of claims) {
      const match = typeof claim === 'string' ? PERMISSION_CLAIM_REGEX.exec(claim) : null;
      if (!match) {
        bad.push(String(claim));
        continue;
      }
      const action = match[1] as PermissionAction;
      const list = byAction.get(action) ?? [];
      list.push(match[2] as string);
      byAction.set(action, list);
    }
    if (bad.length > 0) {
      throw new HomecoreError(
        ErrorCode.PERMISSION_INVALID,
        `invalid permission claim(s) ${bad.map((b) => JSON.stringify(b)).join(', ')}: write each as ` +
          `"<action>:<pattern>" with action one of ${PERMISSION_ACTIONS.join(', ')}`,
        plugin === undefined ? {} : { plugin },
      );
    }
    return new PermissionSet(byAction);
  }

  /** A set that allows everything; for trusted first-party hosts and tests. */
  static allowAll(): PermissionSet {
    return new PermissionSet(new Map(PERMISSION_ACTIONS.map((a) => [a, ['*']])));
  }

  /** True when some claim for `action` matches `target`. */
  allows(action: PermissionAction, target: string): boolean {
    const patterns = this.byAction.get(action);
    if (patterns === undefined) return false;
    for (const p of patterns) if (matchesPattern(p, target)) return true;
    return false;
  }

  /** The patterns granted for `action`. */
  patterns(action: PermissionAction): readonly string[] {
    return this.byAction.get(action) ?? [];
  }
}
