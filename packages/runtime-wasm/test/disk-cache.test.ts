import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode } from '@homecore/core-traits';
import { WasmRuntime, sha256Hex } from '@homecore/runtime-wasm';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { delivered, devRuntime, guest, manifest, probe, rejection, statusOf, stubContext, wat } from './helpers.js';

const SPIN = '(func (export "hc_on_event") (param i32 i32) (result i32) (loop (br 0)) (i32.const 0))';
// The entry layout: 'hc-meter', the key, the sha256 of the payload, the payload.
const HEADER_BYTES = 8 + 32 + 32;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hc-meter-cache-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function entries(): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name.endsWith('.hcmeter')).sort();
}

async function onlyEntry(): Promise<string> {
  const names = await entries();
  expect(names).toHaveLength(1);
  return join(dir, names[0] as string);
}

/** Loads `bytes`, runs setup and one event; returns the hook's status. */
async function run(runtime: WasmRuntime, bytes: Uint8Array, m = manifest()): Promise<number> {
  const instance = await runtime.load(bytes, m);
  await instance.setup(stubContext(m).ctx);
  return statusOf(instance.handleEvent(delivered('my_event')));
}

/** Writes a well-framed entry (right key, right payload hash) holding `payload` in place of `path`. */
async function forge(path: string, payload: Uint8Array): Promise<void> {
  const original = new Uint8Array(await readFile(path));
  const header = original.slice(0, HEADER_BYTES);
  header.set(createHash('sha256').update(payload).digest(), 8 + 32);
  await writeFile(path, Buffer.concat([header, payload]));
}

describe('metered-module disk cache', () => {
  test('a second runtime on the same cacheDir loads from disk without metering', async () => {
    const bytes = probe('(i32.const 7)');
    const first = devRuntime({ cacheDir: dir }).runtime;
    expect(await run(first, bytes)).toBe(7);
    expect(first.stats()).toMatchObject({ diskHits: 0, diskMisses: 1, diskRejected: 0, meteringRuns: 1 });
    await onlyEntry();

    const second = devRuntime({ cacheDir: dir }).runtime;
    expect(await run(second, bytes)).toBe(7);
    expect(second.stats()).toMatchObject({ cacheMisses: 1, diskHits: 1, diskMisses: 0, meteringRuns: 0 });
    // Later loads in the same runtime come from memory.
    expect(await run(second, bytes)).toBe(7);
    expect(second.stats()).toMatchObject({ cacheHits: 1, diskHits: 1, meteringRuns: 0 });
  });

  test('a module served from disk is still metered: per-call and start budgets hold', async () => {
    const spin = wat(guest({ body: SPIN }));
    const limited = manifest({ limits: { fuel_per_call: 20_000 } });
    await devRuntime({ cacheDir: dir }).runtime.load(spin, limited);
    const runtime = devRuntime({ cacheDir: dir }).runtime;
    const instance = await runtime.load(spin, limited);
    await instance.setup(stubContext(limited).ctx);
    expect((await rejection(instance.handleEvent(delivered('my_event')))).code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(runtime.stats()).toMatchObject({ diskHits: 1, meteringRuns: 0 });

    const startLoop = wat(guest({ body: '(func $start (loop (br 0))) (start $start)' }));
    for (const _ of [1, 2]) {
      const fresh = devRuntime({ cacheDir: dir, limits: { startFuel: 20_000 } }).runtime;
      const err = await rejection(fresh.load(startLoop, manifest()));
      expect(err.code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
      expect(err.hook).toBe('start');
    }
  });

  test('different start budgets are different entries', async () => {
    const bytes = probe('(i32.const 1)');
    await devRuntime({ cacheDir: dir, limits: { startFuel: 20_000 } }).runtime.load(bytes, manifest());
    const other = devRuntime({ cacheDir: dir, limits: { startFuel: 30_000 } }).runtime;
    await other.load(bytes, manifest());
    expect(other.stats()).toMatchObject({ diskHits: 0, diskMisses: 1, meteringRuns: 1 });
    expect(await entries()).toHaveLength(2);
  });

  test('the load gate still runs on a disk hit', async () => {
    const bytes = probe('(i32.const 1)');
    await devRuntime({ cacheDir: dir }).runtime.load(bytes, manifest());
    const wrongHash = manifest({ module_hash: `sha256:${sha256Hex(new Uint8Array([1]))}` });
    expect((await rejection(devRuntime({ cacheDir: dir }).runtime.load(bytes, wrongHash))).code).toBe(ErrorCode.WASM_HASH_MISMATCH);
    const strict = new WasmRuntime({ trust: { mode: 'strict' }, cacheDir: dir, warn: () => {} });
    expect((await rejection(strict.load(bytes, manifest({ module_hash: `sha256:${sha256Hex(bytes)}` })))).code).toBe(ErrorCode.WASM_UNSIGNED);
  });

  test('a truncated or corrupted entry is deleted, the module metered again and the entry rewritten', async () => {
    const bytes = probe('(i32.const 5)');
    await devRuntime({ cacheDir: dir }).runtime.load(bytes, manifest());
    const path = await onlyEntry();
    const good = new Uint8Array(await readFile(path));

    for (const damaged of [good.subarray(0, good.length - 10), good.subarray(0, 20), new Uint8Array(0), flipLastByte(good)]) {
      await writeFile(path, damaged);
      const runtime = devRuntime({ cacheDir: dir }).runtime;
      expect(await run(runtime, bytes)).toBe(5);
      expect(runtime.stats()).toMatchObject({ diskHits: 0, diskMisses: 1, diskRejected: 1, meteringRuns: 1 });
      const after = devRuntime({ cacheDir: dir }).runtime;
      expect(await run(after, bytes)).toBe(5);
      expect(after.stats()).toMatchObject({ diskHits: 1, meteringRuns: 0 });
    }
  });

  test('an oversized entry is refused without being read into memory', async () => {
    const bytes = probe('(i32.const 4)');
    const limits = { maxModuleBytes: bytes.length };
    await devRuntime({ cacheDir: dir, limits }).runtime.load(bytes, manifest());
    const path = await onlyEntry();
    await writeFile(path, new Uint8Array(4 * bytes.length + 2 * 1024 * 1024));
    const runtime = devRuntime({ cacheDir: dir, limits }).runtime;
    expect(await run(runtime, bytes)).toBe(4);
    expect(runtime.stats()).toMatchObject({ diskHits: 0, diskRejected: 1, meteringRuns: 1 });
  });

  test('a well-framed entry holding unmetered code is refused: fuel still runs out', async () => {
    const spin = wat(guest({ body: SPIN }));
    const limited = manifest({ limits: { fuel_per_call: 20_000 } });
    await devRuntime({ cacheDir: dir }).runtime.load(spin, limited);
    await forge(await onlyEntry(), spin); // the original bytes: no fuel counter at all

    const runtime = devRuntime({ cacheDir: dir }).runtime;
    const instance = await runtime.load(spin, limited);
    await instance.setup(stubContext(limited).ctx);
    expect((await rejection(instance.handleEvent(delivered('my_event')))).code).toBe(ErrorCode.WASM_FUEL_EXHAUSTED);
    expect(runtime.stats()).toMatchObject({ diskHits: 0, diskRejected: 1, meteringRuns: 1 });
  });

  test("a well-framed entry holding another module's metered code is refused", async () => {
    const mine = probe('(i32.const 1)');
    const other = wat(guest({ body: '(func (export "hc_on_event") (param i32 i32) (result i32) (i32.const 2)) (func (export "extra"))' }));
    await devRuntime({ cacheDir: dir }).runtime.load(other, manifest());
    const otherEntry = await onlyEntry();
    const otherMetered = new Uint8Array(await readFile(otherEntry)).subarray(HEADER_BYTES);
    await devRuntime({ cacheDir: dir }).runtime.load(mine, manifest());
    const mineEntry = (await entries()).map((name) => join(dir, name)).find((path) => path !== otherEntry) as string;
    await forge(mineEntry, otherMetered);

    const runtime = devRuntime({ cacheDir: dir }).runtime;
    expect(await run(runtime, mine)).toBe(1);
    expect(runtime.stats()).toMatchObject({ diskHits: 0, diskRejected: 1, meteringRuns: 1 });
  });

  test('an entry copied under another key is refused', async () => {
    const a = probe('(i32.const 1)');
    const b = probe('(i32.const 2)');
    await devRuntime({ cacheDir: dir }).runtime.load(a, manifest());
    const aEntry = await onlyEntry();
    await devRuntime({ cacheDir: dir }).runtime.load(b, manifest());
    const bEntry = (await entries()).map((name) => join(dir, name)).find((path) => path !== aEntry) as string;
    await writeFile(bEntry, await readFile(aEntry));

    const runtime = devRuntime({ cacheDir: dir }).runtime;
    expect(await run(runtime, b)).toBe(2);
    expect(runtime.stats()).toMatchObject({ diskRejected: 1, meteringRuns: 1 });
  });

  test('a cacheDir that cannot be created warns once and loads go on without it', async () => {
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const { runtime, warnings } = devRuntime({ cacheDir: join(file, 'cache') });
    expect(await run(runtime, probe('(i32.const 1)'))).toBe(1);
    expect(await run(runtime, probe('(i32.const 2)'))).toBe(2);
    expect(warnings.filter((w) => w.includes('cacheDir'))).toHaveLength(1);
    expect(runtime.stats()).toMatchObject({ diskHits: 0, diskMisses: 0, meteringRuns: 2 });
  });

  test.runIf(process.platform !== 'win32')('a cacheDir others can write to is not used', async () => {
    await chmod(dir, 0o777);
    const { runtime, warnings } = devRuntime({ cacheDir: dir });
    expect(await run(runtime, probe('(i32.const 1)'))).toBe(1);
    expect(warnings.filter((w) => w.includes('writable by no one else'))).toHaveLength(1);
    expect(await entries()).toHaveLength(0);
  });

  test('a bad cacheDir or preloadMetering option is a CONFIG_INVALID error', () => {
    expect(() => devRuntime({ cacheDir: '' })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
    expect(() => devRuntime({ preloadMetering: 'yes' as unknown as boolean })).toThrow(expect.objectContaining({ code: ErrorCode.CONFIG_INVALID }));
  });

  test('preloadMetering and prepareMetering leave loads working', async () => {
    const { runtime } = devRuntime({ preloadMetering: true });
    await runtime.prepareMetering();
    expect(await run(runtime, probe('(i32.const 3)'))).toBe(3);
    expect(runtime.stats()).toMatchObject({ meteringRuns: 1, diskMisses: 0 });
  });
});

function flipLastByte(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0xff;
  return copy;
}
