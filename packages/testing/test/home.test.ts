import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCode, type HomeCorePlugin, type PluginContext } from '@homecore/core-traits';
import { compareActions, createTestHome, formatActionDiff } from '@homecore/testing';

const examples = fileURLToPath(new URL('../../../examples/smart-home/', import.meta.url));
const manifest = (domain: string, extra: Record<string, unknown> = {}) => ({ domain, name: domain, version: '1.0.0', runtime: 'native', ...extra });

/** Turns a light on with motion and off after its delay, calling light services; logs and one denied write. */
const motionLight = (): HomeCorePlugin => {
  let ctx: PluginContext;
  let cancel: (() => void) | undefined;
  return {
    setup(context) {
      ctx = context;
    },
    async onStateChanged(event) {
      const motion = (event.data.new_state as { state: string } | null)?.state;
      if (motion !== 'on') return;
      cancel?.();
      await ctx.callService('light', 'turn_on', { entity_id: 'light.hall' });
      ctx.setState('sensor.hall_light_reason', 'motion');
      ctx.setState('sensor.hall_light_reason', 'motion'); // a no-op write is recorded too
      try {
        ctx.setState('light.kitchen', 'on');
      } catch {
        // denied: recorded
      }
      cancel = ctx.callLater(90_000, () => void ctx.callService('light', 'turn_off', { entity_id: 'light.hall' }));
    },
  };
};
const motionManifest = manifest('motion_light', {
  permissions: ['state:read:binary_sensor.hall_motion', 'state:write:sensor.hall_light_reason', 'service:call:light.turn_on', 'service:call:light.turn_off'],
  subscriptions: { entities: ['binary_sensor.hall_motion'] },
});

describe('a test home', () => {
  it('records a native plugin\'s actions in order, on a manual clock, with stubbed services', async () => {
    const home = await createTestHome();
    try {
      const light = home.stub('light', 'turn_on');
      home.stub('light', 'turn_off');
      await home.load(motionManifest, motionLight);
      await home.set('binary_sensor.hall_motion', 'on');
      await home.advance(89_000);
      expect(home.lines().filter((l) => l.includes('turn_off'))).toEqual([]);
      await home.advance(1_000);
      home.expectLines([
        'motion_light: call light.turn_on {"entity_id":"light.hall"}',
        'motion_light: set sensor.hall_light_reason = "motion" {}',
        'motion_light: report sensor.hall_light_reason = "motion" {}',
        'motion_light: denied state:write light.kitchen',
        'motion_light: call light.turn_off {"entity_id":"light.hall"}',
      ]);
      expect(light.calls.map((c) => c.data)).toEqual([{ entity_id: 'light.hall' }]);
    } finally {
      await home.close();
    }
  });

  it('records a call to a service nobody provides, and the error it caused', async () => {
    const home = await createTestHome();
    try {
      await home.load(motionManifest, motionLight);
      await home.set('binary_sensor.hall_motion', 'on');
      const actions = home.actions('motion_light');
      expect(actions[0]).toMatchObject({ kind: 'service_call', domain: 'light', service: 'turn_on', provided: false });
      expect(home.lines('motion_light')[0]).toBe('motion_light: call light.turn_on {"entity_id":"light.hall"} (no such service)');
      expect(actions.at(-1)).toMatchObject({ kind: 'error', hook: 'onStateChanged', code: ErrorCode.HANDLER_FAILED });
    } finally {
      await home.close();
    }
  });

  it('fails expectLines with an aligned diff naming the one missing action', async () => {
    const home = await createTestHome();
    try {
      home.stub('light', 'turn_on');
      await home.load(motionManifest, motionLight);
      await home.set('binary_sensor.hall_motion', 'on');
      const lines = home.lines();
      expect(() => home.expectLines([...lines.slice(0, 1), 'motion_light: set sensor.other = "x" {}', ...lines.slice(1)])).toThrow(
        /1 difference\):\n#2 +- motion_light: set sensor\.other = "x" \{\}$/,
      );
    } finally {
      await home.close();
    }
  });

  it('loads example folders, native and wasm, in development trust', async () => {
    const home = await createTestHome();
    try {
      await home.loadFolder(`${examples}temperature_alert`);
      await home.loadFolder(`${examples}temperature_alert_wasm`);
      await home.set('sensor.living_room_temperature', '30');
      await home.set('sensor.bedroom_temperature', '30');
      const writes = home.actions().filter((a) => a.kind === 'write').map((a) => `${a.plugin} ${a.kind === 'write' ? a.entity_id : ''}`);
      expect(writes).toContain('temperature_alert binary_sensor.living_room_heat_alert');
      expect(writes).toContain('temperature_alert_wasm binary_sensor.bedroom_heat_alert');
    } finally {
      await home.close();
    }
  });

  it('refuses a folder without a manifest, naming it', async () => {
    const home = await createTestHome();
    try {
      await expect(home.loadFolder(examples)).rejects.toMatchObject({ code: ErrorCode.PLUGIN_FOLDER_INVALID });
    } finally {
      await home.close();
    }
  });
});

describe('compareActions', () => {
  const line = fc.constantFrom('a: set x = "1" {}', 'a: set x = "2" {}', 'b: call light.turn_on {}', 'b: fire ping {}', 'c: denied state:write y');
  it('finds no difference between a list and itself', () => {
    fc.assert(fc.property(fc.array(line, { maxLength: 30 }), (list) => compareActions(list, list).length === 0));
  });
  it('reports one inserted action as one difference, not a cascade', () => {
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.nat(), fc.string({ minLength: 1 }), (list, at, extra) => {
        const i = at % (list.length + 1);
        const changed = [...list.slice(0, i), `zz ${extra}`, ...list.slice(i)];
        const diff = compareActions(list, changed);
        return diff.length === 1 && diff[0]!.kind === 'extra' && compareActions(changed, list).length === 1;
      }),
    );
  });
  it('pairs a replaced action as one change, and formats it', () => {
    const diff = compareActions(['x', 'y', 'z'], ['x', 'Y', 'z']);
    expect(diff).toEqual([{ kind: 'changed', expected: 'y', actual: 'Y', at: 2 }]);
    expect(formatActionDiff(diff)).toBe('#2    - y\n      + Y');
  });
});
