/**
 * What `registry.idle()` waits for: pumps scheduled or running, repairs armed, and setups in flight
 * (loads, timer-started retries, reloads). Every counter at 0 means idle.
 */
export class IdleTracker {
  /** Records scheduled or pumping. */
  busyPumps = 0;
  /** Delivery repairs armed (after a failure of the registry's own bookkeeping). */
  busyRepairs = 0;
  /** Setups requested and not yet settled. */
  private busySetups = 0;
  private waiters: (() => void)[] = [];

  idle(): Promise<void> {
    return this.isIdle() ? Promise.resolve() : this.untilIdle();
  }

  /** Counts `work` as a setup in flight, from now until it settles. */
  trackSetup<T>(work: Promise<T>): Promise<T> {
    this.busySetups++;
    const done = (): void => {
      this.busySetups--;
      this.wake();
    };
    work.then(done, done);
    return work;
  }

  /** A pump stopped: the last one may make the registry idle. */
  pumpStopped(): void {
    this.busyPumps--;
    this.wake();
  }

  /** A repair ran. */
  repaired(): void {
    this.busyRepairs--;
    this.wake();
  }

  private isIdle(): boolean {
    return this.busyPumps === 0 && this.busySetups === 0 && this.busyRepairs === 0;
  }

  private async untilIdle(): Promise<void> {
    // Re-checked after each wake-up: a settled task's caller may have queued more work meanwhile.
    while (!this.isIdle()) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    if (!this.isIdle() || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
