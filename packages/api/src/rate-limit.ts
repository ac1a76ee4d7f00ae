// Failed logins per client address (Home Assistant's http.ban counts them the same way): after
// `maxFailures` failures in `windowMs`, that address is refused until the window has passed since
// its last failure. A success clears the address. The table is bounded.

/** How repeated authentication failures are limited, per client address. */
export interface AuthRateLimit {
  /** Failures allowed within the window before the address is refused (default 5). */
  maxFailures?: number;
  /** The window, and how long a refused address waits after its last failure (default 60 000 ms). */
  windowMs?: number;
}

const MAX_TRACKED = 10_000;

export class FailureLimiter {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly failures = new Map<string, { count: number; last: number }>();

  constructor(options: AuthRateLimit = {}, now: () => number = Date.now) {
    this.maxFailures = options.maxFailures ?? 5;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = now;
  }

  /** Milliseconds this address must still wait, or 0 when it may try. */
  blockedFor(address: string): number {
    const entry = this.failures.get(address);
    if (entry === undefined) return 0;
    const since = this.now() - entry.last;
    if (since >= this.windowMs) {
      this.failures.delete(address);
      return 0;
    }
    return entry.count >= this.maxFailures ? this.windowMs - since : 0;
  }

  fail(address: string): void {
    const now = this.now();
    const entry = this.failures.get(address);
    if (entry === undefined || now - entry.last >= this.windowMs) {
      if (this.failures.size >= MAX_TRACKED) this.prune(now);
      this.failures.set(address, { count: 1, last: now });
    } else {
      entry.count++;
      entry.last = now;
    }
  }

  succeed(address: string): void {
    this.failures.delete(address);
  }

  private prune(now: number): void {
    for (const [address, entry] of this.failures) if (now - entry.last >= this.windowMs) this.failures.delete(address);
    // Still full: forget the oldest half rather than grow without bound.
    if (this.failures.size >= MAX_TRACKED) {
      let n = 0;
      for (const address of this.failures.keys()) if (n++ < MAX_TRACKED / 2) this.failures.delete(address);
    }
  }
}
