import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The context id of the service call a plugin's service handler runs for. Kept across the
 * handler's awaits, so every write it makes names the call as its parent, even while other
 * handlers of the same plugin run concurrently.
 */
export const serviceCallScope = new AsyncLocalStorage<string>();

/** Runs `fn` outside any service call, so work it schedules is not attributed to that call. */
export function outsideServiceCall(fn: () => void): void {
  if (serviceCallScope.getStore() === undefined) fn();
  else serviceCallScope.exit(fn);
}
