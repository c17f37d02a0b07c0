import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getOrder, listOrders } from '../../../functions/order-intake/read-orders.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { ConflictError, NotFoundError } from '../../../shared/errors.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { orderRequestSchema } from '../../../shared/orders/contract.ts';
import { reviewOrder } from '../../../shared/orders/review-order.ts';
import { type SubmitOrderDeps, submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from './fixtures.ts';

let table: TestTable;
let orders: OrderRepository;
let publisher: FakePublisher;
let screening: FakeScreening;
let deps: SubmitOrderDeps;

beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
});
afterAll(async () => table.stop());
beforeEach(() => {
  publisher = new FakePublisher();
  screening = new FakeScreening('clear');
  deps = {
    orders,
    publisher,
    screening,
    clock: new ManualClock(),
    ids: ulidGenerator,
    budgetMs: 200,
    duplicateWait: { totalMs: 2000, intervalMs: 10 },
  };
});

describe('submitOrder', () => {
  it('accepts a clear order: 201, ACCEPTED with history, order.accepted published once', async () => {
    const body = validOrder();
    const answer = await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: undefined }, deps);
    expect(answer.statusCode).toBe(201);
    const { orderId, status } = answer.body as { orderId: string; status: string };
    expect(status).toBe('ACCEPTED');
    const order = await orders.get(orderId);
    expect(order?.status).toBe('ACCEPTED');
    expect(order?.history.map((h) => h.status)).toEqual(['RECEIVED', 'SCREENING', 'ACCEPTED']);
    expect(order?.screening?.outcome).toBe('clear');
    expect(publisher.events).toEqual([
      {
        type: 'order.accepted',
        detail: {
          tenant: 'arrow',
          orderId,
          channelOrderId: body.channelOrderId,
          channel: 'api',
          status: 'ACCEPTED',
          // The transition's identity: the same on any re-publication of this event.
          eventId: expect.stringMatching(/^evt_[0-9a-f]{26}$/),
          occurredAt: order!.updatedAt,
        },
      },
    ]);
  });

  it('keeps the channel and references a marketplace connector submits, and names the channel in events', async () => {
    const body = validOrder();
    const answer = await submitOrder(
      {
        tenant: 'saashop',
        order: body,
        idempotencyKey: undefined,
        channel: 'saashop',
        channelRef: { marketplaceOrderId: 'SO-1' },
      },
      deps,
    );
    const orderId = (answer.body as { orderId: string }).orderId;
    const order = await orders.get(orderId);
    expect(order?.channel).toBe('saashop');
    expect(order?.channelRef).toEqual({ marketplaceOrderId: 'SO-1' });
    expect(publisher.events.at(-1)?.detail).toMatchObject({ tenant: 'saashop', channel: 'saashop' });
  });

  it('refuses a blocked buyer with 422 RESTRICTED_PARTY and stores it REJECTED with evidence', async () => {
    screening.outcome = 'blocked';
    const answer = await submitOrder(
      { tenant: 'arrow', order: validOrder(), idempotencyKey: undefined },
      deps,
    );
    expect(answer.statusCode).toBe(422);
    const body = answer.body as { error: string; orderId: string };
    expect(body.error).toBe('RESTRICTED_PARTY');
    const order = await orders.get(body.orderId);
    expect(order?.status).toBe('REJECTED');
    expect(order?.screening?.evidence[0]?.entryId).toBe('demo-1');
    expect(publisher.types()).toEqual(['order.rejected']);
  });

  it('parks a possible match as 202 NEEDS_REVIEW; an operator clears it and provisioning starts', async () => {
    screening.outcome = 'review';
    const answer = await submitOrder(
      { tenant: 'arrow', order: validOrder(), idempotencyKey: undefined },
      deps,
    );
    expect(answer.statusCode).toBe(202);
    const { orderId } = answer.body as { orderId: string };
    expect((await orders.get(orderId))?.status).toBe('NEEDS_REVIEW');
    const view = await reviewOrder(
      { orderId, decision: 'clear', reason: 'false positive', operator: 'ops' },
      deps,
    );
    expect(view.status).toBe('ACCEPTED');
    expect(publisher.types()).toEqual(['order.needs-review', 'order.accepted']);
    await expect(
      reviewOrder({ orderId, decision: 'reject', reason: 'again', operator: 'ops' }, deps),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      reviewOrder({ orderId: 'ord_missing', decision: 'reject', reason: 'x', operator: 'ops' }, deps),
    ).rejects.toBeInstanceOf(NotFoundError);
  });

  it('stores RECEIVED (202) when screening is down or over budget, and never accepts unscreened', async () => {
    for (const mode of ['down', 'slow'] as const) {
      publisher.events = [];
      screening.outcome = mode;
      const answer = await submitOrder(
        { tenant: 'arrow', order: validOrder(), idempotencyKey: undefined },
        deps,
      );
      expect(answer.statusCode).toBe(202);
      const { orderId } = answer.body as { orderId: string };
      const order = await orders.get(orderId);
      expect(order?.status).toBe('RECEIVED');
      expect(order?.screening).toBeUndefined();
      expect(publisher.types()).toEqual(['order.received']);
    }
  });

  it('answers a sequential retry with the first answer, whatever happened since', async () => {
    const body = validOrder();
    const first = await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: 'key-1' }, deps);
    screening.outcome = 'blocked';
    const again = await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: 'key-1' }, deps);
    const byChannelId = await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: undefined }, deps);
    const newKey = await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: 'key-2' }, deps);
    expect(again).toEqual(first);
    expect(byChannelId).toEqual(first);
    expect(newKey).toEqual(first);
    expect(screening.calls).toBe(1);
    expect(publisher.types()).toEqual(['order.accepted']);
  });

  it('409s the same key or channel order id with a different body, changing nothing', async () => {
    const body = validOrder();
    await submitOrder({ tenant: 'arrow', order: body, idempotencyKey: 'key-x' }, deps);
    const changed = { ...body, currency: 'USD' };
    await expect(
      submitOrder({ tenant: 'arrow', order: changed, idempotencyKey: 'key-x' }, deps),
    ).rejects.toMatchObject({
      status: 409,
      code: 'IDEMPOTENCY_KEY_REUSED',
    });
    await expect(
      submitOrder({ tenant: 'arrow', order: changed, idempotencyKey: 'key-y' }, deps),
    ).rejects.toMatchObject({
      status: 409,
      code: 'DUPLICATE_CHANNEL_ORDER_ID',
    });
    // key-y was released: it can be used for a genuinely new order.
    const fresh = await submitOrder({ tenant: 'arrow', order: validOrder(), idempotencyKey: 'key-y' }, deps);
    expect(fresh.statusCode).toBe(201);
    // Another tenant may reuse the channel order id.
    const other = await submitOrder({ tenant: 'other', order: changed, idempotencyKey: 'key-x' }, deps);
    expect(other.statusCode).toBe(201);
  });

  it('turns concurrent duplicates into one order with one answer', async () => {
    const body = validOrder();
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        submitOrder({ tenant: 'arrow', order: body, idempotencyKey: i % 2 ? 'same-key' : undefined }, deps),
      ),
    );
    const ids = new Set(answers.map((a) => (a.body as { orderId: string }).orderId));
    expect(ids.size).toBe(1);
    expect(answers.every((a) => a.statusCode === 201)).toBe(true);
    expect(publisher.types()).toEqual(['order.accepted']);
    const page = await listOrders({ tenant: 'arrow', limit: 100 }, { orders });
    expect(page.orders.filter((o) => o.channelOrderId === body.channelOrderId)).toHaveLength(1);
  });

  it('serves GET to the owning tenant only, and lists by status with a cursor', async () => {
    const tenant = `t-${Date.now()}`;
    screening.outcome = 'clear';
    const a = await submitOrder({ tenant, order: validOrder(), idempotencyKey: undefined }, deps);
    screening.outcome = 'review';
    await submitOrder({ tenant, order: validOrder(), idempotencyKey: undefined }, deps);
    await submitOrder({ tenant, order: validOrder(), idempotencyKey: undefined }, deps);
    const orderId = (a.body as { orderId: string }).orderId;
    expect((await getOrder({ tenant, orderId }, deps)).status).toBe('ACCEPTED');
    await expect(getOrder({ tenant: 'someone-else', orderId }, deps)).rejects.toBeInstanceOf(NotFoundError);
    const review = await listOrders({ tenant, status: 'NEEDS_REVIEW', limit: 100 }, { orders });
    expect(review.orders).toHaveLength(2);
    const first = await listOrders({ tenant, limit: 2 }, { orders });
    expect(first.orders).toHaveLength(2);
    const second = await listOrders({ tenant, limit: 2, cursor: first.cursor! }, { orders });
    expect(second.orders).toHaveLength(1);
    await expect(listOrders({ tenant, limit: 2, cursor: 'garbage' }, { orders })).rejects.toMatchObject({
      status: 400,
    });
  });
});

describe('order validation', () => {
  it('names each bad field', () => {
    const bad = {
      ...validOrder(),
      currency: 'EURO',
      sellTo: { ...validOrder().sellTo, address: { ...validOrder().sellTo.address, country: 'XX' } },
      lines: [
        { productCode: 'NOPE', quantity: 0, unit: 'seat' },
        { productCode: 'SB-PRO', quantity: 1, unit: 'GB' },
      ],
      extra: true,
    };
    const result = orderRequestSchema.safeParse(bad);
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => i.path.join('.'));
    expect(paths).toEqual(
      expect.arrayContaining([
        'currency',
        'sellTo.address.country',
        'lines.0.productCode',
        'lines.0.quantity',
        'lines.1.unit',
      ]),
    );
    expect(orderRequestSchema.safeParse(validOrder()).success).toBe(true);
  });
});
