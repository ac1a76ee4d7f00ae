import { copyFileSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homecore, tempFile } from './helpers.js';

// The example wasm plugins are built by `pnpm build` (@homecore/plugin-example); a missing module fails here.
const home = join(import.meta.dirname, '..', '..', '..', 'examples', 'smart-home');
const plugin = join(home, 'temperature_alert_wasm');
const wasmFile = join(plugin, 'plugin.wasm');
const demoKey = join(home, 'keys', 'demo-publisher.pub');

function requireBuilt(): void {
  if (!existsSync(wasmFile)) throw new Error(`${wasmFile} is missing: run "pnpm build" first`);
}

describe('homecore inspect', () => {
  it('shows the module and passes the gate with its signed manifest and a trusted key', async () => {
    requireBuilt();
    const result = await homecore('inspect', wasmFile, '--manifest', join(plugin, 'manifest.json'), '--trust-key', demoKey);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ABI         v1');
    expect(result.stdout).toContain('homecore.hc_state_set  func (i32, i32, i32, i32, i32, i32) -> i32');
    expect(result.stdout).toMatch(/signed +yes, valid by ed25519:\S+ \(trusted\)/);
    expect(result.stdout).toContain('load gate   PASSED');
  });

  it('fails the gate, with the reason, when the key is not trusted', async () => {
    requireBuilt();
    const result = await homecore('inspect', wasmFile, '--manifest', join(plugin, 'manifest.json'), '--json');
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.signature).toMatchObject({ signed: true, valid: true, trusted: false });
    expect(report.gate.error.code).toBe('HC_ERR_WASM_UNTRUSTED_KEY');
  });

  it('checks only the structure without --manifest, and says so', async () => {
    requireBuilt();
    const result = await homecore('inspect', wasmFile);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('signed      not checked (give --manifest');
    expect(result.stdout).toContain('load gate   PASSED (structure only');
  });

  it('reports a file that is not wasm instead of crashing', async () => {
    const result = await homecore('inspect', tempFile('fake.wasm', 'hello'));
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('HC_ERR_WASM_INVALID');
  });

  it('refuses an invalid --manifest with the manifest problems', async () => {
    requireBuilt();
    const result = await homecore('inspect', wasmFile, '--manifest', tempFile('m.json', '{"domain": "x"}'));
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('HC_ERR_MANIFEST_INVALID');
  });
});

describe('homecore keygen and sign', () => {
  it('creates a key pair, signs a module into its manifest, and the result passes the strict gate', async () => {
    requireBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'homecore-sign-'));
    const keys = await homecore('keygen', join(dir, 'keys'), '--json');
    expect(keys.code).toBe(0);
    const { privateKeyFile, publicKeyFile, publisherKey } = JSON.parse(keys.stdout);
    expect(statSync(privateKeyFile).mode & 0o077).toBe(0);
    expect(readFileSync(publicKeyFile, 'utf8').trim()).toBe(publisherKey);

    const manifestFile = join(dir, 'manifest.json');
    copyFileSync(join(plugin, 'manifest.json'), manifestFile);
    const signed = await homecore('sign', wasmFile, '--key', privateKeyFile, '--manifest', manifestFile);
    expect(signed.code).toBe(0);
    const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
    expect(manifest.publisher_key).toBe(publisherKey);
    expect(manifest.domain).toBe('temperature_alert_wasm');

    const inspected = await homecore('inspect', wasmFile, '--manifest', manifestFile, '--trust-key', publicKeyFile);
    expect(inspected.code).toBe(0);

    const again = await homecore('keygen', join(dir, 'keys'));
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('never overwrites');
  });

  it('needs --key and --manifest, and a real private key', async () => {
    requireBuilt();
    expect((await homecore('sign', wasmFile)).stderr).toContain('needs --key <private-key.pem> and --manifest');
    const manifestFile = tempFile('manifest.json', readFileSync(join(plugin, 'manifest.json'), 'utf8'));
    const bad = await homecore('sign', wasmFile, '--key', tempFile('k.pem', 'not a key'), '--manifest', manifestFile);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not an Ed25519 private key');
  });
});

describe('the sandbox example', () => {
  it('contains each misbehaving wasm plugin while the native one keeps working', async () => {
    const sandbox = join(home, '..', 'sandbox');
    for (const name of ['runaway_meter', 'hoarding_history', 'door_snoop']) {
      if (!existsSync(join(sandbox, name, 'plugin.wasm'))) throw new Error(`examples/sandbox/${name}/plugin.wasm is missing: run "pnpm build" first`);
    }
    const result = await homecore('run', sandbox, '--scenario', join(sandbox, 'scenario.jsonl'), '--trust-key', demoKey, '--json');
    expect(result.code).toBe(1);
    const records = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const of = (type: string, plugin: string) => records.filter((r) => r.kind === 'activity' && r.type === type && r.plugin === plugin);
    const summary = Object.fromEntries(records.at(-1).plugins.map((p: { plugin: string }) => [p.plugin, p]));

    // The endless loop: stopped by fuel every time, backed off three times, then quarantined.
    const runaway = of('handler_failed', 'runaway_meter');
    expect(runaway.length).toBeGreaterThanOrEqual(12);
    expect(runaway.every((r) => r.error.code === 'HC_ERR_WASM_FUEL_EXHAUSTED')).toBe(true);
    expect(of('plugin_backoff', 'runaway_meter')).toHaveLength(3);
    expect(of('plugin_quarantined', 'runaway_meter')).toHaveLength(1);
    expect(summary.runaway_meter).toMatchObject({ health: 'quarantined', dropped: 1 });

    // The memory hog: traps inside its 1 MiB and keeps being re-created.
    const hog = of('handler_failed', 'hoarding_history');
    expect(hog.length).toBeGreaterThan(0);
    expect(hog.every((r) => r.error.code === 'HC_ERR_WASM_TRAP' && r.error.message.includes('it may have run out of memory'))).toBe(true);
    expect(summary.hoarding_history.delivered).toBe(summary.runaway_meter.delivered + 1);

    // The snoop: refused and audited; the door was never unlocked.
    expect(of('permission_denied', 'door_snoop')).toEqual([expect.objectContaining({ action: 'state:write', target: 'lock.front_door' })]);
    expect(records.some((r) => r.type === 'state_written' && r.entity_id === 'lock.front_door')).toBe(false);

    // The native plugin: every change delivered, both alerts written, no failure.
    expect(summary.temperature_alert).toMatchObject({ delivered: 3, writes: 2, errors: 0, health: 'ok' });
  });
});
