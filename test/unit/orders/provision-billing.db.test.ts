import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  MAX_ZUORA_KEYS,
  type ProvisionBillingDeps,
  provisionBilling,
} from '../../../functions/billing-provisioner/provision-billing.ts';
import {
  classifyReasons,
  createZuoraOrders,
  type ZuoraOrdersPort,
} from '../../../functions/billing-provisioner/zuora-orders.ts';
import {
  createZuoraSandbox,
  LOCAL_ZUORA_CREDENTIALS,
  type ZuoraSandbox,
} from '../../../local/sandboxes/zuora/index.ts';
import { HttpClient } from '../../../shared/clients/http.ts';
import { ZuoraClient } from '../../../shared/clients/zuora.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { PermanentError, TransientError } from '../../../shared/errors.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { catalogue } from '../../../shared/orders/catalogue.ts';
import { submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { sandboxContext, sandboxFetch } from '../../helpers/sandbox-fetch.ts';
import { FakePublisher, FakeScreening, ManualClock, validOrder } from './fixtures.ts';

let table: TestTable;
let orders: OrderRepository;
let registry: SubscriptionRegistry;
let sandbox: ZuoraSandbox;
let publisher: FakePublisher;
let deps: ProvisionBillingDeps;
const clock = new ManualClock();

function zuoraPort(): ZuoraOrdersPort {
  const http = new HttpClient({
    baseUrl: sandbox.ctx.baseUrl,
    fetchImpl: sandboxFetch(sandbox),
    sleep: async () => {},
  });
  return createZuoraOrders(
    new ZuoraClient({
      baseUrl: sandbox.ctx.baseUrl,
      credentials: async () => LOCAL_ZUORA_CREDENTIALS,
      clock,
      http,
    }),
  );
}

async function acceptedOrder(company?: string) {
  const body = validOrder();
  if (company) body.sellTo.company = company;
  body.lines = [
    { productCode: 'SB-PRO', quantity: 10, unit: 'seat', termMonths: 24, unitPrice: 12 },
    { productCode: 'SB-API', quantity: 1000, unit: 'api-call' },
  ];
  const answer = await submitOrder(
    { tenant: 'arrow', order: body, idempotencyKey: undefined },
    {
      orders,
      publisher: new FakePublisher(),
      screening: new FakeScreening('clear'),
      clock,
      ids: ulidGenerator,
      budgetMs: 500,
    },
  );
  return (answer.body as { orderId: string }).orderId;
}

const created = () => sandbox.records.filter((r) => r.kind === 'order.created');

beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
  registry = new SubscriptionRegistry(table.doc, table.tableName);
});
afterAll(async () => table.stop());
beforeEach(() => {
  sandbox = createZuoraSandbox(sandboxContext('zuora', { clock }));
  publisher = new FakePublisher();
  deps = { orders, registry, zuora: zuoraPort(), publisher, clock, platformTenant: 'platform' };
});

describe('provisionBilling', () => {
  it('creates one account + subscription, registers it for the channel and the platform, publishes', async () => {
    const orderId = await acceptedOrder();
    expect(await provisionBilling({ orderId }, deps)).toBe('provisioned');
    expect(created()).toHaveLength(1);
    expect(created()[0]?.idempotencyKey).toBe(orderId);
    const order = await orders.get(orderId);
    expect(order?.status).toBe('BILLING_PROVISIONED');
    const { subscriptionNumber, accountNumber, chargeNumbers } = order!.billing!;
    expect(chargeNumbers).toHaveLength(2);
    const registered = await registry.get(subscriptionNumber);
    expect(registered).toMatchObject({
      accountNumber,
      tenants: ['arrow', 'platform'],
      source: 'order',
      biller: 'zuora',
    });
    expect(registered?.charges.map((c) => [c.productCode, c.unit]).sort()).toEqual([
      ['SB-API', 'api-call'],
      ['SB-PRO', 'seat'],
    ]);
    expect(publisher.types()).toEqual(['order.billing.provisioned']);
    // The account is readable in Zuora's shape, bill-to from the Sell To contact.
    const token = await new ZuoraClient({
      baseUrl: sandbox.ctx.baseUrl,
      credentials: async () => LOCAL_ZUORA_CREDENTIALS,
      clock,
      http: new HttpClient({ baseUrl: sandbox.ctx.baseUrl, fetchImpl: sandboxFetch(sandbox) }),
    }).accessToken();
    const account = await sandboxFetch(sandbox)(`${sandbox.ctx.baseUrl}/v1/accounts/${accountNumber}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await account.json()).toMatchObject({
      success: true,
      basicInfo: { accountNumber, name: order!.sellTo.company, currency: 'EUR' },
      billToContact: { lastName: order!.sellTo.contact.lastName, country: 'DE' },
    });
    // The Zuora subscription carries the quantities and the term the order asked for.
    const sub = (
      sandbox.state.orders as {
        subscriptions: Record<string, { ratePlans: Array<{ ratePlanCharges: Array<{ quantity: number }> }> }>;
      }
    ).subscriptions[subscriptionNumber];
    expect(sub?.ratePlans.map((rp) => rp.ratePlanCharges[0]?.quantity).sort()).toEqual([10, 1000]);
  });

  it('is exactly-once under redelivery and a crash after Zuora answered', async () => {
    const orderId = await acceptedOrder();
    const order = (await orders.get(orderId))!;
    // Crash simulation: Zuora created the order but we never recorded it.
    const first = await deps.zuora.createOrder(order, '2026-01-05');
    expect(await provisionBilling({ orderId }, deps)).toBe('provisioned');
    expect(await provisionBilling({ orderId }, deps)).toBe('skipped');
    expect(created()).toHaveLength(1);
    expect(sandbox.records.filter((r) => r.kind === 'order.replayed')).toHaveLength(1);
    expect((await orders.get(orderId))?.billing?.subscriptionNumber).toBe(first.subscriptionNumber);
    expect(publisher.types()).toEqual(['order.billing.provisioned']);
  });

  it('lets transient failures escape for SQS to retry, leaving the order ACCEPTED', async () => {
    const orderId = await acceptedOrder();
    sandbox.faults = { ...sandbox.faults, errorRate: 1, status: 503 };
    await expect(provisionBilling({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    expect((await orders.get(orderId))?.status).toBe('ACCEPTED');
    sandbox.faults = { ...sandbox.faults, errorRate: 0 };
    expect(await provisionBilling({ orderId }, deps)).toBe('provisioned');
    expect(created()).toHaveLength(1);
  });

  it('retries Zuora lock contention (HTTP 200, success:false, code …50) with the next Idempotency-Key', async () => {
    const orderId = await acceptedOrder('Locked Corp [zuora-lock]');
    await expect(provisionBilling({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    // Zuora keeps the refusal for that key: the retry replays it, then uses `<orderId>.1`.
    expect(await provisionBilling({ orderId }, deps)).toBe('provisioned');
    expect(created()).toHaveLength(1);
    expect(created()[0]?.idempotencyKey).toBe(`${orderId}.1`);
    expect(
      sandbox.records.filter((r) => r.kind === 'order.replayed' && r.idempotencyKey === orderId),
    ).toHaveLength(1);
    expect((await orders.get(orderId))?.zuoraKeys).toBe(2);
  });

  it('finds a success that a crash left unrecorded further down the key chain', async () => {
    const orderId = await acceptedOrder('Locked Again [zuora-lock]');
    await expect(provisionBilling({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    // Crash simulation: the second key was claimed and Zuora created the order, nothing recorded.
    expect(await orders.claimZuoraKey(orderId, 1, clock.now())).toBe(true);
    const first = await deps.zuora.createOrder((await orders.get(orderId))!, '2026-01-05', `${orderId}.1`);
    expect(await provisionBilling({ orderId }, deps)).toBe('provisioned');
    expect(created()).toHaveLength(1);
    expect((await orders.get(orderId))?.billing?.subscriptionNumber).toBe(first.subscriptionNumber);
    expect((await orders.get(orderId))?.zuoraKeys).toBe(2);
  });

  it('never lets two concurrent deliveries both create the order', async () => {
    const orderId = await acceptedOrder();
    const outcomes = await Promise.allSettled([
      provisionBilling({ orderId }, deps),
      provisionBilling({ orderId }, deps),
      provisionBilling({ orderId }, deps),
    ]);
    for (let i = 0; i < 3 && (await orders.get(orderId))?.status === 'ACCEPTED'; i++)
      await provisionBilling({ orderId }, deps);
    expect(outcomes.some((o) => o.status === 'fulfilled' && o.value === 'provisioned')).toBe(true);
    expect(created()).toHaveLength(1);
    expect((await orders.get(orderId))?.status).toBe('BILLING_PROVISIONED');
  });

  it('fails the order after MAX_ZUORA_KEYS retryable refusals', async () => {
    const orderId = await acceptedOrder();
    const keys: string[] = [];
    const locked: ZuoraOrdersPort = {
      createOrder: async (_o, _d, key) => {
        keys.push(key!);
        return classifyReasons('order', [{ code: 50000050, message: 'lock competition' }]);
      },
      subscriptionCharges: async () => [],
    };
    for (let i = 0; i < MAX_ZUORA_KEYS; i++) {
      await expect(provisionBilling({ orderId }, { ...deps, zuora: locked })).rejects.toBeInstanceOf(
        TransientError,
      );
    }
    expect(await provisionBilling({ orderId }, { ...deps, zuora: locked })).toBe('failed');
    expect(new Set(keys).size).toBe(MAX_ZUORA_KEYS);
    expect((await orders.get(orderId))?.error).toMatchObject({ code: 'ZUORA_REJECTED' });
    expect((await orders.get(orderId))?.error?.detail).toContain(`${MAX_ZUORA_KEYS} times`);
  });

  it('fails the order on a permanent refusal: channels get a code and a fixed sentence, operators the (redacted) text', async () => {
    const orderId = await acceptedOrder();
    const refusing: ZuoraOrdersPort = {
      createOrder: async () =>
        classifyReasons('order', [
          {
            code: 53100320,
            message: "Invalid value for billCycleDay; WorkEmail 'jane.doe@example.com' rejected",
          },
        ]),
      subscriptionCharges: async () => [],
    };
    expect(await provisionBilling({ orderId }, { ...deps, zuora: refusing })).toBe('failed');
    const order = await orders.get(orderId);
    expect(order?.status).toBe('ERROR');
    expect(order?.error).toMatchObject({ stage: 'billing', code: 'ZUORA_REJECTED', partnerCode: '53100320' });
    expect(order?.error?.reason).not.toContain('billCycleDay');
    expect(order?.error?.detail).toContain('Invalid value for billCycleDay');
    expect(order?.error?.detail).not.toContain('jane.doe');
    expect(publisher.events[0]).toMatchObject({
      type: 'order.failed',
      detail: { orderId, status: 'ERROR', code: 'ZUORA_REJECTED' },
    });
    const reason = String(publisher.events[0]?.detail.reason);
    expect(reason).toContain('ZUORA_REJECTED (53100320)');
    expect(reason).not.toContain('billCycleDay');
    expect(reason).not.toContain('jane.doe');
    expect(JSON.stringify(order?.history)).not.toContain('billCycleDay');
  });

  it('treats refused Zuora credentials as transient (configuration), never failing the order', async () => {
    const orderId = await acceptedOrder();
    const http = new HttpClient({
      baseUrl: sandbox.ctx.baseUrl,
      fetchImpl: sandboxFetch(sandbox),
      sleep: async () => {},
    });
    const wrong = createZuoraOrders(
      new ZuoraClient({
        baseUrl: sandbox.ctx.baseUrl,
        credentials: async () => ({ clientId: 'x', clientSecret: 'y' }),
        clock,
        http,
      }),
    );
    await expect(provisionBilling({ orderId }, { ...deps, zuora: wrong })).rejects.toBeInstanceOf(
      TransientError,
    );
    expect((await orders.get(orderId))?.status).toBe('ACCEPTED');
  });

  it('classifies Zuora reason codes by their last two digits', () => {
    for (const code of [50000050, 50000061, 50000070, 50000099, 50000060]) {
      expect(() => classifyReasons('x', [{ code, message: 'm' }])).toThrow(TransientError);
    }
    for (const code of [53100320, 50000040, 50000011, 58730030]) {
      expect(() => classifyReasons('x', [{ code, message: 'm' }])).toThrow(PermanentError);
    }
  });

  it('the sandbox refuses unknown rate plans and unauthenticated calls in Zuora’s shapes', async () => {
    const res = await sandboxFetch(sandbox)(`${sandbox.ctx.baseUrl}/v1/orders`, {
      method: 'POST',
      body: '{}',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ success: false, reasons: [{ code: 90000011 }] });
    expect(Object.keys(catalogue).length).toBeGreaterThan(0);
  });
});
