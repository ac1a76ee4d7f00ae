import { validateManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest, errorsOf, issueAt } from './helpers.js';

describe('validateManifest: a valid manifest', () => {
  it('accepts a full manifest and fills the HOMECORE defaults', () => {
    const result = validateManifest(
      baseManifest({
        integration_type: 'hub',
        config_flow: true,
        single_config_entry: false,
        issue_tracker: 'https://example.org/hue/issues',
        requirements: ['aiohue==4.7.1'],
        dependencies: ['http'],
        after_dependencies: ['zeroconf'],
        loggers: ['aiohue'],
        quality_scale: 'silver',
        import_executor: true,
        preview_features: { fast_polling: { feedback_url: 'https://example.org/f' } },
        bluetooth: [{ connectable: true, service_uuid: '0000fe95-0000-1000-8000-00805f9b34fb', local_name: 'Hue*', manufacturer_id: 76, manufacturer_data_start: [6, 255] }],
        zeroconf: ['_hue._tcp.local.', { type: '_hap._tcp.local.', name: 'hue*', properties: { md: 'bsb002' } }],
        ssdp: [{ manufacturer: 'Royal Philips Electronics', st: 'upnp:rootdevice' }],
        homekit: { models: ['BSB002'] },
        dhcp: [{ hostname: 'philips-hue*', macaddress: '001788*' }, { registered_devices: true }],
        usb: [{ vid: '10C4', pid: 'EA60', description: '*hue*', known_devices: ['Hue dongle'] }],
        mqtt: ['hue/#'],
        permissions: ['state:read:light.*', 'state:write:light.hue_*', 'service:call:light.turn_on', 'event:fire:hue_event', 'event:subscribe:call_service'],
        limits: { setup_timeout_ms: 5000, queue_capacity: 256 },
        services: [{ name: 'refresh', description: 'Polls the bridge now', schema: { type: 'object' } }],
        subscriptions: { entities: ['light.*', 'sensor.hue_motion'], events: ['call_service'] },
        config_schema: { type: 'object', properties: { host: { type: 'string' } }, required: ['host'] },
        min_homecore_version: '0.1.0',
        cog_id: 'hue',
        cog_publisher: 'acme',
      }),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((w) => w.rule)).toEqual(['mqtt-dependency']);
    expect(result.manifest.runtime).toBe('native');
    expect(result.manifest.entry).toBe('index.js');
    expect(result.manifest.zeroconf).toEqual(['_hue._tcp.local.', { type: '_hap._tcp.local.', name: 'hue*', properties: { md: 'bsb002' } }]);
  });

  it('defaults the entry of a wasm plugin to plugin.wasm and keeps a given entry', () => {
    const wasm = validateManifest(baseManifest({ runtime: 'wasm' }));
    expect(wasm.ok && wasm.manifest.entry).toBe('plugin.wasm');
    const given = validateManifest(baseManifest({ entry: 'dist/main.mjs' }));
    expect(given.ok && [given.manifest.runtime, given.manifest.entry]).toEqual(['native', 'dist/main.mjs']);
  });

  it('does not change its input', () => {
    const input = baseManifest();
    const copy = structuredClone(input);
    validateManifest(input);
    expect(input).toEqual(copy);
  });
});

describe('validateManifest: required fields and warnings', () => {
  it('reports every missing required field at once', () => {
    const errors = errorsOf({});
    expect(errors.filter((e) => e.rule === 'required').map((e) => e.pointer)).toEqual(['/domain', '/name', '/version']);
    expect(issueAt(errors, '/version').message).toMatch(/add the required field "version"/);
  });

  it('rejects a non-object manifest with one issue at the root', () => {
    for (const input of [null, [], 42, 'manifest', true, undefined]) {
      const errors = errorsOf(input);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ pointer: '', rule: 'type' });
      expect(errors[0]?.message).toMatch(/must be an object/);
    }
  });

  it('warns about each missing field Home Assistant requires of custom integrations', () => {
    const result = validateManifest({ domain: 'lamp', name: 'Lamp', version: '1.0.0' });
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => [w.pointer, w.rule])).toEqual([
      ['/documentation', 'recommended'],
      ['/codeowners', 'recommended'],
      ['/iot_class', 'recommended'],
    ]);
    expect(result.warnings[2]?.message).toMatch(/add "iot_class"/);
  });

  it('refuses a virtual integration as a plugin, without asking it for keys hassfest forbids there', () => {
    const result = validateManifest({ domain: 'brand', name: 'Brand', version: '1', integration_type: 'virtual', supported_by: 'hue' });
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => [e.pointer, e.rule])).toEqual([['/integration_type', 'virtual-custom']]);
    expect(result.warnings).toEqual([]);
  });

  it('warns about each unknown key, suggests a spelling, and keeps the key', () => {
    const result = validateManifest(baseManifest({ dependancies: ['http'], 'x-vendor': { a: 1 } }));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const dep = issueAt(result.warnings, '/dependancies');
    expect(dep.rule).toBe('unknown-key');
    expect(dep.message).toMatch(/did you mean "dependencies"/);
    expect(issueAt(result.warnings, '/x-vendor').message).toMatch(/"x-vendor"/);
    expect(result.manifest.dependancies).toEqual(['http']);
    expect(result.manifest['x-vendor']).toEqual({ a: 1 });
  });

  it('escapes unknown keys in JSON pointers', () => {
    const result = validateManifest(baseManifest({ 'a/b~c': 1 }));
    expect(result.warnings.map((w) => w.pointer)).toEqual(['/a~1b~0c']);
  });

  it('keeps a __proto__ key from JSON as plain data', () => {
    const input = JSON.parse('{"domain":"lamp","name":"Lamp","version":"1.0.0","__proto__":{"runtime":"wasm"}}');
    const result = validateManifest(input);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.manifest.runtime).toBe('native');
    expect(Object.getOwnPropertyDescriptor(result.manifest, '__proto__')?.value).toEqual({ runtime: 'wasm' });
    expect(result.warnings.some((w) => w.pointer === '/__proto__' && w.rule === 'unknown-key')).toBe(true);
  });
});

describe('validateManifest: Home Assistant field rules', () => {
  it.each([
    ['Hue', 'uppercase'],
    ['_hue', 'leading underscore'],
    ['hue_', 'trailing underscore'],
    ['hue__bridge', 'double underscore'],
    ['hue.bridge', 'dot'],
    ['hue-bridge', 'dash'],
  ])('rejects the domain %j (%s)', (domain) => {
    const issue = issueAt(errorsOf(baseManifest({ domain })), '/domain');
    expect(issue.rule).toBe('pattern');
    expect(issue.message).toContain(JSON.stringify(domain));
    expect(issue.message).toMatch(/lowercase letters, digits and single underscores/);
  });

  it.each(['a', 'hue', 'hue_bridge', '2fa', 'x_1_y'])('accepts the domain %j', (domain) => {
    expect(validateManifest(baseManifest({ domain })).ok).toBe(true);
  });

  it('rejects an empty name and a non-string name', () => {
    expect(issueAt(errorsOf(baseManifest({ name: '' })), '/name')).toMatchObject({ rule: 'minLength', message: 'must not be empty' });
    expect(issueAt(errorsOf(baseManifest({ name: 7 })), '/name')).toMatchObject({ rule: 'type', message: 'must be a string, got an integer 7' });
  });

  it.each(['1.2.3', '1.2.3-beta.1', '1.2.3+build.5', 'v1.0.0', '2024.1.0', '2024.12.1b1', '1.2', '1.2.3.4', '1.2.3.4.5', '01.2.3 ', '7', '1.0.0.dev2', '1.0rc1'])(
    'accepts the version %j',
    (version) => {
      expect(validateManifest(baseManifest({ version })).ok).toBe(true);
    },
  );

  it.each(['', 'latest', '1..2', '1.2.x', 'v', '1.2.3-', '1.2-beta.1', '0x1F', ' '])('rejects the version %j', (version) => {
    const issue = issueAt(errorsOf(baseManifest({ version })), '/version');
    expect(['version', 'minLength']).toContain(issue.rule);
    if (issue.rule === 'version') expect(issue.message).toMatch(/use SemVer like "1\.2\.3", CalVer like "2024\.1\.0"/);
  });

  it.each([
    ['integration_type', 'cloud'],
    ['iot_class', 'local'],
    ['quality_scale', 'diamond'],
    ['runtime', 'jvm'],
  ])('rejects %s %j with the allowed values', (key, value) => {
    const issue = issueAt(errorsOf(baseManifest({ [key]: value })), `/${key}`);
    expect(issue.rule).toBe('enum');
    expect(issue.message).toMatch(/^must be one of "/);
    expect(issue.message).toContain(`got "${value}"`);
  });

  it('checks codeowners one by one and reports duplicates', () => {
    const errors = errorsOf(baseManifest({ codeowners: ['@alice', 'bob', '@org/team', '@org/team', '@a b'] }));
    expect(issueAt(errors, '/codeowners/1')).toMatchObject({ rule: 'pattern' });
    expect(issueAt(errors, '/codeowners/1').message).toMatch(/"@alice".*"@org\/team"/);
    expect(issueAt(errors, '/codeowners/3')).toMatchObject({ rule: 'uniqueItems' });
    expect(issueAt(errors, '/codeowners/4')).toMatchObject({ rule: 'pattern' });
    expect(errors).toHaveLength(3);
  });

  it('needs a code owner for silver quality and above', () => {
    expect(issueAt(errorsOf(baseManifest({ codeowners: [], quality_scale: 'gold' })), '/codeowners').rule).toBe('minItems');
    expect(validateManifest(baseManifest({ codeowners: [], quality_scale: 'bronze' })).ok).toBe(true);
  });

  it('needs https for documentation and issue_tracker', () => {
    const errors = errorsOf(baseManifest({ documentation: 'http://example.org', issue_tracker: 'example.org/issues' }));
    expect(issueAt(errors, '/documentation')).toMatchObject({ rule: 'pattern' });
    expect(issueAt(errors, '/issue_tracker').message).toMatch(/https:\/\//);
  });

  it('rejects self-dependencies and a domain in both dependency lists', () => {
    const errors = errorsOf(baseManifest({ dependencies: ['http', 'hue_bridge', 'mqtt'], after_dependencies: ['mqtt', 'hue_bridge'] }));
    expect(issueAt(errors, '/dependencies/1')).toMatchObject({ rule: 'self-dependency' });
    expect(issueAt(errors, '/after_dependencies/1')).toMatchObject({ rule: 'self-dependency' });
    const disjoint = issueAt(errors, '/after_dependencies/0');
    expect(disjoint.rule).toBe('disjoint');
    expect(disjoint.message).toMatch(/"mqtt" is in both dependencies and after_dependencies: keep it only in/);
    expect(errors).toHaveLength(3);
  });

  it('checks dependency entries are domains', () => {
    const errors = errorsOf(baseManifest({ dependencies: ['Http', 3] }));
    expect(issueAt(errors, '/dependencies/0').rule).toBe('pattern');
    expect(issueAt(errors, '/dependencies/1').rule).toBe('type');
  });

  it('checks requirements, loggers, flags and disabled types', () => {
    const errors = errorsOf(baseManifest({ requirements: 'aiohue', loggers: [''], config_flow: 'yes', single_config_entry: 1, import_executor: null, disabled: true }));
    expect(errors.map((e) => [e.pointer, e.rule]).sort()).toEqual([
      ['/config_flow', 'type'],
      ['/single_config_entry', 'type'],
      ['/requirements', 'type'],
      ['/loggers/0', 'minLength'],
      ['/disabled', 'type'],
      ['/import_executor', 'type'],
    ].sort());
  });

  it('checks preview feature slugs and links', () => {
    const errors = errorsOf(baseManifest({ preview_features: { 'Bad-Slug': {}, good: { learn_more_url: 'ftp://x', extra: 1 } } }));
    expect(issueAt(errors, '/preview_features/Bad-Slug').rule).toBe('unknown-key');
    expect(issueAt(errors, '/preview_features/good/learn_more_url').rule).toBe('pattern');
    expect(issueAt(errors, '/preview_features/good/extra').rule).toBe('unknown-key');
  });
});

describe('validateManifest: discovery matchers', () => {
  it('checks bluetooth UUID case, local_name wildcards, byte ranges and unknown keys', () => {
    const errors = errorsOf(baseManifest({ bluetooth: [{ service_uuid: '0000FE95-0000', local_name: 'H*e', manufacturer_data_start: [1, 256], colour: 'red' }] }));
    expect(issueAt(errors, '/bluetooth/0/service_uuid').message).toMatch(/lowercase/);
    expect(issueAt(errors, '/bluetooth/0/local_name').message).toMatch(/first|3 literal characters/);
    expect(issueAt(errors, '/bluetooth/0/manufacturer_data_start/1')).toMatchObject({ rule: 'maximum', message: 'must be at most 255 (allowed: 0-255), got 256' });
    expect(issueAt(errors, '/bluetooth/0/colour').message).toMatch(/remove the unknown key "colour": allowed keys are connectable, service_uuid/);
  });

  it('accepts zeroconf strings and objects, and needs a type in objects', () => {
    const errors = errorsOf(baseManifest({ zeroconf: ['_a._tcp.local.', { name: 'x' }, 5, { type: '_b._tcp.local.', properties: { model: 'ABC' } }] }));
    expect(issueAt(errors, '/zeroconf/1/type').rule).toBe('required');
    expect(issueAt(errors, '/zeroconf/2').message).toMatch(/must be a string or an object/);
    expect(issueAt(errors, '/zeroconf/3/properties/model').message).toMatch(/lowercase/);
  });

  it('checks dhcp, usb, ssdp, homekit and mqtt shapes', () => {
    const errors = errorsOf(
      baseManifest({
        dhcp: [{ hostname: 'Hue*', macaddress: '00aa*' }],
        usb: [{ vid: '10c4', pid: 'EA60', manufacturer: 'Silicon Labs' }],
        ssdp: [{}, { st: 5 }],
        homekit: { models: 'BSB002' },
        mqtt: [''],
      }),
    );
    expect(errors.map((e) => [e.pointer, e.rule]).sort()).toEqual([
      ['/ssdp/0', 'minProperties'],
      ['/ssdp/1/st', 'type'],
      ['/homekit/models', 'type'],
      ['/dhcp/0/hostname', 'pattern'],
      ['/dhcp/0/macaddress', 'pattern'],
      ['/usb/0/vid', 'pattern'],
      ['/usb/0/manufacturer', 'pattern'],
      ['/mqtt/0', 'minLength'],
    ].sort());
    expect(issueAt(errors, '/dhcp/0/macaddress').message).toMatch(/uppercase/);
  });

  it('warns when mqtt discovery is used without the mqtt dependency', () => {
    const without = validateManifest(baseManifest({ mqtt: ['x/#'] }));
    expect(issueAt(without.warnings, '/dependencies').rule).toBe('mqtt-dependency');
    expect(validateManifest(baseManifest({ mqtt: ['x/#'], dependencies: ['mqtt'] })).warnings).toEqual([]);
  });
});

describe('validateManifest: HOMECORE fields', () => {
  it.each([
    ['/abs/index.js', /relative to the plugin folder/],
    ['C:/plugin/index.js', /relative to the plugin folder/],
    ['dist\\index.js', /forward slashes/],
    ['../other/index.js', /remove "\.\." segments/],
    ['dist/../../x.js', /remove "\.\." segments/],
    ['dist/', /name a file/],
    ['plugin.wasm', /needs "runtime": "wasm"/],
  ])('rejects the entry %j', (entry, message) => {
    const issue = issueAt(errorsOf(baseManifest({ entry })), '/entry');
    expect(issue.message).toMatch(message);
  });

  it('needs a .wasm entry for wasm plugins', () => {
    const issue = issueAt(errorsOf(baseManifest({ runtime: 'wasm', entry: 'index.js' })), '/entry');
    expect(issue).toMatchObject({ rule: 'entry-extension' });
    expect(validateManifest(baseManifest({ runtime: 'wasm', entry: 'build/release.wasm' })).ok).toBe(true);
  });

  const hash = `sha256:${'ab'.repeat(32)}`;
  const signature = `ed25519:${Buffer.alloc(64, 7).toString('base64')}`;
  const key = `ed25519:${Buffer.alloc(32, 9).toString('base64')}`;

  it('accepts a signed module with its hash and key', () => {
    expect(validateManifest(baseManifest({ runtime: 'wasm', module_hash: hash, module_signature: signature, publisher_key: key })).ok).toBe(true);
  });

  it('checks the hash format', () => {
    for (const module_hash of [`sha256:${'AB'.repeat(32)}`, `sha256:${'a'.repeat(63)}`, `sha512:${'a'.repeat(64)}`, 'ab'.repeat(32)]) {
      expect(issueAt(errorsOf(baseManifest({ module_hash })), '/module_hash').message).toMatch(/64 lowercase hex digits/);
    }
  });

  it('checks the decoded lengths of the signature and the key', () => {
    const errors = errorsOf(baseManifest({ module_hash: hash, module_signature: key, publisher_key: signature }));
    expect(issueAt(errors, '/module_signature')).toMatchObject({ rule: 'base64-length' });
    expect(issueAt(errors, '/module_signature').message).toMatch(/decodes to 32 bytes: an Ed25519 signature is 64 bytes/);
    expect(issueAt(errors, '/publisher_key').message).toMatch(/decodes to 64 bytes: an Ed25519 public key is 32 bytes/);
    expect(issueAt(errorsOf(baseManifest({ publisher_key: 'ed25519:not base64!' })), '/publisher_key').rule).toBe('pattern');
  });

  it('needs module_hash and publisher_key beside a signature', () => {
    const both = issueAt(errorsOf(baseManifest({ module_signature: signature })), '/module_signature');
    expect(both).toMatchObject({ rule: 'signature-requires', message: 'a module_signature needs module_hash and publisher_key: add them or remove the signature' });
    const one = issueAt(errorsOf(baseManifest({ module_signature: signature, module_hash: hash })), '/module_signature');
    expect(one.message).toMatch(/needs publisher_key: add it/);
  });

  it('checks min_homecore_version is SemVer', () => {
    expect(validateManifest(baseManifest({ min_homecore_version: '1.4.0-rc.1' })).ok).toBe(true);
    expect(issueAt(errorsOf(baseManifest({ min_homecore_version: '1.4' })), '/min_homecore_version').message).toMatch(/SemVer/);
  });

  it('checks host imports against the ABI list and warns for native plugins', () => {
    const errors = errorsOf(baseManifest({ runtime: 'wasm', host_imports_required: ['hc_log', 'fd_write', 'hc_log'] }));
    expect(issueAt(errors, '/host_imports_required/1').message).toMatch(/must be one of "hc_log", "hc_state_get"/);
    expect(issueAt(errors, '/host_imports_required/2').rule).toBe('uniqueItems');
    const native = validateManifest(baseManifest({ host_imports_required: ['hc_log'] }));
    expect(native.ok).toBe(true);
    expect(issueAt(native.warnings, '/host_imports_required').rule).toBe('runtime-mismatch');
  });

  it('checks the permission claim grammar and names the allowed actions', () => {
    const errors = errorsOf(baseManifest({ permissions: ['state:read:sensor.*', 'state:delete:x', 'service:call:', 'event:fire:a b', 'state:read:sensor.*'] }));
    const bad = issueAt(errors, '/permissions/1');
    expect(bad.rule).toBe('pattern');
    expect(bad.message).toContain('"state:delete:x"');
    expect(bad.message).toMatch(/state:read, state:write, service:call, event:fire, event:subscribe/);
    expect(issueAt(errors, '/permissions/2').rule).toBe('pattern');
    expect(issueAt(errors, '/permissions/3').rule).toBe('pattern');
    expect(issueAt(errors, '/permissions/4').rule).toBe('uniqueItems');
  });

  it('checks limits: closed, positive integers, memory pages at most 65536', () => {
    const errors = errorsOf(baseManifest({ limits: { memory_pages: 65537, fuel_per_call: 0, payload_bytes: 1.5, queue_capacity: '10', cpu: 1 } }));
    expect(errors.map((e) => [e.pointer, e.rule]).sort()).toEqual([
      ['/limits/memory_pages', 'maximum'],
      ['/limits/fuel_per_call', 'minimum'],
      ['/limits/payload_bytes', 'type'],
      ['/limits/queue_capacity', 'type'],
      ['/limits/cpu', 'unknown-key'],
    ].sort());
    expect(validateManifest(baseManifest({ limits: { memory_pages: 65536, fuel_per_call: 1 } })).ok).toBe(true);
  });

  it('checks limits.handler_timeout_ms: a positive integer of milliseconds', () => {
    for (const [value, rule] of [[0, 'minimum'], [2.5, 'type'], ['5000', 'type']] as const) {
      expect(errorsOf(baseManifest({ limits: { handler_timeout_ms: value } })).map((e) => [e.pointer, e.rule])).toEqual([
        ['/limits/handler_timeout_ms', rule],
      ]);
    }
    const result = validateManifest(baseManifest({ limits: { handler_timeout_ms: 5000 } }));
    expect(result.ok).toBe(true);
    expect(result.ok && result.manifest.limits?.handler_timeout_ms).toBe(5000);
  });

  it('checks services: slug names, unique, closed objects', () => {
    const errors = errorsOf(baseManifest({ services: [{ name: 'refresh' }, { name: 'Refresh!' }, { name: 'refresh', schema: [] }, { description: 'x', mode: 1 }] }));
    expect(issueAt(errors, '/services/1/name').rule).toBe('pattern');
    expect(issueAt(errors, '/services/2/schema').rule).toBe('type');
    expect(issueAt(errors, '/services/3/name').rule).toBe('required');
    expect(issueAt(errors, '/services/3/mode').rule).toBe('unknown-key');
    expect(issueAt(errors, '/services/2/name')).toMatchObject({ rule: 'unique-name' });
    expect(issueAt(errors, '/services/2/name').message).toMatch(/already declared at \/services\/0/);
  });

  it('checks subscriptions: entity ids or patterns, event types or patterns', () => {
    expect(validateManifest(baseManifest({ subscriptions: { entities: ['*', 'sensor.*', '*.kitchen', 'light.hall'], events: ['*', 'zha_*', 'call_service'] } })).ok).toBe(true);
    const errors = errorsOf(baseManifest({ subscriptions: { entities: ['sensor', 'Sensor.x'], events: ['a b'], states: [] } }));
    expect(errors.map((e) => [e.pointer, e.rule]).sort()).toEqual([
      ['/subscriptions/entities/0', 'pattern'],
      ['/subscriptions/entities/1', 'pattern'],
      ['/subscriptions/events/0', 'pattern'],
      ['/subscriptions/states', 'unknown-key'],
    ].sort());
  });

  it('checks config_schema is an object and cog fields are strings', () => {
    const errors = errorsOf(baseManifest({ config_schema: 'schema.json', cog_id: 3, cog_publisher: '' }));
    expect(errors.map((e) => [e.pointer, e.rule]).sort()).toEqual([
      ['/config_schema', 'type'],
      ['/cog_id', 'type'],
      ['/cog_publisher', 'minLength'],
    ].sort());
  });
});

describe('validateManifest: hostile input', () => {
  it('survives deep nesting, huge strings and exotic values', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const huge = 'a'.repeat(2_000_000);
    const inputs = [
      baseManifest({ junk: deep, limits: deep, services: [deep] }),
      baseManifest({ domain: huge, name: huge, version: huge, entry: huge, codeowners: [huge] }),
      baseManifest({ version: Symbol('v'), name: () => 1, limits: { memory_pages: Number.NaN } }),
      Object.create(null),
      new Proxy({}, { ownKeys: () => { throw new Error('boom'); } }),
    ];
    for (const input of inputs) {
      const result = validateManifest(input);
      expect(result.ok).toBe(false);
      expect(result.errors.length).toBeGreaterThan(0);
    }
  });

  it('reports an unreadable object instead of throwing', () => {
    const result = validateManifest(new Proxy({}, { ownKeys: () => { throw new Error('boom'); } }));
    expect(result.errors.at(-1)).toMatchObject({ pointer: '', rule: 'unreadable' });
  });
});
