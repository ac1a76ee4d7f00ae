import { ConfigEntryError, definePlugin, type HomeCorePlugin, type PluginContext, type StateChangedEvent } from '@homecore/core-traits';
import { numberOr, parseNumericState, requireString, settingsOf } from './settings.js';

/** The temperature alert's settings, read from its config entry. */
export interface TemperatureAlertSettings {
  /** The temperature sensor to watch, for example `sensor.living_room_temperature`. */
  readonly sensor: string;
  /** The binary sensor to set `on` above `high` and `off` below `low`. */
  readonly alert: string;
  readonly high: number;
  readonly low: number;
}

const DOMAIN = 'temperature_alert';

function readSettings(context: PluginContext): TemperatureAlertSettings {
  const settings = settingsOf(context.configEntry);
  const high = numberOr(settings, 'high', 25, DOMAIN);
  const low = numberOr(settings, 'low', 20, DOMAIN);
  if (low > high) throw new ConfigEntryError(`${DOMAIN}: "low" (${low}) must not be above "high" (${high})`);
  return { sensor: requireString(settings, 'sensor', DOMAIN), alert: requireString(settings, 'alert', DOMAIN), high, low };
}

/**
 * The seed's reference plugin, done right: when the sensor reads above `high` the alert turns
 * `on`, below `low` it turns `off`, and in between (the hysteresis dead-band) nothing happens.
 * States that are not numbers ("unknown", "unavailable", garbage) are ignored.
 */
export function temperatureAlert(): HomeCorePlugin {
  let context: PluginContext | undefined;
  let settings: TemperatureAlertSettings | undefined;
  return definePlugin({
    setup(ctx: PluginContext) {
      settings = readSettings(ctx);
      context = ctx;
      ctx.subscribe({ entities: [settings.sensor] });
      ctx.logger.info(`watching ${settings.sensor}: on above ${settings.high}, off below ${settings.low}`);
    },
    onStateChanged(event: StateChangedEvent) {
      if (context === undefined || settings === undefined || event.data.entity_id !== settings.sensor) return;
      const next = event.data.new_state;
      if (next === null) return;
      const temperature = parseNumericState(next.state);
      if (temperature === undefined) return;
      if (temperature > settings.high) {
        context.setState(settings.alert, 'on', { temperature, threshold: settings.high });
      } else if (temperature < settings.low) {
        context.setState(settings.alert, 'off', { temperature, threshold: settings.low });
      }
    },
  });
}
