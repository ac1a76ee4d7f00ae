import { describe, expect, it } from 'vitest';
import {
  ABI_VERSION_EXPORT,
  AbiStatus,
  CONFIG_ENTRY_RECOVERABLE,
  ConfigEntryError,
  ConfigEntryNotReady,
  ErrorCode,
  GuestExport,
  HOST_ABI_VERSION,
  HostImport,
  PERMISSION_ACTIONS,
  PermissionSet,
  definePlugin,
  isHomecoreError,
  matchesPattern,
  systemClock,
} from '@homecore/core-traits';
import { HOST_IMPORT_NAMES, PERMISSION_ACTION_NAMES } from '@homecore/manifest';

describe('matchesPattern', () => {
  it('matches exact ids, per-segment globs and the lone star', () => {
    expect(matchesPattern('sensor.kitchen', 'sensor.kitchen')).toBe(true);
    expect(matchesPattern('sensor.kitchen', 'sensor.kitchen_2')).toBe(false);
    expect(matchesPattern('sensor.*', 'sensor.kitchen')).toBe(true);
    expect(matchesPattern('sensor.*', 'binary_sensor.kitchen')).toBe(false);
    expect(matchesPattern('light.kitchen_*', 'light.kitchen_ceiling')).toBe(true);
    expect(matchesPattern('*.kitchen', 'light.kitchen')).toBe(true);
    expect(matchesPattern('*', 'anything.at_all')).toBe(true);
  });

  it('never lets a star cross a dot, so a prefix cannot leak into another domain', () => {
    expect(matchesPattern('light*', 'lighting.x')).toBe(false);
    expect(matchesPattern('light*', 'light.x')).toBe(false);
    expect(matchesPattern('*.*', 'light.x')).toBe(true);
  });

  it('treats regex characters in patterns literally', () => {
    expect(matchesPattern('a+b.*', 'a+b.c')).toBe(true);
    expect(matchesPattern('a+b.*', 'aab.c')).toBe(false);
  });
});

describe('PermissionSet', () => {
  it('denies by default and allows only what a claim grants', () => {
    const set = PermissionSet.parse(['state:read:sensor.*', 'state:write:binary_sensor.alert', 'service:call:light.turn_*', 'event:fire:my_event', 'event:subscribe:time_changed']);
    expect(set.allows('state:read', 'sensor.kitchen')).toBe(true);
    expect(set.allows('state:write', 'sensor.kitchen')).toBe(false);
    expect(set.allows('state:write', 'binary_sensor.alert')).toBe(true);
    expect(set.allows('service:call', 'light.turn_on')).toBe(true);
    expect(set.allows('service:call', 'lock.unlock')).toBe(false);
    expect(set.allows('event:fire', 'my_event')).toBe(true);
    expect(set.allows('event:subscribe', 'time_changed')).toBe(true);
    expect(set.patterns('state:read')).toEqual(['sensor.*']);
    expect(PermissionSet.parse([]).allows('state:read', 'sensor.kitchen')).toBe(false);
    expect(PermissionSet.parse().patterns('event:fire')).toEqual([]);
  });

  it('allowAll grants every action', () => {
    const all = PermissionSet.allowAll();
    for (const action of PERMISSION_ACTIONS) expect(all.allows(action, 'x.y')).toBe(true);
  });

  it('refuses malformed claims, naming each and the allowed actions', () => {
    let error: unknown;
    try {
      PermissionSet.parse(['state:write:light.x', 'state:delete:*', 'service:call:', 'x'], 'lamp');
    } catch (err) {
      error = err;
    }
    expect(isHomecoreError(error, ErrorCode.PERMISSION_INVALID)).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain('[plugin lamp]');
    expect(message).toContain('"state:delete:*"');
    expect(message).toContain('"service:call:"');
    expect(message).toContain('"x"');
    expect(message).not.toContain('"state:write:light.x"');
    expect(message).toContain('state:read, state:write, service:call, event:fire, event:subscribe');
  });

  it('agrees with the manifest on the action names', () => {
    expect([...PERMISSION_ACTIONS].sort()).toEqual([...PERMISSION_ACTION_NAMES].sort());
  });
});

describe('host ABI constants', () => {
  it('name the v1 marker after the version', () => {
    expect(HOST_ABI_VERSION).toBe(1);
    expect(ABI_VERSION_EXPORT).toBe('homecore_abi_version_1');
  });

  it('list the same host imports as the manifest accepts in host_imports_required', () => {
    expect(Object.values(HostImport).sort()).toEqual([...HOST_IMPORT_NAMES].sort());
  });

  it('have unique names and statuses', () => {
    expect(new Set(Object.values(GuestExport)).size).toBe(Object.values(GuestExport).length);
    expect(new Set(Object.values(AbiStatus)).size).toBe(Object.values(AbiStatus).length);
    for (const [name, value] of Object.entries(AbiStatus)) {
      if (name !== 'OK' && name !== 'NOT_READY') expect(value, name).toBeLessThan(0);
    }
  });
});

describe('config entries and plugins', () => {
  it("carries HA's recoverable flags for all 8 states", () => {
    expect(Object.keys(CONFIG_ENTRY_RECOVERABLE)).toHaveLength(8);
    expect(CONFIG_ENTRY_RECOVERABLE.loaded).toBe(true);
    expect(CONFIG_ENTRY_RECOVERABLE.setup_retry).toBe(true);
    expect(CONFIG_ENTRY_RECOVERABLE.migration_error).toBe(false);
    expect(CONFIG_ENTRY_RECOVERABLE.failed_unload).toBe(false);
    expect(CONFIG_ENTRY_RECOVERABLE.setup_in_progress).toBe(false);
  });

  it('gives ConfigEntryNotReady and ConfigEntryError their codes', () => {
    expect(new ConfigEntryNotReady('hub offline').code).toBe('HC_ERR_CONFIG_ENTRY_NOT_READY');
    expect(new ConfigEntryError('bad password').code).toBe('HC_ERR_CONFIG_ENTRY_ERROR');
    expect(isHomecoreError(new ConfigEntryNotReady('x'))).toBe(true);
  });

  it('definePlugin returns the plugin unchanged', () => {
    const plugin = { setup() {} };
    expect(definePlugin(plugin)).toBe(plugin);
  });

  it('the system clock tells time and runs and cancels timers', async () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    let fired = false;
    const cancelled = systemClock.setTimeout(() => void (fired = true), 1);
    systemClock.clearTimeout(cancelled);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 2));
    expect(fired).toBe(false);
  });
});
