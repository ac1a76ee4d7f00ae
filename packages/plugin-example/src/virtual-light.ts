import { ErrorCode, HomecoreError, definePlugin, type HomeCorePlugin, type JsonValue, type PluginContext, type ServiceCall } from '@homecore/core-traits';

const DOMAIN = 'virtual_light';
const LIGHT_ID = /^light\.[a-z0-9_]+$/;

function targets(call: ServiceCall): string[] {
  const raw: JsonValue | undefined = call.data.entity_id;
  const ids = Array.isArray(raw) ? raw : [raw];
  if (ids.length === 0 || !ids.every((id): id is string => typeof id === 'string' && LIGHT_ID.test(id))) {
    throw new HomecoreError(
      ErrorCode.SERVICE_INVALID,
      `${DOMAIN}.${call.service} needs data {"entity_id": "light.<name>"} (or a list of them), got ${JSON.stringify(raw ?? null)}`,
      { plugin: DOMAIN, hook: call.service, details: { data: call.data } },
    );
  }
  return ids;
}

/**
 * Lights that exist only in the state machine: the services `virtual_light.turn_on` and
 * `virtual_light.turn_off` with data `{entity_id}` set `light.<name>` to `on` or `off`.
 * Other plugins depend on it to switch lights.
 */
export function virtualLight(): HomeCorePlugin {
  return definePlugin({
    setup(ctx: PluginContext) {
      for (const [service, state] of [
        ['turn_on', 'on'],
        ['turn_off', 'off'],
      ] as const) {
        ctx.registerService(service, (call) => {
          for (const id of targets(call)) ctx.setState(id, state);
        });
      }
    },
  });
}
