import type { Clock } from '@homecore/core-traits';

interface Timer {
  due: number;
  fn: () => void;
  real: ReturnType<typeof setTimeout>;
}

/**
 * Real time plus the time skipped by scenario `wait` steps, so a scenario that waits two minutes
 * for a light's off timer replays in milliseconds while plugins see the minutes pass. Timers set
 * on this clock (the registry's backoff, setup retries and timeouts) fire when real time or
 * skipped time reaches them, whichever comes first. A frozen clock starts at a fixed instant and
 * moves only on `skip`, so two replays see identical times.
 */
export class ScenarioClock implements Clock {
  private skippedMs = 0;
  private readonly frozenAt: number | undefined;
  private readonly timers = new Map<number, Timer>();
  private nextId = 1;

  constructor(options: { frozenAt?: number } = {}) {
    this.frozenAt = options.frozenAt;
  }

  now(): number {
    return (this.frozenAt ?? Date.now()) + this.skippedMs;
  }

  /** Moves the clock forward without sleeping, firing the timers that come due, earliest first. */
  skip(ms: number): void {
    this.skippedMs += ms;
    for (;;) {
      let next: [number, Timer] | undefined;
      for (const entry of this.timers) if (entry[1].due <= this.now() && (next === undefined || entry[1].due < next[1].due)) next = entry;
      if (next === undefined) return;
      this.fire(next[0]);
    }
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    const delay = Math.max(0, ms);
    // The real timer keeps the process alive until the timer is due or cleared, as Node's own do.
    this.timers.set(id, { due: this.now() + delay, fn, real: setTimeout(() => this.fire(id), delay) });
    return id;
  }

  clearTimeout(handle: unknown): void {
    const timer = this.timers.get(handle as number);
    if (timer === undefined) return;
    clearTimeout(timer.real);
    this.timers.delete(handle as number);
  }

  private fire(id: number): void {
    const timer = this.timers.get(id);
    if (timer === undefined) return;
    clearTimeout(timer.real);
    this.timers.delete(id);
    timer.fn();
  }
}
