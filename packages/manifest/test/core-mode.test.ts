import { ErrorCode, isHomecoreError } from '@homecore/errors';
import { type ManifestIssue, parseManifest, validateManifest } from '@homecore/manifest';
import { describe, expect, it } from 'vitest';
import { baseManifest, issueAt } from './helpers.js';

/** A Home Assistant core integration manifest as hassfest accepts it (no version). */
function coreManifest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    domain: 'hue',
    name: 'Philips Hue',
    config_flow: true,
    documentation: 'https://www.home-assistant.io/integrations/hue',
    requirements: ['aiohue==2.1.0'],
    codeowners: ['@balloob', '@home-assistant/core'],
    iot_class: 'local_push',
    ...extra,
  };
}

const core = (input: unknown) => validateManifest(input, { mode: 'core' });
const coreErrors = (input: unknown): ManifestIssue[] => {
  const result = core(input);
  expect(result.ok, JSON.stringify(result.warnings)).toBe(false);
  return result.errors;
};
const rules = (issues: ManifestIssue[]) => issues.map((issue) => [issue.pointer, issue.rule]);

describe('validateManifest core mode: Home Assistant core integrations', () => {
  it('accepts a core manifest without a version, and custom mode still requires one', () => {
    const result = core(coreManifest());
    expect(result.errors).toEqual([]);
    expect(result.ok && result.warnings).toEqual([]);
    expect(result.ok && result.manifest.version).toBeUndefined();
    const custom = validateManifest(coreManifest());
    expect(custom.ok).toBe(false);
    expect(issueAt(custom.errors, '/version').rule).toBe('required');
    expect(validateManifest(coreManifest(), { mode: 'custom' }).ok).toBe(false);
  });

  it('refuses the keys only custom integrations may have', () => {
    const errors = coreErrors(coreManifest({ version: '1.0.0', issue_tracker: 'https://github.com/x/y/issues', import_executor: false }));
    expect(rules(errors)).toEqual([
      ['/version', 'core-forbidden'],
      ['/issue_tracker', 'core-forbidden'],
      ['/import_executor', 'core-forbidden'],
    ]);
    expect(errors[0]?.message).toMatch(/core integrations have no version .*remove it/);
  });

  it('requires documentation on Home Assistant\'s site and codeowners', () => {
    const { documentation: _d, codeowners: _c, ...bare } = coreManifest();
    expect(rules(coreErrors(bare))).toEqual([
      ['/documentation', 'required'],
      ['/codeowners', 'required'],
    ]);
    const elsewhere = issueAt(coreErrors(coreManifest({ documentation: 'https://example.org/hue' })), '/documentation');
    expect(elsewhere.rule).toBe('documentation-url');
    expect(elsewhere.message).toContain('https://www.home-assistant.io/integrations');
    expect(core(coreManifest({ documentation: 'https://www.home-assistant.io/hassio' })).ok).toBe(true);
    expect(core(coreManifest({ documentation: 'https://www.home-assistant.io/components/hue' })).ok).toBe(false);
    expect(core(coreManifest({ codeowners: [] })).ok).toBe(true);
  });

  it('requires pinned requirements and warns about versions newer hassfest cannot parse', () => {
    const errors = coreErrors(coreManifest({ requirements: ['aiohue>=2.1', 'aiohue == 2.1', 'git+https://github.com/x/y', '==1.0', 'pkg==1.0;python_version<"3.9"'] }));
    expect(rules(errors)).toEqual([
      ['/requirements/0', 'requirement'],
      ['/requirements/1', 'requirement'],
      ['/requirements/2', 'requirement'],
      ['/requirements/3', 'requirement'],
    ]);
    expect(errors[0]?.message).toMatch(/not pinned: .*"<package>==<version>"/);
    expect(errors[1]?.message).toMatch(/contains a space/);
    const old = core(coreManifest({ requirements: ['python-gc100==1.0.3a', 'pkg[extra]==1.0,!=1.0.1'] }));
    expect(old.ok).toBe(true);
    expect(rules(old.warnings)).toEqual([['/requirements/0', 'requirement']]);
    expect(old.warnings[0]?.message).toMatch(/cannot parse \("1\.0\.3a"\)/);
    // Custom integrations (HOMECORE plugins) need not pin.
    expect(validateManifest(baseManifest({ requirements: ['aiohue>=2.1'] })).ok).toBe(true);
  });

  it('warns, not fails, when a core integration has no iot_class, except where hassfest forbids one', () => {
    const { iot_class: _i, ...noClass } = coreManifest();
    const result = core(noClass);
    expect(result.ok).toBe(true);
    expect(rules(result.warnings)).toEqual([['/iot_class', 'recommended']]);
    expect(core({ ...noClass, domain: 'sensor' }).warnings).toEqual([]);
  });

  it('refuses an iot_class on entity-platform and system domains, in both modes', () => {
    const issue = issueAt(coreErrors(coreManifest({ domain: 'sensor' })), '/iot_class');
    expect(issue).toMatchObject({ rule: 'iot-class' });
    expect(issue.message).toMatch(/"sensor" domain .* has no IoT class: remove iot_class/);
    const custom = validateManifest(baseManifest({ domain: 'light' }));
    expect(rules(custom.errors)).toEqual([['/iot_class', 'iot-class']]);
    const { iot_class: _i, ...plugin } = baseManifest({ domain: 'light' });
    const quiet = validateManifest(plugin);
    expect(quiet.ok && quiet.warnings).toEqual([]);
  });

  it('needs a code owner from silver up, whether codeowners is empty or missing', () => {
    expect(rules(coreErrors(coreManifest({ quality_scale: 'platinum', codeowners: [] })))).toEqual([['/codeowners', 'minItems']]);
    const { codeowners: _c, ...plugin } = baseManifest({ quality_scale: 'gold' });
    expect(rules(validateManifest(plugin).errors)).toEqual([['/codeowners', 'minItems']]);
    expect(core(coreManifest({ quality_scale: 'bronze', codeowners: [] })).ok).toBe(true);
  });

  it('refuses an unknown mode with one issue instead of throwing', () => {
    const result = validateManifest(coreManifest(), { mode: 'Core' as 'core' });
    expect(result.ok).toBe(false);
    expect(rules(result.errors)).toEqual([['', 'mode']]);
    expect(result.errors[0]?.message).toMatch(/use "custom" .* or "core"/);
  });

  it('parseManifest takes the mode too', () => {
    expect(parseManifest(JSON.stringify(coreManifest()), 'hue/manifest.json', { mode: 'core' }).manifest.domain).toBe('hue');
    try {
      parseManifest(JSON.stringify(coreManifest()), 'hue/manifest.json');
      expect.unreachable();
    } catch (error) {
      expect(isHomecoreError(error, ErrorCode.MANIFEST_INVALID)).toBe(true);
      expect((error as Error).message).toMatch(/\/version: add the required field "version"/);
    }
  });
});

describe('validateManifest: virtual integrations', () => {
  const brand = { domain: 'philips', name: 'Philips', integration_type: 'virtual', supported_by: 'hue' };

  it('accepts HA\'s virtual shapes in core mode, with no warnings', () => {
    for (const input of [brand, { domain: 'aqara', name: 'Aqara', integration_type: 'virtual', iot_standards: ['zigbee', 'homekit'] }, { domain: 'x', name: 'X', integration_type: 'virtual' }]) {
      const result = core(input);
      expect(result.errors).toEqual([]);
      expect(result.warnings).toEqual([]);
    }
  });

  it('refuses every other key of an integration, one error each', () => {
    const errors = coreErrors({ ...brand, documentation: 'https://www.home-assistant.io/integrations/philips', codeowners: ['@a'], iot_class: 'local_push', version: '1.0.0', config_flow: true, runtime: 'native' });
    expect(rules(errors)).toEqual([
      ['/documentation', 'virtual'],
      ['/codeowners', 'virtual'],
      ['/iot_class', 'virtual'],
      ['/version', 'virtual'],
      ['/config_flow', 'virtual'],
      ['/runtime', 'virtual'],
    ]);
    expect(errors[0]?.message).toMatch(/virtual integration cannot have "documentation": .*allows only domain, name, integration_type and one of supported_by or iot_standards/);
  });

  it('allows supported_by or iot_standards, not both, and checks their shapes', () => {
    expect(rules(coreErrors({ ...brand, iot_standards: ['zwave'] }))).toEqual([['/iot_standards', 'exclusive']]);
    expect(rules(coreErrors({ ...brand, supported_by: 'Hue' }))).toEqual([['/supported_by', 'pattern']]);
    expect(rules(coreErrors({ domain: 'a', name: 'A', integration_type: 'virtual', iot_standards: ['thread'] }))).toEqual([['/iot_standards/0', 'enum']]);
  });

  it('refuses supported_by and iot_standards outside a virtual integration, in both modes', () => {
    expect(rules(coreErrors(coreManifest({ supported_by: 'hue' })))).toEqual([['/supported_by', 'virtual-only']]);
    expect(rules(validateManifest(baseManifest({ iot_standards: ['zigbee'] })).errors)).toEqual([['/iot_standards', 'virtual-only']]);
  });

  it('keeps unknown keys a warning there too', () => {
    const result = core({ ...brand, x_note: 1 });
    expect(result.ok).toBe(true);
    expect(rules(result.warnings)).toEqual([['/x_note', 'unknown-key']]);
  });
});

describe('validateManifest: discovery matchers as hassfest has them', () => {
  it('accepts the deprecated zeroconf macaddress, manufacturer and model with a warning each', () => {
    const zeroconf = [{ type: '_axis-video._tcp.local.', macaddress: '00408C*' }, { type: '_hap._tcp.local.', manufacturer: 'ikea*', model: 'tradfri*' }];
    for (const result of [core(coreManifest({ zeroconf })), validateManifest(baseManifest({ zeroconf }))]) {
      expect(result.errors).toEqual([]);
      expect(rules(result.warnings)).toEqual([
        ['/zeroconf/0/macaddress', 'deprecated'],
        ['/zeroconf/1/manufacturer', 'deprecated'],
        ['/zeroconf/1/model', 'deprecated'],
      ]);
      expect(result.warnings[0]?.message).toMatch(/deprecated: .*properties\.macaddress/);
    }
  });

  it('keeps the case rules of the deprecated zeroconf keys', () => {
    const errors = coreErrors(coreManifest({ zeroconf: [{ type: '_a._tcp.local.', macaddress: '00408c*', manufacturer: 'IKEA*', model: 'Tradfri' }] }));
    expect(rules(errors)).toEqual([
      ['/zeroconf/0/macaddress', 'pattern'],
      ['/zeroconf/0/manufacturer', 'pattern'],
      ['/zeroconf/0/model', 'pattern'],
    ]);
    expect(errors[0]?.message).toMatch(/uppercase/);
  });

  it('warns about a MAC address matcher without a wildcard, which never matches a whole address', () => {
    const result = core(coreManifest({ dhcp: [{ macaddress: '48A2E6' }, { macaddress: '00D02D*' }, { hostname: 'lyric-*' }] }));
    expect(result.ok).toBe(true);
    const issue = issueAt(result.warnings, '/dhcp/0/macaddress');
    expect(issue.rule).toBe('wildcard');
    expect(issue.message).toContain('"48A2E6*"');
    expect(rules(coreErrors(coreManifest({ dhcp: [{ macaddress: '48a2e6*' }] })))).toEqual([['/dhcp/0/macaddress', 'pattern']]);
  });

  it('takes any codeowner that starts with "@", as hassfest does', () => {
    expect(core(coreManifest({ codeowners: ['@home_assistant/core', '@-x', '@a.b'] })).ok).toBe(true);
    expect(rules(coreErrors(coreManifest({ codeowners: ['balloob', '@', '@a b'] })))).toEqual([
      ['/codeowners/0', 'pattern'],
      ['/codeowners/1', 'pattern'],
      ['/codeowners/2', 'pattern'],
    ]);
  });
});

describe('validateManifest: custom-integration rules hassfest adds', () => {
  it('warns when a plugin\'s documentation points at Home Assistant\'s core docs', () => {
    const result = validateManifest(baseManifest({ documentation: 'https://www.home-assistant.io/integrations/hue' }));
    expect(result.ok).toBe(true);
    expect(rules(result.warnings)).toEqual([['/documentation', 'documentation-url']]);
  });
});

describe('validateManifest: "$schema"', () => {
  it('is accepted silently in both modes, so editors can find the schema and --strict passes', () => {
    const $schema = './node_modules/@homecore/manifest/schema/manifest.schema.json';
    const plugin = validateManifest(baseManifest({ $schema }));
    expect(plugin.ok && plugin.warnings).toEqual([]);
    expect(plugin.ok && plugin.manifest.$schema).toBe($schema);
    const ha = core(coreManifest({ $schema: 'https://example.org/manifest.schema.json' }));
    expect(ha.ok && ha.warnings).toEqual([]);
  });

  it('must be a string', () => {
    for (const $schema of [1, null, { url: 'x' }]) {
      const result = validateManifest(baseManifest({ $schema }));
      expect(rules(result.errors)).toEqual([['/$schema', 'type']]);
    }
  });
});
