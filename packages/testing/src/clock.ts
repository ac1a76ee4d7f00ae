import type { Clock } from '@homecore/core-traits';

interface Timer {
  readonly due: number;
  readonly order: number;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told. `advance` fires the timers it passes in the order they are
 * due (timers due at the same instant in the order they were set), including timers those timers
 * set, each with the clock at its due time.
 */
export class ManualClock implements Clock {
  #now: number;
  #order = 0;
  readonly #timers = new Map<number, Timer>();

  /** Starts at `start` (ms since the epoch, default 2025-01-01T08:00:00Z). */
  constructor(start: number = Date.UTC(2025, 0, 1, 8, 0, 0)) {
    this.#now = start;
  }

  /** The clock's time in ms since the epoch. */
  now(): number {
    return this.#now;
  }

  /** Arms a timer that fires when the clock passes `now() + ms`. */
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.#order;
    this.#timers.set(id, { due: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 0), order: id, fn });
    return id;
  }

  /** Cancels a timer that has not fired. */
  clearTimeout(handle: unknown): void {
    this.#timers.delete(handle as number);
  }

  /** Timers armed and not yet fired. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves the clock forward by `ms`, firing every timer due on the way. */
  advance(ms: number): void {
    if (!(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`advance takes a number of milliseconds >= 0, got ${String(ms)}`);
    const end = this.#now + ms;
    for (;;) {
      let next: [number, Timer] | undefined;
      for (const entry of this.#timers) {
        const [, t] = entry;
        if (t.due <= end && (next === undefined || t.due < next[1].due || (t.due === next[1].due && t.order < next[1].order))) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = Math.max(this.#now, next[1].due);
      next[1].fn();
    }
    this.#now = end;
  }
}
