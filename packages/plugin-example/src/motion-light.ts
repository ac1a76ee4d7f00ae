import {
  ErrorCode,
  HomecoreError,
  definePlugin,
  type BusEvent,
  type ConfigEntry,
  type HomeCorePlugin,
  type PluginContext,
  type ServiceCall,
  type StateChangedEvent,
} from '@homecore/core-traits';
import { ConfigEntryError } from '@homecore/core-traits';
import { numberOr, requireString, settingsOf } from './settings.js';

const DOMAIN = 'motion_light';

/** The motion light's settings, read from its config entry. */
export interface MotionLightSettings {
  /** The motion sensor, for example `binary_sensor.hallway_motion`. */
  readonly motion: string;
  /** The light to switch through `virtual_light`, for example `light.hallway`. */
  readonly light: string;
  /** Seconds after the motion started before the light may turn off again (once motion is off). */
  readonly offAfterS: number;
}

function readSettings(entry: ConfigEntry): MotionLightSettings {
  const settings = settingsOf(entry);
  const offAfterS = numberOr(settings, 'off_after_s', 120, DOMAIN);
  if (offAfterS <= 0) throw new ConfigEntryError(`${DOMAIN}: "off_after_s" must be above 0, got ${offAfterS}`);
  return { motion: requireString(settings, 'motion', DOMAIN), light: requireString(settings, 'light', DOMAIN), offAfterS };
}

/**
 * A motion-activated light. Motion `on` calls `virtual_light.turn_on` and sets the off time to
 * now + `off_after_s`; on each `time_changed` tick (once a second) the light is turned off with
 * `virtual_light.turn_off` when that time has passed and the motion is off. The service
 * `motion_light.set_timeout {seconds}` changes `off_after_s` while running. Timing comes from
 * `time_changed` events, not timers, so the wasm version behaves identically.
 */
export function motionLight(): HomeCorePlugin {
  let context: PluginContext | undefined;
  let settings: MotionLightSettings | undefined;
  let offAfterS = 120;
  let motionOn = false;
  let lightOn = false;
  let offAt = 0;
  let unsubscribe: (() => void) | undefined;

  function apply(ctx: PluginContext, entry: ConfigEntry): void {
    const next = readSettings(entry);
    if (settings === undefined || settings.motion !== next.motion) {
      unsubscribe?.();
      unsubscribe = ctx.subscribe({ entities: [next.motion] });
    }
    settings = next;
    offAfterS = next.offAfterS;
  }

  return definePlugin({
    setup(ctx: PluginContext) {
      apply(ctx, ctx.configEntry);
      context = ctx;
      ctx.registerService('set_timeout', (call: ServiceCall) => {
        const seconds = call.data.seconds;
        if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) {
          throw new HomecoreError(ErrorCode.SERVICE_INVALID, `${DOMAIN}.set_timeout needs data {"seconds": <number above 0>}, got ${JSON.stringify(call.data)}`, {
            plugin: DOMAIN,
            hook: 'set_timeout',
          });
        }
        offAfterS = seconds;
        ctx.logger.info(`off_after_s is now ${seconds}`);
      });
    },
    async onStateChanged(event: StateChangedEvent) {
      if (context === undefined || settings === undefined || event.data.entity_id !== settings.motion) return;
      motionOn = event.data.new_state?.state === 'on';
      if (!motionOn) return;
      offAt = context.now() + offAfterS * 1000;
      if (!lightOn) {
        lightOn = true;
        await context.callService('virtual_light', 'turn_on', { entity_id: settings.light });
      }
    },
    async onEvent(event: BusEvent) {
      if (context === undefined || settings === undefined || event.event_type !== 'time_changed') return;
      if (lightOn && !motionOn && context.now() >= offAt) {
        lightOn = false;
        await context.callService('virtual_light', 'turn_off', { entity_id: settings.light });
      }
    },
    onConfigUpdate(entry: ConfigEntry) {
      if (context !== undefined) apply(context, entry);
    },
    teardown() {
      unsubscribe?.();
    },
  });
}
