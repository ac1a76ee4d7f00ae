import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import {
  ErrorCode,
  HomecoreError,
  type EntityState,
  type HomeCorePlugin,
  type JsonValue,
  type PluginRuntime,
  type ServiceCall,
} from '@homecore/core-traits';
import { PluginRegistry, type ConfigEntryInit, type FailurePolicy, type RegistryLimits } from '@homecore/registry';
import { NativeRuntime, type IsolationPolicy } from '@homecore/runtime-native';
import type * as WasmRuntimeModule from '@homecore/runtime-wasm';
import { ManualClock } from './clock.js';
import { compareActions, formatActionDiff } from './compare.js';
import { ActionRecorder, type Action } from './recorder.js';

/** Options of `createTestHome`. */
export interface TestHomeOptions {
  /** Where the manual clock starts (ms since the epoch; default 2025-01-01T08:00:00Z). */
  readonly start?: number;
  /** Load wasm plugins too, in development trust (default: when @homecore/runtime-wasm is installed). */
  readonly wasm?: boolean;
  /**
   * Where wasm plugins' metered modules are kept between test runs, so only the first run meters
   * them (default `node_modules/.cache/homecore` of the nearest package above the working
   * directory; `false` keeps nothing).
   */
  readonly cacheDir?: string | false;
  /** Isolation policy for native plugins (default: as each manifest says). */
  readonly isolation?: IsolationPolicy;
  /** Registry limits and failure policy, for tests of those. */
  readonly limits?: RegistryLimits;
  readonly failurePolicy?: FailurePolicy;
  /** Record plugin log lines as actions too (default false). */
  readonly logs?: boolean;
}

/** What a stubbed service saw. */
export interface StubbedService {
  /** Every call, in order. */
  readonly calls: ServiceCall[];
}

/** A home for one test: the reference core and registry on a manual clock, and what plugins did. */
export interface TestHome {
  readonly core: InMemoryCore;
  readonly registry: PluginRegistry;
  readonly clock: ManualClock;
  /** The runtimes plugins load into: native, then wasm when it is installed. */
  readonly runtimes: readonly PluginRuntime[];
  /** Loads a plugin folder (with its manifest.json and config.json); resolves to its id. */
  loadFolder(dir: string, config?: ConfigEntryInit): Promise<string>;
  /** Loads a plugin from a manifest and its code (an object, a factory, a module path or wasm bytes). */
  load(manifest: Record<string, unknown>, code: HomeCorePlugin | (() => HomeCorePlugin) | Uint8Array | string, config?: ConfigEntryInit): Promise<string>;
  /** Sets a state as the outside world would, then waits for every plugin to finish. */
  set(entityId: string, state: string, attributes?: Record<string, JsonValue>): Promise<void>;
  /** Calls a service as the outside world would; resolves to its response once plugins are idle. */
  call(domain: string, service: string, data?: Record<string, JsonValue>): Promise<unknown>;
  /** Fires an event on the bus, then waits for every plugin to finish. */
  fire(eventType: string, data?: Record<string, JsonValue>): Promise<void>;
  /** Lets `ms` of time pass: timers fire and `time_changed` is fired at each whole second. */
  advance(ms: number): Promise<void>;
  /** Answers calls to a service nobody provides, and records them. */
  stub(domain: string, service: string, respond?: (call: ServiceCall) => unknown): StubbedService;
  /** One entity's state, or undefined. */
  state(entityId: string): EntityState | undefined;
  /** Everything plugins did since the start (or the last `clearActions`), optionally one plugin's. */
  actions(plugin?: string): Action[];
  /** The same, one line per action (see `describeAction`). */
  lines(plugin?: string): string[];
  /** Forgets the actions recorded so far. */
  clearActions(): void;
  /** Throws, with an aligned diff, unless the recorded lines equal `expected` (optionally one plugin's). */
  expectLines(expected: readonly string[], plugin?: string): void;
  /** Waits until no plugin has work. */
  settle(): Promise<void>;
  /** Unloads every plugin and stops recording. */
  close(): Promise<void>;
}

const TICK_MS = 1000;

type WasmModule = typeof WasmRuntimeModule;

/**
 * A test home: `InMemoryCore` and `PluginRegistry` on a `ManualClock`, the native runtime and,
 * when installed, the wasm runtime in development trust (unsigned modules load with no warning).
 * Every action plugins take is recorded in order.
 */
export async function createTestHome(options: TestHomeOptions = {}): Promise<TestHome> {
  const clock = new ManualClock(options.start);
  const core = new InMemoryCore({ clock });
  const runtimes: PluginRuntime[] = [new NativeRuntime({ core, ...(options.isolation !== undefined ? { isolation: options.isolation } : {}) })];
  if (options.wasm !== false) {
    const wasm = await importWasm(options.wasm === true);
    const cacheDir = options.cacheDir === undefined ? defaultCacheDir() : options.cacheDir === false ? undefined : resolve(options.cacheDir);
    if (wasm !== undefined) {
      runtimes.push(new wasm.WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined, ...(cacheDir !== undefined ? { meteredCache: { dir: cacheDir } } : {}) }));
    }
  }
  let seed = 0x2545f491;
  // Deterministic entry ids and jitter: two runs of a test see the same values.
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const registry = new PluginRegistry({
    core,
    runtimes,
    clock,
    random,
    ...(options.limits !== undefined ? { limits: options.limits } : {}),
    ...(options.failurePolicy !== undefined ? { failurePolicy: options.failurePolicy } : {}),
  });
  const recorder = new ActionRecorder(core, registry, { logs: options.logs === true });
  const outside = () => core.createContext({ userId: null });
  const stubs = new Map<string, () => void>();

  const home: TestHome = {
    core,
    registry,
    clock,
    runtimes,
    async loadFolder(dir, config) {
      const folder = resolve(dir);
      try {
        JSON.parse(await readFile(join(folder, 'manifest.json'), 'utf8'));
      } catch (error) {
        throw new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `${join(folder, 'manifest.json')} cannot be read as JSON (${(error as Error).message}): give the plugin's folder`, { cause: error });
      }
      const found = await registry.discoverFolder(folder);
      const plugin = found.plugins[0];
      if (plugin === undefined) throw found.errors[0] ?? new HomecoreError(ErrorCode.PLUGIN_FOLDER_INVALID, `${folder} is not a plugin folder`);
      const id = await registry.load(plugin.manifest, plugin.code, { baseDir: plugin.dir, ...(config ?? plugin.config ? { config: config ?? plugin.config } : {}) });
      await registry.idle();
      return id;
    },
    async load(manifest, code, config) {
      const id = await registry.load(manifest, code, config === undefined ? {} : { config });
      await registry.idle();
      return id;
    },
    async set(entityId, state, attributes) {
      core.setState(entityId, state, attributes, { context: outside() });
      await registry.idle();
    },
    async call(domain, service, data = {}) {
      const response = await core.callService(domain, service, data, { context: outside(), returnResponse: true });
      await registry.idle();
      return response;
    },
    async fire(eventType, data = {}) {
      core.fireEvent(eventType, data, outside());
      await registry.idle();
    },
    async advance(ms) {
      const end = clock.now() + ms;
      let next = (Math.floor(clock.now() / TICK_MS) + 1) * TICK_MS;
      while (next <= end) {
        clock.advance(next - clock.now());
        core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, core.createContext());
        await registry.idle();
        next += TICK_MS;
      }
      clock.advance(end - clock.now());
      await registry.idle();
    },
    stub(domain, service, respond) {
      const calls: ServiceCall[] = [];
      const key = `${domain}.${service}`;
      stubs.get(key)?.();
      stubs.set(
        key,
        core.registerService(domain, service, (call) => {
          calls.push(call);
          return respond?.(call);
        }),
      );
      return { calls };
    },
    state: (entityId) => core.getState(entityId),
    actions: (plugin) => recorder.actions(plugin),
    lines: (plugin) => recorder.lines(plugin),
    clearActions: () => recorder.clear(),
    expectLines(expected, plugin) {
      const differences = compareActions(expected, recorder.lines(plugin));
      if (differences.length === 0) return;
      const error = new Error(`the plugin's actions differ from what the test expects (${differences.length} difference${differences.length === 1 ? '' : 's'}):\n${formatActionDiff(differences)}`);
      error.name = 'AssertionError';
      throw error;
    },
    settle: () => registry.idle(),
    async close() {
      for (const remove of stubs.values()) remove();
      await registry.unloadAll();
      recorder.stop();
    },
  };
  return home;
}

/** `node_modules/.cache/homecore` of the nearest package above the working directory, if it has node_modules. */
function defaultCacheDir(): string | undefined {
  for (let dir = process.cwd(); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) {
      return existsSync(join(dir, 'node_modules')) ? join(dir, 'node_modules', '.cache', 'homecore') : undefined;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

async function importWasm(required: boolean): Promise<WasmModule | undefined> {
  try {
    return await import('@homecore/runtime-wasm');
  } catch (error) {
    const code = (error as { code?: string }).code;
    const missing = (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((error as Error).message).includes('@homecore/runtime-wasm');
    if (!missing) throw error;
    if (required) {
      throw new HomecoreError(ErrorCode.RUNTIME_UNAVAILABLE, 'wasm: true needs @homecore/runtime-wasm: install it next to @homecore/testing', { cause: error });
    }
    return undefined;
  }
}
