// A deliberately leaky plugin for the sandbox example: it keeps 256 KiB of history per event and
// never trims it. Its linear memory is capped by its manifest (limits.memory_pages), so it runs out
// of memory inside its own sandbox, aborts, and is re-instantiated; nothing outside it grows.
import { StateChangedEvent, Status, log, onStateChanged } from '@homecore/sdk-assemblyscript/assembly';
export * from '@homecore/sdk-assemblyscript/assembly/exports';

const history: Uint8Array[] = [];

onStateChanged((event: StateChangedEvent): i32 => {
  history.push(new Uint8Array(256 * 1024));
  log.debug('keeping ' + history.length.toString() + ' snapshots');
  return Status.OK;
});
