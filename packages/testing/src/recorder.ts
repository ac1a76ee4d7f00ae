import { ErrorCode, isHomecoreError, type BusEvent, type HostCore, type JsonValue } from '@homecore/core-traits';
import type { PluginRegistry, RegistryActivity } from '@homecore/registry';

/** One thing a plugin did, in the order the home saw it. */
export type Action =
  | { readonly kind: 'write'; readonly plugin: string; readonly entity_id: string; readonly state: string | null; readonly attributes: JsonValue; readonly changed: boolean }
  | { readonly kind: 'service_call'; readonly plugin: string; readonly domain: string; readonly service: string; readonly data: JsonValue; readonly provided: boolean }
  | { readonly kind: 'event'; readonly plugin: string; readonly event_type: string; readonly data: JsonValue }
  | { readonly kind: 'log'; readonly plugin: string; readonly level: string; readonly message: string }
  | { readonly kind: 'denied'; readonly plugin: string; readonly action: string; readonly target: string }
  | { readonly kind: 'error'; readonly plugin: string; readonly hook: string; readonly code: string; readonly message: string };

// Events the core fires on its own account around a plugin's action; the action itself is recorded.
const CORE_EVENTS: ReadonlySet<string> = new Set(['state_changed', 'state_reported', 'call_service', 'service_registered', 'service_removed']);

/** Which kinds an ActionRecorder keeps (default: all but logs). */
export interface RecorderOptions {
  /** Keep `log` actions too. */
  readonly logs?: boolean;
  /**
   * Record calls to services nobody provides (as `provided: false`). They fire no event, so the
   * recorder wraps `core.callService` to see them, and restores it on `stop()`. Default: true.
   */
  readonly missingServices?: boolean;
}

/**
 * Records what plugins do through a core and a registry: writes (no-op writes too, as
 * `changed: false`), service calls, fired events, denials, errors and (optionally) logs.
 */
export class ActionRecorder {
  readonly #actions: Action[] = [];
  readonly #stop: (() => void)[] = [];

  /** Starts recording from `core`'s bus and `registry`'s activity. */
  constructor(core: HostCore, registry: PluginRegistry, options: RecorderOptions = {}) {
    this.#stop.push(core.listen((event) => this.#onEvent(event)));
    this.#stop.push(registry.on((activity) => this.#onActivity(activity, options.logs === true)));
    if (options.missingServices !== false) this.#stop.push(this.#watchMissingServices(core));
  }

  /** Everything recorded, optionally only one plugin's. */
  actions(plugin?: string): Action[] {
    return plugin === undefined ? [...this.#actions] : this.#actions.filter((a) => a.plugin === plugin);
  }

  /** The recorded actions as one line each (`describeAction`), for comparisons and snapshots. */
  lines(plugin?: string): string[] {
    return this.actions(plugin).map(describeAction);
  }

  /** Adds an action the bus does not show (a call to a service nobody provides fires no event). */
  record(action: Action): void {
    this.#actions.push(action);
  }

  /** Forgets what was recorded so far. */
  clear(): void {
    this.#actions.length = 0;
  }

  /** Stops recording. */
  stop(): void {
    for (const stop of this.#stop.splice(0)) stop();
  }

  #watchMissingServices(core: HostCore): () => void {
    const callService = core.callService;
    const wrapped: HostCore['callService'] = async (domain, service, data, callOptions) => {
      try {
        return await callService.call(core, domain, service, data, callOptions);
      } catch (error) {
        const user = callOptions.context.user_id;
        if (isHomecoreError(error, ErrorCode.SERVICE_NOT_FOUND) && typeof user === 'string' && user.startsWith('plugin:')) {
          this.record({ kind: 'service_call', plugin: user.slice('plugin:'.length), domain, service, data: JSON.parse(JSON.stringify(data ?? {})) as JsonValue, provided: false });
        }
        throw error;
      }
    };
    core.callService = wrapped;
    return () => {
      // Only undo our own wrapper: another recorder may have wrapped it since.
      if (core.callService === wrapped) core.callService = callService;
    };
  }

  #onEvent(event: BusEvent): void {
    const user = event.context.user_id;
    if (typeof user !== 'string' || !user.startsWith('plugin:')) return;
    const plugin = user.slice('plugin:'.length);
    const data = event.data as Record<string, JsonValue>;
    if (event.event_type === 'state_changed' || event.event_type === 'state_reported') {
      const next = data.new_state as { state: string; attributes: JsonValue } | null;
      this.#actions.push({
        kind: 'write',
        plugin,
        entity_id: String(data.entity_id),
        state: next === null ? null : next.state,
        attributes: next === null ? null : next.attributes,
        changed: event.event_type === 'state_changed',
      });
    } else if (event.event_type === 'call_service') {
      this.#actions.push({ kind: 'service_call', plugin, domain: String(data.domain), service: String(data.service), data: data.service_data ?? {}, provided: true });
    } else if (!CORE_EVENTS.has(event.event_type)) {
      this.#actions.push({ kind: 'event', plugin, event_type: event.event_type, data });
    }
  }

  #onActivity(activity: RegistryActivity, logs: boolean): void {
    switch (activity.type) {
      case 'permission_denied':
        this.#actions.push({ kind: 'denied', plugin: activity.plugin, action: activity.action, target: activity.target });
        return;
      case 'handler_failed':
      case 'setup_failed':
      case 'teardown_failed':
        this.#actions.push({ kind: 'error', plugin: activity.plugin, hook: activity.type === 'handler_failed' ? activity.hook : activity.type.replace('_failed', ''), code: activity.error.code, message: activity.error.message });
        return;
      case 'log':
        if (logs) this.#actions.push({ kind: 'log', plugin: activity.plugin, level: activity.level, message: activity.message });
        return;
      default:
        return;
    }
  }
}

/** One line for an action: `light_ctl: set light.kitchen = "on" {"brightness":200}`; JSON with sorted keys. */
export function describeAction(action: Action): string {
  const who = `${action.plugin}:`;
  switch (action.kind) {
    case 'write':
      if (action.state === null) return `${who} remove ${action.entity_id}`;
      return `${who} ${action.changed ? 'set' : 'report'} ${action.entity_id} = ${JSON.stringify(action.state)} ${canonicalJson(action.attributes)}`;
    case 'service_call':
      return `${who} call ${action.domain}.${action.service} ${canonicalJson(action.data)}${action.provided ? '' : ' (no such service)'}`;
    case 'event':
      return `${who} fire ${action.event_type} ${canonicalJson(action.data)}`;
    case 'log':
      return `${who} log ${action.level}: ${action.message}`;
    case 'denied':
      return `${who} denied ${action.action} ${action.target}`;
    case 'error':
      return `${who} error in ${action.hook}: ${action.code}`;
  }
}

/** JSON with object keys sorted, so key order never counts as a difference. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  ) ?? 'null';
}
