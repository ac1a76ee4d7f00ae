import { ErrorCode, HOMECORE_VERSION, type PluginContext } from '@homecore/core-traits';
import { InMemoryCore } from '@homecore/core';
import { PluginRegistry } from '@homecore/registry';
import { describe, expect, it } from 'vitest';
import { FakeRuntime, deferred, flush, manifest, setup } from './fakes.js';

describe('load and unload', () => {
  it('loads a plugin with a config entry and lists it', async () => {
    const { registry, runtime, of } = setup();
    const id = await registry.load(manifest('alpha'), { setup() {} }, { config: { data: { host: 'x' } } });
    expect(id).toBe('alpha');
    const summary = registry.get('alpha');
    expect(summary).toMatchObject({ id: 'alpha', runtime: 'native', state: 'loaded', health: 'ok', reason: null });
    expect(summary?.manifest.domain).toBe('alpha');
    expect(registry.list().map((p) => p.id)).toEqual(['alpha']);
    const entry = registry.getConfig('alpha');
    expect(entry).toMatchObject({ domain: 'alpha', title: 'alpha plugin', source: 'user', version: 1, data: { host: 'x' }, options: {} });
    expect(entry?.entry_id).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(runtime.instances[0]?.setups).toBe(1);
    expect(of('plugin_loaded')).toEqual([{ type: 'plugin_loaded', plugin: 'alpha', runtime: 'native' }]);
    expect(of('entry_state').map((a) => a.to)).toEqual(['setup_in_progress', 'loaded']);
  });

  it('unload runs teardown, disposes, aborts the signal and forgets the plugin', async () => {
    const { registry, runtime, core, of } = setup();
    let ctx: PluginContext | undefined;
    await registry.load(manifest('alpha', { services: [{ name: 'ping' }] }), {
      setup(c) {
        ctx = c;
        c.registerService('ping', () => 'pong');
      },
    });
    expect(core.hasService('alpha', 'ping')).toBe(true);
    await registry.unload('alpha');
    const instance = runtime.instances[0]!;
    expect([instance.teardowns, instance.disposed]).toEqual([1, 1]);
    expect(ctx?.signal.aborted).toBe(true);
    expect(core.hasService('alpha', 'ping')).toBe(false);
    expect(registry.get('alpha')).toBeUndefined();
    expect(of('plugin_unloaded')).toHaveLength(1);
    expect(of('entry_state').map((a) => a.to)).toEqual(['setup_in_progress', 'loaded', 'unload_in_progress', 'not_loaded']);
    // A stale context can no longer act on the home.
    expect(() => ctx?.getStates()).toThrow(expect.objectContaining({ code: ErrorCode.OPERATION_NOT_ALLOWED }));
  });

  it('refuses an invalid manifest, a disabled plugin and a too-old host', async () => {
    const { registry, runtime } = setup();
    await expect(registry.load({ domain: 'Bad Domain' }, { setup() {} })).rejects.toMatchObject({ code: ErrorCode.MANIFEST_INVALID });
    await expect(registry.load(manifest('off', { disabled: 'broken upstream' }), { setup() {} })).rejects.toMatchObject({
      code: ErrorCode.PLUGIN_DISABLED,
      plugin: 'off',
    });
    await expect(registry.load(manifest('future', { min_homecore_version: '99.0.0' }), { setup() {} })).rejects.toMatchObject({
      code: ErrorCode.VERSION_INCOMPATIBLE,
      message: expect.stringContaining(HOMECORE_VERSION),
    });
    expect(runtime.loadedCode).toHaveLength(0);
    expect(registry.list()).toEqual([]);
  });

  it('names the missing runtime and how to get it', async () => {
    const { registry } = setup();
    await expect(registry.load(manifest('guest', { runtime: 'wasm' }), new Uint8Array())).rejects.toMatchObject({
      code: ErrorCode.RUNTIME_UNAVAILABLE,
      message: expect.stringContaining('install @homecore/runtime-wasm'),
    });
  });

  it('lets one of two concurrent loads of a domain win; the loser is never loaded', async () => {
    const { registry, runtime } = setup();
    const gate = deferred();
    const first = registry.load(manifest('twin'), { setup: () => gate.promise });
    const second = registry.load(manifest('twin'), { setup() {} });
    await expect(second).rejects.toMatchObject({ code: ErrorCode.DUPLICATE_PLUGIN, plugin: 'twin' });
    gate.resolve();
    await expect(first).resolves.toBe('twin');
    expect(runtime.instances).toHaveLength(1);
    expect(registry.list()).toHaveLength(1);
  });

  it('rejects config data that does not match config_schema, naming the pointers', async () => {
    const { registry, runtime } = setup();
    const schema = {
      type: 'object',
      required: ['host'],
      properties: { host: { type: 'string', minLength: 1 }, port: { type: 'integer', minimum: 1, maximum: 65535 } },
      additionalProperties: false,
    };
    const error = await registry
      .load(manifest('cfg', { config_schema: schema }), { setup() {} }, { config: { data: { port: 0, extra: true } } })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.CONFIG_INVALID, plugin: 'cfg' });
    expect((error as Error).message).toContain('/port');
    expect((error as Error).message).toContain('"extra"');
    expect((error as Error).message).toContain('host');
    expect(runtime.instances).toHaveLength(0);
    expect(registry.get('cfg')).toBeUndefined();
    await expect(registry.load(manifest('cfg', { config_schema: schema }), { setup() {} }, { config: { data: { host: 'h' } } })).resolves.toBe('cfg');
  });

  it('a failing setup leaves setup_error, disposes the instance and registers nothing', async () => {
    const { registry, runtime, core, of } = setup();
    const error = await registry
      .load(manifest('broken', { services: [{ name: 'go' }], subscriptions: { entities: ['sensor.x'] }, permissions: ['state:read:*'] }), {
        setup(ctx) {
          ctx.registerService('go', () => undefined);
          throw new Error('cannot reach device');
        },
        onStateChanged() {
          throw new Error('must not be called');
        },
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.SETUP_FAILED, plugin: 'broken', hook: 'setup' });
    expect((error as Error).message).toContain('cannot reach device');
    expect(registry.get('broken')).toMatchObject({ state: 'setup_error', reason: expect.stringContaining('cannot reach device') });
    expect(runtime.instances[0]?.disposed).toBe(1);
    expect(core.hasService('broken', 'go')).toBe(false);
    core.setState('sensor.x', '1', {}, { context: core.createContext() });
    await registry.idle();
    expect(runtime.instances[0]?.received).toHaveLength(0);
    expect(of('setup_failed')).toHaveLength(1);
    // It stays listed until unloaded; unloading it does not call teardown.
    await registry.unload('broken');
    expect(runtime.instances[0]?.teardowns).toBe(0);
    expect(registry.list()).toEqual([]);
  });

  it('reports a runtime load failure as a setup error with the runtime code', async () => {
    const { registry, runtime } = setup();
    runtime.failLoad = new Error('entry missing');
    await expect(registry.load(manifest('gone'), 'file:///nowhere.js')).rejects.toMatchObject({ code: ErrorCode.SETUP_FAILED, hook: 'load' });
    expect(registry.get('gone')?.state).toBe('setup_error');
  });

  it('times out a hanging setup with a message that says what to fix', async () => {
    const { registry, clock, runtime } = setup({ limits: { setupTimeoutMs: 30_000 } });
    const result = registry.load(manifest('slow', { limits: { setup_timeout_ms: 5_000 } }), { setup: () => new Promise(() => {}) }).catch((e: unknown) => e);
    await flush();
    await clock.advance(5_000);
    const error = await result;
    expect(error).toMatchObject({ code: ErrorCode.SETUP_TIMEOUT, plugin: 'slow', hook: 'setup' });
    expect((error as Error).message).toBe(
      '[plugin slow, hook setup] setup did not finish within 5000 ms: make setup resolve once the plugin is ready, ' +
        'move long work into the background, or raise limits.setup_timeout_ms',
    );
    expect(runtime.instances[0]?.disposed).toBe(1);
  });

  it('caps a manifest timeout at the host limit', async () => {
    const { registry, clock } = setup({ limits: { setupTimeoutMs: 1_000 } });
    const result = registry.load(manifest('slow', { limits: { setup_timeout_ms: 60_000 } }), { setup: () => new Promise(() => {}) }).catch((e: unknown) => e);
    await clock.advance(1_000);
    expect(await result).toMatchObject({ code: ErrorCode.SETUP_TIMEOUT, message: expect.stringContaining('1000 ms') });
  });

  it('a failing or hanging teardown is reported, and the plugin is still removed', async () => {
    const { registry, clock, runtime, of } = setup({ limits: { teardownTimeoutMs: 2_000 } });
    await registry.load(manifest('bad_exit'), { setup() {}, teardown: () => Promise.reject(new Error('socket stuck')) });
    await registry.unload('bad_exit');
    expect(of('teardown_failed')[0]?.error).toMatchObject({ code: ErrorCode.TEARDOWN_FAILED, message: expect.stringContaining('socket stuck') });
    expect(of('entry_state').at(-1)).toMatchObject({ to: 'failed_unload' });
    expect(registry.get('bad_exit')).toBeUndefined();
    expect(runtime.instances[0]?.disposed).toBe(1);

    await registry.load(manifest('hang_exit'), { setup() {}, teardown: () => new Promise(() => {}) });
    const done = registry.unload('hang_exit');
    await clock.advance(2_000);
    await done;
    expect(of('teardown_failed')[1]?.error).toMatchObject({ code: ErrorCode.TEARDOWN_TIMEOUT, message: expect.stringContaining('2000 ms') });
    expect(registry.get('hang_exit')).toBeUndefined();
  });

  it('unload of an unknown id is a coded error', async () => {
    const { registry } = setup();
    await expect(registry.unload('nope')).rejects.toMatchObject({ code: ErrorCode.PLUGIN_NOT_FOUND });
    await expect(registry.reload('nope')).rejects.toMatchObject({ code: ErrorCode.PLUGIN_NOT_FOUND });
  });

  it('uses the system clock and HOMECORE_VERSION by default', async () => {
    const registry = new PluginRegistry({ core: new InMemoryCore(), runtimes: [new FakeRuntime()] });
    await registry.load(manifest('plain', { min_homecore_version: HOMECORE_VERSION }), { setup() {} });
    expect(registry.get('plain')?.state).toBe('loaded');
    await registry.unloadAll();
  });

  it('survives an activity listener that throws', async () => {
    const { registry } = setup();
    registry.on(() => {
      throw new Error('bad sink');
    });
    await expect(registry.load(manifest('alpha'), { setup() {} })).resolves.toBe('alpha');
    await expect(registry.unload('alpha')).resolves.toBeUndefined();
  });
});

describe('operations on one plugin are serialised', () => {
  it('an unload during setup waits for the setup, then tears down', async () => {
    const { registry, runtime } = setup();
    const gate = deferred();
    const loading = registry.load(manifest('busy'), { setup: () => gate.promise });
    await flush();
    const unloading = registry.unload('busy');
    await flush();
    expect(registry.get('busy')?.state).toBe('setup_in_progress');
    gate.resolve();
    await loading;
    await unloading;
    expect(runtime.instances[0]).toMatchObject({ teardowns: 1, disposed: 1 });
    expect(registry.get('busy')).toBeUndefined();
  });

  it('an unlimited host timeout sets no timer', async () => {
    const { registry, clock } = setup({ limits: { setupTimeoutMs: Infinity } });
    const gate = deferred();
    const loading = registry.load(manifest('patient'), { setup: () => gate.promise });
    await flush();
    expect(clock.pending()).toEqual([]);
    gate.resolve();
    await expect(loading).resolves.toBe('patient');
  });
});
