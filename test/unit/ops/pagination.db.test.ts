import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Order, OrderRepository } from '../../../shared/db/entities/orders.ts';
import {
  type WebhookDelivery,
  WebhookDeliveryRepository,
} from '../../../shared/db/entities/webhook-deliveries.ts';
import { newId } from '../../../shared/ids.ts';
import type { OrderStatus } from '../../../shared/orders/contract.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

/**
 * Filtered lists are served from index keys: a page is never empty while matches remain, pages
 * come in order and complete, for the distributor's status filter, the operations filters and the
 * deliveries' type and status filters.
 */
let table: TestTable;
let orders: OrderRepository;
let deliveries: WebhookDeliveryRepository;
const statuses: OrderStatus[] = ['FULFILLED', 'ERROR', 'NEEDS_REVIEW', 'ACCEPTED'];

function order(i: number, tenant: string, status: OrderStatus, channel: Order['channel']): Order {
  const at = new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString();
  return {
    orderId: newId('ord'),
    tenant,
    channel,
    channelOrderId: `PO-${String(i).padStart(4, '0')}`,
    orderType: 'Purchase',
    currency: 'EUR',
    sellTo: {
      company: i % 10 === 0 ? `Zenith Ältere ${i}` : `Company ${i}`,
      contact: { firstName: 'A', lastName: 'B', email: 'a@b.example' },
      address: { line1: 'x', city: 'y', country: 'DE' },
    },
    partner: { name: 'P', contact: { firstName: 'A', lastName: 'B', email: 'a@b.example' } },
    lines: [{ productCode: 'SB-ENT', quantity: 1, unit: 'seat' }],
    requestHash: 'h',
    status,
    history: [{ at, status }],
    redrives: 0,
    zuoraKeys: 0,
    createdAt: at,
    updatedAt: at,
  };
}

async function all<T>(page: (cursor?: string) => Promise<{ items: T[]; cursor?: string }>) {
  const out: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const p = await page(cursor);
    pages++;
    if (p.cursor) expect(p.items.length).toBeGreaterThan(0); // never an empty page with more to come
    out.push(...p.items);
    cursor = p.cursor;
  } while (cursor && pages < 500);
  return out;
}

const made: Order[] = [];
beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
  deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
  // 160 orders; only every 40th is FULFILLED, so a status filter over a scan would return empty pages.
  for (let i = 0; i < 160; i++) {
    const status = i % 40 === 0 ? 'FULFILLED' : statuses[1 + (i % 3)]!;
    const o = order(i, i % 2 ? 'arrow' : 'saashop', status, i % 2 ? 'api' : 'saashop');
    await orders.create(o);
    made.push(o);
  }
  for (let i = 0; i < 60; i++) {
    const id = `msg_${newId().slice(0, 10)}${String(i).padStart(16, '0')}`;
    const d: WebhookDelivery = {
      id,
      tenant: 'arrow',
      endpointId: 'ep_01M90000000000000000000000',
      endpointTenant: 'arrow',
      eventId: `ev-${i}`,
      eventType: i % 15 === 0 ? 'order.fulfilled' : 'order.accepted',
      payload: JSON.stringify({ type: 'x', data: { orderId: made[i]!.orderId } }),
      status: i % 20 === 0 ? 'failed' : 'succeeded',
      attemptCount: 1,
      retryIndex: 0,
      attempts: [],
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    await deliveries.createIfAbsent(d);
  }
}, 120_000);
afterAll(async () => table.stop());

describe('filtered pages', () => {
  it('GET /v1/orders?status=FULFILLED&limit=1 gives full pages, oldest first, every match once', async () => {
    const got = await all(async (cursor) => {
      const p = await orders.listByTenant('saashop', {
        status: 'FULFILLED',
        limit: 1,
        ...(cursor ? { cursor } : {}),
      });
      return { items: p.orders, ...(p.cursor ? { cursor: p.cursor } : {}) };
    });
    const expected = made
      .filter((o) => o.tenant === 'saashop' && o.status === 'FULFILLED')
      .map((o) => o.orderId);
    expect(expected.length).toBe(4);
    expect(got.map((o) => o.orderId)).toEqual(expected);
  });

  it('a status transition moves the order between filtered lists', async () => {
    const target = made.find((o) => o.tenant === 'arrow' && o.status === 'ACCEPTED')!;
    await orders.transition(target.orderId, {
      from: ['ACCEPTED'],
      to: 'FULFILLED',
      event: { type: 'order.fulfilled', detail: { tenant: 'arrow' } },
      now: new Date(),
    });
    const fulfilled = await orders.listAll({ status: 'FULFILLED', tenant: 'arrow', limit: 100 });
    expect(fulfilled.orders.map((o) => o.orderId)).toContain(target.orderId);
    const accepted = await orders.listAll({ status: 'ACCEPTED', limit: 100 });
    expect(accepted.orders.map((o) => o.orderId)).not.toContain(target.orderId);
  });

  it.each([
    [{ status: 'ERROR' as const }, (o: Order) => o.status === 'ERROR'],
    [{ channel: 'saashop' as const }, (o: Order) => o.channel === 'saashop'],
    [
      { status: 'NEEDS_REVIEW' as const, channel: 'api' as const },
      (o: Order) => o.status === 'NEEDS_REVIEW' && o.channel === 'api',
    ],
    [{ tenant: 'arrow', channel: 'saashop' as const }, () => false],
    [{ q: 'zenith alt' }, (o: Order) => o.sellTo.company.startsWith('Zenith')],
    [{ q: 'po-001' }, (o: Order) => o.channelOrderId.startsWith('PO-001')],
  ])('operations list %j: pages never empty, newest first, complete', async (filter, match) => {
    const current = new Map((await orders.listAll({ limit: 100 })).orders.map((o) => [o.orderId, o]));
    for (const o of (await orders.listAll({ limit: 100, cursor: undefined })).orders)
      current.set(o.orderId, o);
    const got = await all(async (cursor) => {
      const p = await orders.listAll({ ...filter, limit: 3, ...(cursor ? { cursor } : {}) });
      return { items: p.orders, ...(p.cursor ? { cursor: p.cursor } : {}) };
    });
    const fresh = await Promise.all(made.map((o) => orders.get(o.orderId)));
    const expected = fresh.filter((o): o is Order => !!o && match(o)).map((o) => o.orderId);
    expect(new Set(got.map((o) => o.orderId))).toEqual(new Set(expected));
    expect(got.length).toBe(expected.length);
    if (!('q' in filter)) {
      const ids = got.map((o) => o.orderId);
      expect(ids).toEqual([...ids].sort().reverse());
    }
  });

  it('a cursor from another filter or tenant is a 400', async () => {
    const p = await orders.listAll({ status: 'ERROR', limit: 1 });
    await expect(orders.listAll({ status: 'FULFILLED', limit: 1, cursor: p.cursor! })).rejects.toMatchObject({
      status: 400,
    });
  });

  it('deliveries: the type and status filters page from index keys', async () => {
    const byType = await all((cursor) =>
      deliveries.list({ tenant: 'arrow', type: 'order.fulfilled', limit: 1, ...(cursor ? { cursor } : {}) }),
    );
    expect(byType.map((d) => d.eventType)).toEqual([
      'order.fulfilled',
      'order.fulfilled',
      'order.fulfilled',
      'order.fulfilled',
    ]);
    const failed = await all((cursor) =>
      deliveries.listAll({ status: 'failed', limit: 1, ...(cursor ? { cursor } : {}) }),
    );
    expect(failed).toHaveLength(3);
    const forOrder = await deliveries.listForOrder(made[0]!.orderId, 10);
    expect(forOrder.map((d) => d.eventType)).toEqual(['order.fulfilled']);
  });
});
