import { ErrorCode, isHomecoreError } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { deferred, flush, manifest, setup } from './fakes.js';

const plain = () => ({ setup() {} });

describe('dependencies', () => {
  it('refuses a plugin whose hard dependency is not loaded, naming it', async () => {
    const { registry } = setup();
    await expect(registry.load(manifest('child', { dependencies: ['parent', 'other'] }), plain())).rejects.toMatchObject({
      code: ErrorCode.DEPENDENCY_MISSING,
      plugin: 'child',
      message: expect.stringContaining('parent, other'),
    });
    expect(registry.list()).toEqual([]);
  });

  it('refuses a plugin whose dependency failed to set up', async () => {
    const { registry } = setup();
    await registry.load(manifest('parent'), { setup: () => Promise.reject(new Error('no')) }).catch(() => undefined);
    await expect(registry.load(manifest('child', { dependencies: ['parent'] }), plain())).rejects.toMatchObject({
      code: ErrorCode.DEPENDENCY_FAILED,
      message: expect.stringContaining('parent (setup_error)'),
    });
    expect(registry.get('child')).toBeUndefined();
  });

  it('waits for a dependency whose setup is in flight', async () => {
    const { registry } = setup();
    const gate = deferred();
    const parent = registry.load(manifest('parent'), { setup: () => gate.promise });
    const child = registry.load(manifest('child', { dependencies: ['parent'] }), plain());
    await flush();
    expect(registry.get('child')?.state).toBe('not_loaded');
    gate.resolve();
    await Promise.all([parent, child]);
    expect(registry.get('child')?.state).toBe('loaded');
  });

  it('reports a cycle with the whole path', async () => {
    const { registry } = setup();
    const report = await registry.loadAll([
      { manifest: manifest('a', { dependencies: ['b'] }), code: plain() },
      { manifest: manifest('b', { dependencies: ['c'] }), code: plain() },
      { manifest: manifest('c', { dependencies: ['a'] }), code: plain() },
      { manifest: manifest('free'), code: plain() },
    ]);
    expect(report.loaded).toEqual(['free']);
    expect(report.errors).toHaveLength(3);
    for (const error of report.errors) {
      expect(error.code).toBe(ErrorCode.DEPENDENCY_CYCLE);
      expect(error.message).toContain('a -> b -> c -> a');
    }
  });

  it('catches "A depends on B and B after-depends on A" as a cycle', async () => {
    const { registry } = setup();
    const report = await registry.loadAll([
      { manifest: manifest('a', { dependencies: ['b'] }), code: plain() },
      { manifest: manifest('b', { after_dependencies: ['a'] }), code: plain() },
    ]);
    expect(report.errors.map((e) => e.code)).toEqual([ErrorCode.DEPENDENCY_CYCLE, ErrorCode.DEPENDENCY_CYCLE]);
    expect(report.errors[0]?.message).toContain('a -> b -> a');

    // The same check applies against plugins already loaded.
    await registry.load(manifest('b2', { after_dependencies: ['a2'] }), plain());
    await expect(registry.load(manifest('a2', { dependencies: ['b2'] }), plain())).rejects.toMatchObject({
      code: ErrorCode.DEPENDENCY_CYCLE,
      message: expect.stringContaining('a2 -> b2 -> a2'),
    });
  });

  it('loadAll sets up independent plugins concurrently and dependents after their dependencies', async () => {
    const { registry } = setup();
    const started: string[] = [];
    const gates = { left: deferred(), right: deferred() };
    const gated = (id: 'left' | 'right') => ({
      setup: () => {
        started.push(id);
        return gates[id].promise;
      },
    });
    const loading = registry.loadAll([
      { manifest: manifest('top', { dependencies: ['left'], after_dependencies: ['right'] }), code: { setup: () => void started.push('top') } },
      { manifest: manifest('left'), code: gated('left') },
      { manifest: manifest('right'), code: gated('right') },
    ]);
    await flush();
    // Both independent setups are in flight at once; the dependent has not started.
    expect(started.sort()).toEqual(['left', 'right']);
    gates.left.resolve();
    await flush();
    expect(started).not.toContain('top'); // still ordered after `right` (after_dependencies)
    gates.right.resolve();
    const report = await loading;
    expect(started.at(-1)).toBe('top');
    expect(report.loaded.sort()).toEqual(['left', 'right', 'top']);
    expect(report.errors).toEqual([]);
  });

  it('after_dependencies only order: a missing or failed one does not block', async () => {
    const { registry } = setup();
    const report = await registry.loadAll([
      { manifest: manifest('soft', { after_dependencies: ['absent', 'flaky'] }), code: plain() },
      { manifest: manifest('flaky'), code: { setup: () => Promise.reject(new Error('down')) } },
    ]);
    expect(report.loaded).toEqual(['soft']);
    expect(report.errors.map((e) => [e.plugin, e.code])).toEqual([['flaky', ErrorCode.SETUP_FAILED]]);
  });

  it('loadAll fails dependents of a failed or missing plugin and keeps going', async () => {
    const { registry } = setup();
    const report = await registry.loadAll([
      { manifest: manifest('base'), code: { setup: () => Promise.reject(new Error('bad')) } },
      { manifest: manifest('mid', { dependencies: ['base'] }), code: plain() },
      { manifest: manifest('orphan', { dependencies: ['nowhere'] }), code: plain() },
      { manifest: { domain: 42 }, code: plain() },
      { manifest: manifest('ok'), code: plain() },
      { manifest: manifest('ok'), code: plain() },
    ]);
    expect(report.loaded).toEqual(['ok']);
    const byPlugin = Object.fromEntries(report.errors.filter((e) => e.plugin).map((e) => [e.plugin, e.code]));
    expect(byPlugin).toEqual({
      base: ErrorCode.SETUP_FAILED,
      mid: ErrorCode.DEPENDENCY_FAILED,
      orphan: ErrorCode.DEPENDENCY_MISSING,
      ok: ErrorCode.DUPLICATE_PLUGIN,
    });
    expect(report.errors.some((e) => isHomecoreError(e, ErrorCode.MANIFEST_INVALID))).toBe(true);
  });

  it('refuses to unload a plugin others depend on, unless cascading', async () => {
    const { registry, runtime } = setup();
    const order: string[] = [];
    const tracked = (id: string) => ({ setup() {}, teardown: () => void order.push(id) });
    await registry.load(manifest('root'), tracked('root'));
    await registry.load(manifest('leaf_a', { dependencies: ['root'] }), tracked('leaf_a'));
    await registry.load(manifest('leaf_b', { dependencies: ['root'] }), tracked('leaf_b'));
    await expect(registry.unload('root')).rejects.toMatchObject({
      code: ErrorCode.DEPENDENTS_LOADED,
      message: expect.stringContaining('leaf_a, leaf_b'),
    });
    expect(registry.list()).toHaveLength(3);
    await registry.unload('root', { cascade: true });
    expect(order).toEqual(['leaf_a', 'leaf_b', 'root']);
    expect(registry.list()).toEqual([]);
    expect(runtime.instances.every((i) => i.disposed === 1)).toBe(true);
  });

  it('unloadAll tears down in reverse dependency order, even after failures', async () => {
    const { registry } = setup();
    const order: string[] = [];
    const tracked = (id: string, fail = false) => ({
      setup() {},
      teardown: () => {
        order.push(id);
        if (fail) throw new Error('teardown broke');
      },
    });
    await registry.loadAll([
      { manifest: manifest('app', { dependencies: ['hub'] }), code: tracked('app', true) },
      { manifest: manifest('hub', { dependencies: ['net'] }), code: tracked('hub') },
      { manifest: manifest('net'), code: tracked('net') },
    ]);
    await registry.unloadAll();
    expect(order).toEqual(['app', 'hub', 'net']);
    expect(registry.list()).toEqual([]);
  });
});
