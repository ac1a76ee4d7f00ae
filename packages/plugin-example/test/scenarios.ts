// Event sequences run against both the native and the wasm version of each plugin. They return
// the actions taken (the kit's lines), so the native test can pin them and the conformance test
// can compare.
import type { TestHome } from '@homecore/testing';
import { updateOptions } from './harness.js';

/** Temperatures crossing the living room thresholds (on above 25, off below 20). */
export async function temperatureStory(home: TestHome): Promise<string[]> {
  const sensor = 'sensor.living_room_temperature';
  await home.set(sensor, '22.0'); // dead-band: nothing
  await home.set(sensor, '26.1'); // above 25: on
  await home.set(sensor, '23'); // dead-band: stays on
  await home.set(sensor, 'unavailable');
  await home.set(sensor, 'unknown');
  await home.set(sensor, '25abc'); // garbage
  await home.set(sensor, 'inf');
  await home.set(sensor, ' 27.5 '); // surrounding whitespace is fine
  await home.set(sensor, '1e1'); // 10, below 20: off
  await home.set('sensor.kitchen_temperature', '40'); // another sensor: ignored
  await home.set(sensor, '-3.25', { unit_of_measurement: '°C' });
  await home.set(sensor, '25'); // exactly high: not above, nothing
  await home.set(sensor, '25.0001');
  // No config-update hook in either version: the options update reloads the plugin.
  await updateOptions(home, 'temperature_alert', { high: 30 });
  await home.set(sensor, '27'); // inside the new dead-band
  await home.set(sensor, '31'); // above the new high
  return home.lines();
}

/** The hallway motion light with off_after_s = 2, set_timeout and an options update. */
export async function motionStory(home: TestHome): Promise<string[]> {
  const motion = 'binary_sensor.hallway_motion';
  const tick = (seconds: number) => home.advance(seconds * 1000);
  await home.set(motion, 'on'); // t=0: light on, off at t=2
  await tick(1); // t=1: motion still on
  await home.set(motion, 'off');
  await tick(1); // t=2: off time reached, motion off: light off
  await tick(1); // nothing more
  await home.call('motion_light', 'set_timeout', { seconds: 5 });
  await home.set(motion, 'on'); // t=3: light on, off at t=8
  await home.set(motion, 'off');
  await tick(3); // t=6: too early
  await home.set(motion, 'on'); // t=6: light already on, off moves to t=11
  await home.set(motion, 'off');
  await tick(4); // t=10: too early
  await tick(1); // t=11: light off
  await updateOptions(home, 'motion_light', { off_after_s: 1 });
  await home.set(motion, 'on'); // t=11: light on, off at t=12
  await tick(2); // motion still on: stays on
  await home.set(motion, 'off');
  await tick(1); // t=14: light off
  await home.set('binary_sensor.porch_motion', 'on'); // not its sensor
  await tick(1);
  return home.lines();
}
