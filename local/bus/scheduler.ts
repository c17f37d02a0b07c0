import { randomBytes } from 'node:crypto';
import type { ScheduleSpec } from '../../infra/wiring-types.ts';
import { nowMs } from '../../shared/clock.ts';
import { eventTime } from './event-bus.ts';

/**
 * EventBridge Scheduler for the local runtime: parses the manifest's schedule expressions
 * (`rate(…)`, `cron(…)` in UTC, `at(…)`) as documented in
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html, and fires due
 * schedules against the hub clock, so advancing the clock runs what would have run meanwhile.
 */

export class InvalidScheduleExpressionError extends Error {
  constructor(expression: string, reason: string) {
    super(`invalid schedule expression ${JSON.stringify(expression)}: ${reason}`);
    this.name = 'InvalidScheduleExpressionError';
  }
}

export class UnknownScheduleError extends Error {
  constructor(readonly schedule: string) {
    super(`no schedule named ${JSON.stringify(schedule)} in the manifest`);
    this.name = 'UnknownScheduleError';
  }
}

type DayOfMonth =
  | { kind: 'unset' } // `?`
  | { kind: 'set'; days: Set<number> }
  | { kind: 'last' } // `L`
  | { kind: 'lastWeekday' } // `LW`
  | { kind: 'nearestWeekday'; day: number }; // `15W`

type DayOfWeek =
  | { kind: 'unset' }
  | { kind: 'set'; days: Set<number> } // 1 = SUN … 7 = SAT
  | { kind: 'last'; day: number } // `6L`: last Friday of the month; `L` alone: Saturday
  | { kind: 'nth'; day: number; n: number }; // `3#2`: second Tuesday

export interface CronFields {
  minutes: Set<number>;
  hours: Set<number>;
  dayOfMonth: DayOfMonth;
  months: Set<number>;
  dayOfWeek: DayOfWeek;
  years: Set<number>;
}

export type ParsedExpression =
  | { kind: 'rate'; periodMs: number }
  | { kind: 'cron'; fields: CronFields }
  | { kind: 'at'; timeMs: number };

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
const MIN_YEAR = 1970;
const MAX_YEAR = 2199;

/** Parses a Scheduler expression; throws `InvalidScheduleExpressionError` saying what is wrong. */
export function parseScheduleExpression(expression: string): ParsedExpression {
  const fail = (reason: string): never => {
    throw new InvalidScheduleExpressionError(expression, reason);
  };
  const text = expression.trim();
  const rate = /^rate\((.*)\)$/.exec(text);
  if (rate) {
    const m = /^\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*$/.exec(rate[1]!);
    if (!m) return fail('rate takes "<positive integer> minute(s)|hour(s)|day(s)"');
    const value = Number(m[1]);
    const unit = m[2]!;
    if (value < 1) return fail('the rate value must be positive');
    // AWS insists on `1 minute` / `5 minutes`, so accept only what a deployment would accept.
    if ((value === 1) !== !unit.endsWith('s'))
      return fail(`use ${value === 1 ? 'a singular' : 'a plural'} unit`);
    return { kind: 'rate', periodMs: value * UNIT_MS[unit.replace(/s$/, '')]! };
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(text);
  if (at) {
    const timeMs = Date.parse(`${at[1]}Z`);
    if (!Number.isFinite(timeMs)) return fail('at() takes yyyy-mm-ddThh:mm:ss');
    return { kind: 'at', timeMs };
  }
  const cron = /^cron\((.*)\)$/.exec(text);
  if (!cron) return fail('expected rate(…), cron(…) or at(…)');
  const parts = cron[1]!.trim().split(/\s+/);
  if (parts.length !== 6) {
    return fail(
      `cron takes 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}`,
    );
  }
  const [min, hour, dom, month, dow, year] = parts as [string, string, string, string, string, string];
  if ((dom === '?') === (dow === '?')) {
    return fail('exactly one of day-of-month and day-of-week must be "?"');
  }
  try {
    return {
      kind: 'cron',
      fields: {
        minutes: parseField(min, 0, 59),
        hours: parseField(hour, 0, 23),
        dayOfMonth: parseDayOfMonth(dom),
        months: parseField(month, 1, 12, MONTHS),
        dayOfWeek: parseDayOfWeek(dow),
        years: parseField(year, MIN_YEAR, MAX_YEAR),
      },
    };
  } catch (error) {
    return fail((error as Error).message);
  }
}

function parseValue(text: string, min: number, max: number, names?: string[]): number {
  const named = names?.indexOf(text.toUpperCase()) ?? -1;
  const value = named >= 0 ? named + min : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(
      `${JSON.stringify(text)} is not in ${min}..${max}${names ? ` or ${names[0]}..${names.at(-1)}` : ''}`,
    );
  }
  return value;
}

/** `*`, `5`, `1-5`, `*\/15`, `10/5`, `1-30/2`, `JAN,MAR` and lists of those. */
function parseField(text: string, min: number, max: number, names?: string[]): Set<number> {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const [rangeText = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : /^\d+$/.test(stepText) ? Number(stepText) : 0;
    if (step < 1) throw new Error(`step in ${JSON.stringify(item)} must be a positive integer`);
    let from: number;
    let to: number;
    if (rangeText === '*') {
      from = min;
      to = max;
    } else if (rangeText.includes('-')) {
      const [a = '', b = ''] = rangeText.split('-');
      from = parseValue(a, min, max, names);
      to = parseValue(b, min, max, names);
      if (from > to) throw new Error(`range ${JSON.stringify(rangeText)} runs backwards`);
    } else {
      from = parseValue(rangeText, min, max, names);
      to = stepText === undefined ? from : max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return values;
}

function parseDayOfMonth(text: string): DayOfMonth {
  if (text === '?') return { kind: 'unset' };
  if (text === 'L') return { kind: 'last' };
  if (text === 'LW') return { kind: 'lastWeekday' };
  const w = /^(\d+)W$/.exec(text);
  if (w) return { kind: 'nearestWeekday', day: parseValue(w[1]!, 1, 31) };
  if (/[LW#]/.test(text))
    throw new Error(`day-of-month ${JSON.stringify(text)}: L and W cannot be combined with lists`);
  return { kind: 'set', days: parseField(text, 1, 31) };
}

function parseDayOfWeek(text: string): DayOfWeek {
  if (text === '?') return { kind: 'unset' };
  if (text === 'L') return { kind: 'last', day: 7 };
  const last = /^(\w+)L$/.exec(text);
  if (last) return { kind: 'last', day: parseValue(last[1]!, 1, 7, DAYS) };
  const nth = /^(\w+)#(\d)$/.exec(text);
  if (nth) {
    const n = Number(nth[2]);
    if (n < 1 || n > 5) throw new Error(`day-of-week ${JSON.stringify(text)}: # takes 1..5`);
    return { kind: 'nth', day: parseValue(nth[1]!, 1, 7, DAYS), n };
  }
  if (/[L#]/.test(text))
    throw new Error(`day-of-week ${JSON.stringify(text)}: L and # cannot be combined with lists`);
  return { kind: 'set', days: parseField(text, 1, 7, DAYS) };
}

const daysInMonth = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();
/** 1 = Sunday … 7 = Saturday, as cron counts. */
const weekday = (year: number, month: number, day: number) =>
  new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;

function dayMatches(fields: CronFields, year: number, month: number, day: number): boolean {
  const dim = daysInMonth(year, month);
  const dow = weekday(year, month, day);
  const dom = fields.dayOfMonth;
  switch (dom.kind) {
    case 'set':
      if (!dom.days.has(day)) return false;
      break;
    case 'last':
      if (day !== dim) return false;
      break;
    case 'lastWeekday': {
      const lastDow = weekday(year, month, dim);
      const target = lastDow === 1 ? dim - 2 : lastDow === 7 ? dim - 1 : dim;
      if (day !== target) return false;
      break;
    }
    case 'nearestWeekday': {
      // The weekday nearest to the given day, never leaving the month (1W on a Saturday → Monday 3rd).
      const base = Math.min(dom.day, dim);
      const baseDow = weekday(year, month, base);
      let target = base;
      if (baseDow === 7) target = base === 1 ? 3 : base - 1;
      else if (baseDow === 1) target = base === dim ? base - 2 : base + 1;
      if (day !== target) return false;
      break;
    }
    case 'unset':
      break;
  }
  const dw = fields.dayOfWeek;
  switch (dw.kind) {
    case 'set':
      return dw.days.has(dow);
    case 'last':
      return dow === dw.day && day + 7 > dim;
    case 'nth':
      return dow === dw.day && Math.ceil(day / 7) === dw.n;
    case 'unset':
      return true;
  }
}

/**
 * The first time strictly after `after` at which the expression fires, or null if it never does
 * again. A rate has no anchor of its own: the next firing is `after` plus the period, so callers
 * pass the previous firing (the scheduler anchors rates at its start).
 */
export function nextFireTime(expression: string | ParsedExpression, after: Date): Date | null {
  const parsed = typeof expression === 'string' ? parseScheduleExpression(expression) : expression;
  const afterMs = after.getTime();
  if (parsed.kind === 'rate') return new Date(afterMs + parsed.periodMs);
  if (parsed.kind === 'at') return parsed.timeMs > afterMs ? new Date(parsed.timeMs) : null;
  const f = parsed.fields;
  const start = new Date(Math.floor(afterMs / 60_000) * 60_000 + 60_000);
  const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
  const years = sorted(f.years);
  const months = sorted(f.months);
  const hours = sorted(f.hours);
  const minutes = sorted(f.minutes);
  const sy = start.getUTCFullYear();
  const sm = start.getUTCMonth() + 1;
  const sd = start.getUTCDate();
  const sh = start.getUTCHours();
  const smin = start.getUTCMinutes();
  for (const year of years) {
    if (year < sy) continue;
    for (const month of months) {
      if (year === sy && month < sm) continue;
      const firstMonth = year === sy && month === sm;
      for (let day = firstMonth ? sd : 1; day <= daysInMonth(year, month); day++) {
        if (!dayMatches(f, year, month, day)) continue;
        const firstDay = firstMonth && day === sd;
        for (const hour of hours) {
          if (firstDay && hour < sh) continue;
          const minute = minutes.find((m) => !(firstDay && hour === sh && m < smin));
          if (minute !== undefined) return new Date(Date.UTC(year, month - 1, day, hour, minute));
        }
      }
    }
  }
  return null;
}

/** Replaces the Scheduler context keywords in every string of the manifest input. */
export function substituteContext(input: unknown, context: Record<string, string>): unknown {
  if (typeof input === 'string') {
    return Object.entries(context).reduce((text, [key, value]) => text.replaceAll(`<${key}>`, value), input);
  }
  if (Array.isArray(input)) return input.map((v) => substituteContext(v, context));
  if (typeof input === 'object' && input !== null) {
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, substituteContext(v, context)]));
  }
  return input;
}

export type ScheduleInvoker = (spec: ScheduleSpec, input: Record<string, unknown>) => Promise<void>;

export interface LocalSchedulerOptions {
  schedules: ScheduleSpec[];
  invoke: ScheduleInvoker;
  region?: string;
  accountId?: string;
  /** Schedule group in the ARN. Default `default`. */
  group?: string;
  /**
   * Most firings per schedule and tick after a large clock jump; older missed ones are skipped
   * (a day's jump should not run a per-minute poller 1,440 times). Default 10.
   */
  maxCatchUp?: number;
  /** Real-time period of the `start()` loop. Default 1 s. */
  pollIntervalMs?: number;
  /** Told about failed invocations from `tick` (the runtime logs them). */
  onError?: (error: unknown, fired: { schedule: string; scheduledTime: string }) => void;
}

export interface Firing {
  schedule: string;
  scheduledTime: string;
  ok: boolean;
  error?: string;
}

export interface ScheduleStatus {
  name: string;
  expression: string;
  function: string;
  nextFireTime: string | null;
  lastScheduledTime: string | null;
  fired: number;
  failed: number;
  skipped: number;
}

interface Entry {
  spec: ScheduleSpec;
  parsed: ParsedExpression;
  nextAt: number | null;
  lastScheduledTime: string | null;
  fired: number;
  failed: number;
  skipped: number;
}

const CRON_SCAN_LIMIT = 100_000;

/** Fires the manifest's schedules against the hub clock (`nowMs`). */
export class LocalScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly invoke: ScheduleInvoker;
  private readonly region: string;
  private readonly accountId: string;
  private readonly group: string;
  private readonly maxCatchUp: number;
  private readonly pollIntervalMs: number;
  private readonly onError: LocalSchedulerOptions['onError'];
  private readonly running = new Set<Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: LocalSchedulerOptions) {
    this.invoke = options.invoke;
    this.region = options.region ?? process.env.AWS_REGION ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.group = options.group ?? 'default';
    this.maxCatchUp = Math.max(1, options.maxCatchUp ?? 10);
    this.pollIntervalMs = options.pollIntervalMs ?? 1_000;
    this.onError = options.onError;
    const now = nowMs();
    for (const spec of options.schedules) {
      if (this.entries.has(spec.name)) throw new Error(`schedule ${spec.name} is declared twice`);
      const parsed = parseScheduleExpression(spec.expression);
      const next = nextFireTime(parsed, new Date(now));
      this.entries.set(spec.name, {
        spec,
        parsed,
        nextAt: next ? next.getTime() : null,
        lastScheduledTime: null,
        fired: 0,
        failed: 0,
        skipped: 0,
      });
    }
  }

  /** ARN of a schedule, as `<aws.scheduler.schedule-arn>` becomes. */
  scheduleArn(name: string): string {
    return `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${this.group}/${name}`;
  }

  /** Polls the hub clock in real time and fires what is due. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.pollIntervalMs);
  }

  /** Stops polling and waits for invocations under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /**
   * Fires every occurrence due up to now (call after advancing the clock): in time order within a
   * schedule, schedules side by side. Failures go to `onError` and the result; it never rejects.
   */
  async tick(): Promise<Firing[]> {
    const now = nowMs();
    const due: { entry: Entry; times: number[] }[] = [];
    // Claim due occurrences synchronously, so overlapping ticks never fire one twice.
    for (const entry of this.entries.values()) {
      const times = this.claimDue(entry, now);
      if (times.length > 0) due.push({ entry, times });
    }
    const perSchedule = due.map(async ({ entry, times }) => {
      const firings: Firing[] = [];
      for (const time of times) {
        const scheduledTime = eventTime(time);
        try {
          await this.fire(entry, scheduledTime);
          firings.push({ schedule: entry.spec.name, scheduledTime, ok: true });
        } catch (error) {
          this.onError?.(error, { schedule: entry.spec.name, scheduledTime });
          firings.push({ schedule: entry.spec.name, scheduledTime, ok: false, error: String(error) });
        }
      }
      return firings;
    });
    return (await Promise.all(perSchedule)).flat();
  }

  /**
   * Runs a schedule now (`POST /_local/schedules/{name}`) with the current time as its scheduled
   * time; its regular timetable is unchanged. Rejects with the invocation's error, or
   * `UnknownScheduleError`. Resolves with the input the function received.
   */
  async runNow(name: string): Promise<Record<string, unknown>> {
    const entry = this.entries.get(name);
    if (!entry) throw new UnknownScheduleError(name);
    return this.fire(entry, eventTime(nowMs()));
  }

  status(): ScheduleStatus[] {
    return [...this.entries.values()].map((e) => ({
      name: e.spec.name,
      expression: e.spec.expression,
      function: e.spec.function,
      nextFireTime: e.nextAt === null ? null : eventTime(e.nextAt),
      lastScheduledTime: e.lastScheduledTime,
      fired: e.fired,
      failed: e.failed,
      skipped: e.skipped,
    }));
  }

  private claimDue(entry: Entry, now: number): number[] {
    const times: number[] = [];
    if (entry.nextAt === null || entry.nextAt > now) return times;
    if (entry.parsed.kind === 'rate') {
      // Jump arithmetically over occurrences beyond the catch-up window.
      const period = entry.parsed.periodMs;
      const missed = Math.floor((now - entry.nextAt) / period) + 1;
      const skip = Math.max(0, missed - this.maxCatchUp);
      entry.skipped += skip;
      entry.nextAt += skip * period;
    }
    let scanned = 0;
    while (entry.nextAt !== null && entry.nextAt <= now) {
      times.push(entry.nextAt);
      if (times.length > this.maxCatchUp) {
        times.shift();
        entry.skipped++;
      }
      if (++scanned > CRON_SCAN_LIMIT) {
        // A per-minute cron after a jump of months: restart the timetable from now.
        entry.nextAt = nextFireTime(entry.parsed, new Date(now))?.getTime() ?? null;
        break;
      }
      entry.nextAt = nextFireTime(entry.parsed, new Date(entry.nextAt))?.getTime() ?? null;
    }
    return times;
  }

  private async fire(entry: Entry, scheduledTime: string): Promise<Record<string, unknown>> {
    const input = substituteContext(entry.spec.input ?? {}, {
      'aws.scheduler.schedule-arn': this.scheduleArn(entry.spec.name),
      'aws.scheduler.scheduled-time': scheduledTime,
      'aws.scheduler.execution-id': randomBytes(8).toString('hex'),
      'aws.scheduler.attempt-number': '1',
    }) as Record<string, unknown>;
    entry.lastScheduledTime = scheduledTime;
    const run = this.invoke(entry.spec, input);
    this.running.add(run);
    try {
      await run;
      entry.fired++;
      return input;
    } catch (error) {
      entry.failed++;
      throw error;
    } finally {
      this.running.delete(run);
    }
  }
}
