import type { Clock } from '@homecore/core-traits';

/**
 * Settles like `work`, or rejects with `onTimeout()` after `ms` on `clock`. The work itself cannot
 * be cancelled; its late result is ignored (late rejections are swallowed so they never surface
 * as unhandled).
 */
export function withTimeout<T>(work: Promise<T>, ms: number, clock: Clock, onTimeout: () => Error): Promise<T> {
  // Timers treat Infinity as 1 ms; an unlimited timeout simply has no timer.
  if (!Number.isFinite(ms)) return work;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let handle: unknown;
    // The work's handlers first: if the host cannot arm the timer, the work still settles this (without a timeout).
    work.then(
      (value) => {
        if (settled) return;
        settled = true;
        if (handle !== undefined) clock.clearTimeout(handle);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        if (handle !== undefined) clock.clearTimeout(handle);
        reject(error);
      },
    );
    try {
      handle = clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(onTimeout());
      }, ms);
    } catch {
      handle = undefined;
    }
  });
}

/** Runs `fn` and turns a synchronous throw into a rejection. */
export function invoke<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID (48-bit time, 80 random bits) as HA uses for entry ids. */
export function ulid(time: number, random: () => number): string {
  let out = '';
  let t = Math.max(0, Math.floor(time));
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32] + out;
    t = Math.floor(t / 32);
  }
  for (let i = 0; i < 16; i++) out += CROCKFORD[Math.floor(random() * 32) % 32];
  return out;
}

/** ISO 8601 with HA's `+00:00` offset. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+00:00');
}

/** A bounded window of recent durations with percentiles. */
export class DurationWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private count = 0;

  constructor(size = 512) {
    this.samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    if (this.count < this.samples.length) this.count++;
  }

  /** p50 and p99 by nearest rank; 0 without samples. */
  summary(): { p50: number; p99: number; samples: number } {
    if (this.count === 0) return { p50: 0, p99: 0, samples: 0 };
    const sorted = this.samples.slice(0, this.count).sort();
    const rank = (p: number) => sorted[Math.min(this.count - 1, Math.ceil(p * this.count) - 1)] ?? 0;
    return { p50: rank(0.5), p99: rank(0.99), samples: this.count };
  }
}

/** A message for anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
