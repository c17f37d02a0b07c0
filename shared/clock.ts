/**
 * Time source for every use case. In AWS it is the system clock; the local runtime can move it
 * forward (`POST /_local/clock`) so retry delays, reconcilers and schedules run in seconds.
 */
export interface Clock {
  now(): Date;
}

/**
 * The offset lives on `globalThis`, not in this module: `npm run dev` reloads a function's modules
 * (a fresh copy of this one among them), and every copy must keep reading the same clock.
 */
const OFFSET = Symbol.for('switchboard.clockOffsetMs');
const holder = globalThis as { [OFFSET]?: number };
holder[OFFSET] ??= 0;

/** Local stage only: shifts `systemClock` forward by `ms` (cumulative). */
export function advanceClock(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError('clock can only move forward');
  holder[OFFSET] = (holder[OFFSET] ?? 0) + ms;
  return holder[OFFSET];
}

/**
 * Local stage only: restores an offset persisted by an earlier run of the runtime. Never moves the
 * clock back: the larger of the current and the restored offset wins.
 */
export function restoreClockOffset(ms: number): number {
  if (Number.isFinite(ms) && ms > (holder[OFFSET] ?? 0)) holder[OFFSET] = ms;
  return holder[OFFSET] ?? 0;
}

/** Current offset of the local clock, for the runtime's status output and tests. */
export function clockOffsetMs(): number {
  return holder[OFFSET] ?? 0;
}

export function nowMs(): number {
  return Date.now() + (holder[OFFSET] ?? 0);
}

export const systemClock: Clock = { now: () => new Date(nowMs()) };

export const epochSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);
