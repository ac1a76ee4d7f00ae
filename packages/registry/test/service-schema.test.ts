import { ErrorCode, type PluginContext, type ServiceCall } from '@homecore/core-traits';
import { describe, expect, it } from 'vitest';
import { manifest, setup, userContext } from './fakes.js';

const schema = {
  type: 'object',
  properties: { brightness: { type: 'integer', minimum: 0, maximum: 255 } },
  required: ['brightness'],
  additionalProperties: false,
};

describe('service call schemas', () => {
  it('refuses a call whose data does not match services[].schema, naming the service and pointers', async () => {
    const { registry, core } = setup();
    const handled: unknown[] = [];
    await registry.load(manifest('dimmer', { services: [{ name: 'set', schema }, { name: 'route', schema }, { name: 'free' }] }), {
      setup(ctx: PluginContext) {
        ctx.registerService('set', (call) => void handled.push(call.data));
        ctx.registerService('free', (call) => void handled.push(call.data));
      },
      onServiceCall: (call: ServiceCall) => void handled.push(call.data),
    });
    const refused = await core.callService('dimmer', 'set', { brightness: 300, colour: 'red' }, userContext(core)).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: ErrorCode.SERVICE_INVALID, plugin: 'dimmer', details: { service: 'dimmer.set' } });
    const message = (refused as Error).message;
    expect(message).toContain('dimmer.set');
    expect(message).toContain('/brightness');
    expect(message).toContain('colour');
    await expect(core.callService('dimmer', 'route', {}, userContext(core))).rejects.toMatchObject({
      code: ErrorCode.SERVICE_INVALID,
      message: expect.stringContaining('dimmer.route'),
    });
    expect(handled).toEqual([]);
    expect(registry.stats().plugins.dimmer).toMatchObject({ errors: 0, serviceCalls: 0 });

    await core.callService('dimmer', 'set', { brightness: 128 }, userContext(core));
    await core.callService('dimmer', 'route', { brightness: 1 }, userContext(core));
    await core.callService('dimmer', 'free', { anything: true }, userContext(core));
    expect(handled).toEqual([{ brightness: 128 }, { brightness: 1 }, { anything: true }]);
  });
});
