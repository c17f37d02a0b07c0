/**
 * Time source for every use case. In AWS it is the system clock; the local runtime can move it
 * forward (`POST /_local/clock`) so retry delays, reconcilers and schedules run in seconds.
 */
export interface Clock {
  now(): Date;
}

let offsetMs = 0;

/** Local stage only: shifts `systemClock` forward by `ms` (cumulative). */
export function advanceClock(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock can only move forward');
  offsetMs += ms;
  return offsetMs;
}

/**
 * Local stage only: restores an offset persisted by an earlier run of the runtime. Never moves the
 * clock back: the larger of the current and the restored offset wins.
 */
export function restoreClockOffset(ms: number): number {
  if (Number.isFinite(ms) && ms > offsetMs) offsetMs = ms;
  return offsetMs;
}

/** Current offset of the local clock, for the runtime's status output and tests. */
export function clockOffsetMs(): number {
  return offsetMs;
}

export function nowMs(): number {
  return Date.now() + offsetMs;
}

export const systemClock: Clock = { now: () => new Date(nowMs()) };

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
