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
import { runCli } from '@homecore/cli';
import { HostImport } from '@homecore/core-traits';

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
    const module = new WebAssembly.Module(bytes);
    const imports = WebAssembly.Module.imports(module);
    expect(imports.every((i) => i.module === 'homecore' && (Object.values(HostImport) as string[]).includes(i.name))).toBe(true);
    expect([...imports.map((i) => i.name)].sort()).toEqual(manifest.host_imports_required);
    const exports = WebAssembly.Module.exports(module).map((e) => e.name);
    expect(exports).toEqual(expect.arrayContaining(['memory', 'hc_alloc', 'hc_free', 'homecore_abi_version_1', 'hc_setup', 'hc_on_state_changed']));
    // only the plugins with a config-update hook export it (the others are reloaded, like the references)
    expect(exports.includes('hc_on_config_update')).toBe(domain.startsWith('motion_light'));
    const inspected = await homecore('inspect', join(folder, 'plugin.wasm'), '--manifest', join(folder, 'manifest.json'), '--trust-key', trustKey, '--json');
    const report = JSON.parse(inspected.stdout) as { memory: { initial: number; maximum: number }; signature: { valid: boolean; trusted: boolean }; gate: { passed: boolean } };
    expect(inspected.code).toBe(0);
    expect(report.gate.passed).toBe(true);
    expect(report.signature).toMatchObject({ valid: true, trusted: true });
    expect(report.memory.maximum).toBe(16);
    expect(report.memory.initial).toBeLessThanOrEqual(16);
    expect(bytes.length).toBeLessThan(128 * 1024);
  });

  it('is not conformant when a committed module no longer matches its manifest', async () => {
    const copy = copyOf(ports, lang);
    const wasm = join(copy, 'temperature_alert', 'plugin.wasm');
    const bytes = readFileSync(wasm);
    bytes[bytes.length - 1] ^= 0xff;
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
