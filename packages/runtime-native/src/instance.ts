import {
  ErrorCode,
  EventType,
  HomecoreError,
  isHomecoreError,
  type ConfigEntry,
  type DeliveredEvent,
  type ErrorCodeValue,
  type HomeCorePlugin,
  type PluginContext,
  type PluginHooks,
  type PluginInstance,
  type RuntimeStats,
  type ServiceCall,
  type StateChangedEvent,
} from '@homecore/core-traits';

type HookName = 'setup' | 'teardown' | 'onStateChanged' | 'onEvent' | 'onServiceCall' | 'onConfigUpdate' | 'migrateEntry';

// Codes a plugin may throw from setup on purpose; the registry acts on them (retry or give up).
const SETUP_PASS_THROUGH = new Set<ErrorCodeValue>([ErrorCode.CONFIG_ENTRY_NOT_READY, ErrorCode.CONFIG_ENTRY_ERROR]);

const ADVICE: Record<HookName, string> = {
  setup: 'fix the plugin, or throw ConfigEntryNotReady from setup when it should be retried later',
  teardown: 'teardown should release timers and connections without throwing',
  onStateChanged: 'fix the handler; each failure counts towards the plugin being quarantined',
  onEvent: 'fix the handler; each failure counts towards the plugin being quarantined',
  onServiceCall: 'fix the service handler',
  onConfigUpdate: 'fix the handler, or remove it to have the plugin reloaded on config changes instead',
  migrateEntry: 'fix the migration; the config entry keeps its stored data in migration_error until a version that migrates it is loaded',
};

/** A native plugin loaded in process; calls its hooks and turns whatever they throw into coded errors. */
export class NativePluginInstance implements PluginInstance {
  readonly kind = 'native' as const;
  readonly hooks: PluginHooks;
  /** The plugin's config entry migration (present only when the plugin has `migrateEntry`). */
  readonly migrateEntry?: (entry: ConfigEntry) => Promise<unknown>;
  readonly #pluginId: string;
  #plugin: HomeCorePlugin | undefined;
  #calls = 0;
  #errors = 0;

  constructor(plugin: HomeCorePlugin, pluginId: string) {
    this.#plugin = plugin;
    this.#pluginId = pluginId;
    this.hooks = Object.freeze({
      teardown: typeof plugin.teardown === 'function',
      stateChanged: typeof plugin.onStateChanged === 'function',
      event: typeof plugin.onEvent === 'function',
      serviceCall: typeof plugin.onServiceCall === 'function',
      configUpdate: typeof plugin.onConfigUpdate === 'function',
    });
    if (typeof plugin.migrateEntry === 'function') {
      this.migrateEntry = (entry) => {
        const live = this.#live('migrateEntry');
        return this.#run('migrateEntry', ErrorCode.SETUP_FAILED, () => live.migrateEntry?.(entry));
      };
    }
  }

  async setup(context: PluginContext): Promise<void> {
    const plugin = this.#live('setup');
    await this.#run('setup', ErrorCode.SETUP_FAILED, () => plugin.setup(context));
  }

  async teardown(): Promise<void> {
    const plugin = this.#live('teardown');
    if (!this.hooks.teardown) return;
    await this.#run('teardown', ErrorCode.TEARDOWN_FAILED, () => plugin.teardown?.());
  }

  /**
   * Calls the event hook directly and returns its promise only if it made one: most handlers are
   * synchronous, and each `await` would cost the registry a microtask turn per event.
   */
  handleEvent(delivered: DeliveredEvent): void | Promise<void> {
    const event = delivered.event;
    const stateChanged = event.event_type === EventType.STATE_CHANGED;
    const hook: HookName = stateChanged ? 'onStateChanged' : 'onEvent';
    const plugin = this.#live(hook);
    if (!(stateChanged ? this.hooks.stateChanged : this.hooks.event)) return undefined;
    this.#calls += 1;
    let result: unknown;
    try {
      result = stateChanged ? plugin.onStateChanged?.(event as unknown as StateChangedEvent) : plugin.onEvent?.(event);
    } catch (error) {
      this.#errors += 1;
      throw this.#wrap(error, hook, ErrorCode.HANDLER_FAILED);
    }
    if (!isPromiseLike(result)) return undefined;
    return Promise.resolve(result).then(
      () => undefined,
      (error: unknown) => {
        this.#errors += 1;
        throw this.#wrap(error, hook, ErrorCode.HANDLER_FAILED);
      },
    );
  }

  async handleServiceCall(call: ServiceCall): Promise<unknown> {
    const plugin = this.#live('onServiceCall');
    if (!this.hooks.serviceCall) {
      throw new HomecoreError(
        ErrorCode.SERVICE_NOT_FOUND,
        `Service ${call.domain}.${call.service} has no handler: register one with context.registerService in setup, or add an onServiceCall hook`,
        { plugin: this.#pluginId, hook: 'onServiceCall', details: { domain: call.domain, service: call.service } },
      );
    }
    return this.#run('onServiceCall', ErrorCode.HANDLER_FAILED, () => plugin.onServiceCall?.(call));
  }

  async handleConfigUpdate(entry: ConfigEntry): Promise<boolean> {
    const plugin = this.#live('onConfigUpdate');
    if (!this.hooks.configUpdate) return false;
    await this.#run('onConfigUpdate', ErrorCode.HANDLER_FAILED, () => plugin.onConfigUpdate?.(entry));
    return true;
  }

  stats(): RuntimeStats {
    return { hookCalls: this.#calls, hookErrors: this.#errors };
  }

  dispose(): void {
    // Drop the only reference the runtime holds, so the plugin and what it captured can be collected.
    this.#plugin = undefined;
  }

  #live(hook: HookName): HomeCorePlugin {
    if (this.#plugin === undefined) {
      throw new HomecoreError(ErrorCode.OPERATION_NOT_ALLOWED, `The plugin instance was disposed; load the plugin again before calling ${hook}`, {
        plugin: this.#pluginId,
        hook,
      });
    }
    return this.#plugin;
  }

  async #run<T>(hook: HookName, code: ErrorCodeValue, call: () => T | Promise<T>): Promise<T> {
    this.#calls += 1;
    try {
      return await call();
    } catch (error) {
      this.#errors += 1;
      if (hook === 'setup') this.#passThrough(error);
      throw this.#wrap(error, hook, code);
    }
  }

  /**
   * Lets ConfigEntryNotReady / ConfigEntryError reach the registry. Recognised by code, not class,
   * so a plugin that bundles its own copy of core-traits (or throws `{ code }`) is understood too.
   */
  #passThrough(error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code;
    if (typeof code !== 'string' || !SETUP_PASS_THROUGH.has(code as ErrorCodeValue)) return;
    if (isHomecoreError(error)) throw error;
    const message = error instanceof Error ? error.message : safeString(error);
    throw new HomecoreError(code as ErrorCodeValue, message, { plugin: this.#pluginId, hook: 'setup', cause: error });
  }

  #wrap(error: unknown, hook: HookName, code: ErrorCodeValue): HomecoreError {
    let text: string;
    // The outer error names plugin and hook already; do not repeat the inner one's prefix.
    if (isHomecoreError(error)) text = `${error.code}: ${error.message.replace(/^\[[^\]]*\] /, '')}`;
    else if (error instanceof Error) text = `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
    else text = `a non-error value ${safeString(error)}`;
    const details = isHomecoreError(error) ? { cause_code: error.code } : undefined;
    return new HomecoreError(code, `${hook} threw ${text}; ${ADVICE[hook]}`, { plugin: this.#pluginId, hook, details, cause: error });
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
