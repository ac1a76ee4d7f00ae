import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@homecore/core-traits';
import { WasmRuntime, type WasmRuntimeOptions } from '@homecore/runtime-wasm';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { delivered, guest, manifest, rejection, stubContext, wat } from './helpers.js';

// A guest that spins: only a metered module traps with FUEL_EXHAUSTED, so a trap proves the
// module that ran was metered.
const SPIN = wat(guest({ body: '(func (export "hc_on_event") (param i32 i32) (result i32) (loop (br 0)) (i32.const 0))' }));
const spinManifest = manifest({ limits: { fuel_per_call: 50_000 } });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homecore-metered-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runtime(options: Partial<WasmRuntimeOptions> = {}): WasmRuntime {
  return new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined, meteredCache: { dir }, ...options });
}

/** Loads SPIN in a fresh runtime (as a new process would) and checks its fuel trap. */
async function loadSpin(rt: WasmRuntime): Promise<void> {
  const instance = await rt.load(SPIN, spinManifest);
  await instance.setup(stubContext(spinManifest).ctx);
  const err = await rejection(instance.handleEvent(delivered('my_event')));
  expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
  await instance.teardown();
}

async function onlyEntry(): Promise<string> {
  const files = await readdir(dir);
  expect(files).toHaveLength(1);
  return join(dir, files[0]!);
}

describe('the on-disk cache of metered modules', () => {
  test('a second runtime with the same folder takes the metered module from it instead of metering', async () => {
    const first = runtime();
    await loadSpin(first);
    expect(first.stats()).toMatchObject({ meteringRuns: 1, diskCacheMisses: 1, diskCacheHits: 0, diskCacheRejected: 0 });

    const second = runtime();
    await loadSpin(second);
    expect(second.stats()).toMatchObject({ meteringRuns: 0, diskCacheHits: 1, diskCacheMisses: 0, diskCacheRejected: 0 });
  });

  test('a tampered entry is not used: it is metered again and the entry rewritten', async () => {
    await loadSpin(runtime());
    const entry = await onlyEntry();
    const good = await readFile(entry);
    const tampered = Buffer.from(good);
    tampered[tampered.length - 3]! ^= 0xff;
    await writeFile(entry, tampered);

    const second = runtime();
    await loadSpin(second);
    expect(second.stats()).toMatchObject({ meteringRuns: 1, diskCacheHits: 0, diskCacheRejected: 1 });
    expect(await readFile(entry)).toEqual(good);

    const third = runtime();
    await loadSpin(third);
    expect(third.stats()).toMatchObject({ meteringRuns: 0, diskCacheHits: 1 });
  });

  test('an entry whose hash matches but is not valid WebAssembly is not used', async () => {
    await loadSpin(runtime());
    const entry = await onlyEntry();
    const junk = Buffer.from('not a module at all');
    const { createHash } = await import('node:crypto');
    await writeFile(entry, Buffer.concat([createHash('sha256').update(junk).digest(), junk]));

    const second = runtime();
    await loadSpin(second);
    expect(second.stats()).toMatchObject({ meteringRuns: 1, diskCacheRejected: 1 });
  });

  test('truncated and empty entries are not used', async () => {
    await loadSpin(runtime());
    const entry = await onlyEntry();
    for (const contents of [Buffer.alloc(0), (await readFile(entry)).subarray(0, 40)]) {
      await writeFile(entry, contents);
      const rt = runtime();
      await loadSpin(rt);
      expect(rt.stats()).toMatchObject({ meteringRuns: 1, diskCacheRejected: 1 });
    }
  });

  test('other metering parameters get their own entry', async () => {
    await loadSpin(runtime());
    const other = runtime({ shape: { functions: 5_000 } });
    await loadSpin(other);
    expect(other.stats()).toMatchObject({ meteringRuns: 1, diskCacheMisses: 1 });
    expect(await readdir(dir)).toHaveLength(2);
  });

  test('a folder that cannot be written costs only the reuse: modules still load and run metered', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, '');
    for (let run = 0; run < 2; run++) {
      const rt = new WasmRuntime({ trust: { mode: 'development' }, warn: () => undefined, meteredCache: { dir: join(file, 'cache') } });
      await loadSpin(rt);
      expect(rt.stats()).toMatchObject({ meteringRuns: 1, diskCacheMisses: 1 });
    }
  });

  test('is refused under a strict policy', () => {
    let error: unknown;
    try {
      new WasmRuntime({ trust: { mode: 'strict' }, meteredCache: { dir } });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: ErrorCode.CONFIG_INVALID, message: expect.stringContaining('meteredCache is for development trust only') });
  });

  test('needs a folder path', () => {
    expect(() => new WasmRuntime({ trust: { mode: 'development' }, meteredCache: { dir: '' } })).toThrow(/meteredCache.dir must be a folder path/);
  });
});
