import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { orderTimeline } from '../../../functions/ops-api/orders.ts';
import { getOrder } from '../../../functions/order-intake/read-orders.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { orderEventDetailSchema } from '../../../shared/events/catalog/orders.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { orderEvent } from '../../../shared/orders/lifecycle.ts';
import { channelEvent } from '../../../shared/orders/public-reason.ts';
import { type SubmitOrderDeps, submitOrder } from '../../../shared/orders/submit-order.ts';
import { isSensitiveKey, REDACTED, redact, redactText } from '../../../shared/redact.ts';
import { billingRunView } from '../../../shared/usage/billing-runs.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from '../orders/fixtures.ts';

/**
 * Channels see outcomes, operators see evidence (#13 item 9): the distributor's order view and the
 * `order.*` events carry no screening list, entry or score and no partner text; the operators' view
 * keeps them.
 */
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
  screening = new FakeScreening('review');
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

const EVIDENCE = ['demo-1', 'Demo List', '0.97', 'Bad Co'];
const noDeliveries = { listForOrder: async () => [] };

describe('screening evidence is for operators only', () => {
  for (const outcome of ['review', 'blocked'] as const) {
    it(`${outcome}: the event and the channel's order view carry the outcome, the ops view the evidence`, async () => {
      screening.outcome = outcome;
      const answer = await submitOrder(
        { tenant: 'arrow', order: validOrder(), idempotencyKey: undefined },
        deps,
      );
      const { orderId } = answer.body as { orderId: string };
      const event = publisher.events.at(-1)!;
      expect(event.type).toBe(outcome === 'review' ? 'order.needs-review' : 'order.rejected');
      expect(orderEventDetailSchema.safeParse(event.detail).success).toBe(true);
      expect(String(event.detail.reason)).toMatch(
        outcome === 'review' ? /^POSSIBLE_RESTRICTED_PARTY/ : /^RESTRICTED_PARTY/,
      );
      const channel = JSON.stringify(await getOrder({ tenant: 'arrow', orderId }, { orders }));
      for (const text of EVIDENCE) {
        expect(JSON.stringify(event)).not.toContain(text);
        expect(channel).not.toContain(text);
      }
      expect(channel).toContain(outcome);
      const ops = JSON.stringify(await orderTimeline(orderId, { orders, deliveries: noDeliveries as never }));
      expect(ops).toContain('demo-1');
      expect(ops).toContain('Demo List');
    });
  }
});

describe('partner error text never reaches a channel', () => {
  it('an order failed before codes existed shows a generic code and sentence to its channel', async () => {
    screening.outcome = 'clear';
    const answer = await submitOrder(
      { tenant: 'arrow', order: validOrder(), idempotencyKey: undefined },
      deps,
    );
    const { orderId } = answer.body as { orderId: string };
    const legacy = "Zuora refused the order: 53100320: Invalid WorkEmail 'jane.doe@example.com'";
    const order = (await orders.get(orderId))!;
    await orders.transition(orderId, {
      from: ['ACCEPTED'],
      to: 'ERROR',
      reason: legacy,
      set: { error: { stage: 'billing', reason: legacy } },
      event: orderEvent('order.failed', order, 'ERROR', legacy),
      now: new Date(),
    });
    const view = await getOrder({ tenant: 'arrow', orderId }, { orders });
    expect(view.error).toMatchObject({ stage: 'billing', code: 'BILLING_FAILED' });
    const text = JSON.stringify(view);
    expect(text).not.toContain('jane.doe');
    expect(text).not.toContain('WorkEmail');
    const ops = await orderTimeline(orderId, { orders, deliveries: noDeliveries as never });
    expect(JSON.stringify(ops)).toContain('WorkEmail');
  });

  it('an event stored before the rule is rewritten before the reconciler re-publishes it', () => {
    const ids = { tenant: 'arrow', orderId: 'ord_1', channelOrderId: 'PO-1', channel: 'api' as const };
    const review = channelEvent(
      orderEvent(
        'order.needs-review',
        ids,
        'NEEDS_REVIEW',
        'possible restricted-party match: Demo List entry demo-1 (score 0.97)',
      ),
      {},
    );
    expect(JSON.stringify(review)).not.toMatch(/demo-1|0\.97|Demo List/);
    const failed = channelEvent(
      orderEvent('order.failed', ids, 'ERROR', "Salesforce refused the upsert: FIELD_INVALID: 'Jane Doe'"),
      { error: { stage: 'crm', reason: "Salesforce refused the upsert: FIELD_INVALID: 'Jane Doe'" } },
    );
    expect(failed.detail).toMatchObject({ code: 'CRM_FAILED', status: 'ERROR' });
    expect(JSON.stringify(failed)).not.toContain('Jane');
    const fresh = orderEvent('order.accepted', ids, 'ACCEPTED');
    expect(channelEvent(fresh, {})).toEqual(fresh);
  });

  it('partner text kept for operators is reduced: e-mails, quoted values and phone numbers go', () => {
    const out = redactText(
      `INVALID_FIELD: value "Jane Doe" for Name; jane.doe@example.com; call +44 20 7946 0958; 'Flat 2, 1 High St'`,
    );
    expect(out).toContain('INVALID_FIELD');
    for (const text of ['Jane Doe', 'jane.doe', '7946', 'High St']) expect(out).not.toContain(text);
  });
});

describe('redaction knows usernames and address lines', () => {
  it.each([
    'username',
    'userName',
    'user_name',
    'login',
    'line1',
    'line2',
    'addressLine1',
    'address_line_2',
    'addr1',
  ])('%s is redacted', (key) => {
    expect(isSensitiveKey(key)).toBe(true);
    expect(redact({ [key]: 'Jane' })).toEqual({ [key]: REDACTED });
  });
  it.each(['lineCount', 'orderLines', 'status', 'lastLoginAt'])('%s is not', (key) => {
    expect(isSensitiveKey(key)).toBe(false);
  });
});

describe('billing-run answers', () => {
  it('do not expose the internal expiry (TTL) of the stored run', () => {
    const run = {
      id: 'urun_01J00000000000000000000000',
      trigger: 'api' as const,
      status: 'queued' as const,
      requestedBy: 'arrow',
      createdAt: new Date().toISOString(),
      failures: [],
      expiresAt: 1_900_000_000,
    };
    const view = billingRunView(run as never);
    expect(view).not.toHaveProperty('expiresAt');
    expect(view).toMatchObject({ id: run.id, status: 'queued', requestedBy: 'arrow' });
  });
});
