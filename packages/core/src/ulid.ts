import type { Clock } from '@homecore/core-traits';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const MAX_TIME = 2 ** 48 - 1;

/**
 * Returns a ULID generator (26 characters of Crockford base32: 48 bits of time from `clock`, 80
 * random bits). Ids from one generator sort in creation order, even within one millisecond or
 * when the clock steps back.
 */
export function createUlidGenerator(clock: Pick<Clock, 'now'>): () => string {
  let lastTime = -1;
  // The random part as 16 base32 digits, so "add one" within a millisecond is simple.
  const random = new Uint8Array(RANDOM_CHARS);

  return () => {
    let time = Math.min(Math.max(Math.floor(clock.now()), 0), MAX_TIME);
    if (time > lastTime) {
      crypto.getRandomValues(random);
      for (let i = 0; i < RANDOM_CHARS; i++) random[i] = random[i]! & 31;
    } else {
      // Same millisecond (or the clock went back): stay monotonic by counting up.
      time = lastTime;
      if (!increment(random)) {
        time = Math.min(lastTime + 1, MAX_TIME);
        crypto.getRandomValues(random);
        for (let i = 0; i < RANDOM_CHARS; i++) random[i] = random[i]! & 31;
      }
    }
    lastTime = time;
    let out = '';
    let rest = time;
    for (let i = 0; i < TIME_CHARS; i++) {
      out = CROCKFORD[rest % 32]! + out;
      rest = Math.floor(rest / 32);
    }
    for (let i = 0; i < RANDOM_CHARS; i++) out += CROCKFORD[random[i]!]!;
    return out;
  };
}

/** Adds one to base32 digits in place; false when they overflowed. */
function increment(digits: Uint8Array): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if (digits[i]! < 31) {
      digits[i]! += 1;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}
