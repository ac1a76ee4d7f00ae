import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InMemoryCore } from '@homecore/core';
import type { PluginRuntime } from '@homecore/core-traits';
import { ErrorCode, HomecoreError, toHomecoreError } from '@homecore/core-traits';
import { PluginRegistry, type GrantStore } from '@homecore/registry';
import { NativeRuntime, type IsolationPolicy } from '@homecore/runtime-native';
import { ScenarioClock } from './clock.js';
import { parseScenario, type ScenarioStep } from './scenario.js';
import { usageError } from './usage.js';
import { createWasmRuntime } from './wasm.js';

/** The reference core and a registry with every installed runtime, on a scenario clock. */
export interface House {
  readonly core: InMemoryCore;
  readonly registry: PluginRegistry;
  readonly clock: ScenarioClock;
  /** The native runtime, which knows each native plugin's isolation level. */
  readonly native: NativeRuntime;
}

/** How to build a house. */
export interface HouseOptions {
  trustedKeys: string[];
  allowUnsigned: boolean;
  /** Freeze the clock at this instant (ms), for replays that must see identical times. */
  frozenAt?: number;
  /** The clock to use (default: a new ScenarioClock). */
  clock?: ScenarioClock;
  warn: (message: string) => void;
  /** The host's isolation policy for native plugins. */
  isolation?: IsolationPolicy;
  /** Where accepted grants are kept (the upgrade rule); none compares nothing. */
  grants?: GrantStore;
}

const TICK_MS = 1000;

/** Fails with a usage error unless `dir` is a directory. */
export async function requireDirectory(dir: string, what = 'plugin directory'): Promise<void> {
  let ok = false;
  try {
    ok = (await stat(dir)).isDirectory();
  } catch {
    // reported below
  }
  if (!ok) throw usageError(`${what} ${dir} does not exist or is not a directory`);
}

/** Reads and checks a scenario file; every bad line is reported before anything runs. */
export async function readScenario(path: string): Promise<{ name: string; steps: ScenarioStep[] }> {
  let text: string;
  try {
    text = await readFile(resolve(path), 'utf8');
  } catch {
    throw usageError(`scenario file ${path} cannot be read`);
  }
  const name = basename(path);
  return { name, steps: parseScenario(text, name) };
}

/** Builds a house: the native runtime always, the wasm runtime when it is installed. */
export async function openHouse(options: HouseOptions): Promise<House> {
  const clock = options.clock ?? new ScenarioClock(options.frozenAt === undefined ? {} : { frozenAt: options.frozenAt });
  const core = new InMemoryCore({ clock });
  const native = new NativeRuntime({ core, ...(options.isolation !== undefined ? { isolation: options.isolation } : {}) });
  const runtimes: PluginRuntime[] = [native];
  const wasm = await createWasmRuntime(options);
  if (wasm !== undefined) runtimes.push(wasm);
  return { core, clock, native, registry: new PluginRegistry({ core, runtimes, clock, ...(options.grants === undefined ? {} : { grants: options.grants }) }) };
}

/**
 * Replays scenario steps, waiting for every plugin to finish after each. A step that fails is
 * handed to `onError` and the replay goes on.
 */
export async function replay(
  house: House,
  steps: readonly ScenarioStep[],
  onStep: (step: ScenarioStep) => void,
  onError: (step: ScenarioStep, error: HomecoreError) => void,
): Promise<void> {
  let virtualMs = 0;
  for (const step of steps) {
    onStep(step);
    try {
      if (step.kind === 'wait') virtualMs = await advance(house, step.ms, virtualMs);
      else await runStep(house, step);
    } catch (err) {
      onError(step, toHomecoreError(err, ErrorCode.INTERNAL));
    }
    await house.registry.idle();
  }
  await house.registry.idle();
}

async function runStep({ core, registry }: House, step: Exclude<ScenarioStep, { kind: 'wait' }>): Promise<void> {
  const context = core.createContext({ userId: null });
  switch (step.kind) {
    case 'set':
      core.setState(step.entityId, step.state, step.attributes, { context });
      return;
    case 'call':
      await core.callService(step.domain, step.service, step.data, { context });
      return;
    case 'fire':
      core.fireEvent(step.eventType, step.data, context);
      return;
    case 'options':
      if (registry.get(step.plugin) === undefined) {
        throw new HomecoreError(ErrorCode.PLUGIN_NOT_FOUND, `no plugin ${JSON.stringify(step.plugin)} is loaded; "options" names a plugin domain`);
      }
      await registry.updateConfigEntry(step.plugin, { options: step.value });
      return;
  }
}

/** Skips `ms` of scenario time, firing HA's `time_changed` at each whole second it crosses. */
async function advance({ core, registry, clock }: House, ms: number, startMs: number): Promise<number> {
  const endMs = startMs + ms;
  let at = startMs;
  let nextTick = (Math.floor(startMs / TICK_MS) + 1) * TICK_MS;
  while (nextTick <= endMs) {
    clock.skip(nextTick - at);
    at = nextTick;
    core.fireEvent('time_changed', { now: new Date(clock.now()).toISOString() }, core.createContext());
    await registry.idle();
    nextTick += TICK_MS;
  }
  clock.skip(endMs - at);
  return endMs;
}
