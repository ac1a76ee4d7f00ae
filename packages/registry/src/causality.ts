/**
 * The context id of the service call whose handler is running right now, if any. Set only for the
 * synchronous part of a handler: a process-wide AsyncLocalStorage would carry it across awaits,
 * but on Node 20 it turns on promise hooks for the whole process and slows every async handler by
 * about a third. Service calls routed through the plugin's queue (`onServiceCall`) keep their
 * parent across awaits through the activation instead, since nothing else of that plugin runs then.
 */
let current: string | undefined;

/** Runs `fn` (a service handler) with `parent` as the parent of the writes it makes synchronously. */
export function withServiceParent<T>(parent: string, fn: () => T): T {
  const previous = current;
  current = parent;
  try {
    return fn();
  } finally {
    current = previous;
  }
}

/** The parent for a write made now by a service handler, if one is running synchronously. */
export function serviceParent(): string | undefined {
  return current;
}
