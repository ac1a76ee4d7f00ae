import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { homecore } from './helpers.js';
import { start } from './serve-helpers.js';

const example = join(import.meta.dirname, '..', '..', '..', 'examples', 'smart-home');
const demoKey = join(example, 'keys', 'demo-publisher.pub');

describe('homecore serve --watch with a wasm plugin', () => {
  it('reloads a wasm plugin once per burst of changes, refuses a module that no longer matches its signed hash, and the old instance keeps answering', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homecore-wasm-'));
    cpSync(join(example, 'temperature_alert_wasm'), join(dir, 'temperature_alert_wasm'), { recursive: true });
    const dataDir = mkdtempSync(join(tmpdir(), 'homecore-data-'));
    const { token } = JSON.parse((await homecore('token', 'create', '--name', 'wasm test', '--data-dir', dataDir, '--json')).stdout) as { token: string };
    const hub = start(['serve', dir, '--watch', '--data-dir', dataDir, '--trust-key', demoKey, '--port', '0']);
    try {
      let at = await hub.waitFor(/running 1 of 1 plugin\(s\)/);
      const url = /Home Assistant API at (http:\/\/127\.0\.0\.1:\d+)/.exec(hub.stdout())![1]!;
      const setTemperature = (value: string) =>
        fetch(`${url}/api/states/sensor.bedroom_temperature`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ state: value }),
        });

      // A burst touching the manifest and the module: one reload.
      const folder = join(dir, 'temperature_alert_wasm');
      const wasm = readFileSync(join(folder, 'plugin.wasm'));
      writeFileSync(join(folder, 'manifest.json'), readFileSync(join(folder, 'manifest.json')));
      writeFileSync(join(folder, 'plugin.wasm'), wasm);
      at = await hub.waitFor(/temperature_alert_wasm +reloaded/, at);
      expect(hub.stdout().match(/changed, reloading temperature_alert_wasm/g)).toHaveLength(1);
      expect((await setTemperature('30')).status).toBeLessThan(300);
      at = await hub.waitFor(/temperature_alert_wasm +wrote binary_sensor\.bedroom_heat_alert = "on"/, at);

      // A module that is not the signed one: the load gate refuses it, the running instance stays.
      writeFileSync(join(folder, 'plugin.wasm'), Buffer.concat([wasm, Buffer.from([0])]));
      at = await hub.waitFor(/temperature_alert_wasm +reload failed, old version kept: .*(hash|sha256)/i, at);
      expect((await setTemperature('15')).status).toBeLessThan(300);
      await hub.waitFor(/temperature_alert_wasm +wrote binary_sensor\.bedroom_heat_alert = "off"/, at);

      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    } finally {
      hub.child.kill('SIGKILL');
    }
  });
});
