// The C and Rust ports of the reference plugins (examples/ports, built by
// scripts/build-guest-ports.mjs from sdks/c and sdks/rust) take exactly the actions of the native
// and AssemblyScript references, through `homecore conformance`, from their committed .wasm files:
// no clang or rustc is needed here (.ci/run rebuilds them and checks the bytes).
import { cpSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { runCli } from '@homecore/cli';
import { HostImport } from '@homecore/core-traits';
import { createHomecore } from '@homecore/runtime-native';
import { WasmRuntime } from '@homecore/runtime-wasm';

const root = fileURLToPath(new URL('..', import.meta.url));
const references = join(root, 'examples/smart-home');
const scenario = join(references, 'scenario.jsonl');
const edgeCases = join(root, 'examples/ports/edge-cases.jsonl');
const trustKey = join(references, 'keys/demo-publisher.pub');
const PORTED = ['temperature_alert', 'temperature_alert_wasm', 'motion_light', 'motion_light_wasm'] as const;

async function homecore(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) });
  return { code, stdout, stderr };
}

interface Report {
  conformant: boolean;
  differences: string[];
  reference: { loaded: { plugin: string; runtime: string; state: string }[]; actions: string[]; failures: string[] };
  candidate: { loaded: { plugin: string; runtime: string; state: string }[]; actions: string[]; failures: string[] };
}

/** A copy of a ports folder in a temp dir; virtual_light/index.js imports @homecore/core-traits, resolved through a link to the workspace's node_modules. */
function copyOf(ports: string, lang: string): string {
  const copy = mkdtempSync(join(tmpdir(), `homecore-ports-${lang}-`));
  cpSync(ports, copy, { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

async function conformance(candidate: string, story: string): Promise<Report> {
  const result = await homecore('conformance', references, candidate, '--scenario', story, '--trust-key', trustKey, '--json');
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Report;
}

describe.each(['c', 'rust'] as const)('the %s ports', (lang) => {
  const ports = join(root, 'examples/ports', lang);

  it('take the same actions as the native and AssemblyScript references on the smart-home scenario', async () => {
    const result = await homecore('conformance', references, ports, '--scenario', scenario, '--trust-key', trustKey);
    expect(result.stderr).toBe('');
    expect(result.stdout).toContain('CONFORMANT: the same 21 actions, in the same order');
    expect(result.code).toBe(0);
    const report = await conformance(ports, scenario);
    for (const domain of PORTED) expect(report.candidate.loaded).toContainEqual({ plugin: domain, runtime: 'wasm', state: 'loaded' });
    expect(report.reference.loaded.find((p) => p.plugin === 'temperature_alert')?.runtime).toBe('native');
    expect(report.candidate.actions).toContain('[line 8] temperature_alert: set binary_sensor.living_room_heat_alert = "on" {"temperature":26.1,"threshold":25}');
    expect(report.candidate.actions.some((a) => a.includes('motion_light_wasm: call virtual_light.turn_off {"entity_id":"light.porch"}'))).toBe(true);
  });

  it('read and write numbers exactly as the references do (edge cases: long, tiny, huge, signed, not numbers)', async () => {
    const report = await conformance(ports, edgeCases);
    expect(report.differences).toEqual([]);
    expect(report.conformant).toBe(true);
    expect(report.candidate.actions).toContain(
      '[line 19] temperature_alert: set binary_sensor.living_room_heat_alert = "off" {"temperature":-1.7976931348623157e+308,"threshold":20}',
    );
    expect(report.candidate.actions.some((a) => a.includes('"temperature":5e-324'))).toBe(true);
    // the refused service calls and the refused options update fail alike in both
    expect(report.candidate.failures.length).toBeGreaterThan(0);
    expect(report.candidate.failures).toEqual(report.reference.failures);
  });

  it.each(PORTED)('ships %s as a pinned, signed module that imports only homecore functions', async (domain) => {
    const folder = join(ports, domain);
    const bytes = readFileSync(join(folder, 'plugin.wasm'));
    const manifest = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.module_hash).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
    expect(manifest.limits).toEqual({ memory_pages: 16 });
    const inspected = await homecore('inspect', join(folder, 'plugin.wasm'), '--manifest', join(folder, 'manifest.json'), '--trust-key', trustKey, '--json');
    const report = JSON.parse(inspected.stdout) as {
      imports: { module: string; name: string; kind: string }[];
      exports: { name: string; kind: string }[];
      memory: { initial: number; maximum: number };
      signature: { valid: boolean; trusted: boolean };
      gate: { passed: boolean };
    };
    expect(inspected.code).toBe(0);
    expect(report.gate.passed).toBe(true);
    expect(report.signature).toMatchObject({ valid: true, trusted: true });
    // no env.* import (memcpy/memset, or an import without import_module), only ABI functions
    expect(report.imports.every((i) => i.module === 'homecore' && i.kind === 'func' && (Object.values(HostImport) as string[]).includes(i.name))).toBe(true);
    expect(report.imports.map((i) => i.name).sort()).toEqual(manifest.host_imports_required);
    const exports = report.exports.map((e) => e.name);
    expect(exports).toEqual(expect.arrayContaining(['memory', 'hc_alloc', 'hc_free', 'homecore_abi_version_1', 'hc_setup', 'hc_on_state_changed']));
    // only the plugins with a config-update hook export it (the others are reloaded, like the references)
    expect(exports.includes('hc_on_config_update')).toBe(domain.startsWith('motion_light'));
    expect(report.memory.maximum).toBe(16);
    expect(report.memory.initial).toBeLessThanOrEqual(16);
    expect(bytes.length).toBeLessThan(128 * 1024);
  });

  it('is not conformant when a committed module no longer matches its manifest', async () => {
    const copy = copyOf(ports, lang);
    const wasm = join(copy, 'temperature_alert', 'plugin.wasm');
    const bytes = readFileSync(wasm);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(wasm, bytes);
    const result = await homecore('conformance', references, copy, '--scenario', scenario, '--trust-key', trustKey);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('NOT CONFORMANT');
    const report = await conformance(copy, scenario);
    expect(report.candidate.failures).toEqual(['[setup] temperature_alert: HC_ERR_WASM_HASH_MISMATCH']);
    expect(report.candidate.loaded).toContainEqual({ plugin: 'temperature_alert', runtime: 'wasm', state: 'setup_error' });
  });

  it('is refused when the manifest allows less memory than the module starts with', async () => {
    const copy = copyOf(ports, lang);
    const path = join(copy, 'motion_light', 'manifest.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    writeFileSync(path, JSON.stringify({ ...manifest, limits: { memory_pages: 1 } }));
    const report = await conformance(copy, scenario);
    expect(report.conformant).toBe(false);
    expect(report.candidate.failures).toContain('[setup] motion_light: HC_ERR_WASM_MEMORY_POLICY');
    expect(report.candidate.loaded).toContainEqual({ plugin: 'motion_light_wasm', runtime: 'wasm', state: 'loaded' });
  });
});

// ---- the SDKs' JSON reader and writer, against JSON.parse ----------------------------------

/** JSON.parse's reading of `text`, as the probe reports it: non-finite numbers (which JSON cannot hold) written back as null. */
function expectedParse(text: string): { valid: boolean; value?: unknown } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { valid: false };
  }
  const finite = (v: unknown): unknown =>
    typeof v === 'number' && !Number.isFinite(v)
      ? null
      : Array.isArray(v)
        ? v.map(finite)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, finite(x)]))
          : v;
  return { valid: true, value: finite(value) };
}

interface Probe {
  parse(text: string): Promise<{ valid: boolean; value?: unknown }>;
  close(): Promise<void>;
}

/** Loads sdks/<lang>/probe/json_probe into a home; parse() calls json_probe.parse and returns the event it fires. */
async function openProbe(lang: string): Promise<Probe> {
  // one fired event per parse, thousands a second: lift the host's fired-events rate limit (default 200/s)
  const home = createHomecore({ limits: { eventsPerSecond: 1_000_000 }, runtimes: [new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined })] });
  const report = await home.registry.loadDirectory(join(root, 'sdks', lang, 'probe'));
  expect(report.errors).toEqual([]);
  const results: { valid: boolean; value?: unknown }[] = [];
  home.core.listen((event) => {
    if (event.event_type === 'json_probe_result') results.push(event.data as { valid: boolean; value?: unknown });
  });
  return {
    async parse(text) {
      const before = results.length;
      await home.core.callService('json_probe', 'parse', { text }, { context: home.core.createContext() });
      for (let i = 0; i < 5 && results.length === before; i++) {
        await home.registry.idle();
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(results.length).toBe(before + 1);
      return results[before]!;
    },
    async close() {
      await home.close();
    },
  };
}

const VALID = [
  '{}', '[]', ' 0 ', '-0', '\t[ 1 , 2 ]\n', '[true,false,null]', '[1,2,[3,{"x":null}]]', '{"a":1,"a":2}',
  '"\\u0000"', '"\\ud83d\\ude00"', '"\u00e9t\u00e9 \ud83d\ude00"', '"\\"\\\\\\/\\b\\f\\n\\r\\t"', '{"k\\u00e9y":"v","":""}',
  '0.1', '1e400', '-1e400', '5e-324', '2.2250738585072011e-308', '1.7976931348623157e308', '9007199254740993',
  '123456789012345678901234567890', '-1.5E-10', '1E+2', '0.30000000000000004', '4.35', '1e-7', '1e21', '123e-20',
];
const INVALID = [
  '', ' ', '{', '}', '[1,]', '{"a":1,}', '01', '1.', '.5', '+1', '-', '1e', '1e+', 'tru', 'nul', 'NaN', 'Infinity',
  '"\\x"', '"\\u12"', '"a\nb"', '"unterminated', '[1 2]', '{"a" 1}', '{1:2}', "'a'", '1 2', '[', '{"a":}', '[,]', '"\\u00zz"',
];

describe.each(['c', 'rust'] as const)("the %s SDK's JSON reader and writer", (lang) => {
  it('read what JSON.parse reads, refuse what it refuses, and write back the same values', async () => {
    const probe = await openProbe(lang);
    try {
      for (const text of [...VALID, ...INVALID]) expect({ text, result: await probe.parse(text) }).toEqual({ text, result: expectedParse(text) });
    } finally {
      await probe.close();
    }
  });

  it('agree with JSON.parse on generated JSON, on doubles and on arbitrary text', async () => {
    const probe = await openProbe(lang);
    try {
      await fc.assert(
        fc.asyncProperty(fc.json({ maxDepth: 4 }), async (text) => {
          expect(await probe.parse(text)).toEqual(expectedParse(text));
        }),
        { numRuns: 150 },
      );
      await fc.assert(
        fc.asyncProperty(fc.double({ noNaN: true, noDefaultInfinity: true }), async (x) => {
          const text = JSON.stringify(x);
          expect(await probe.parse(text)).toEqual({ valid: true, value: x === 0 ? 0 : x });
        }),
        { numRuns: 300 },
      );
      await fc.assert(
        fc.asyncProperty(fc.string({ maxLength: 12, unit: fc.constantFrom(...'{}[]",:\\ 0123456789.eE+-truefalsn'.split('')) }), async (text) => {
          expect(await probe.parse(text)).toEqual(expectedParse(text));
        }),
        { numRuns: 300 },
      );
    } finally {
      await probe.close();
    }
  });

  it('refuse what UTF-8 cannot hold and nesting past 64 levels, where JSON.parse accepts them', async () => {
    const probe = await openProbe(lang);
    try {
      expect(await probe.parse('"\\ud800"')).toEqual({ valid: false });
      expect(await probe.parse('"\\udc00\\ud800"')).toEqual({ valid: false });
      const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
      // 63 levels inside the result's {"value": ...} is as deep as the host takes event data
      expect(await probe.parse(nested(63))).toEqual(expectedParse(nested(63)));
      expect(await probe.parse(nested(65))).toEqual({ valid: false });
      expect(await probe.parse(`{"a":${nested(70)}}`)).toEqual({ valid: false });
    } finally {
      await probe.close();
    }
  });
});
