// Event sequences run against both the native and the wasm version of each plugin. They return
// the actions taken, so the native test can pin them and the conformance test can compare.
import type { House } from './harness.js';

/** Temperatures crossing the living room thresholds (on above 25, off below 20). */
export async function temperatureStory(house: House): Promise<string[]> {
  const sensor = 'sensor.living_room_temperature';
  await house.set(sensor, '22.0'); // dead-band: nothing
  await house.set(sensor, '26.1'); // above 25: on
  await house.set(sensor, '23'); // dead-band: stays on
  await house.set(sensor, 'unavailable');
  await house.set(sensor, 'unknown');
  await house.set(sensor, '25abc'); // garbage
  await house.set(sensor, 'inf');
  await house.set(sensor, ' 27.5 '); // surrounding whitespace is fine
  await house.set(sensor, '1e1'); // 10, below 20: off
  await house.set('sensor.kitchen_temperature', '40'); // another sensor: ignored
  await house.set(sensor, '-3.25', { unit_of_measurement: '°C' });
  await house.set(sensor, '25'); // exactly high: not above, nothing
  await house.set(sensor, '25.0001');
  // No config-update hook in either version: the options update reloads the plugin.
  await house.options('temperature_alert', { high: 30 });
  await house.set(sensor, '27'); // inside the new dead-band
  await house.set(sensor, '31'); // above the new high
  return [...house.actions];
}

/** The hallway motion light with off_after_s = 2, set_timeout and an options update. */
export async function motionStory(house: House): Promise<string[]> {
  const motion = 'binary_sensor.hallway_motion';
  await house.set(motion, 'on'); // t=0: light on, off at t=2
  await house.tick(1); // t=1: motion still on
  await house.set(motion, 'off');
  await house.tick(1); // t=2: off time reached, motion off: light off
  await house.tick(1); // nothing more
  await house.call('motion_light', 'set_timeout', { seconds: 5 });
  await house.set(motion, 'on'); // t=3: light on, off at t=8
  await house.set(motion, 'off');
  await house.tick(3); // t=6: too early
  await house.set(motion, 'on'); // t=6: light already on, off moves to t=11
  await house.set(motion, 'off');
  await house.tick(4); // t=10: too early
  await house.tick(1); // t=11: light off
  await house.options('motion_light', { off_after_s: 1 });
  await house.set(motion, 'on'); // t=11: light on, off at t=12
  await house.tick(2); // motion still on: stays on
  await house.set(motion, 'off');
  await house.tick(1); // t=14: light off
  await house.set('binary_sensor.porch_motion', 'on'); // not its sensor
  await house.tick(1);
  return [...house.actions];
}
