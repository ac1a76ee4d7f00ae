import {
  ErrorCode,
  HomecoreError,
  type Clock,
  type HostCore,
  type PluginContext,
  type ServiceCall,
  type ServiceHandler,
  type Subscription,
} from '@homecore/core-traits';
import type { Bookkeeping } from './bookkeeping.js';
import { serviceParent, withServiceParent } from './causality.js';
import { checkServiceData } from './config-schema.js';
import { createPluginContext } from './context.js';
import type { Delivery } from './delivery.js';
import type { IndexEntry, SubscriptionIndex } from './dispatch.js';
import { ActionGuard, utf8Bytes, type GuardHost } from './guard.js';
import type { Activation, PluginRecord } from './record.js';
import type { RegistrySettings } from './settings.js';

/**
 * Connects an activation to the world: the context it acts through, the services it provides to
 * the core (`<id>.<service>`, shared across reloads) and its subscriptions in the index.
 */
export class Wiring {
  private readonly core: HostCore;
  private readonly clock: Clock;

  constructor(
    settings: RegistrySettings,
    private readonly index: SubscriptionIndex<Activation>,
    private readonly book: Bookkeeping,
    private readonly delivery: Delivery,
    private readonly guards: GuardHost,
  ) {
    this.core = settings.core;
    this.clock = settings.clock;
  }

  /** The context an activation's plugin acts through, wired to this registry. */
  contextFor(activation: Activation): PluginContext {
    const rec = activation.record;
    return createPluginContext({
      plugin: rec.id,
      domain: rec.domain,
      manifest: activation.manifest,
      permissions: activation.permissions,
      core: this.core,
      clock: this.clock,
      signal: activation.abort.signal,
      entry: () => rec.entry,
      hook: () => activation.hook,
      // A service handler's writes name the call; otherwise the event being handled (or nothing).
      parentContextId: () => serviceParent() ?? activation.parentContextId,
      closed: () => activation.closed,
      denied: (action, target) => this.book.recordDenial(rec, action, target, activation.hook),
      guard: new ActionGuard(this.guards, activation),
      chained: (contextId, link) => this.guards.loops.commit(contextId, link),
      serviceCallStarted: () => void rec.pendingServiceCalls++,
      serviceCallEnded: () => void rec.pendingServiceCalls--,
      emit: (activity) => this.book.emit(activity),
      registerService: (service, handler) => this.registerService(activation, service, handler),
      subscribe: (subscription) => this.addSubscriptions(activation, subscription, true),
      callLater: (ms, callback) => this.delivery.callLater(activation, ms, callback),
      acted: (action) => {
        if (action === 'write') rec.writes++;
        else if (action === 'serviceCall') rec.servicesCalled++;
        else rec.eventsFired++;
      },
    });
  }

  // ---------------------------------------------------------------- subscriptions

  /**
   * Adds manifest or ctx.subscribe (`runtime`) patterns to the index; returns their remover. Run-time
   * patterns count against the activation's caps until removed (the context checked them).
   */
  addSubscriptions(activation: Activation, subscription: Subscription, runtime = false): () => void {
    const added: IndexEntry<Activation>[] = [];
    for (const pattern of subscription.entities ?? []) added.push({ owner: activation, kind: 'entity', pattern: String(pattern) });
    for (const pattern of subscription.events ?? []) added.push({ owner: activation, kind: 'event', pattern: String(pattern) });
    if (activation.closed) return () => undefined;
    for (const entry of added) {
      activation.subscriptions.add(entry);
      this.index.add(entry);
      if (runtime) {
        activation.runtimeSubscriptions++;
        activation.subscriptionBytes += utf8Bytes(entry.pattern);
      }
    }
    return () => {
      for (const entry of added) {
        if (!activation.subscriptions.delete(entry)) continue;
        this.index.remove(entry);
        if (runtime) {
          activation.runtimeSubscriptions--;
          activation.subscriptionBytes -= utf8Bytes(entry.pattern);
        }
      }
    };
  }

  /** Takes a closing activation out of the index and forgets what it registered. */
  unwire(activation: Activation): void {
    for (const entry of activation.subscriptions) this.index.remove(entry);
    activation.subscriptions.clear();
    activation.runtimeSubscriptions = 0;
    activation.subscriptionBytes = 0;
    activation.services.clear();
    activation.routed.clear();
  }

  // ---------------------------------------------------------------- services

  private registerService(activation: Activation, service: string, handler: ServiceHandler): () => void {
    const rec = activation.record;
    const name = String(service);
    if (!(activation.manifest.services ?? []).some((s) => s.name === name)) {
      this.book.recordDenial(rec, 'service:register', `${rec.id}.${name}`, activation.hook);
      throw new HomecoreError(
        ErrorCode.PERMISSION_DENIED,
        `plugin ${rec.id} may not register service ${rec.id}.${name}: add { "name": ${JSON.stringify(name)} } to services in its manifest`,
        { plugin: rec.id, hook: activation.hook ?? undefined, details: { action: 'service:register', target: `${rec.id}.${name}` } },
      );
    }
    if (typeof handler !== 'function') {
      throw new HomecoreError(ErrorCode.SERVICE_INVALID, `the handler of service ${rec.id}.${name} must be a function`, { plugin: rec.id });
    }
    if (activation.services.has(name)) {
      throw new HomecoreError(ErrorCode.SERVICE_EXISTS, `service ${rec.id}.${name} is already registered: call the remover it returned first`, {
        plugin: rec.id,
      });
    }
    activation.services.set(name, handler);
    // A domain's services are its first entry's (HA registers them once per integration): a further entry's are kept, not exposed.
    if (rec.primary !== undefined) return () => void activation.services.delete(name);
    this.ensureCoreService(rec, name);
    this.book.emit({ type: 'service_registered', plugin: rec.id, domain: rec.id, service: name });
    return () => {
      if (activation.services.get(name) !== handler) return;
      activation.services.delete(name);
      this.syncCoreServices(rec);
    };
  }

  /**
   * Routes the manifest's services the plugin did not register in setup to its `onServiceCall`
   * hook; warns about those with no handler at all.
   */
  routeManifestServices(activation: Activation): void {
    const rec = activation.record;
    if (rec.primary !== undefined) return; // served by the domain's first entry
    for (const service of activation.manifest.services ?? []) {
      if (activation.services.has(service.name)) continue;
      if (activation.instance.hooks.serviceCall) {
        activation.routed.add(service.name);
        this.ensureCoreService(rec, service.name);
      } else {
        this.book.emit({
          type: 'warning',
          plugin: rec.id,
          message: `service ${rec.id}.${service.name} is listed in the manifest but has no handler: register it in setup or implement onServiceCall`,
        });
      }
    }
  }

  private ensureCoreService(rec: PluginRecord, name: string): void {
    if (rec.coreServices.has(name)) return;
    const remove = this.core.registerService(rec.id, name, (call) => this.serviceCalled(rec, name, call));
    rec.coreServices.set(name, remove);
  }

  /** Keeps the core's registrations equal to what the live activations provide. */
  syncCoreServices(rec: PluginRecord): void {
    const wanted = new Set<string>();
    for (const a of [rec.active, rec.pending]) {
      if (a === undefined || a.closed || rec.removed) continue;
      for (const name of a.services.keys()) wanted.add(name);
      for (const name of a.routed) wanted.add(name);
    }
    for (const [name, remove] of rec.coreServices) {
      if (wanted.has(name)) continue;
      rec.coreServices.delete(name);
      try {
        remove();
      } catch {
        // The core already forgot it; nothing to undo.
      }
    }
  }

  private async serviceCalled(rec: PluginRecord, name: string, call: ServiceCall): Promise<unknown> {
    const id = rec.id;
    if (rec.health === 'quarantined') {
      throw new HomecoreError(
        ErrorCode.PLUGIN_QUARANTINED,
        `service ${id}.${name} is unavailable because the plugin is quarantined (${rec.healthReason ?? 'repeated failures'}): fix the plugin and reload it`,
        { plugin: id, hook: 'onServiceCall' },
      );
    }
    const activation = rec.current();
    const handler = activation?.services.get(name);
    if (activation !== undefined) {
      // The caller's mistake, refused before the plugin sees it: not counted against the plugin.
      const declared = (activation.manifest.services ?? []).find((s) => s.name === name);
      checkServiceData(id, name, declared?.schema, call.data);
    }
    rec.serviceCalls++;
    try {
      let result: unknown;
      const parent = call.context.id;
      if (activation !== undefined && handler !== undefined) {
        result = await withServiceParent(parent, () => handler(call));
      } else if (activation !== undefined && activation.routed.has(name)) {
        // A plugin calling its own service from a handler must not wait behind itself.
        result =
          call.context.user_id === `plugin:${id}`
            ? await withServiceParent(parent, () => activation.instance.handleServiceCall(call))
            : await this.delivery.runQueued(rec, 'onServiceCall', async (instance) => {
                // Queued: nothing else of this plugin runs until it settles, so the parent holds across awaits.
                const running = rec.current();
                if (running !== undefined) running.parentContextId = parent;
                try {
                  return await withServiceParent(parent, () => instance.handleServiceCall(call));
                } finally {
                  if (running !== undefined) running.parentContextId = null;
                }
              });
      } else {
        throw new HomecoreError(ErrorCode.SERVICE_NOT_FOUND, `service ${id}.${name} has no handler right now: the plugin is not running`, {
          plugin: id,
        });
      }
      this.book.emit({ type: 'service_handled', plugin: id, domain: id, service: name, ok: true });
      return result;
    } catch (error) {
      this.book.emit({ type: 'service_handled', plugin: id, domain: id, service: name, ok: false });
      throw this.delivery.handlerError(rec, 'onServiceCall', error);
    }
  }
}
