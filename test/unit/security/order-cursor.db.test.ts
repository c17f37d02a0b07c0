import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listOrders } from '../../../functions/order-intake/read-orders.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { type SubmitOrderDeps, submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from '../orders/fixtures.ts';

/**
 * `GET /v1/orders` pages with an opaque cursor (the LastEvaluatedKey). The cursor is the caller's
 * input: a forged one naming another tenant's partition must be a 400, never another tenant's orders
 * and never a 500 from DynamoDB.
 */
let table: TestTable;
let orders: OrderRepository;
let deps: SubmitOrderDeps;
const cursorOf = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString('base64url');

beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
  deps = {
    orders,
    publisher: new FakePublisher(),
    screening: new FakeScreening('clear'),
    clock: new ManualClock(),
    ids: ulidGenerator,
    budgetMs: 200,
    duplicateWait: { totalMs: 2000, intervalMs: 10 },
  };
  for (const tenant of ['victim', 'victim', 'attacker']) {
    await submitOrder({ tenant, order: validOrder(), idempotencyKey: undefined }, deps);
  }
});
afterAll(async () => table.stop());

describe('order list cursor', () => {
  it('refuses a cursor forged for another tenant’s partition (400, no foreign order)', async () => {
    const victim = await listOrders({ tenant: 'victim', limit: 1 }, { orders });
    const real = JSON.parse(Buffer.from(victim.cursor!, 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    // The victim's own cursor, replayed by the attacker, and a hand-made one for the victim's partition.
    for (const cursor of [
      victim.cursor!,
      cursorOf({ ...real, GSI1SK: '' }),
      cursorOf({ GSI1PK: 'TENANT#victim#ORDERS', GSI1SK: '0', PK: 'ORDER#0', SK: 'ORDER' }),
    ]) {
      const attempt = listOrders({ tenant: 'attacker', limit: 10, cursor }, { orders });
      await expect(attempt).rejects.toMatchObject({ status: 400 });
    }
  });

  it('refuses a cursor that is JSON but not a key of this index with a 400, not a 500', async () => {
    for (const key of [{ foo: 'bar' }, { GSI1PK: 'TENANT#attacker#ORDERS' }, { GSI1PK: 1, GSI1SK: 2 }]) {
      await expect(
        listOrders({ tenant: 'attacker', limit: 10, cursor: cursorOf(key) }, { orders }),
      ).rejects.toMatchObject({ status: 400 });
    }
  });

  it('still pages with the cursors it issues', async () => {
    const first = await listOrders({ tenant: 'victim', limit: 1 }, { orders });
    const second = await listOrders({ tenant: 'victim', limit: 1, cursor: first.cursor! }, { orders });
    expect(second.orders).toHaveLength(1);
    expect(second.orders[0]!.orderId).not.toBe(first.orders[0]!.orderId);
  });
});
