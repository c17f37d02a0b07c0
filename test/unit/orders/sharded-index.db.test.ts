import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOrders } from '../../../functions/order-intake/read-orders.ts';
import { ORDER_SHARDS, OrderRepository } from '../../../shared/db/entities/orders.ts';
import { backfillIndexes } from '../../../shared/db/index-backfill.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { type SubmitOrderDeps, submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from './fixtures.ts';

/**
 * #14 hot keys: a tenant's order partition and the reconciler's stage partition are write-sharded
 * (ORDER_SHARDS suffixes); readers query every shard and merge in key order, so pages are full,
 * in order, and every order appears exactly once.
 */
let table: TestTable;
let orders: OrderRepository;
const tenant = 'sharded';
const reviewIds: string[] = [];
const allIds: string[] = [];
const clock = new ManualClock();

beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
  const screening = new FakeScreening('clear');
  const deps: SubmitOrderDeps = {
    orders,
    publisher: new FakePublisher(),
    screening,
    clock,
    ids: ulidGenerator,
    budgetMs: 500,
    duplicateWait: { totalMs: 2000, intervalMs: 10 },
  };
  for (let i = 0; i < 30; i++) {
    screening.outcome = i % 3 === 0 ? 'clear' : 'review';
    clock.advance(1);
    const a = await submitOrder({ tenant, order: validOrder(), idempotencyKey: undefined }, deps);
    const id = (a.body as { orderId: string }).orderId;
    allIds.push(id);
    if (i % 3 !== 0) reviewIds.push(id);
  }
  // Another tenant's orders share the shards but never its pages.
  await submitOrder({ tenant: 'other', order: validOrder(), idempotencyKey: undefined }, deps);
}, 60_000);
afterAll(async () => table.stop());

async function pageAll(status: 'NEEDS_REVIEW' | undefined, limit: number) {
  const seen: string[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await listOrders(
      { tenant, limit, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) },
      { orders },
    );
    seen.push(...page.orders.map((o) => o.orderId));
    sizes.push(page.orders.length);
    cursor = page.cursor;
  } while (cursor && sizes.length < 100);
  return { seen, sizes };
}

describe('sharded order indexes', () => {
  it('spread one tenant over several shards of its partition', async () => {
    const pks = new Set<string>();
    for (let s = 0; s < ORDER_SHARDS; s++) {
      const res = await table.doc.send(
        new QueryCommand({
          TableName: table.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': `TENANT#${tenant}#ORDERS#${s}` },
          Select: 'COUNT',
        }),
      );
      if ((res.Count ?? 0) > 0) pks.add(String(s));
    }
    expect(pks.size).toBeGreaterThan(1);
  });

  it('GET /v1/orders?status= pages full and in order, every order exactly once', async () => {
    for (const limit of [1, 3, 7]) {
      const { seen, sizes } = await pageAll('NEEDS_REVIEW', limit);
      expect(seen).toEqual([...reviewIds].sort());
      // Full pages: only the last may be short (never a short or empty page while matches remain).
      expect(sizes.slice(0, -1).every((n) => n === limit)).toBe(true);
    }
  });

  it('GET /v1/orders without a status merges every status and shard the same way', async () => {
    const { seen, sizes } = await pageAll(undefined, 4);
    expect([...seen].sort()).toEqual([...allIds].sort());
    expect(new Set(seen).size).toBe(seen.length);
    expect(sizes.slice(0, -1).every((n) => n === 4)).toBe(true);
  });

  it('the reconciler reads the globally oldest stage entries across shards, each once', async () => {
    const stale = await orders.listStaleInStage('NEEDS_REVIEW', new Date(clock.ms + 3_600_000), 5);
    const everything = await orders.listStaleInStage('NEEDS_REVIEW', new Date(clock.ms + 3_600_000), 1000);
    const ours = everything.filter((e) => e.order.tenant === tenant).map((e) => e.order.orderId);
    expect(ours.sort()).toEqual([...reviewIds].sort());
    expect(new Set(everything.map((e) => e.order.orderId)).size).toBe(everything.length);
    const keys = everything.map((e) => e.stageSk);
    expect(keys).toEqual([...keys].sort());
    expect(stale.map((e) => e.stageSk)).toEqual(keys.slice(0, 5));
  });

  it('an order stored under the old single tenant key is found again after the index backfill', async () => {
    const victim = reviewIds[4]!;
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: { PK: `ORDER#${victim}`, SK: 'ORDER' },
        UpdateExpression: 'SET GSI1PK = :old',
        ExpressionAttributeValues: { ':old': `TENANT#${tenant}#ORDERS` },
      }),
    );
    expect((await pageAll('NEEDS_REVIEW', 50)).seen).not.toContain(victim);
    await backfillIndexes(table.doc, table.tableName);
    expect((await pageAll('NEEDS_REVIEW', 50)).seen).toEqual([...reviewIds].sort());
  });
});
