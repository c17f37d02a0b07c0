import { afterAll, beforeAll, expect, it } from 'vitest';
import { retryScreening } from '../../../functions/order-screening/retry-screening.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { TransientError } from '../../../shared/errors.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from './fixtures.ts';

let table: TestTable;
let orders: OrderRepository;
beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
});
afterAll(async () => table.stop());

it('retries screening of a RECEIVED order until the service answers, then applies the outcome once', async () => {
  const publisher = new FakePublisher();
  const screening = new FakeScreening('down');
  const deps = { orders, publisher, screening, clock: new ManualClock(), ids: ulidGenerator, budgetMs: 200 };
  const answer = await submitOrder({ tenant: 'arrow', order: validOrder(), idempotencyKey: undefined }, deps);
  const { orderId } = answer.body as { orderId: string };
  expect(publisher.types()).toEqual(['order.received']);

  await expect(retryScreening({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
  expect((await orders.get(orderId))?.status).toBe('RECEIVED');

  screening.outcome = 'clear';
  expect(await retryScreening({ orderId }, deps)).toBe('screened');
  expect(await retryScreening({ orderId }, deps)).toBe('skipped');
  const order = await orders.get(orderId);
  expect(order?.status).toBe('ACCEPTED');
  expect(order?.history.map((h) => h.status)).toEqual(['RECEIVED', 'SCREENING', 'RECEIVED', 'ACCEPTED']);
  expect(publisher.types()).toEqual(['order.received', 'order.accepted']);
  // The first answer stays the one the channel got.
  expect(order?.firstResponse?.statusCode).toBe(202);
});

it('rejects a blocked buyer found on retry, never accepting it', async () => {
  const publisher = new FakePublisher();
  const screening = new FakeScreening('down');
  const deps = { orders, publisher, screening, clock: new ManualClock(), ids: ulidGenerator, budgetMs: 200 };
  const answer = await submitOrder({ tenant: 'arrow', order: validOrder(), idempotencyKey: undefined }, deps);
  const { orderId } = answer.body as { orderId: string };
  screening.outcome = 'blocked';
  await retryScreening({ orderId }, deps);
  expect((await orders.get(orderId))?.status).toBe('REJECTED');
  expect(publisher.types()).toEqual(['order.received', 'order.rejected']);
});
