import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  JITTER,
  MAX_RETRY_AFTER_MS,
  nextRetryDelayMs,
  OVERLOAD_FLOOR_MS,
  RETRY_DELAYS_SECONDS,
} from '../../../../functions/webhook-deliverer/retry-policy.ts';

const fail500 = { kind: 'response', statusCode: 500 } as const;

describe('retry schedule', () => {
  it('spans at least 27 hours over at least 8 attempts even with every delay at −20 %', () => {
    const attempts = RETRY_DELAYS_SECONDS.length + 1;
    expect(attempts).toBeGreaterThanOrEqual(8);
    let shortest = 0;
    let longest = 0;
    for (let n = 1; n <= RETRY_DELAYS_SECONDS.length; n++) {
      shortest += nextRetryDelayMs(n, fail500, () => 0)!;
      longest += nextRetryDelayMs(n, fail500, () => 0.999999)!;
    }
    expect(shortest).toBeGreaterThanOrEqual(27 * 3_600_000);
    expect(longest).toBeLessThanOrEqual(1.2 * RETRY_DELAYS_SECONDS.reduce((a, b) => a + b, 0) * 1000);
  });

  it('is exhausted after the last delay', () => {
    expect(nextRetryDelayMs(RETRY_DELAYS_SECONDS.length + 1, fail500, Math.random)).toBeUndefined();
  });

  it('keeps every jittered delay within ±20 % of the nominal one', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: RETRY_DELAYS_SECONDS.length }),
        fc.double({ min: 0, max: 0.9999999, noNaN: true }),
        (n, r) => {
          const nominal = RETRY_DELAYS_SECONDS[n - 1]! * 1000;
          const delay = nextRetryDelayMs(n, fail500, () => r)!;
          expect(delay).toBeGreaterThanOrEqual(Math.floor(nominal * (1 - JITTER)));
          expect(delay).toBeLessThanOrEqual(Math.ceil(nominal * (1 + JITTER)));
        },
      ),
    );
  });

  it('really jitters (two random sources give different delays)', () => {
    expect(nextRetryDelayMs(3, fail500, () => 0.1)).not.toBe(nextRetryDelayMs(3, fail500, () => 0.9));
  });

  it('waits at least 60 s after a 429 or a timeout', () => {
    expect(nextRetryDelayMs(1, { kind: 'response', statusCode: 429 }, () => 0.5)).toBe(OVERLOAD_FLOOR_MS);
    expect(nextRetryDelayMs(1, { kind: 'timeout' }, () => 0.5)).toBe(OVERLOAD_FLOOR_MS);
    expect(nextRetryDelayMs(1, { kind: 'response', statusCode: 503 }, () => 0.5)).toBe(5_000);
  });

  it('honours Retry-After when it is longer than the schedule, capped at a day', () => {
    expect(nextRetryDelayMs(1, { kind: 'response', statusCode: 503, retryAfterMs: 120_000 }, () => 0.5)).toBe(
      120_000,
    );
    expect(nextRetryDelayMs(4, { kind: 'response', statusCode: 429, retryAfterMs: 1_000 }, () => 0.5)).toBe(
      7_200_000,
    );
    expect(nextRetryDelayMs(1, { kind: 'response', statusCode: 429, retryAfterMs: 9e9 }, () => 0.5)).toBe(
      MAX_RETRY_AFTER_MS,
    );
  });
});
