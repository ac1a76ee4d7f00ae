import { describe, expectTypeOf, it } from 'vitest';
import { definePlugin, type PluginContext } from '@homecore/core-traits';
import { createTestHome } from '@homecore/testing';

interface MirrorConfig {
  source: string;
  target: string;
}

const mirror = () => {
  let ctx: PluginContext<MirrorConfig>;
  return definePlugin<MirrorConfig>({
    setup(context) {
      ctx = context;
      ctx.subscribe({ entities: [ctx.configEntry.data.source] });
    },
    onStateChanged(event) {
      const next = event.data.new_state;
      if (next !== null) ctx.setState(ctx.configEntry.data.target, next.state);
    },
    onConfigUpdate(entry) {
      expectTypeOf(entry.data.target).toEqualTypeOf<string>();
      ctx.setState(entry.data.target, `options ${JSON.stringify(entry.options)}`);
    },
  });
};

describe('a plugin typed with definePlugin<Config>', () => {
  it('reads its config entry data, as typed, in a running home', async () => {
    const home = await createTestHome();
    try {
      const manifest = {
        domain: 'mirror',
        name: 'Mirror',
        version: '1.0.0',
        runtime: 'native',
        permissions: ['state:read:sensor.*', 'state:write:sensor.copy'],
        config_schema: { type: 'object', required: ['source', 'target'], properties: { source: { type: 'string' }, target: { type: 'string' } } },
      };
      await home.load(manifest, mirror, { data: { source: 'sensor.original', target: 'sensor.copy' } });
      await home.set('sensor.original', '21');
      await home.registry.updateConfigEntry('mirror', { options: { x: 1 } });
      await home.settle();
      home.expectLines(['mirror: set sensor.copy = "21" {}', 'mirror: set sensor.copy = "options {\\"x\\":1}" {}']);
    } finally {
      await home.close();
    }
  });
});
