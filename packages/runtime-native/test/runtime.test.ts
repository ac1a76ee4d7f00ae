import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigEntryError,
  ConfigEntryNotReady,
  ErrorCode,
  HomecoreError,
  definePlugin,
  type BusEvent,
  type ConfigEntry,
  type DeliveredEvent,
  type HomeCorePlugin,
  type PluginContext,
  type PluginManifest,
  type ServiceCall,
} from '@homecore/core-traits';
import { InProcessRuntime } from '@homecore/runtime-native';

const manifest: PluginManifest = { domain: 'demo', name: 'Demo', version: '1.0.0', runtime: 'native', entry: 'index.js' };

const contextStub = { pluginId: 'demo' } as unknown as PluginContext;

function deliver(event: Partial<BusEvent>): DeliveredEvent {
  const full = { event_type: 'x', data: {}, origin: 'LOCAL', time_fired: '', context: { id: 'c', parent_id: null, user_id: null }, ...event } as BusEvent;
  return { event: full, json: () => JSON.stringify(full), bytes: () => new TextEncoder().encode(JSON.stringify(full)) };
}

const call: ServiceCall = {
  domain: 'demo',
  service: 'ping',
  data: { n: 1 },
  context: { id: 'c', parent_id: null, user_id: null },
  return_response: true,
};

async function rejection(promise: Promise<unknown>): Promise<HomecoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HomecoreError);
  return error as HomecoreError;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'homecore-native-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeModule(name: string, source: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, source);
  return path;
}

describe('InProcessRuntime.load', () => {
  const runtime = new InProcessRuntime();

  it('is the native runtime', () => {
    expect(runtime.kind).toBe('native');
  });

  it('loads a plugin object and reports its hooks', async () => {
    const seen: PluginContext[] = [];
    const instance = await runtime.load(definePlugin({ setup: (ctx) => void seen.push(ctx), onEvent: () => {} }), manifest);
    expect(instance.kind).toBe('native');
    expect(instance.hooks).toEqual({ teardown: false, stateChanged: false, event: true, serviceCall: false, configUpdate: false });
    await instance.setup(contextStub);
    expect(seen).toEqual([contextStub]);
  });

  it('accepts a manifest without runtime as native, and refuses other kinds', async () => {
    const { runtime: _, ...noRuntime } = manifest;
    await expect(runtime.load({ setup() {} }, noRuntime as PluginManifest)).resolves.toBeDefined();
    const error = await rejection(runtime.load({ setup() {} }, { ...manifest, runtime: 'wasm' }));
    expect(error.code).toBe(ErrorCode.RUNTIME_UNAVAILABLE);
    expect(error.plugin).toBe('demo');
    expect(error.message).toContain('runtime "wasm"');
  });

  it('calls a sync or async factory once per load, so each load starts fresh', async () => {
    const makeCounter = () => {
      let count = 0;
      return {
        setup() {},
        onServiceCall: () => ({ count: ++count }),
      };
    };
    const first = await runtime.load(makeCounter, manifest);
    const second = await runtime.load(async () => makeCounter(), manifest);
    expect(await first.handleServiceCall(call)).toEqual({ count: 1 });
    expect(await first.handleServiceCall(call)).toEqual({ count: 2 });
    expect(await second.handleServiceCall(call)).toEqual({ count: 1 });
  });

  it('constructs an exported class', async () => {
    class Plugin implements HomeCorePlugin {
      calls = 0;
      setup(): void {
        this.calls += 1;
      }
      onServiceCall(): unknown {
        return { calls: this.calls };
      }
    }
    const instance = await runtime.load(Plugin as unknown as HomeCorePlugin, manifest);
    await instance.setup(contextStub);
    expect(await instance.handleServiceCall(call)).toEqual({ calls: 1 });
  });

  it('loads an ES module by path or file URL: default export factory or named plugin export', async () => {
    const factoryPath = await writeModule(
      'factory.mjs',
      `export default () => { let n = 0; return { setup() {}, onServiceCall: () => ({ n: ++n }) }; };`,
    );
    const named = await writeModule('named.mjs', `export const plugin = { setup() {}, onServiceCall: () => ({ from: 'named' }) };`);
    const byPath = await runtime.load(factoryPath, manifest);
    expect(await byPath.handleServiceCall(call)).toEqual({ n: 1 });
    // A reload gets a fresh plugin.
    const reloaded = await runtime.load(pathToFileURL(factoryPath), manifest);
    expect(await reloaded.handleServiceCall(call)).toEqual({ n: 1 });
    expect(await byPath.handleServiceCall(call)).toEqual({ n: 2 });
    const byUrlString = await runtime.load(pathToFileURL(named).href, manifest);
    expect(await byUrlString.handleServiceCall(call)).toEqual({ from: 'named' });
  });

  it('gives a module exporting a plain object fresh state on every load', async () => {
    const path = await writeModule('object.mjs', `let n = 0; export default { setup() {}, onServiceCall: () => ({ n: ++n }) };`);
    const a = await runtime.load(path, manifest);
    const b = await runtime.load(path, manifest);
    expect(await a.handleServiceCall(call)).toEqual({ n: 1 });
    expect(await b.handleServiceCall(call)).toEqual({ n: 1 });
  });

  it('resolves a relative entry against baseDir', async () => {
    await writeModule('relative.mjs', `export default { setup() {}, onServiceCall: () => 'relative' };`);
    const instance = await runtime.load('relative.mjs', manifest, { baseDir: dir });
    expect(await instance.handleServiceCall(call)).toBe('relative');
    const error = await rejection(runtime.load('relative.mjs', manifest));
    expect(error.code).toBe(ErrorCode.ENTRY_INVALID);
    expect(error.message).toContain('baseDir');
  });

  it('picks up a changed file on reload', async () => {
    const path = await writeModule('changing.mjs', `export default () => ({ setup() {}, onServiceCall: () => 'v1' });`);
    const v1 = await runtime.load(path, manifest);
    await writeFile(path, `export default () => ({ setup() {}, onServiceCall: () => 'v2' });`);
    // Same mtime on coarse file systems must not matter.
    await utimes(path, new Date(1_000_000), new Date(1_000_000));
    const v2 = await runtime.load(path, manifest);
    expect(await v1.handleServiceCall(call)).toBe('v1');
    expect(await v2.handleServiceCall(call)).toBe('v2');
  });

  describe('refuses bad code with coded errors', () => {
    it('a missing file: HC_ERR_ENTRY_NOT_FOUND naming the path and the manifest entry', async () => {
      const missing = join(dir, 'nope.mjs');
      const error = await rejection(runtime.load(missing, manifest));
      expect(error.code).toBe(ErrorCode.ENTRY_NOT_FOUND);
      expect(error.plugin).toBe('demo');
      expect(error.message).toContain(missing);
      expect(error.message).toContain('manifest entry "index.js"');
    });

    it('a directory: HC_ERR_ENTRY_NOT_FOUND', async () => {
      expect((await rejection(runtime.load(dir, manifest))).code).toBe(ErrorCode.ENTRY_NOT_FOUND);
    });

    it('a module that fails to import: HC_ERR_ENTRY_IMPORT_FAILED naming the file and the cause', async () => {
      const syntax = await writeModule('syntax.mjs', `export default { setup() {`);
      const error = await rejection(runtime.load(syntax, manifest));
      expect(error.code).toBe(ErrorCode.ENTRY_IMPORT_FAILED);
      expect(error.message).toContain(syntax);
      // Node reports a SyntaxError; test runners that transform modules word it their own way
      // (homecore run, under Node's own loader, is tested in packages/cli/test/plugin-errors.test.ts).
      expect(error.cause).toBeInstanceOf(Error);
      expect(error.message).toContain((error.cause as Error).message);
      expect(error.details).toMatchObject({ path: syntax });

      const throwing = await writeModule('throws.mjs', `throw new Error('top-level boom');`);
      const thrown = await rejection(runtime.load(throwing, manifest));
      expect(thrown.code).toBe(ErrorCode.ENTRY_IMPORT_FAILED);
      expect(thrown.message).toContain('top-level boom');
      expect(thrown.message).toContain('move it into setup()');
      expect(thrown.details).toMatchObject({ path: throwing, reason: 'threw' });

      const importsMissing = await writeModule('imports-missing.mjs', `import './not-there.mjs';\nexport default { setup() {} };`);
      const missing = await rejection(runtime.load(importsMissing, manifest));
      expect(missing.code).toBe(ErrorCode.ENTRY_IMPORT_FAILED);
      expect(missing.message).toContain(importsMissing);
    });

    it('a module without a usable export: HC_ERR_ENTRY_INVALID saying what is expected', async () => {
      const noExport = await writeModule('no-export.mjs', `export const other = 1;`);
      const error = await rejection(runtime.load(noExport, manifest));
      expect(error.code).toBe(ErrorCode.ENTRY_INVALID);
      expect(error.message).toContain('neither a default export nor an export named plugin');
      expect(error.details).toEqual({ path: noExport, exports: ['other'] });

      const notPlugin = await writeModule('not-plugin.mjs', `export default { start() {} };`);
      const shape = await rejection(runtime.load(notPlugin, manifest));
      expect(shape.code).toBe(ErrorCode.ENTRY_INVALID);
      expect(shape.message).toMatch(/is not a plugin \(setup is missing\); expected a plugin object with a setup\(context\) function/);
    });

    it('objects that are not plugins', async () => {
      const cases: [unknown, string][] = [
        [{}, 'setup is missing'],
        [{ setup: 'yes' }, 'setup is string'],
        [{ setup() {}, onEvent: 5 }, 'onEvent is number'],
        [{ setup() {}, teardown: null }, 'teardown is null'],
        [null, 'it is null'],
        [new Uint8Array([0, 97, 115, 109]), 'raw bytes'],
      ];
      for (const [code, text] of cases) {
        const error = await rejection(runtime.load(code as HomeCorePlugin, manifest));
        expect(error.code).toBe(ErrorCode.ENTRY_INVALID);
        expect(error.message).toContain(text);
      }
    });

    it('a factory that throws or returns a non-plugin', async () => {
      const threw = await rejection(
        runtime.load(() => {
          throw new Error('factory boom');
        }, manifest),
      );
      expect(threw.code).toBe(ErrorCode.ENTRY_INVALID);
      expect(threw.message).toContain('factory boom');
      const wrong = await rejection(runtime.load((async () => 42) as never, manifest));
      expect(wrong.code).toBe(ErrorCode.ENTRY_INVALID);
      expect(wrong.message).toContain('What the factory in the plugin code returned is not a plugin (it is number)');
    });

    it('a non-file URL', async () => {
      expect((await rejection(runtime.load(new URL('https://example.com/p.js'), manifest))).code).toBe(ErrorCode.ENTRY_INVALID);
    });
  });
});

describe('PluginInstance hooks', () => {
  const runtime = new InProcessRuntime();

  it('routes state_changed to onStateChanged and other events to onEvent', async () => {
    const seen: string[] = [];
    const instance = await runtime.load(
      {
        setup() {},
        onStateChanged: (e) => void seen.push(`state:${e.data.entity_id}`),
        onEvent: async (e) => void seen.push(`event:${e.event_type}`),
      },
      manifest,
    );
    await instance.handleEvent(deliver({ event_type: 'state_changed', data: { entity_id: 'light.a' } }));
    await instance.handleEvent(deliver({ event_type: 'my_event' }));
    expect(seen).toEqual(['state:light.a', 'event:my_event']);
  });

  it('finishes synchronous event handlers synchronously, and returns the promise of async ones', async () => {
    const seen: string[] = [];
    const instance = await runtime.load(
      {
        setup() {},
        onStateChanged: (e) => void seen.push(`sync:${e.data.entity_id}`),
        onEvent: async (e) => {
          seen.push(`async:${e.event_type}`);
          throw new Error('late');
        },
      },
      manifest,
    );
    expect(instance.handleEvent(deliver({ event_type: 'state_changed', data: { entity_id: 'light.a' } }))).toBeUndefined();
    expect(seen).toEqual(['sync:light.a']);
    const pending = instance.handleEvent(deliver({ event_type: 'my_event' }));
    expect(pending).toBeInstanceOf(Promise);
    const error = await rejection(pending as Promise<void>);
    expect(error).toMatchObject({ code: ErrorCode.HANDLER_FAILED, plugin: 'demo', hook: 'onEvent' });
  });

  it('skips events without a matching hook, and a missing teardown', async () => {
    const instance = await runtime.load({ setup() {} }, manifest);
    expect(instance.handleEvent(deliver({ event_type: 'state_changed' }))).toBeUndefined();
    expect(instance.handleEvent(deliver({ event_type: 'other' }))).toBeUndefined();
    await expect(instance.teardown()).resolves.toBeUndefined();
  });

  it('returns service responses, and rejects a call when there is no onServiceCall', async () => {
    const withHook = await runtime.load({ setup() {}, onServiceCall: async (c: ServiceCall) => ({ got: c.data.n }) }, manifest);
    expect(await withHook.handleServiceCall(call)).toEqual({ got: 1 });
    const without = await runtime.load({ setup() {} }, manifest);
    const error = await rejection(without.handleServiceCall(call));
    expect(error.code).toBe(ErrorCode.SERVICE_NOT_FOUND);
    expect(error).toMatchObject({ plugin: 'demo', hook: 'onServiceCall' });
    expect(error.message).toContain('demo.ping');
  });

  it('applies config updates when the hook exists, and says false otherwise', async () => {
    const entries: ConfigEntry[] = [];
    const entry = { entry_id: 'e1' } as ConfigEntry;
    const withHook = await runtime.load({ setup() {}, onConfigUpdate: (e: ConfigEntry) => void entries.push(e) }, manifest);
    expect(await withHook.handleConfigUpdate(entry)).toBe(true);
    expect(entries).toEqual([entry]);
    const without = await runtime.load({ setup() {} }, manifest);
    expect(await without.handleConfigUpdate(entry)).toBe(false);
  });

  it('runs teardown, counts calls and errors, and refuses hooks after dispose', async () => {
    let tornDown = false;
    const instance = await runtime.load(
      {
        setup() {},
        teardown: () => {
          tornDown = true;
        },
        onEvent: () => {
          throw new Error('x');
        },
      },
      manifest,
    );
    await instance.setup(contextStub);
    expect(() => instance.handleEvent(deliver({}))).toThrow();
    await instance.teardown();
    expect(tornDown).toBe(true);
    expect(instance.stats()).toEqual({ hookCalls: 3, hookErrors: 1 });
    await instance.dispose();
    const error = await rejection(instance.setup(contextStub));
    expect(error).toMatchObject({ code: ErrorCode.OPERATION_NOT_ALLOWED, plugin: 'demo', hook: 'setup' });
  });

  describe('wraps what hooks throw, sync or async, naming plugin and hook', () => {
    const boom = new TypeError('kaput');
    const cases = [
      ['setup', ErrorCode.SETUP_FAILED, (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.setup(contextStub)],
      ['teardown', ErrorCode.TEARDOWN_FAILED, (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.teardown()],
      // handleEvent may settle synchronously; wrapping it in an async function keeps one assertion style.
      ['onStateChanged', ErrorCode.HANDLER_FAILED, async (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.handleEvent(deliver({ event_type: 'state_changed' }))],
      ['onEvent', ErrorCode.HANDLER_FAILED, async (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.handleEvent(deliver({}))],
      ['onServiceCall', ErrorCode.HANDLER_FAILED, (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.handleServiceCall(call)],
      ['onConfigUpdate', ErrorCode.HANDLER_FAILED, (i: Awaited<ReturnType<InProcessRuntime['load']>>) => i.handleConfigUpdate({} as ConfigEntry)],
    ] as const;

    for (const [hook, code, invoke] of cases) {
      for (const mode of ['sync', 'async'] as const) {
        it(`${hook} (${mode})`, async () => {
          const thrower = mode === 'sync' ? () => { throw boom; } : async () => { throw boom; };
          const plugin: Record<string, unknown> = { setup() {} };
          plugin[hook] = thrower;
          const instance = await runtime.load(plugin as unknown as HomeCorePlugin, manifest);
          let returned: unknown;
          try {
            returned = invoke(instance);
          } catch {
            expect.fail('a hook call must reject, not throw synchronously');
          }
          const error = await rejection(returned as Promise<unknown>);
          expect(error).toMatchObject({ code, plugin: 'demo', hook });
          expect(error.cause).toBe(boom);
          expect(error.message).toContain(`[plugin demo, hook ${hook}] ${hook} threw TypeError: kaput`);
        });
      }
    }
  });

  it('wraps a thrown non-error value and a coded error from another area', async () => {
    const instance = await runtime.load(
      {
        setup() {
          throw new HomecoreError(ErrorCode.PERMISSION_DENIED, 'no state:write');
        },
        onEvent() {
          throw 'oops';
        },
      },
      manifest,
    );
    const setupError = await rejection(instance.setup(contextStub));
    expect(setupError).toMatchObject({ code: ErrorCode.SETUP_FAILED, details: { cause_code: 'HC_ERR_PERMISSION_DENIED' } });
    expect(setupError.message).toContain('HC_ERR_PERMISSION_DENIED: no state:write');
    const eventError = await rejection(Promise.resolve().then(() => instance.handleEvent(deliver({}))));
    expect(eventError).toMatchObject({ code: ErrorCode.HANDLER_FAILED, cause: 'oops' });
    expect(eventError.message).toContain('a non-error value "oops"');
  });

  it('passes ConfigEntryNotReady and ConfigEntryError from setup through unchanged', async () => {
    for (const thrown of [new ConfigEntryNotReady('device offline'), new ConfigEntryError('bad credentials')]) {
      const instance = await runtime.load(
        {
          async setup() {
            throw thrown;
          },
        },
        manifest,
      );
      expect(await rejection(instance.setup(contextStub))).toBe(thrown);
    }
  });
});
