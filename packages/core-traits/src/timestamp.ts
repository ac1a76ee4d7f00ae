import { ErrorCode, HomecoreError } from '@homecore/errors';

// The date-and-time part changes once a second: it is formatted by toISOString only then.
let cachedSecond = Number.NaN;
let cachedPrefix = '';

/**
 * Formats epoch milliseconds as Home Assistant does: ISO 8601 with microseconds and a `+00:00`
 * offset, for example `2016-11-26T01:37:24.265390+00:00`. Fractional milliseconds are kept.
 */
export function formatTimestamp(ms: number): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new HomecoreError(
      ErrorCode.INTERNAL,
      `The clock returned ${String(ms)}; Clock.now() must return finite epoch milliseconds`,
    );
  }
  // Integer microseconds avoid float noise such as .265389 for .26539 ms.
  const micros = Math.round(ms * 1000);
  const seconds = Math.floor(micros / 1_000_000);
  const fraction = micros - seconds * 1_000_000;
  if (seconds !== cachedSecond) {
    cachedPrefix = `${new Date(seconds * 1000).toISOString().slice(0, 19)}.`;
    cachedSecond = seconds;
  }
  return `${cachedPrefix}${String(fraction).padStart(6, '0')}+00:00`;
}
