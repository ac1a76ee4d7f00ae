import { RESERVED_EVENT_TYPE_NAMES, validateManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest, errorsOf, issueAt } from './helpers.js';

const HOST_SIDE_LIMITS = [
  'writes_per_second',
  'events_per_second',
  'service_calls_per_second',
  'state_bytes',
  'entities',
  'subscriptions',
  'subscription_bytes',
  'timers',
  'pending_service_calls',
] as const;

describe('validateManifest: host-side limits', () => {
  it('accepts each as a positive integer and keeps it', () => {
    const limits = Object.fromEntries(HOST_SIDE_LIMITS.map((name, i) => [name, i + 1]));
    const result = validateManifest(baseManifest({ limits }));
    expect(result.ok && result.manifest.limits).toEqual(limits);
    expect(result.warnings).toEqual([]);
  });

  it('refuses zero, fractions and strings, naming each field', () => {
    for (const name of HOST_SIDE_LIMITS) {
      for (const [value, rule] of [[0, 'minimum'], [1.5, 'type'], ['10', 'type']] as const) {
        expect(errorsOf(baseManifest({ limits: { [name]: value } })).map((e) => [e.pointer, e.rule])).toEqual([[`/limits/${name}`, rule]]);
      }
    }
  });
});

describe('validateManifest: event:fire claims on reserved core events', () => {
  it('warns about a claim naming a reserved type exactly; the manifest still loads', () => {
    const result = validateManifest(
      baseManifest({ permissions: ['event:fire:my_alert', 'event:fire:state_changed', 'event:fire:*', 'event:subscribe:time_changed', 'event:fire:time_changed'] }),
    );
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.pointer, w.rule])).toEqual([
      ['/permissions/1', 'reserved-event'],
      ['/permissions/4', 'reserved-event'],
    ]);
    expect(issueAt(result.warnings, '/permissions/1').message).toBe(
      '"event:fire:state_changed" can never be used: state_changed is fired only by the core, and plugins may not fire it whatever they claim; remove the claim',
    );
  });

  it('knows every reserved type, and no pattern or near miss', () => {
    for (const type of RESERVED_EVENT_TYPE_NAMES) {
      expect(validateManifest(baseManifest({ permissions: [`event:fire:${type}`] })).warnings.map((w) => w.rule)).toEqual(['reserved-event']);
    }
    expect(validateManifest(baseManifest({ permissions: ['event:fire:state_*', 'event:fire:state_changed_x'] })).warnings).toEqual([]);
  });
});
