import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_APPDIRECT_CREDENTIALS } from '../../local/sandboxes/appdirect-credentials.ts';
import { signRequest } from '../../shared/clients/appdirect-oauth1.ts';
import { systemClock } from '../../shared/clock.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';
import { appDirectHarness, type Emitted, type Rt } from './appdirect-helpers.ts';

/**
 * The AppDirect channel through `npm start`'s runtime, driven by the sandbox marketplace: the 14
 * SDK fixtures (as the repo's own samples of the same names) emitted in a sensible order, each
 * with its outcome in the hub, Zuora and the marketplace; then every event redelivered (nothing
 * changes); then forged event URLs (refused, nothing signed leaves the hub).
 */
let rt: Rt;
let ad: ReturnType<typeof appDirectHarness>;
const emitted: Array<{ fixture: string } & Emitted> = [];

beforeAll(async () => {
  rt = await startTestRuntime();
  ad = appDirectHarness(rt);
});
afterAll(async () => {
  ad?.close();
  await rt?.cleanup();
});

async function emit(fixture: string, payload?: unknown) {
  const e = await ad.emit(fixture, payload);
  emitted.push({ fixture, ...e });
  return e;
}

const busEvents = (type: string) => rt.bus.events({ detailType: type }).map((e) => e.envelope.detail as any);

/** Waits for the result of an asynchronous order, and returns its order once settled. */
async function orderResult(eventId: string) {
  const ok = await ad.settle(async () => ad.results(eventId).length > 0);
  expect(ok, `no result posted for ${eventId}`).toBe(true);
  return { result: ad.results(eventId)[0]!.result as any, order: (await ad.orderOfEvent(eventId))! };
}

describe('AppDirect channel end to end', () => {
  let accountIdentifier: string;
  let subscriptionNumber: string;
  let orderId: string;

  it('SUBSCRIPTION_ORDER: 202, screened and provisioned like any order, result posted with the accountIdentifier', async () => {
    const e = await emit('subscription-order');
    expect(e.status).toBe(202);
    expect(e.answer).toMatchObject({ success: true, asynchronous: true });
    const { result, order } = await orderResult(e.eventId);
    expect(result).toMatchObject({ success: true, accountIdentifier: expect.stringMatching(/^sb-/) });
    accountIdentifier = result.accountIdentifier;
    orderId = order.orderId;
    expect(order).toMatchObject({
      status: 'FULFILLED',
      tenant: 'appdirect',
      channel: 'appdirect',
      channelOrderId: e.eventId,
      channelRef: {
        eventId: e.eventId,
        accountIdentifier,
        marketplaceId: 'home',
        companyUuid: expect.any(String),
      },
      screening: { outcome: 'clear' },
    });
    subscriptionNumber = order.billing!.subscriptionNumber;
    expect(ad.zuoraState()[subscriptionNumber]).toMatchObject({ status: 'Active' });
    // Usage of this subscription is billed to the marketplace holding the account (issue item 6).
    expect(await ad.registry.get(subscriptionNumber)).toMatchObject({
      biller: 'appdirect',
      appdirect: { accountIdentifier, marketplaceId: 'home', baseUrl: `${rt.url}/_sandbox/appdirect` },
    });
    expect(await ad.accounts.get(accountIdentifier)).toMatchObject({
      status: 'ACTIVE',
      orderId,
      subscriptionNumber,
    });
  });

  it('usage of the subscription is billed to its accountIdentifier on the marketplace holding it', async () => {
    const order = await ad.orders.get(orderId);
    const chargeNumber = order!.billing!.chargeNumbers[0]!;
    const res = await api(rt, 'POST', '/v1/usage', {
      token: await rt.token('platform'),
      body: {
        records: [
          {
            id: 'ad-usage-1',
            subscriptionNumber,
            chargeNumber,
            unit: 'seat',
            quantity: 3,
            timestamp: systemClock.now().toISOString(),
          },
        ],
      },
    });
    expect(res.status).toBe(202);
    expect(res.body.results?.[0]?.status ?? res.body.records?.[0]?.status).toBe('accepted');
    expect((await api(rt, 'POST', '/_local/schedules/usage-billing-daily')).status).toBe(200);
    const received = () =>
      ad.records('usage.received').flatMap((r) => r.events as Array<{ accountId: string; quantity: string }>);
    expect(await ad.settle(() => received().length > 0, 5)).toBe(true);
    expect(received()).toEqual([expect.objectContaining({ accountId: accountIdentifier, quantity: '3' })]);
  });

  it('SUBSCRIPTION_CHANGE: the Zuora subscription moves to the new edition and quantities', async () => {
    const e = await emit('subscription-change');
    expect(e).toMatchObject({ status: 200, answer: { success: true, accountIdentifier } });
    const plans = ad.zuoraState()[subscriptionNumber].ratePlans as any[];
    expect(plans.map((p) => [p.productName, p.ratePlanCharges[0].quantity]).sort()).toEqual([
      ['Switchboard Enterprise', 30],
      ['Switchboard storage', 50],
    ]);
  });

  it('USER_ASSIGNMENT: a seat on the order, announced as a webhook event', async () => {
    const e = await emit('user-assign');
    expect(e).toMatchObject({ status: 200, answer: { success: true, userIdentifier: expect.any(String) } });
    expect(Object.keys((await ad.orders.get(orderId))!.seats ?? {})).toEqual([e.answer.userIdentifier]);
    expect(busEvents('licence.seat.assigned').some((d) => d.orderId === orderId)).toBe(true);
  });

  it('add-on subscription, notices, add-on cancel, seat removal, cancel and close', async () => {
    const addon = await emit('subscription-order-addon');
    expect(addon).toMatchObject({
      status: 200,
      answer: { success: true, accountIdentifier: expect.stringMatching(/^sb-/) },
    });
    const addonPlans = () =>
      (ad.zuoraState()[subscriptionNumber].ratePlans as any[]).filter(
        (p) => p.customFields?.SwitchboardRef__c === addon.answer.accountIdentifier,
      );
    expect(addonPlans()).toHaveLength(1);

    expect((await emit('subscription-deactivated')).answer).toMatchObject({ success: true });
    expect(ad.zuoraState()[subscriptionNumber].status).toBe('Suspended');
    expect((await emit('subscription-reactivated')).answer).toMatchObject({ success: true });
    expect(ad.zuoraState()[subscriptionNumber].status).toBe('Active');
    expect((await emit('subscription-upcoming-invoice')).answer).toMatchObject({ success: true });

    expect((await emit('subscription-cancel-addon')).answer).toMatchObject({
      success: true,
      accountIdentifier: addon.answer.accountIdentifier,
    });
    expect(addonPlans()).toHaveLength(0);

    expect((await emit('user-unassign')).answer).toMatchObject({ success: true });
    expect((await ad.orders.get(orderId))!.seats).toEqual({});
    expect(busEvents('licence.seat.unassigned').some((d) => d.orderId === orderId)).toBe(true);

    expect((await emit('subscription-cancel')).answer).toMatchObject({ success: true, accountIdentifier });
    expect(ad.zuoraState()[subscriptionNumber].status).toBe('Cancelled');
    expect((await emit('subscription-closed')).answer).toMatchObject({ success: true, accountIdentifier });
    expect((await ad.accounts.get(accountIdentifier))!.status).toBe('CLOSED');
    const amended = rt
      .sandbox('zuora')
      .records.filter((r) => r.kind === 'order.amended')
      .map((r) => (r.actions as string[]).join('+'));
    expect(amended).toEqual([
      'AddProduct+AddProduct+RemoveProduct',
      'AddProduct',
      'Suspend',
      'Resume',
      'RemoveProduct',
      'CancelSubscription',
    ]);
  });

  it('the other order fixtures: without creator (the company is the buyer) and without links', async () => {
    for (const fixture of ['subscription-order-without-creator', 'subscription-order-without-links']) {
      const e = await emit(fixture);
      expect(e.status).toBe(202);
      const { result, order } = await orderResult(e.eventId);
      expect(result).toMatchObject({ success: true, accountIdentifier: expect.any(String) });
      expect(order.status).toBe('FULFILLED');
    }
  });

  it('the usage-report fixture is not an event: refused in AppDirect’s error shape, nothing changed', async () => {
    const e = await emit('usage-report-bill-request');
    expect(e.status).toBe(400);
    expect(e.answer).toMatchObject({ success: false, errorCode: 'INVALID_RESPONSE', error: 'INVALID_EVENT' });
    expect(e.answer.details.map((d: any) => d.field)).toContain('event.type');
  });

  it('every asynchronous result was posted exactly once', () => {
    expect(emitted).toHaveLength(14);
    const asynchronous = emitted.filter((e) => e.status === 202);
    expect(asynchronous).toHaveLength(3);
    for (const e of asynchronous) expect(ad.results(e.eventId), e.fixture).toHaveLength(1);
    expect(ad.records('event.result')).toHaveLength(3);
  });

  it('redelivery of each event returns its first answer and changes nothing', async () => {
    await rt.drain(120_000);
    const before = {
      zuora: rt.sandbox('zuora').records.length,
      results: ad.records('event.result').length,
      orders: (await ad.orders.listByTenant('appdirect', { limit: 100 })).orders.length,
      lastBusEvent: rt.bus.events().at(-1)?.envelope.id,
      seats: (await ad.orders.get(orderId))!.seats,
    };
    for (const e of emitted) {
      const again = await ad.renotify(e.eventId);
      expect({ status: again.status, answer: again.answer }, e.fixture).toEqual({
        status: e.status,
        answer: e.answer,
      });
    }
    await ad.settle(() => true, 3);
    expect(rt.sandbox('zuora').records.length).toBe(before.zuora);
    expect(ad.records('event.result').length).toBe(before.results);
    expect((await ad.orders.listByTenant('appdirect', { limit: 100 })).orders.length).toBe(before.orders);
    expect(rt.bus.events().at(-1)?.envelope.id).toBe(before.lastBusEvent);
    expect((await ad.orders.get(orderId))!.seats).toEqual(before.seats);
  });

  describe('forged event URLs', () => {
    let attacker: Server;
    const hits: string[] = [];
    beforeAll(async () => {
      attacker = createServer((req, res) => {
        hits.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
        res.end('{}');
      });
      await new Promise<void>((ok) => attacker.listen(0, '127.0.0.1', ok));
    });
    afterAll(async () => {
      await new Promise<void>((ok) => attacker.close(() => ok()));
    });

    it('are refused (400) and nothing signed leaves the hub', async () => {
      const port = (attacker.address() as AddressInfo).port;
      const forged = [
        `http://127.0.0.1:${port}/_sandbox/appdirect/api/integration/v1/events/x1`,
        `http://localhost:${port}/api/integration/v1/events/x2`,
        `http://user@127.0.0.1:${port}/api/integration/v1/events/x3`,
        `https://evil.example.com/api/integration/v1/events/x4`,
        `${rt.url}/_sandbox/receiver/api/integration/v1/events/x5`,
      ];
      const fetchedBefore = ad.records('event.fetched').length;
      for (const eventUrl of forged) {
        const url = `${rt.url}/v1/channels/appdirect/events?eventUrl=${encodeURIComponent(eventUrl)}`;
        const authorization = signRequest({ method: 'GET', url, credentials: LOCAL_APPDIRECT_CREDENTIALS });
        const res = await api(rt, 'GET', url.slice(rt.url.length), { headers: { authorization } });
        expect(res.status, eventUrl).toBe(400);
        expect(res.body, eventUrl).toMatchObject({
          success: false,
          errorCode: 'FORBIDDEN',
          error: 'EVENT_URL_REFUSED',
        });
      }
      await rt.drain(30_000);
      expect(hits).toEqual([]);
      expect(ad.records('event.fetched').length).toBe(fetchedBefore);
      expect(rt.sandbox('receiver').records.length).toBe(0);
    });

    it('an unsigned or wrongly signed notification is 401 and nothing is fetched', async () => {
      const eventUrl = `${rt.url}/_sandbox/appdirect/api/integration/v1/events/${emitted[0]!.eventId}`;
      const path = `/v1/channels/appdirect/events?eventUrl=${encodeURIComponent(eventUrl)}`;
      const fetchedBefore = ad.records('event.fetched').length;
      expect((await api(rt, 'GET', path)).status).toBe(401);
      const wrong = signRequest({
        method: 'GET',
        url: `${rt.url}${path}`,
        credentials: { consumerKey: LOCAL_APPDIRECT_CREDENTIALS.consumerKey, consumerSecret: 'guessed' },
      });
      const res = await api(rt, 'GET', path, { headers: { authorization: wrong } });
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ success: false, errorCode: 'UNAUTHORIZED' });
      expect(ad.records('event.fetched').length).toBe(fetchedBefore);
    });
  });
});
