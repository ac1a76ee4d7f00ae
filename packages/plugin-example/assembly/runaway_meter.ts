// A deliberately buggy energy plugin for the sandbox example: it adds up meter readings one watt
// at a time, and a negative reading (a meter reset) makes that loop run forever. In the sandbox
// the loop is stopped by its fuel budget; the plugin is backed off and then quarantined.
import { JsonObject, StateChangedEvent, Status, onStateChanged, setState } from '@homecore/sdk-assemblyscript/assembly';
export * from '@homecore/sdk-assemblyscript/assembly/exports';

let total: f64 = 0;

onStateChanged((event: StateChangedEvent): i32 => {
  const next = event.new_state;
  if (next === null) return Status.OK;
  const watts = parseFloat(next.state);
  if (isNaN(watts)) return Status.OK;
  // The bug: counting down to zero never ends for a negative (or fractional) reading.
  let steps: f64 = 0;
  for (let w = watts; w != 0; w -= 1) steps += 1;
  total += steps;
  return setState('sensor.energy_total', total.toString(), new JsonObject().setString('unit_of_measurement', 'Wh'));
});
