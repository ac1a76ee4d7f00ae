import {
  ErrorCode,
  EventType,
  HomecoreError,
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

type HookName = 'setup' | 'teardown' | 'onStateChanged' | 'onEvent' | 'onServiceCall' | 'onConfigUpdate';

// Codes a plugin may throw from setup on purpose; the registry acts on them (retry or give up).
const SETUP_PASS_THROUGH = new Set<ErrorCodeValue>([ErrorCode.CONFIG_ENTRY_NOT_READY, ErrorCode.CONFIG_ENTRY_ERROR]);

const ADVICE: Record<HookName, string> = {
  setup: 'fix the plugin, or throw ConfigEntryNotReady from setup when it should be retried later',
  teardown: 'teardown should release timers and connections without throwing',
  onStateChanged: 'fix the handler; each failure counts towards the plugin being quarantined',
  onEvent: 'fix the handler; each failure counts towards the plugin being quarantined',
  onServiceCall: 'fix the service handler',
  onConfigUpdate: 'fix the handler, or remove it to have the plugin reloaded on config changes instead',
};

/** A native plugin loaded in process; calls its hooks and turns whatever they throw into coded errors. */
export class NativePluginInstance implements PluginInstance {
  readonly kind = 'native' as const;
  readonly hooks: PluginHooks;
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

  async handleEvent(delivered: DeliveredEvent): Promise<void> {
    const event = delivered.event;
    if (event.event_type === EventType.STATE_CHANGED) {
      const plugin = this.#live('onStateChanged');
      if (!this.hooks.stateChanged) return;
      await this.#run('onStateChanged', ErrorCode.HANDLER_FAILED, () => plugin.onStateChanged?.(event as unknown as StateChangedEvent));
      return;
    }
    const plugin = this.#live('onEvent');
    if (!this.hooks.event) return;
    await this.#run('onEvent', ErrorCode.HANDLER_FAILED, () => plugin.onEvent?.(event));
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
    return { hook_calls: this.#calls, hook_errors: this.#errors };
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
      if (hook === 'setup' && error instanceof HomecoreError && SETUP_PASS_THROUGH.has(error.code)) throw error;
      throw this.#wrap(error, hook, code);
    }
  }

  #wrap(error: unknown, hook: HookName, code: ErrorCodeValue): HomecoreError {
    let text: string;
    if (error instanceof HomecoreError) text = `${error.code}: ${error.message}`;
    else if (error instanceof Error) text = `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
    else text = `a non-error value ${safeString(error)}`;
    const details = error instanceof HomecoreError ? { cause_code: error.code } : undefined;
    return new HomecoreError(code, `${hook} threw ${text}; ${ADVICE[hook]}`, { plugin: this.#pluginId, hook, details, cause: error });
  }
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
