// virtual_light, the native plugin the motion light ports switch lights through: the same
// behaviour as packages/plugin-example/src/virtual-light.ts, self-contained so this folder of
// ports needs nothing but @homecore/core-traits. Services turn_on / turn_off {entity_id} set
// light.<name> (or each of a list) to on / off.
import { ErrorCode, HomecoreError, definePlugin } from '@homecore/core-traits';

const LIGHT_ID = /^light\.[a-z0-9_]+$/;

function targets(call) {
  const raw = call.data.entity_id;
  const ids = Array.isArray(raw) ? raw : [raw];
  if (ids.length === 0 || !ids.every((id) => typeof id === 'string' && LIGHT_ID.test(id))) {
    throw new HomecoreError(
      ErrorCode.SERVICE_INVALID,
      `virtual_light.${call.service} needs data {"entity_id": "light.<name>"} (or a list of them), got ${JSON.stringify(raw ?? null)}`,
      { plugin: 'virtual_light', hook: call.service, details: { data: call.data } },
    );
  }
  return ids;
}

export default function virtualLight() {
  return definePlugin({
    setup(ctx) {
      for (const [service, state] of [
        ['turn_on', 'on'],
        ['turn_off', 'off'],
      ]) {
        ctx.registerService(service, (call) => {
          for (const id of targets(call)) ctx.setState(id, state);
        });
      }
    },
  });
}
