import type { Clock } from '@homecore/core-traits';

/**
 * Real time plus the time skipped by scenario `wait` steps, so a scenario that waits two minutes
 * for a light's off timer replays in milliseconds while plugins see the minutes pass. A frozen
 * clock starts at a fixed instant and moves only on `skip`, so two replays see identical times.
 */
export class ScenarioClock implements Clock {
  private skippedMs = 0;
  private readonly frozenAt: number | undefined;

  constructor(options: { frozenAt?: number } = {}) {
    this.frozenAt = options.frozenAt;
  }

  now(): number {
    return (this.frozenAt ?? Date.now()) + this.skippedMs;
  }

  /** Moves the clock forward without sleeping. */
  skip(ms: number): void {
    this.skippedMs += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  }

  clearTimeout(handle: unknown): void {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  }
}
