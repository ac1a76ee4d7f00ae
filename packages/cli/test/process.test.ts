import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { THRESHOLD_MANIFEST, THRESHOLD_PLUGIN, manifest, pluginDir, tempFile } from './helpers.js';

// In a test runner something always keeps Node's event loop alive; these run the built command
// in its own process, where a plugin that never settles must still time out instead of letting
// Node exit silently.
const bin = join(import.meta.dirname, '..', 'dist', 'bin.js');

function run(...args: string[]) {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run "pnpm build" first`);
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('homecore in its own process', () => {
  it('times out a setup that never finishes, reports it, and runs the other plugins', () => {
    const dir = pluginDir({
      threshold: { 'manifest.json': THRESHOLD_MANIFEST, 'index.js': THRESHOLD_PLUGIN },
      hangs: { 'manifest.json': manifest('hangs', { limits: { setup_timeout_ms: 200 } }), 'index.js': 'export default { setup() { return new Promise(() => {}); } };' },
    });
    const result = run('run', dir, '--scenario', tempFile('s.jsonl', '{"set": "sensor.temp", "state": "30"}\n'));
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/hangs +setup failed: .*setup did not finish within 200 ms/);
    expect(result.stdout).toMatch(/threshold +wrote binary_sensor\.alert = "on"/);
    expect(result.stdout).toContain('Summary: 1 scenario steps');
  });

  it('times out a teardown that never finishes, after the summary, and exits 1', () => {
    const dir = pluginDir({
      stuck: { 'manifest.json': manifest('stuck', { limits: { teardown_timeout_ms: 200 } }), 'index.js': 'export default { setup() {}, teardown() { return new Promise(() => {}); } };' },
    });
    const result = run('run', dir);
    expect(result.stdout).toContain('Summary: 0 scenario steps');
    expect(result.stdout).toMatch(/stuck +teardown failed: .*200 ms/);
    expect(result.code).toBe(1);
  });
});
