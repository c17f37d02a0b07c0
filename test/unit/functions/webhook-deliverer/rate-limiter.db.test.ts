import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dynamoRateLimiter,
  SLOTS_PER_SHARD,
  shardLimit,
  shardsFor,
} from '../../../../functions/webhook-deliverer/rate-limiter.ts';
import { key } from '../../../../shared/db/keys.ts';
import { newId } from '../../../../shared/ids.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => {
  await table.stop();
});

/** Every counter item of an endpoint: its sort key and count. */
async function counters(endpointId: string) {
  const res = await table.doc.send(
    new QueryCommand({
      TableName: table.tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': key('WHRATE', endpointId) },
    }),
  );
  return (res.Items ?? []).map((i) => ({ sk: String(i.SK), n: Number(i.n) }));
}

/** `total` asks in one second, `perTick` of them in each turn of the event loop (one batch). */
async function askMany(
  limiter: ReturnType<typeof dynamoRateLimiter>,
  id: string,
  rate: number,
  total: number,
  perTick: number,
  at: Date,
) {
  let granted = 0;
  for (let done = 0; done < total; done += perTick) {
    const n = Math.min(perTick, total - done);
    const got = await Promise.all(Array.from({ length: n }, () => limiter.tryAcquire(id, rate, at)));
    granted += got.filter(Boolean).length;
  }
  return granted;
}

describe('webhook rate limiter shards', () => {
  it('splits a fast endpoint over shards whose limits sum to the rate', () => {
    expect(shardsFor(10)).toBe(1);
    expect(shardsFor(SLOTS_PER_SHARD)).toBe(1);
    expect(shardsFor(SLOTS_PER_SHARD + 1)).toBe(2);
    expect(shardsFor(1000)).toBe(4);
    for (const rate of [1, 10, 251, 999, 1000]) {
      const n = shardsFor(rate);
      const limits = Array.from({ length: n }, (_, i) => shardLimit(rate, n, i));
      expect(limits.reduce((a, b) => a + b, 0)).toBe(rate);
      expect(Math.max(...limits)).toBeLessThanOrEqual(SLOTS_PER_SHARD);
    }
  });

  it('grants exactly the limit per second at 1,000/s, no counter item above its share', async () => {
    let r = 0;
    // Deterministic "random" start shards, cycling.
    const limiter = dynamoRateLimiter(table.doc, table.tableName, () => (r++ % 4) / 4);
    const id = newId('ep');
    const at = new Date('2026-01-01T00:00:00.100Z');
    expect(await askMany(limiter, id, 1000, 1200, 60, at)).toBe(1000);
    const items = await counters(id);
    expect(items).toHaveLength(4);
    expect(items.every((i) => i.n <= SLOTS_PER_SHARD)).toBe(true);
    expect(items.reduce((a, i) => a + i.n, 0)).toBe(1000);
    // A new second has its own slots.
    expect(await askMany(limiter, id, 1000, 30, 30, new Date(at.getTime() + 1000))).toBe(30);
  });

  it('keeps one item per second for a slow endpoint, and refuses above its limit', async () => {
    const limiter = dynamoRateLimiter(table.doc, table.tableName);
    const id = newId('ep');
    const at = new Date('2026-01-01T00:00:05.000Z');
    expect(await askMany(limiter, id, 10, 15, 4, at)).toBe(10);
    expect(await counters(id)).toEqual([{ sk: String(Math.floor(at.getTime() / 1000)), n: 10 }]);
  });
});
