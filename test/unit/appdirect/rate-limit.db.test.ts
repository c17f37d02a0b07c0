import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../../shared/clock.ts';
import { DynamoRateLimiter } from '../../../shared/db/entities/appdirect-rate.ts';
import { TransientError } from '../../../shared/errors.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

/**
 * AppDirect's leaky bucket (20 requests, leaking 4/s) shared through one table item: a burst of 20
 * goes at once, then one request per 250 ms; two limiters (two Lambdas) share the same bucket.
 */
let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => {
  await table.stop();
});

function virtualTime() {
  const t = { now: Date.parse('2026-11-23T10:00:00Z'), slept: [] as number[] };
  const clock: Clock = { now: () => new Date(t.now) };
  const sleep = async (ms: number) => {
    t.slept.push(ms);
    t.now += ms;
  };
  return { t, clock, sleep };
}

describe('marketplace rate limit', () => {
  it('lets a burst of 20 through, then paces at 4 per second', async () => {
    const { t, clock, sleep } = virtualTime();
    const limiter = new DynamoRateLimiter(table.doc, table.tableName, clock, undefined, { sleep });
    const start = t.now;
    for (let i = 0; i < 20; i++) await limiter.acquire('m1');
    expect(t.now - start).toBe(0);
    const times: number[] = [];
    for (let i = 0; i < 8; i++) {
      await limiter.acquire('m1');
      times.push(t.now - start);
    }
    expect(times).toEqual([250, 500, 750, 1000, 1250, 1500, 1750, 2000]);
    // Another marketplace has its own bucket.
    const before = t.now;
    await limiter.acquire('m2');
    expect(t.now).toBe(before);
  });

  it('is shared by every instance, and a caller that would wait too long gets a TransientError', async () => {
    const { t, clock, sleep } = virtualTime();
    const limit = { burst: 2, perSecond: 1 };
    const a = new DynamoRateLimiter(table.doc, table.tableName, clock, limit, { sleep, maxWaitMs: 1500 });
    const b = new DynamoRateLimiter(table.doc, table.tableName, clock, limit, { sleep, maxWaitMs: 500 });
    await a.acquire('m3');
    await b.acquire('m3');
    // The bucket is full for both: b would have to wait a second, more than it may.
    await expect(b.acquire('m3')).rejects.toBeInstanceOf(TransientError);
    const before = t.now;
    await a.acquire('m3');
    expect(t.now - before).toBe(1000);
  });
});
