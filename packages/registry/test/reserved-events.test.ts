import { ErrorCode, RESERVED_EVENT_TYPES, type PluginContext } from '@homecore/core-traits';
import { RESERVED_EVENT_TYPE_NAMES } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

function refusal(fn: () => unknown): { code: string; message: string; plugin?: string } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; message: string; plugin?: string };
  }
  throw new Error('expected a refusal');
}

describe('reserved core events', () => {
  it('refuses every reserved type whatever the grants (even event:fire:*), audited with its code', async () => {
    const { registry, core, of } = setup();
    let ctx!: PluginContext;
    await registry.load(manifest('forger', { permissions: ['event:fire:*', 'state:read:*'] }), {
      setup(c) {
        ctx = c;
      },
    });
    const fired: string[] = [];
    core.listen((event) => fired.push(event.event_type));
    for (const type of RESERVED_EVENT_TYPES) {
      const error = refusal(() => ctx.fireEvent(type, { entity_id: 'lock.front_door' }));
      expect(error.code).toBe(ErrorCode.EVENT_TYPE_RESERVED);
      expect(error.plugin).toBe('forger');
      expect(error.message).toContain(`may not fire ${type}: only the core fires it`);
    }
    expect(fired).toEqual([]);
    expect(registry.audit('forger')).toHaveLength(RESERVED_EVENT_TYPES.size);
    expect(registry.audit('forger')[0]).toMatchObject({ code: ErrorCode.EVENT_TYPE_RESERVED, action: 'event:fire', target: 'state_changed', hook: null });
    expect(registry.stats().plugins.forger?.permissionDenials).toBe(RESERVED_EVENT_TYPES.size);
    expect(registry.stats().plugins.forger?.eventsFired).toBe(0);
    expect(of('permission_denied')[0]).toMatchObject({ plugin: 'forger', action: 'event:fire', target: 'state_changed', code: ErrorCode.EVENT_TYPE_RESERVED });

    // Its own event types still fire, and near misses are not reserved.
    ctx.fireEvent('forger_alert', {});
    ctx.fireEvent('STATE_CHANGED', {});
    expect(fired).toEqual(['forger_alert', 'STATE_CHANGED']);
  });

  it('refuses a reserved type before looking at permissions, so a plugin without any grant learns why', async () => {
    const { registry } = setup();
    let ctx!: PluginContext;
    await registry.load(manifest('bare'), {
      setup(c) {
        ctx = c;
      },
    });
    expect(refusal(() => ctx.fireEvent('time_changed')).code).toBe(ErrorCode.EVENT_TYPE_RESERVED);
    expect(refusal(() => ctx.fireEvent('bare_tick')).code).toBe(ErrorCode.PERMISSION_DENIED);
    expect(registry.audit('bare').map((d) => d.code)).toEqual([ErrorCode.EVENT_TYPE_RESERVED, ErrorCode.PERMISSION_DENIED]);
  });

  it('the manifest package knows the same reserved types as core-traits', () => {
    expect([...RESERVED_EVENT_TYPE_NAMES].sort()).toEqual([...RESERVED_EVENT_TYPES].sort());
  });
});
