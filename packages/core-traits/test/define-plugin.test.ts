import { describe, expect, expectTypeOf, it } from 'vitest';
import { definePlugin, type ConfigData, type ConfigEntry, type HomeCorePlugin, type JsonValue, type PluginContext } from '@homecore/core-traits';

// An interface, as authors write config types: no index signature.
interface AlertConfig {
  sensor: string;
  high?: number;
}

describe('definePlugin carries the config type through to configEntry.data', () => {
  it('types data in setup and onConfigUpdate from the type argument', () => {
    const seen: string[] = [];
    const plugin = definePlugin<AlertConfig>({
      setup(ctx) {
        expectTypeOf(ctx).toEqualTypeOf<PluginContext<AlertConfig>>();
        expectTypeOf(ctx.configEntry.data.sensor).toEqualTypeOf<string>();
        expectTypeOf(ctx.configEntry.data.high).toEqualTypeOf<number | undefined>();
        // @ts-expect-error a key the config type does not have
        void ctx.configEntry.data.nope;
        seen.push(ctx.configEntry.data.sensor);
      },
      onConfigUpdate(entry) {
        expectTypeOf(entry.data).toEqualTypeOf<Readonly<AlertConfig>>();
        seen.push(String(entry.data.high));
      },
      migrateEntry(entry) {
        // Stored data of an older version: any JSON object.
        expectTypeOf(entry.data).toEqualTypeOf<Readonly<Record<string, JsonValue>>>();
        return true;
      },
    });
    expectTypeOf(plugin).toEqualTypeOf<HomeCorePlugin<AlertConfig>>();
    const entry = { data: { sensor: 'sensor.a', high: 30 } } as unknown as ConfigEntry<AlertConfig>;
    void plugin.setup({ configEntry: entry } as PluginContext<AlertConfig>);
    void plugin.onConfigUpdate?.(entry);
    expect(seen).toEqual(['sensor.a', '30']);
  });

  it('a typed plugin is still a HomeCorePlugin a host loads', () => {
    const typed = definePlugin<AlertConfig>({ setup() {} });
    expectTypeOf(typed).toExtend<HomeCorePlugin>();
    expectTypeOf<() => HomeCorePlugin<AlertConfig>>().toExtend<() => HomeCorePlugin>();
  });

  it('without a type argument keeps the plugin as written, data as any JSON object', () => {
    const plugin = { setup(ctx: PluginContext) {
      expectTypeOf(ctx.configEntry.data).toEqualTypeOf<Readonly<ConfigData>>();
    }, extra: 1 };
    const defined = definePlugin(plugin);
    expectTypeOf(defined).toEqualTypeOf<typeof plugin>();
    expect(defined).toBe(plugin);
    expect(defined.extra).toBe(1);
  });
});
