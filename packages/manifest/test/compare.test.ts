import { type ManifestGrant, compareManifests, grantOf, parseManifest, patternCovers } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest } from './helpers.js';

const fields = (comparison: ReturnType<typeof compareManifests>, kind: 'widenings' | 'narrowings') =>
  comparison[kind].map((d) => [d.field, d.pointer, d.old, d.new]);

describe('patternCovers', () => {
  it.each([
    ['sensor.*', 'sensor.kitchen', true],
    ['sensor.kitchen', 'sensor.*', false],
    ['sensor.*', 'sensor.*', true],
    ['sensor.*', 'sensor.*_temp', true],
    ['sensor.*_temp', 'sensor.*', false],
    ['sensor.*', 'sensor.', true],
    ['sensor.*', 'light.*', false],
    ['*', 'a.b.c', true],
    ['*', '*.*', true],
    ['*.*', '*', false], // a lone * matches values with any number of dots
    ['**', '*', false],
    ['*', '**', true],
    ['**', '*.*', false],
    ['*.*', 'sensor.*', true],
    ['a.*', 'a.*.*', false], // the number of segments differs
    ['a*c', 'a*b*c', true],
    ['a*b*c', 'a*c', false],
    ['*a*', 'a*', true],
    ['*ab*', '*a*b*', false], // "axb" has no "ab"
    ['a**b', 'a*b', true],
    ['a*b', 'a**b', true],
    ['a*', 'a', true],
    ['a*a', 'a', false], // prefix and suffix may not share the one "a"
    ['*.light_*', 'kitchen.light_*_1', true],
    ['state_*', 'state_changed', true],
  ])('%s covers %s: %s', (outer, inner, expected) => {
    expect(patternCovers(outer, inner)).toBe(expected);
  });
});

describe('compareManifests', () => {
  it('finds nothing between a manifest and itself, or its grant', () => {
    const { manifest } = parseManifest(
      baseManifest({
        permissions: ['state:read:sensor.*', 'state:write:light.kitchen'],
        subscriptions: { entities: ['sensor.*'], events: ['zha_*'] },
        services: [{ name: 'flash', schema: { type: 'object' } }],
        limits: { fuel_per_call: 1000 },
        isolation: 'worker',
      }),
    );
    expect(compareManifests(manifest, manifest)).toEqual({ widenings: [], narrowings: [] });
    expect(compareManifests(grantOf(manifest), manifest)).toEqual({ widenings: [], narrowings: [] });
  });

  it('reports a new claim no accepted claim of its action covers, at its pointer in the new manifest', () => {
    const result = compareManifests(
      { permissions: ['state:read:sensor.*', 'state:write:light.kitchen'] },
      { permissions: ['state:read:sensor.kitchen', 'state:write:light.*', 'service:call:lock.unlock', 'state:read:light.kitchen'] },
    );
    expect(fields(result, 'widenings')).toEqual([
      ['permissions', '/permissions/1', null, 'state:write:light.*'],
      ['permissions', '/permissions/2', null, 'service:call:lock.unlock'],
      ['permissions', '/permissions/3', null, 'state:read:light.kitchen'], // covered by state:write, not by state:read
    ]);
    expect(result.widenings[0]?.message).toBe('asks for state:write:light.*: no accepted state:write claim covers all of it (accepted: light.kitchen)');
    expect(result.widenings[1]?.message).toBe('asks for service:call:lock.unlock: no service:call claim was accepted');
    expect(fields(result, 'narrowings')).toEqual([['permissions', '/permissions/0', 'state:read:sensor.*', null]]);
    expect(result.narrowings[0]?.message).toBe('gives up part of state:read:sensor.* (now: sensor.kitchen, light.kitchen)');
  });

  it('treats a narrower claim replacing a wider one as a narrowing only', () => {
    const result = compareManifests({ permissions: ['state:write:light.*'] }, { permissions: ['state:write:light.kitchen'] });
    expect(result.widenings).toEqual([]);
    expect(result.narrowings).toHaveLength(1);
  });

  it('compares claims whatever their order and however their stars are written', () => {
    const result = compareManifests(
      { permissions: ['event:fire:a**b', 'state:read:*'] },
      { permissions: ['state:read:sensor.*', 'event:fire:a*b', 'state:read:*'] },
    );
    expect(result).toEqual({ widenings: [], narrowings: [] });
  });

  it('covers a claim that does not parse only by the same claim', () => {
    expect(compareManifests({ permissions: ['nonsense'] }, { permissions: ['nonsense'] }).widenings).toEqual([]);
    expect(compareManifests({ permissions: ['nonsense'] }, { permissions: ['other'] }).widenings.map((d) => d.new)).toEqual(['other']);
  });

  it('compares subscriptions with the same inclusion rule, list by list', () => {
    const result = compareManifests(
      { subscriptions: { entities: ['sensor.*'], events: ['zha_event'] } },
      { subscriptions: { entities: ['sensor.kitchen', 'lock.*'], events: ['zha_*'] } },
    );
    expect(fields(result, 'widenings')).toEqual([
      ['subscriptions.entities', '/subscriptions/entities/1', null, 'lock.*'],
      ['subscriptions.events', '/subscriptions/events/0', null, 'zha_*'],
    ]);
    expect(fields(result, 'narrowings')).toEqual([['subscriptions.entities', '/subscriptions/entities/0', 'sensor.*', null]]);
    expect(result.widenings[1]?.message).toBe('subscribes to events zha_*: no accepted events subscription covers all of it (accepted: zha_event)');
  });

  it('reports services registered by name, not their schemas', () => {
    const result = compareManifests(
      { services: [{ name: 'flash' }, { name: 'dim' }] },
      { services: [{ name: 'flash', schema: { type: 'object', properties: { anything: {} } } } as { name: string }, { name: 'unlock' }] },
    );
    expect(fields(result, 'widenings')).toEqual([['services', '/services/1', null, 'unlock']]);
    expect(result.widenings[0]?.message).toBe('registers a new service unlock');
    expect(fields(result, 'narrowings')).toEqual([['services', '/services/1', 'dim', null]]);
  });

  it('reports new host imports, and a list dropped (any import allowed) as one widening', () => {
    const added = compareManifests({ host_imports_required: ['hc_log'] }, { host_imports_required: ['hc_log', 'hc_state_set'] });
    expect(fields(added, 'widenings')).toEqual([['host_imports_required', '/host_imports_required/1', null, 'hc_state_set']]);
    const dropped = compareManifests({ host_imports_required: ['hc_log'] }, {});
    expect(fields(dropped, 'widenings')).toEqual([['host_imports_required', '/host_imports_required', ['hc_log'], null]]);
    expect(dropped.widenings[0]?.message).toContain('may import any host function');
    const listed = compareManifests({}, { host_imports_required: ['hc_log'] });
    expect(listed.widenings).toEqual([]);
    expect(fields(listed, 'narrowings')).toEqual([['host_imports_required', '/host_imports_required', null, ['hc_log']]]);
  });

  it('reports limits raised or removed as wider, lowered or newly set as narrower', () => {
    const result = compareManifests(
      { limits: { fuel_per_call: 1000, memory_pages: 16, queue_capacity: 64 } },
      { limits: { fuel_per_call: 5000, memory_pages: 8, timers: 4 } },
    );
    expect(fields(result, 'widenings')).toEqual([
      ['limits', '/limits/fuel_per_call', 1000, 5000],
      ['limits', '/limits/queue_capacity', 64, null],
    ]);
    expect(result.widenings.map((d) => d.message)).toEqual([
      'limits.fuel_per_call raised from 1000 to 5000',
      "limits.queue_capacity removed (was 64): the host's cap applies",
    ]);
    expect(fields(result, 'narrowings')).toEqual([
      ['limits', '/limits/memory_pages', 16, 8],
      ['limits', '/limits/timers', null, 4],
    ]);
  });

  it('orders isolation none < worker < process, a missing field being none', () => {
    expect(fields(compareManifests({ isolation: 'process' }, { isolation: 'worker' }), 'widenings')).toEqual([['isolation', '/isolation', 'process', 'worker']]);
    expect(fields(compareManifests({ isolation: 'worker' }, {}), 'widenings')).toEqual([['isolation', '/isolation', 'worker', 'none']]);
    expect(compareManifests({}, { isolation: 'none' })).toEqual({ widenings: [], narrowings: [] });
    expect(fields(compareManifests({}, { isolation: 'process' }), 'narrowings')).toEqual([['isolation', '/isolation', 'none', 'process']]);
    // An unknown level cannot be shown to isolate anything.
    expect(compareManifests({ isolation: 'none' }, { isolation: 'vm' }).widenings).toHaveLength(1);
  });

  it('reports a publisher key changed or removed as wider, one added as narrower', () => {
    const a = 'ed25519:AAAA';
    const b = 'ed25519:BBBB';
    expect(fields(compareManifests({ publisher_key: a }, { publisher_key: b }), 'widenings')).toEqual([['publisher_key', '/publisher_key', a, b]]);
    expect(fields(compareManifests({ publisher_key: b }, { publisher_key: a }), 'widenings')).toEqual([['publisher_key', '/publisher_key', b, a]]);
    expect(fields(compareManifests({ publisher_key: a }, {}), 'widenings')).toEqual([['publisher_key', '/publisher_key', a, null]]);
    const added = compareManifests({}, { publisher_key: a });
    expect(added.widenings).toEqual([]);
    expect(fields(added, 'narrowings')).toEqual([['publisher_key', '/publisher_key', null, a]]);
  });

  it('reports a runtime change either way as wider, a missing runtime being native', () => {
    expect(fields(compareManifests({}, { runtime: 'wasm' }), 'widenings')).toEqual([['runtime', '/runtime', 'native', 'wasm']]);
    expect(fields(compareManifests({ runtime: 'wasm' }, { runtime: 'native' }), 'widenings')).toEqual([['runtime', '/runtime', 'wasm', 'native']]);
    expect(compareManifests({}, { runtime: 'native' })).toEqual({ widenings: [], narrowings: [] });
  });

  it('reports fields in a fixed order, the most far-reaching first', () => {
    const result = compareManifests(
      { limits: { timers: 1 }, permissions: [] } satisfies ManifestGrant,
      { limits: { timers: 2 }, permissions: ['state:read:*'], services: [{ name: 's' }], runtime: 'wasm', isolation: 'none' },
    );
    expect(result.widenings.map((d) => d.field)).toEqual(['runtime', 'permissions', 'services', 'limits']);
  });

  it('ignores the fields the upgrade rule does not compare (version, entry, hash, dependencies...)', () => {
    const { manifest: a } = parseManifest(baseManifest({ version: '1.0.0', dependencies: ['http'] }));
    const { manifest: b } = parseManifest(baseManifest({ version: '2.0.0', entry: 'main.js', dependencies: ['http', 'mqtt'], name: 'Renamed' }));
    expect(compareManifests(a, b)).toEqual({ widenings: [], narrowings: [] });
  });

  it('bounds its work on manifests with thousands of claims: past the budget a claim counts as not covered', () => {
    // The one claim covering them all comes last, after 2,000 that cover nothing.
    const old = [...Array.from({ length: 2000 }, (_, i) => `state:read:sensor.x${i}_*`), 'state:read:sensor.*'];
    const next = Array.from({ length: 2000 }, (_, i) => `state:read:sensor.y${i}`);
    const { widenings } = compareManifests({ permissions: old }, { permissions: next });
    expect(widenings.length).toBeGreaterThan(1000);
    expect(widenings.length).toBeLessThan(2000); // the first ones were checked, and covered
    expect(widenings[0]?.message).toContain('not checked: more than 100000 pattern pairs');
  });
});
