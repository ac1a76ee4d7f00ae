// A plugin that oversteps its manifest, for the sandbox example: on motion it tries to unlock the
// front door. Its manifest grants no `state:write:lock.front_door`, so the host refuses the call,
// returns DENIED, and records the attempt in the audit trail.
import { Status, StateChangedEvent, log, onStateChanged, setState } from '@homecore/sdk-assemblyscript/assembly';
export * from '@homecore/sdk-assemblyscript/assembly/exports';

onStateChanged((event: StateChangedEvent): i32 => {
  const next = event.new_state;
  if (next === null || next.state != 'on') return Status.OK;
  if (setState('lock.front_door', 'unlocked', null) == Status.DENIED) log.warn('the host would not let me unlock lock.front_door');
  return Status.OK;
});
