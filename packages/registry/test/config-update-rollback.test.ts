import { ErrorCode, type ConfigEntry, type PluginContext } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup } from './fakes.js';

const isNumber = (entry: ConfigEntry) => typeof entry.options.high === 'number';

describe('a rejected config update', () => {
  it('puts the previous entry back when the reload it causes fails', async () => {
    const { registry, clock } = setup();
    let ctx: PluginContext | undefined;
    await registry.load(manifest('thermo'), {
      setup(c: PluginContext) {
        if (!isNumber(c.configEntry)) throw new Error('options.high must be a number');
        ctx = c;
      },
    }, { config: { title: 'Thermo', options: { high: 25 } } });
    const before = registry.getConfig('thermo')!;
    clock.skip(1000);
    const error = await registry.updateConfigEntry('thermo', { title: 'Hot', options: { high: 'banana' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.RELOAD_FAILED, plugin: 'thermo' });
    expect((error as Error).message).toContain('options.high must be a number');
    expect((error as Error).message).toContain('previous config entry is kept');
    const after = registry.getConfig('thermo')!;
    expect(after).toMatchObject({ title: 'Thermo', options: { high: 25 }, data: {}, modified_at: before.modified_at, state: 'loaded' });
    expect(ctx?.configEntry.options).toEqual({ high: 25 });
  });

  it('puts the previous entry back when onConfigUpdate fails', async () => {
    const { registry } = setup();
    let ctx: PluginContext | undefined;
    await registry.load(manifest('tuned'), {
      setup(c: PluginContext) {
        ctx = c;
      },
      onConfigUpdate(entry: ConfigEntry) {
        if (!isNumber(entry)) throw new Error('options.high must be a number');
      },
    }, { config: { options: { high: 25 } } });
    const error = await registry.updateConfigEntry('tuned', { options: { high: 'banana' } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: ErrorCode.HANDLER_FAILED, plugin: 'tuned', hook: 'onConfigUpdate' });
    expect((error as Error).message).toContain('previous config entry is kept');
    expect((error as Error).message).toContain('options.high must be a number');
    expect(registry.getConfig('tuned')?.options).toEqual({ high: 25 });
    expect(ctx?.configEntry.options).toEqual({ high: 25 });
    await registry.updateConfigEntry('tuned', { options: { high: 30 } });
    expect(registry.getConfig('tuned')?.options).toEqual({ high: 30 });
  });
});
