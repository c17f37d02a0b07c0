/**
 * When to try a failed delivery again. Nominal delays after each failed attempt (the Standard Webhooks
 * example, extended so that even with every delay jittered −20 % the schedule spans more than 27 h):
 * 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, 14 h — 9 attempts over 41 h 35 min nominal.
 */
export const RETRY_DELAYS_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 50_400] as const;
export const JITTER = 0.2;
/** After a 429 or a timeout the receiver is overloaded: never retry sooner than this. */
export const OVERLOAD_FLOOR_MS = 60_000;
/** A Retry-After longer than this is capped (a typo on the receiver must not park a delivery for weeks). */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export type AttemptOutcome =
  | { kind: 'response'; statusCode: number; retryAfterMs?: number }
  | { kind: 'timeout' }
  | { kind: 'network' }
  | { kind: 'blocked' };

/**
 * Milliseconds until the next attempt after failed attempt number `failures` (1 = the first attempt
 * failed), or undefined when the schedule is exhausted. `random` in [0, 1) picks the jitter.
 */
export function nextRetryDelayMs(
  failures: number,
  outcome: AttemptOutcome,
  random: () => number,
): number | undefined {
  const base = RETRY_DELAYS_SECONDS[failures - 1];
  if (base === undefined) return undefined;
  let delay = Math.round(base * 1000 * (1 + JITTER * (2 * random() - 1)));
  const overloaded =
    outcome.kind === 'timeout' || (outcome.kind === 'response' && outcome.statusCode === 429);
  if (overloaded) delay = Math.max(delay, OVERLOAD_FLOOR_MS);
  if (outcome.kind === 'response' && outcome.retryAfterMs !== undefined) {
    delay = Math.max(delay, Math.min(outcome.retryAfterMs, MAX_RETRY_AFTER_MS));
  }
  return delay;
}
