import { monotonicFactory } from 'ulid';
import { nowMs } from './clock.ts';

const monotonic = monotonicFactory();

/** A ULID, time-ordered by the (possibly advanced) hub clock, with an optional type prefix. */
export function newId(prefix?: string): string {
  const id = monotonic(nowMs());
  return prefix ? `${prefix}_${id}` : id;
}

export interface IdGenerator {
  next(prefix?: string): string;
}

export const ulidGenerator: IdGenerator = { next: newId };
