import { describe, expect, it } from 'vitest';
import type { ScheduleSpec } from '../../../infra/wiring-types.ts';
import {
  InvalidScheduleExpressionError,
  LocalScheduler,
  nextFireTime,
  parseScheduleExpression,
  substituteContext,
  UnknownScheduleError,
} from '../../../local/bus/scheduler.ts';
import { advanceClock, nowMs } from '../../../shared/clock.ts';
import { parseScheduledInput, schedulerInputTemplate } from '../../../shared/events/scheduled.ts';

const next = (expression: string, after: string) =>
  nextFireTime(expression, new Date(after))?.toISOString() ?? null;

describe('parseScheduleExpression', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(2 hours)', 7_200_000],
    ['rate(1 day)', 86_400_000],
  ])('%s', (expression, periodMs) => {
    expect(parseScheduleExpression(expression)).toEqual({ kind: 'rate', periodMs });
  });

  it.each([
    ['rate(1 minutes)', /singular/],
    ['rate(5 minute)', /plural/],
    ['rate(0 minutes)', /positive/],
    ['rate(1 week)', /rate takes/],
    ['every 5 minutes', /expected rate/],
    ['cron(0 10 * * ?)', /6 fields/],
    ['cron(0 10 * * MON *)', /exactly one of day-of-month and day-of-week/],
    ['cron(0 10 ? * ? *)', /exactly one of/],
    ['cron(60 10 * * ? *)', /"60" is not in 0..59/],
    ['cron(0 24 * * ? *)', /"24" is not in 0..23/],
    ['cron(0 10 ? * 8 *)', /"8" is not in 1..7 or SUN..SAT/],
    ['cron(0 10 * FOO ? *)', /"FOO" is not in 1..12 or JAN..DEC/],
    ['cron(0/0 10 * * ? *)', /step/],
    ['cron(0 17-9 * * ? *)', /runs backwards/],
    ['cron(0 0 L,15 * ? *)', /cannot be combined/],
    ['cron(0 0 ? * 2#6 *)', /# takes 1..5/],
    ['cron(0 0 1 1 ? 2300)', /not in 1970..2199/],
  ])('refuses %s clearly', (expression, message) => {
    expect(() => parseScheduleExpression(expression)).toThrow(InvalidScheduleExpressionError);
    expect(() => parseScheduleExpression(expression)).toThrow(message);
  });
});

describe('nextFireTime', () => {
  // Examples from the EventBridge Scheduler cron documentation (UTC); 2026-11-23 is a Monday.
  it.each([
    ['cron(0 10 * * ? *)', '2026-11-23T11:00:00Z', '2026-11-24T10:00:00.000Z'],
    ['cron(0 10 * * ? *)', '2026-11-23T09:59:59Z', '2026-11-23T10:00:00.000Z'],
    ['cron(0 10 * * ? *)', '2026-11-23T10:00:00Z', '2026-11-24T10:00:00.000Z'], // strictly after
    ['cron(15 12 * * ? *)', '2026-12-31T13:00:00Z', '2027-01-01T12:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-11-27T18:00:00Z', '2026-11-30T18:00:00.000Z'],
    ['cron(0 8 1 * ? *)', '2026-11-23T00:00:00Z', '2026-12-01T08:00:00.000Z'],
    ['cron(0/15 * * * ? *)', '2026-11-23T10:07:00Z', '2026-11-23T10:15:00.000Z'],
    ['cron(0/15 * * * ? *)', '2026-11-23T10:45:00Z', '2026-11-23T11:00:00.000Z'],
    ['cron(*/10 * ? * MON-FRI *)', '2026-11-27T23:55:00Z', '2026-11-30T00:00:00.000Z'],
    ['cron(0/5 8-17 ? * MON-FRI *)', '2026-11-27T17:55:00Z', '2026-11-30T08:00:00.000Z'],
    ['cron(0 9 ? * 2#1 *)', '2026-11-23T00:00:00Z', '2026-12-07T09:00:00.000Z'],
    ['cron(0 9 ? * MON#1 *)', '2026-11-23T00:00:00Z', '2026-12-07T09:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2026-02-10T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2028-02-10T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['cron(0 0 LW * ? *)', '2026-02-10T00:00:00Z', '2026-02-27T00:00:00.000Z'],
    ['cron(0 0 15W * ? *)', '2026-11-01T00:00:00Z', '2026-11-16T00:00:00.000Z'], // 15th is a Sunday
    ['cron(0 0 1W * ? *)', '2026-07-15T00:00:00Z', '2026-08-03T00:00:00.000Z'], // 1st is a Saturday
    ['cron(0 0 ? * 6L *)', '2026-11-01T00:00:00Z', '2026-11-27T00:00:00.000Z'], // last Friday
    ['cron(0 0 ? * FRIL *)', '2026-11-01T00:00:00Z', '2026-11-27T00:00:00.000Z'],
    ['cron(30 6 ? * SUN,SAT *)', '2026-11-23T00:00:00Z', '2026-11-28T06:30:00.000Z'],
    ['cron(0 12 * JAN,JUL ? *)', '2026-11-23T00:00:00Z', '2027-01-01T12:00:00.000Z'],
    ['cron(0 0 29 2 ? *)', '2026-03-01T00:00:00Z', '2028-02-29T00:00:00.000Z'],
    ['cron(10-20/5 3 * * ? 2030)', '2026-11-23T00:00:00Z', '2030-01-01T03:10:00.000Z'],
    ['cron(0 0 1 1 ? 2027)', '2027-01-01T00:00:00Z', null],
    ['at(2030-01-01T00:00:00)', '2026-11-23T00:00:00Z', '2030-01-01T00:00:00.000Z'],
    ['at(2020-01-01T00:00:00)', '2026-11-23T00:00:00Z', null],
    ['rate(5 minutes)', '2026-11-23T10:07:30Z', '2026-11-23T10:12:30.000Z'],
  ])('%s after %s', (expression, after, expected) => {
    expect(next(expression, after)).toBe(expected);
  });
});

describe('substituteContext', () => {
  it('replaces the keywords in nested strings only', () => {
    expect(
      substituteContext(
        { a: '<aws.scheduler.scheduled-time>', b: ['x <aws.scheduler.schedule-arn> y'], n: 1, z: null },
        { 'aws.scheduler.scheduled-time': 'T', 'aws.scheduler.schedule-arn': 'ARN' },
      ),
    ).toEqual({ a: 'T', b: ['x ARN y'], n: 1, z: null });
  });
});

const schedule = (name: string, expression: string, input?: Record<string, unknown>): ScheduleSpec => ({
  name,
  description: name,
  expression,
  function: `${name}-fn`,
  input: input ?? schedulerInputTemplate(name),
});

function recordingScheduler(
  schedules: ScheduleSpec[],
  options: { maxCatchUp?: number; fail?: Set<string> } = {},
) {
  const calls: { name: string; input: Record<string, unknown> }[] = [];
  const errors: string[] = [];
  const scheduler = new LocalScheduler({
    schedules,
    maxCatchUp: options.maxCatchUp,
    region: 'eu-west-1',
    invoke: async (spec, input) => {
      calls.push({ name: spec.name, input });
      if (options.fail?.has(spec.name)) throw new Error(`${spec.name} failed`);
    },
    onError: (_e, fired) => errors.push(fired.schedule),
  });
  return { scheduler, calls, errors };
}

describe('LocalScheduler', () => {
  it('fires a rate schedule when the clock passes each period, with the Scheduler keywords substituted', async () => {
    const before = nowMs();
    const { scheduler, calls } = recordingScheduler([schedule('poller', 'rate(5 minutes)')]);
    const after = nowMs();
    expect(await scheduler.tick()).toEqual([]);

    advanceClock(5 * 60_000);
    const fired = await scheduler.tick();
    expect(fired).toHaveLength(1);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.input;
    expect(input.schedule).toBe('poller');
    expect(input.scheduleArn).toBe('arn:aws:scheduler:eu-west-1:000000000000:schedule/default/poller');
    expect(input.scheduledTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    const scheduledMs = Date.parse(input.scheduledTime as string);
    expect(scheduledMs).toBeGreaterThanOrEqual(Math.floor((before + 300_000) / 1000) * 1000);
    expect(scheduledMs).toBeLessThanOrEqual(after + 300_000);
    // What the functions' own parser makes of it.
    expect(parseScheduledInput(input)).toEqual({ schedule: 'poller', scheduledTime: input.scheduledTime });

    // Already fired: ticking again does nothing until the next period.
    await scheduler.tick();
    expect(calls).toHaveLength(1);
    advanceClock(12 * 60_000);
    await scheduler.tick();
    const times = calls.map((c) => Date.parse(c.input.scheduledTime as string));
    expect(times).toHaveLength(3);
    expect(times[1]! - times[0]!).toBe(300_000);
    expect(times[2]! - times[1]!).toBe(300_000);
  });

  it('fires a cron schedule at its UTC minute', async () => {
    const { scheduler, calls } = recordingScheduler([schedule('billing', 'cron(0 17 * * ? *)')]);
    const due = nextFireTime('cron(0 17 * * ? *)', new Date(nowMs()))!.getTime();
    advanceClock(due - nowMs() - 1_000);
    await scheduler.tick();
    expect(calls).toHaveLength(0);
    advanceClock(1_000);
    await scheduler.tick();
    expect(calls.map((c) => c.input.scheduledTime)).toEqual([
      new Date(due).toISOString().replace('.000Z', 'Z'),
    ]);
    expect(scheduler.status()[0]).toMatchObject({
      name: 'billing',
      fired: 1,
      lastScheduledTime: calls[0]!.input.scheduledTime,
    });
    expect(Date.parse(scheduler.status()[0]!.nextFireTime!)).toBe(due + 86_400_000);
  });

  it('after a large clock jump fires at most maxCatchUp missed occurrences, the latest ones', async () => {
    const { scheduler, calls } = recordingScheduler([schedule('minutely', 'rate(1 minute)')], {
      maxCatchUp: 3,
    });
    advanceClock(60 * 60_000);
    await scheduler.tick();
    expect(calls).toHaveLength(3);
    const times = calls.map((c) => Date.parse(c.input.scheduledTime as string));
    expect(times[2]! - times[0]!).toBe(120_000);
    expect(nowMs() - times[2]!).toBeLessThan(60_000);
    expect(scheduler.status()[0]).toMatchObject({ fired: 3, skipped: 57 });
  });

  it('overlapping ticks never fire one occurrence twice', async () => {
    const { scheduler, calls } = recordingScheduler([schedule('once', 'rate(1 hour)')]);
    advanceClock(3_600_000);
    const [a, b] = await Promise.all([scheduler.tick(), scheduler.tick()]);
    expect(a.length + b.length).toBe(1);
    expect(calls).toHaveLength(1);
  });

  it('reports a failed invocation and moves on (no refire)', async () => {
    const { scheduler, calls, errors } = recordingScheduler([schedule('flaky', 'rate(1 hour)')], {
      fail: new Set(['flaky']),
    });
    advanceClock(3_600_000);
    const fired = await scheduler.tick();
    expect(fired).toEqual([
      expect.objectContaining({ schedule: 'flaky', ok: false, error: 'Error: flaky failed' }),
    ]);
    expect(errors).toEqual(['flaky']);
    await scheduler.tick();
    expect(calls).toHaveLength(1);
    expect(scheduler.status()[0]).toMatchObject({ fired: 0, failed: 1 });
  });

  it('runNow() fires immediately without touching the timetable, and rejects unknown names', async () => {
    const { scheduler, calls } = recordingScheduler([
      schedule('daily', 'cron(0 17 * * ? *)'),
      schedule('custom', 'rate(1 day)', { fixed: 'value', when: '<aws.scheduler.scheduled-time>' }),
    ]);
    const nextBefore = scheduler.status()[0]!.nextFireTime;
    const input = await scheduler.runNow('daily');
    expect(calls).toHaveLength(1);
    expect(input).toEqual(calls[0]!.input);
    expect(Math.abs(Date.parse(input.scheduledTime as string) - nowMs())).toBeLessThan(2_000);
    expect(scheduler.status()[0]!.nextFireTime).toBe(nextBefore);

    const custom = await scheduler.runNow('custom');
    expect(custom).toEqual({ fixed: 'value', when: expect.stringMatching(/Z$/) });
    await expect(scheduler.runNow('nope')).rejects.toThrow(UnknownScheduleError);
  });

  it('runNow() rejects with the invocation error', async () => {
    const { scheduler } = recordingScheduler([schedule('flaky', 'rate(1 hour)')], {
      fail: new Set(['flaky']),
    });
    await expect(scheduler.runNow('flaky')).rejects.toThrow('flaky failed');
  });

  it('refuses a manifest with a bad expression or a duplicate name', () => {
    expect(() => recordingScheduler([schedule('bad', 'rate(5 minute)')])).toThrow(/rate\(5 minute\)/);
    expect(() => recordingScheduler([schedule('a', 'rate(1 hour)'), schedule('a', 'rate(2 hours)')])).toThrow(
      /declared twice/,
    );
  });

  it('start() polls the hub clock; stop() waits for the invocation under way', async () => {
    let reached!: () => void;
    const fired = new Promise<void>((resolve) => (reached = resolve));
    let finished = false;
    const scheduler = new LocalScheduler({
      schedules: [schedule('tick', 'rate(1 minute)')],
      pollIntervalMs: 5,
      invoke: async () => {
        reached();
        await new Promise((resolve) => setImmediate(resolve));
        finished = true;
      },
    });
    scheduler.start();
    advanceClock(60_000);
    await fired;
    await scheduler.stop();
    expect(finished).toBe(true);
  });
});
