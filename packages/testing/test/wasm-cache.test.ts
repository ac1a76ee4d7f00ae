import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { WasmRuntime } from '@homecore/runtime-wasm';
import { createTestHome, type TestHome } from '@homecore/testing';

const plugin = fileURLToPath(new URL('../../../examples/smart-home/temperature_alert_wasm', import.meta.url));
const wasmStats = (home: TestHome) => (home.runtimes.find((r) => r.kind === 'wasm') as WasmRuntime).stats();

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homecore-kit-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One "test run": a fresh home loads the wasm example and raises its alert. */
async function run(options: Parameters<typeof createTestHome>[0]) {
  const home = await createTestHome(options);
  try {
    await home.loadFolder(plugin);
    await home.set('sensor.bedroom_temperature', '30');
    return { lines: home.lines(), stats: wasmStats(home) };
  } finally {
    await home.close();
  }
}

describe('wasm plugins reuse metered modules across test runs', () => {
  it('the second home takes the metered module from the cache folder and behaves the same', async () => {
    const first = await run({ cacheDir: dir });
    expect(first.stats).toMatchObject({ meteringRuns: 1, diskCacheMisses: 1, diskCacheHits: 0 });
    const second = await run({ cacheDir: dir });
    expect(second.stats).toMatchObject({ meteringRuns: 0, diskCacheHits: 1 });
    expect(second.lines).toEqual(first.lines);
    expect(first.lines).toEqual(['temperature_alert_wasm: set binary_sensor.bedroom_heat_alert = "on" {"temperature":30,"threshold":24}']);
  });

  it('cacheDir: false keeps nothing', async () => {
    const cwd = process.cwd();
    const before = existsSync(join(cwd, 'node_modules', '.cache', 'homecore')) ? (await readdir(join(cwd, 'node_modules', '.cache', 'homecore'))).length : 0;
    for (let i = 0; i < 2; i++) expect((await run({ cacheDir: false })).stats).toMatchObject({ meteringRuns: 1, diskCacheHits: 0, diskCacheMisses: 0 });
    const after = existsSync(join(cwd, 'node_modules', '.cache', 'homecore')) ? (await readdir(join(cwd, 'node_modules', '.cache', 'homecore'))).length : 0;
    expect(after).toBe(before);
  });

  it('under node:test, by default in node_modules/.cache/homecore of the package the tests run in', async () => {
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: build @homecore/testing first`);
    await writeFile(join(dir, 'package.json'), '{ "name": "my-plugin", "private": true }\n');
    await mkdir(join(dir, 'node_modules'));
    await mkdir(join(dir, 'test'));
    const fixture = fileURLToPath(new URL('./fixtures/node-test-wasm.mjs', import.meta.url));
    const once = () => {
      const result = spawnSync(process.execPath, ['--test', fixture], { cwd: join(dir, 'test'), env: { ...process.env, PLUGIN_DIR: plugin }, encoding: 'utf8', timeout: 60_000 });
      expect(result.stdout).toMatch(/# pass 1/);
      expect(result.status).toBe(0);
      return JSON.parse(/wasm-stats (\{.*\})/.exec(result.stdout)![1]!) as Record<string, number>;
    };
    expect(once()).toMatchObject({ meteringRuns: 1, diskCacheMisses: 1 });
    expect(await readdir(join(dir, 'node_modules', '.cache', 'homecore'))).toHaveLength(1);
    expect(once()).toMatchObject({ meteringRuns: 0, diskCacheHits: 1 });
  });
});
