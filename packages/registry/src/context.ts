import {
  ErrorCode,
  HomecoreError,
  checkPattern,
  isHomecoreError,
  matchesPattern,
  permissionDeniedMessage,
  type Attributes,
  type Clock,
  type ConfigEntry,
  type EntityState,
  type EventContext,
  type HostCore,
  type JsonValue,
  type PermissionAction,
  type PermissionSet,
  type PluginContext,
  type PluginLogger,
  type PluginManifest,
  type ServiceHandler,
  type Subscription,
} from '@homecore/core-traits';
import { utf8Bytes, type ActionGuard, type ActionKind, type ChainLink } from './guard.js';
import type { ActivityLogLevel, RegistryActivity } from './types.js';

/** What a plugin context needs from the registry. */
export interface ContextHost {
  /** Who acts: the domain for a plugin's first config entry, `<domain>/<entry_id>` for a further one (its writes' `user_id` is `plugin:<this>`). */
  readonly plugin: string;
  /** The plugin's domain (`ctx.pluginId`). */
  readonly domain: string;
  readonly manifest: PluginManifest;
  readonly permissions: PermissionSet;
  readonly core: HostCore;
  readonly clock: Clock;
  readonly signal: AbortSignal;
  /** The entry as it is now. */
  entry(): ConfigEntry;
  /** The hook running now, for audit records. */
  hook(): string | null;
  /** The context id of the event being handled now, if any. */
  parentContextId(): string | null;
  /** True once the activation is torn down: its context may no longer act. */
  closed(): boolean;
  /** Records a denial (stats, audit, activity). */
  denied(action: string, target: string): void;
  /** The host-side limits (reserved events, loops, budgets, holdings). */
  readonly guard: ActionGuard;
  /** Commits an admitted action's place in its causal chain, once its context exists. */
  chained(contextId: string, link: ChainLink): void;
  /** Counts the plugin's service calls in flight. */
  serviceCallStarted(): void;
  serviceCallEnded(): void;
  emit(activity: RegistryActivity): void;
  registerService(service: string, handler: ServiceHandler): () => void;
  subscribe(subscription: Subscription): () => void;
  /** Counts what the plugin did through its context, for stats(). */
  acted(action: 'write' | 'serviceCall' | 'eventFired'): void;
  /** Starts a ctx.callLater timer (arguments already checked); returns its cancel. */
  callLater(ms: number, callback: () => void | Promise<void>): () => void;
}

/**
 * Builds the context one plugin activation acts through. Every call is checked against the
 * manifest's permissions (deny by default) and writes carry `user_id: "plugin:<domain>"` (for a
 * further config entry `"plugin:<domain>/<entry_id>"`, naming the plugin and the entry).
 */
export function createPluginContext(host: ContextHost): PluginContext {
  const { plugin, permissions, core } = host;

  const ensureOpen = (what: string): void => {
    if (host.closed()) {
      throw new HomecoreError(
        ErrorCode.OPERATION_NOT_ALLOWED,
        `${what} after the plugin was unloaded: stop timers and I/O when ctx.signal aborts`,
        { plugin, hook: host.hook() ?? undefined },
      );
    }
  };

  const check = (action: PermissionAction, target: string): void => {
    if (permissions.allows(action, target)) return;
    host.denied(action, target);
    throw new HomecoreError(
      ErrorCode.PERMISSION_DENIED,
      permissionDeniedMessage(action, target),
      { plugin, hook: host.hook() ?? undefined, details: { action, target } },
    );
  };

  /**
   * A coded error from the core (an invalid entity id, an unknown service...) does not know which
   * plugin made the call: re-thrown with the plugin and the hook that was running, so an author
   * sees where the bad call came from. Errors that already name a plugin pass through.
   */
  const attributed = (error: unknown, hook: string | null): unknown => {
    if (!isHomecoreError(error) || error.plugin !== undefined) return error;
    const message = error.hook === undefined ? error.message : error.message.replace(/^\[[^\]]*\] /, '');
    return new HomecoreError(error.code, message, {
      plugin,
      ...(hook !== null ? { hook } : error.hook !== undefined ? { hook: error.hook } : {}),
      ...(error.details !== undefined ? { details: error.details } : {}),
      cause: error,
    });
  };

  const { guard } = host;

  /**
   * Admits an action (loop bounds, then budget) and returns the maker of the context it carries,
   * linked into its chain. Called before the costlier checks of a write: a plugin hammering a spent
   * budget is refused at the cheapest point.
   */
  const admit = (kind: ActionKind, action: PermissionAction, target: string): (() => EventContext) => {
    const parentId = host.parentContextId();
    const link = guard.admit(kind, action, target, parentId);
    return () => {
      const context = core.createContext({ userId: `plugin:${plugin}`, parentId });
      host.chained(context.id, link);
      return context;
    };
  };

  const log =
    (level: ActivityLogLevel) =>
    (message: string, data?: Record<string, unknown>): void => {
      host.emit({ type: 'log', plugin, level, message: String(message), data });
    };
  const logger: PluginLogger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };

  return {
    pluginId: host.domain,
    manifest: host.manifest,
    get configEntry() {
      return host.entry();
    },
    logger,
    signal: host.signal,
    now: () => host.clock.now(),

    getState(entityId: string): EntityState | undefined {
      ensureOpen('getState');
      check('state:read', String(entityId));
      try {
        return core.getState(entityId);
      } catch (error) {
        throw attributed(error, host.hook());
      }
    },

    getStates(pattern?: string): EntityState[] {
      ensureOpen('getStates');
      return core
        .getStates()
        .filter(
          (s) => permissions.allows('state:read', s.entity_id) && (pattern === undefined || matchesPattern(pattern, s.entity_id)),
        );
    },

    setState(entityId: string, state: string, attributes?: Attributes, options?: { forceUpdate?: boolean }): EntityState {
      ensureOpen('setState');
      const target = String(entityId);
      check('state:write', target);
      guard.checkEntityId(target);
      // Outside the try below: a refusal already names the plugin, and a rethrow would cost a second throw.
      const makeContext = admit('write', 'state:write', target);
      const creates = guard.checkWrite(target, state, attributes);
      const context = makeContext();
      let written: EntityState;
      try {
        written = core.setState(entityId, state, attributes, { context, forceUpdate: options?.forceUpdate === true });
      } catch (error) {
        throw attributed(error, host.hook());
      }
      if (creates) guard.created(written.entity_id);
      host.acted('write');
      host.emit({ type: 'state_written', plugin, entity_id: written.entity_id, state: written.state });
      return written;
    },

    removeState(entityId: string): boolean {
      ensureOpen('removeState');
      const target = String(entityId);
      check('state:write', target);
      guard.checkEntityId(target);
      const context = admit('write', 'state:write', target)();
      let removed: boolean;
      try {
        removed = core.removeState(entityId, context);
      } catch (error) {
        throw attributed(error, host.hook());
      }
      if (removed) {
        guard.removed(target.toLowerCase());
        host.acted('write');
        host.emit({ type: 'state_removed', plugin, entity_id: entityId });
      }
      return removed;
    },

    async callService(
      domain: string,
      service: string,
      data: Record<string, JsonValue> = {},
      options?: { returnResponse?: boolean },
    ): Promise<unknown> {
      ensureOpen('callService');
      const target = `${domain}.${service}`;
      check('service:call', target);
      guard.checkServiceCall();
      const context = admit('serviceCall', 'service:call', target)();
      host.acted('serviceCall');
      host.emit({ type: 'service_called', plugin, domain, service });
      const hook = host.hook(); // the hook that made the call, even if the service settles after it
      host.serviceCallStarted();
      try {
        return await core.callService(domain, service, data, { context, returnResponse: options?.returnResponse === true });
      } catch (error) {
        throw attributed(error, hook);
      } finally {
        host.serviceCallEnded();
      }
    },

    registerService(service: string, handler: ServiceHandler): () => void {
      ensureOpen('registerService');
      return host.registerService(service, handler);
    },

    fireEvent(eventType: string, data: Record<string, JsonValue> = {}): void {
      ensureOpen('fireEvent');
      const target = String(eventType);
      guard.checkEventType(target);
      check('event:fire', target);
      const context = admit('event', 'event:fire', target)();
      try {
        core.fireEvent(eventType, data, context);
      } catch (error) {
        throw attributed(error, host.hook());
      }
      host.acted('eventFired');
      host.emit({ type: 'event_fired', plugin, event_type: eventType });
    },

    callLater(ms: number, callback: () => void | Promise<void>): () => void {
      ensureOpen('callLater');
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || typeof callback !== 'function') {
        throw new HomecoreError(
          ErrorCode.OPERATION_NOT_ALLOWED,
          `callLater needs a delay in ms (a finite number >= 0) and a callback function, got ` +
            `${typeof ms === 'number' ? String(ms) : typeof ms} and ${typeof callback}`,
          { plugin, hook: host.hook() ?? undefined },
        );
      }
      if (host.signal.aborted) {
        throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, 'callLater after teardown started: timers die with the plugin', {
          plugin,
          hook: host.hook() ?? undefined,
        });
      }
      guard.checkTimer();
      return host.callLater(ms, callback);
    },

    subscribe(subscription: Subscription): () => void {
      ensureOpen('subscribe');
      // Patterns are matched against every event: one over the glob limits is refused before anything else.
      for (const pattern of [...(subscription.entities ?? []), ...(subscription.events ?? [])]) {
        try {
          checkPattern(pattern);
        } catch (error) {
          throw attributed(error, host.hook());
        }
      }
      for (const pattern of subscription.entities ?? []) check('state:read', String(pattern));
      for (const pattern of subscription.events ?? []) check('event:subscribe', String(pattern));
      const patterns = [...(subscription.entities ?? []), ...(subscription.events ?? [])].map(String);
      guard.checkSubscriptions(patterns.length, patterns.reduce((sum, p) => sum + utf8Bytes(p), 0));
      return host.subscribe(subscription);
    },
  };
}
