import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SalesforceSandbox, salesforceObjects } from '../../local/sandboxes/salesforce.ts';
import { verifyLicence } from '../../shared/orders/licence-keys.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/**
 * The order pipeline through the local runtime: POST /v1/orders → screening → Zuora → Salesforce +
 * licence → FULFILLED, with status webhooks to the distributor, the restricted path, a screening
 * outage, duplicates, 30 % partner faults, and bad input on every route.
 */
type Rt = Awaited<ReturnType<typeof startTestRuntime>>;
let rt: Rt;
let seq = 0;

const sample = (name: string) =>
  JSON.parse(readFileSync(new URL(`../../events/api/orders/${name}.json`, import.meta.url), 'utf8'));

/** A fresh valid order (unique channel order id) from the sample. */
function order(overrides: Record<string, unknown> = {}) {
  return { ...sample('valid'), channelOrderId: `E2E-${Date.now()}-${++seq}`, ...overrides };
}

async function post(body: unknown, headers: Record<string, string> = {}, token?: string) {
  return api(rt, 'POST', '/v1/orders', { token: token ?? (await rt.token('distributor')), body, headers });
}
async function getOrder(orderId: string, token?: string) {
  return (await api(rt, 'GET', `/v1/orders/${orderId}`, { token: token ?? (await rt.token('distributor')) }))
    .body;
}

const zuoraCreates = (orderId: string) =>
  rt.sandbox('zuora').records.filter((r) => r.kind === 'order.created' && r.idempotencyKey === orderId);
const opportunities = (orderId: string) =>
  salesforceObjects(rt.sandbox('salesforce') as SalesforceSandbox, 'Opportunity').filter(
    (o) => o.Switchboard_Order_Id__c === orderId,
  );
const licenceMails = (orderId: string) =>
  rt.sandbox('mail').records.filter((r) => JSON.stringify(r).includes(`lic_${orderId.replace(/^ord_/, '')}`));

/** Drains, then moves the clock past the retry backoff until every order is terminal. */
async function settle(orderIds: string[], rounds = 30): Promise<Record<string, string>> {
  let statuses: Record<string, string> = {};
  for (let i = 0; i < rounds; i++) {
    await rt.drain(120_000);
    // One token per round: the clock moves, and token issuing is deliberately slow (salted hashes).
    const token = await rt.token('distributor');
    statuses = Object.fromEntries(
      await Promise.all(orderIds.map(async (id) => [id, (await getOrder(id, token)).status])),
    );
    if (Object.values(statuses).every((s) => ['FULFILLED', 'REJECTED', 'ERROR', 'NEEDS_REVIEW'].includes(s)))
      break;
    await rt.advanceClock(200);
  }
  return statuses;
}

async function setFaults(errorRate: number) {
  for (const name of ['zuora', 'salesforce', 'mail']) {
    const res = await api(rt, 'PUT', `/_sandbox/${name}/_faults`, { body: { errorRate, status: 503 } });
    expect(res.status).toBe(200);
  }
}

beforeAll(async () => {
  rt = await startTestRuntime();
});
afterAll(async () => rt?.cleanup());

describe('order pipeline e2e', () => {
  it('takes a clear order from POST to FULFILLED, with Accepted and Fulfilled webhooks', async () => {
    const manage = await rt.token('distributor');
    const endpoint = await api(rt, 'POST', '/v1/webhooks/endpoints', {
      token: manage,
      body: { url: `${rt.url}/_sandbox/receiver/arrow-orders`, eventTypes: ['order.*'] },
    });
    expect(endpoint.status).toBe(201);
    await api(rt, 'PUT', '/_sandbox/receiver/arrow-orders/_config', {
      body: { secret: endpoint.body.secret },
    });

    const body = order();
    const res = await post(body);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'ACCEPTED', channelOrderId: body.channelOrderId });
    const { orderId } = res.body;
    expect(res.headers.get('location')).toBe(`/v1/orders/${orderId}`);

    await settle([orderId]);
    const view = await getOrder(orderId);
    expect(view.status).toBe('FULFILLED');
    expect(view.history.map((h: { status: string }) => h.status)).toEqual([
      'RECEIVED',
      'SCREENING',
      'ACCEPTED',
      'BILLING_PROVISIONED',
      'FULFILLED',
    ]);
    expect(view.billing.zuoraSubscriptionNumber).toMatch(/^A-S/);
    expect(view.crm.salesforceOpportunityId).toMatch(/^006/);
    expect(view.licence.licenceId).toMatch(/^lic_/);
    expect(zuoraCreates(orderId)).toHaveLength(1);

    // The licence e-mails went to the buyer and the partner, and the key verifies offline.
    const mails = licenceMails(orderId);
    expect(mails).toHaveLength(2);
    const key = /(ey[\w-]+\.[\w-]+\.[\w-]+)/.exec(JSON.stringify(mails[0]))?.[1];
    const jwks = await api(rt, 'GET', '/v1/licences/public-key');
    expect(jwks.status).toBe(200);
    const claims = await verifyLicence(key!, jwks.body.keys[0], new Date(Date.now() + 3600_000 * 24 * 30));
    expect(claims.orderId).toBe(orderId);

    // The distributor's endpoint received Accepted and Fulfilled, signed and verified.
    const deliveries = rt
      .sandbox('receiver')
      // The receiver records envelopes without bodies; this endpoint has seen only this order so far.
      .records.filter((r) => r.kind === 'delivery' && r.receiver === 'arrow-orders') as Array<
      Record<string, unknown>
    >;
    const types = deliveries.map((d) => d.type);
    expect(types).toContain('order.accepted');
    expect(types).toContain('order.fulfilled');
    expect(deliveries.every((d) => d.verified === true)).toBe(true);
  });

  it('refuses a restricted buyer with 422, stores it REJECTED and never calls Zuora', async () => {
    const body = { ...sample('restricted-buyer'), channelOrderId: `E2E-R-${Date.now()}` };
    const res = await post(body);
    expect(res.status).toBe(422);
    expect(res.body.error).toBe('RESTRICTED_PARTY');
    const { orderId } = res.body;
    await settle([orderId], 2);
    const view = await getOrder(orderId);
    expect(view.status).toBe('REJECTED');
    // The channel sees the outcome; the evidence (list, entry, score) is the operators' (#13).
    expect(view.screening.outcome).toBe('blocked');
    expect(view.screening.evidence).toBeUndefined();
    expect(JSON.stringify(view.history)).not.toMatch(/score|entry/);
    expect(rt.sandbox('zuora').records.filter((r) => JSON.stringify(r).includes(orderId))).toHaveLength(0);
    // A retry gets the same refusal.
    expect((await post(body)).body).toEqual(res.body);
  });

  it('parks a possible match in NEEDS_REVIEW until an operator clears it, then fulfils it', async () => {
    const res = await post({ ...sample('possible-match'), channelOrderId: `E2E-M-${Date.now()}` });
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('NEEDS_REVIEW');
    const { orderId } = res.body;
    await rt.drain(60_000);
    expect(zuoraCreates(orderId)).toHaveLength(0);
    const cleared = await api(rt, 'POST', `/v1/orders/${orderId}/clear`, {
      token: await rt.token('platform'),
      body: { reason: 'different company (US shipping firm), checked by compliance' },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body.status).toBe('ACCEPTED');
    expect((await settle([orderId]))[orderId]).toBe('FULFILLED');
    expect(zuoraCreates(orderId)).toHaveLength(1);
  });

  it('keeps an order RECEIVED during a screening outage and completes it when screening is back', async () => {
    await api(rt, 'PUT', '/_sandbox/screening/_faults', { body: { errorRate: 1, status: 503 } });
    const res = await post(order());
    expect(res.status).toBe(202);
    expect(res.body.status).toBe('RECEIVED');
    const { orderId } = res.body;
    await rt.drain(60_000);
    expect((await getOrder(orderId)).status).toBe('RECEIVED');
    expect(zuoraCreates(orderId)).toHaveLength(0);
    await api(rt, 'PUT', '/_sandbox/screening/_faults', { body: { errorRate: 0 } });
    const statuses = await settle([orderId]);
    expect(statuses[orderId]).toBe('FULFILLED');
    expect((await getOrder(orderId)).screening.outcome).toBe('clear');
  });

  it('turns sequential and concurrent duplicates into one account, one opportunity, one licence', async () => {
    const body = order();
    const first = await post(body, { 'idempotency-key': `dup-${body.channelOrderId}` });
    const again = await post(body, { 'idempotency-key': `dup-${body.channelOrderId}` });
    const token = await rt.token('distributor');
    const concurrent = await Promise.all(
      Array.from({ length: 6 }, (_, i) => post(body, i % 2 ? {} : { 'idempotency-key': `k-${i}` }, token)),
    );
    for (const r of [again, ...concurrent]) {
      expect(r.status).toBe(first.status);
      expect(r.body.orderId).toBe(first.body.orderId);
    }
    const { orderId } = first.body;
    expect((await settle([orderId]))[orderId]).toBe('FULFILLED');
    expect(zuoraCreates(orderId)).toHaveLength(1);
    expect(opportunities(orderId)).toHaveLength(1);
    expect(licenceMails(orderId)).toHaveLength(2);
    // Same key, different body: 409, nothing changes.
    const conflict = await post(
      { ...body, currency: 'EUR' },
      { 'idempotency-key': `dup-${body.channelOrderId}` },
    );
    expect(conflict.status).toBe(409);
    expect(conflict.body.error).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('fulfils 50 orders under 30% partner faults, each with exactly one Zuora subscription', async () => {
    await setFaults(0.3);
    const token = await rt.token('distributor');
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(order(), {}, token)));
    expect(answers.every((a) => a.status === 201)).toBe(true);
    const ids = answers.map((a) => a.body.orderId as string);
    const statuses = await settle(ids, 60);
    await setFaults(0);
    expect(Object.values(statuses).filter((s) => s !== 'FULFILLED')).toEqual([]);
    for (const id of ids) {
      expect(zuoraCreates(id)).toHaveLength(1);
      expect(opportunities(id)).toHaveLength(1);
    }
  }, 600_000);

  it('answers bad input on every route with a clear 4xx and changes nothing', async () => {
    const distributor = await rt.token('distributor');
    const platform = await rt.token('platform');
    const bad = await post(sample('bad-codes'));
    expect(bad.status).toBe(400);
    const fields = bad.body.details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(
      expect.arrayContaining([
        'orderType',
        'currency',
        'sellTo.contact.email',
        'sellTo.address.country',
        'lines.0.productCode',
        'lines.1.quantity',
      ]),
    );
    expect((await post(sample('missing-lines'))).body.details[0].field).toBe('lines');
    expect((await post('{"channelOrderId":')).status).toBe(400);
    const plain = await api(rt, 'POST', '/v1/orders', {
      token: distributor,
      body: 'x',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    expect((await api(rt, 'POST', '/v1/orders', { body: order() })).status).toBe(401);
    expect((await api(rt, 'POST', '/v1/orders', { token: platform, body: order() })).status).toBe(403);
    expect((await post(order(), { 'idempotency-key': 'x'.repeat(300) })).status).toBe(400);
    // Nothing was stored for any of these.
    const listed = await api(rt, 'GET', '/v1/orders?limit=100', { token: distributor });
    expect(
      listed.body.orders.some((o: { channelOrderId: string }) =>
        o.channelOrderId.startsWith('ARW-2026-00077'),
      ),
    ).toBe(false);

    expect((await api(rt, 'GET', '/v1/orders?status=BOGUS', { token: distributor })).status).toBe(400);
    expect((await api(rt, 'GET', '/v1/orders?cursor=garbage', { token: distributor })).status).toBe(400);
    expect((await api(rt, 'GET', '/v1/orders?limit=0', { token: distributor })).status).toBe(400);
    expect((await api(rt, 'GET', '/v1/orders/ord_nope', { token: distributor })).status).toBe(404);

    const accepted = (await post(order())).body.orderId;
    // (Another tenant reading it is a 404: covered by the unit test, no dev tenant has orders:read.)
    // Operator routes: scope, body and state are checked.
    expect(
      (await api(rt, 'POST', `/v1/orders/${accepted}/clear`, { token: distributor, body: { reason: 'ok' } }))
        .status,
    ).toBe(403);
    expect(
      (await api(rt, 'POST', `/v1/orders/${accepted}/clear`, { token: platform, body: {} })).status,
    ).toBe(400);
    const notInReview = await api(rt, 'POST', `/v1/orders/${accepted}/reject`, {
      token: platform,
      body: { reason: 'no' },
    });
    expect(notInReview.status).toBe(409);
    expect(notInReview.body.error).toBe('ORDER_NOT_IN_REVIEW');
    expect(
      (await api(rt, 'POST', '/v1/orders/ord_nope/clear', { token: platform, body: { reason: 'x' } })).status,
    ).toBe(404);
  });
});
