// The same event sequences through the native and the wasm version of each plugin must produce
// the same actions (the kit's recorder: writes, no-op writes, calls, denials, errors). Reusable for
// plugins in other languages: build a house with the plugin under test, run the story, compare.
import { describe, expect, it } from 'vitest';
import { compareActions, formatActionDiff, type TestHome } from '@homecore/testing';
import {
  loadWasmPlugin,
  motionLight,
  motionLightConfig,
  nativeManifests,
  temperatureAlert,
  temperatureAlertConfig,
  type WasmPluginName,
} from '@homecore/plugin-example';
import type { HomeCorePlugin, JsonValue } from '@homecore/core-traits';
import { buildHouse } from './harness.js';
import { motionStory, temperatureStory } from './scenarios.js';

const stories: Record<WasmPluginName, { native: () => HomeCorePlugin; data: Record<string, JsonValue>; run: (home: TestHome) => Promise<string[]> }> = {
  temperature_alert: { native: temperatureAlert, data: { ...temperatureAlertConfig }, run: temperatureStory },
  motion_light: { native: motionLight, data: { ...motionLightConfig, off_after_s: 2 }, run: motionStory },
};

async function nativeActions(name: WasmPluginName): Promise<string[]> {
  const story = stories[name];
  const home = await buildHouse([{ manifest: nativeManifests[name], code: story.native(), data: story.data }]);
  try {
    return await story.run(home);
  } finally {
    await home.close();
  }
}

async function wasmRun(name: WasmPluginName): Promise<{ actions: string[]; home: TestHome }> {
  const story = stories[name];
  const { bytes, manifest } = await loadWasmPlugin(name);
  const home = await buildHouse([{ manifest, code: bytes, data: story.data }]);
  return { actions: await story.run(home), home };
}

describe.each(['temperature_alert', 'motion_light'] as const)('%s: wasm and native agree', (name) => {
  it('takes the same actions on the same events', async () => {
    const expected = await nativeActions(name);
    expect(expected.length).toBeGreaterThan(0);
    const { actions, home } = await wasmRun(name);
    try {
      // The aligned diff names the one action that differs instead of a cascade.
      expect(formatActionDiff(compareActions(expected, actions))).toBe('no differences');
      const summary = home.registry.get(name);
      expect(summary?.runtime).toBe('wasm');
      expect(summary?.state).toBe('loaded');
      expect(home.registry.audit(name)).toEqual([]);
      expect(home.registry.stats().plugins[name]?.errors).toBe(0);
    } finally {
      await home.close();
    }
  });
});

describe('wasm plugins refuse bad input like the native ones', () => {
  it('motion_light_wasm fails set_timeout without a positive number of seconds', async () => {
    const { home } = await wasmRun('motion_light');
    try {
      home.clearActions();
      await expect(home.call('motion_light', 'set_timeout', { seconds: -1 })).rejects.toThrow();
      await expect(home.call('motion_light', 'set_timeout', {})).rejects.toThrow();
      expect(home.lines()).toEqual([]);
    } finally {
      await home.close();
    }
  });

  it('temperature_alert_wasm fails setup when low is above high', async () => {
    const { bytes, manifest } = await loadWasmPlugin('temperature_alert');
    const home = await buildHouse();
    try {
      await expect(home.load({ ...manifest }, bytes, { data: { ...temperatureAlertConfig, high: 18, low: 22 } })).rejects.toThrow();
    } finally {
      await home.close();
    }
  });
});
