import { ErrorCode, HomecoreError, isHomecoreError } from '@homecore/core-traits';

/** Thrown by the out-of-fuel import so that a fuel trap is told apart from a guest `unreachable`. */
export class FuelExhausted extends Error {}

/** Thrown by `env.abort` with the guest's decoded message. */
export class GuestAbort extends Error {}

/** Longest AssemblyScript string the host decodes from an abort, in UTF-16 code units. */
export const ABORT_TEXT_MAX = 1024;

/** Decodes an AssemblyScript string (UTF-16LE, byte length in the u32 at ptr - 4), bounds-checked; '' for null or bad pointers. */
export function readAssemblyScriptString(memory: WebAssembly.Memory | undefined, ptr: number): string {
  if (memory === undefined) return '';
  const p = ptr >>> 0;
  if (p < 4) return '';
  const buffer = memory.buffer;
  if (p > buffer.byteLength) return '';
  const byteLength = new DataView(buffer).getUint32(p - 4, true);
  if (p + byteLength > buffer.byteLength) return ''; // a length that runs outside memory is not a string
  const units = Math.min(Math.floor(byteLength / 2), ABORT_TEXT_MAX);
  const view = new DataView(buffer, p, units * 2);
  let text = '';
  for (let i = 0; i < units; i++) text += String.fromCharCode(view.getUint16(i * 2, true));
  return text;
}

/**
 * Maps anything thrown out of a guest call to a HomecoreError: fuel, abort, stack overflow and
 * other traps, each with the plugin and hook.
 */
export function trapError(thrown: unknown, plugin: string, hook: string, budget: number, hostCap: number): HomecoreError {
  const options = { plugin, hook, cause: thrown };
  if (isHomecoreError(thrown)) return thrown;
  if (thrown instanceof FuelExhausted && hook === 'start') {
    return new HomecoreError(
      ErrorCode.WASM_FUEL_EXHAUSTED,
      `the module's start function used its whole start budget of ${budget} units (the host's startFuel): do less at module start and do the work in hc_setup`,
      { ...options, details: { budget } },
    );
  }
  if (thrown instanceof FuelExhausted) {
    return new HomecoreError(
      ErrorCode.WASM_FUEL_EXHAUSTED,
      `guest used its whole fuel budget of ${budget} units and was stopped: look for an endless or very long loop` +
        (budget < hostCap ? `, or raise limits.fuel_per_call (this host allows up to ${hostCap})` : ` (${budget} is this host's cap on limits.fuel_per_call)`),
      { ...options, details: { budget, hostCap } },
    );
  }
  if (thrown instanceof GuestAbort) {
    return new HomecoreError(ErrorCode.WASM_ABORT, `plugin aborted: ${thrown.message}`, options);
  }
  if (thrown instanceof RangeError && /call stack/i.test(thrown.message)) {
    return new HomecoreError(
      ErrorCode.WASM_TRAP,
      `guest trapped: stack overflow (${thrown.message}); look for unbounded recursion`,
      options,
    );
  }
  const message = thrown instanceof Error ? thrown.message : String(thrown);
  return new HomecoreError(ErrorCode.WASM_TRAP, `guest trapped: ${message}; the instance was discarded and will be re-created for the next call`, options);
}
