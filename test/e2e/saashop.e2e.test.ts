import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SaashopSandbox } from '../../local/sandboxes/saashop.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';
import {
  pollNow,
  postedStatuses,
  publishSaashopOrder,
  saashopReader,
  suiteTable,
} from '../helpers/saashop.ts';

/**
 * The SaaShop channel through the local runtime over loopback HTTP: orders published into the
 * SaaShop sandbox are polled, run the same order pipeline as `POST /v1/orders` (screening, Zuora,
 * Salesforce, licence), show up in the order views and webhooks, and every outcome is reported back
 * to SaaShop exactly once; overlapping polls and malformed SaaShop answers change nothing twice.
 */
type Rt = Awaited<ReturnType<typeof startTestRuntime>>;
let rt: Rt;
let table: ReturnType<typeof suiteTable>;
let readerToken: () => Promise<string>;

const saashop = () => rt.sandbox('saashop') as SaashopSandbox;
const fetchedCount = (orderId: string) =>
  saashop().records.filter((r) => r.kind === 'order.fetched' && r.orderId === orderId).length;
const zuoraCreates = (orderId: string) =>
  rt.sandbox('zuora').records.filter((r) => r.kind === 'order.created' && r.idempotencyKey === orderId);

/** Polls and drains (moving the clock past retry delays) until `done`. */
async function settle(done: () => Promise<boolean>, rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    expect(await pollNow(rt.url)).toBe(200);
    await rt.drain(120_000);
    if (await done()) return;
    await rt.advanceClock(200);
  }
  throw new Error('the SaaShop orders did not settle');
}

beforeAll(async () => {
  rt = await startTestRuntime();
  table = suiteTable(rt.dataDir);
  readerToken = await saashopReader(rt.url, table.clients);
});
afterAll(async () => {
  table?.close();
  await rt?.cleanup();
});

describe('SaaShop channel e2e', () => {
  it('20 orders: 17 FULFILLED, 2 REJECTED (restricted buyers), 1 failed (unknown product), each reported once', async () => {
    // The vendor's platform watches every order through an all-events webhook endpoint.
    const platform = await rt.token('platform');
    const endpoint = await api(rt, 'POST', '/v1/webhooks/endpoints', {
      token: platform,
      body: { url: `${rt.url}/_sandbox/receiver/saashop-e2e`, eventTypes: ['order.*'] },
    });
    expect(endpoint.status).toBe(201);
    await api(rt, 'PUT', '/_sandbox/receiver/saashop-e2e/_config', {
      body: { secret: endpoint.body.secret },
    });

    const kinds = [...Array.from({ length: 17 }, () => 'clear'), 'restricted', 'restricted', 'unknown'].sort(
      () => Math.random() - 0.5,
    );
    const published = await Promise.all(
      kinds.map(async (kind) => ({
        kind,
        ...(await publishSaashopOrder(
          rt.url,
          kind === 'restricted'
            ? { buyerName: 'Zenith Orbital Systems', buyerCountry: 'CN' }
            : kind === 'unknown'
              ? { productCode: 'SB-QUANTUM' }
              : {},
        )),
      })),
    );
    const expected = (kind: string) =>
      kind === 'clear' ? ['ProvisioningStarted', 'ProvisioningCompleted'] : ['ProvisioningFailed'];
    await settle(async () => {
      const posted = postedStatuses(saashop().records);
      return published.every((p) => (posted.get(p.orderId)?.length ?? 0) >= expected(p.kind).length);
    });

    // Order views: the saashop tenant's orders, channel saashop, the marketplace order id.
    const token = await readerToken();
    const listed = await api(rt, 'GET', '/v1/orders?limit=100', { token });
    expect(listed.status).toBe(200);
    const views = listed.body.orders as Array<{
      orderId: string;
      channel: string;
      channelOrderId: string;
      status: string;
    }>;
    expect(views).toHaveLength(19);
    for (const p of published) {
      const view = views.find((v) => v.channelOrderId === p.orderId);
      if (p.kind === 'unknown') {
        expect(view).toBeUndefined();
        continue;
      }
      expect(view).toMatchObject({
        channel: 'saashop',
        status: p.kind === 'clear' ? 'FULFILLED' : 'REJECTED',
      });
      const one = await api(rt, 'GET', `/v1/orders/${view!.orderId}`, { token });
      expect(one.body).toMatchObject({ channel: 'saashop', channelOrderId: p.orderId });
      // Nothing duplicated downstream: one Zuora order per fulfilled order, none for rejected ones.
      expect(zuoraCreates(view!.orderId)).toHaveLength(p.kind === 'clear' ? 1 : 0);
    }
    expect(views.filter((v) => v.status === 'FULFILLED')).toHaveLength(17);
    expect(views.filter((v) => v.status === 'REJECTED')).toHaveLength(2);

    // Reported back exactly once each, with the right status, and nothing else.
    const posted = postedStatuses(saashop().records);
    for (const p of published) expect(posted.get(p.orderId), p.kind).toEqual(expected(p.kind));
    expect([...posted.keys()].sort()).toEqual(published.map((p) => p.orderId).sort());
    const completed = saashop().records.filter(
      (r) => r.kind === 'marketplaceEvent.posted' && r.statusCode === 'ProvisioningCompleted',
    );
    for (const c of completed) {
      const names = (c.additionalProperties as Array<{ name: string }>).map((a) => a.name);
      expect(names).toEqual(expect.arrayContaining(['orderId', 'licenseId', 'accountNumber']));
    }
    // No screening evidence reaches the marketplace.
    const failedReports = JSON.stringify(
      saashop().records.filter(
        (r) => r.kind === 'marketplaceEvent.posted' && r.statusCode === 'ProvisioningFailed',
      ),
    );
    expect(failedReports).not.toMatch(/RESTRICTED|Zenith|score|Entity List/);

    // The failed one is visible to operators, newest first, with its reason and raw event.
    const unknown = published.find((p) => p.kind === 'unknown')!;
    const failures = await table.events.listByStatus('FAILED', { limit: 10 });
    expect(failures.events).toEqual([
      expect.objectContaining({
        eventId: unknown.eventId,
        saashopOrderId: unknown.orderId,
        code: 'UNKNOWN_PRODUCT',
        reason: expect.stringContaining('SB-QUANTUM'),
        rawEvent: expect.stringContaining(unknown.eventId),
      }),
    ]);

    // One fetch per order; every call carried a fresh request id.
    for (const p of published) expect(fetchedCount(p.orderId)).toBe(1);
    expect(saashop().state.calls.refused).toBe(0);

    // Webhooks: the platform's endpoint received the SaaShop orders' outcomes, signed, like any channel's
    // (the payload's data is the order event detail: tenant saashop, channel saashop, channelOrderId).
    const delivered = () =>
      rt.sandbox('receiver').records.filter((r) => r.kind === 'delivery' && r.receiver === 'saashop-e2e');
    // Deliveries beyond the endpoint's rate limit wait a few seconds of hub clock.
    for (let i = 0; i < 30 && delivered().filter((d) => d.type !== 'order.accepted').length < 19; i++) {
      await rt.advanceClock(5);
      await rt.drain(60_000);
    }
    const deliveries = delivered();
    expect(deliveries.filter((d) => d.type === 'order.fulfilled')).toHaveLength(17);
    expect(deliveries.filter((d) => d.type === 'order.rejected')).toHaveLength(2);
    expect(deliveries.every((d) => d.verified === true)).toBe(true);
  }, 300_000);

  it('overlapping polls never process one event twice', async () => {
    const published = await Promise.all(Array.from({ length: 10 }, () => publishSaashopOrder(rt.url)));
    expect(await Promise.all([pollNow(rt.url), pollNow(rt.url), pollNow(rt.url)])).toEqual([200, 200, 200]);
    await rt.drain(120_000);
    await settle(async () => {
      const posted = postedStatuses(saashop().records);
      return published.every((p) => (posted.get(p.orderId)?.length ?? 0) >= 2);
    });
    const posted = postedStatuses(saashop().records);
    const hub = await table.allOrders('saashop');
    for (const p of published) {
      expect(fetchedCount(p.orderId)).toBe(1);
      expect(hub.filter((o) => o.channelOrderId === p.orderId)).toHaveLength(1);
      expect(posted.get(p.orderId)).toEqual(['ProvisioningStarted', 'ProvisioningCompleted']);
      expect(await table.events.get(p.eventId)).toMatchObject({ status: 'SUBMITTED', attempts: 1 });
    }
  }, 300_000);

  it('malformed SaaShop answers give a stored, reported failure and no 5xx loop', async () => {
    const html = '<!doctype html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>';
    const cases = {
      'html-200': { answer: { status: 200, contentType: 'text/html', body: html } },
      'html-502': { answer: { status: 502, contentType: 'text/html', body: html } },
      'missing-fields': { answer: { status: 200, body: { orderId: 'x', orderTypeCode: 'Purchase' } } },
      'wrong-types': {
        answer: {
          status: 200,
          body: { orderId: 1, issueDate: 2026, documentLines: {}, buyerCustomerParty: 'Contoso' },
        },
      },
      'no-address': {} as Record<string, unknown>,
    };
    const noAddress = saashop().generateOrder({});
    delete (noAddress.buyerCustomerParty as any).party.postalAddress;
    cases['no-address'] = noAddress;
    const published = Object.fromEntries(
      await Promise.all(
        Object.entries(cases).map(
          async ([name, body]) => [name, await publishSaashopOrder(rt.url, body)] as const,
        ),
      ),
    );
    // A malformed event in the feed itself (no id, no order reference).
    saashop().state.feed.push({ eventTypeCode: 'ServicePurchased', statusCode: 'ProvisioningStarted' });
    const before = rt.scheduler.status().find((s) => s.name === 'saashop-poller')!.failed;

    await settle(async () => {
      const posted = postedStatuses(saashop().records);
      return Object.values(published).every((p) => posted.has(p.orderId));
    });
    const codes: Record<string, string> = {};
    for (const [name, p] of Object.entries(published)) {
      const record = await table.events.get(p.eventId);
      expect(record?.status, name).toBe('FAILED');
      codes[name] = record!.code!;
    }
    expect(codes).toEqual({
      'html-200': 'ORDER_MALFORMED_ANSWER',
      'html-502': 'FETCH_FAILED',
      'missing-fields': 'MALFORMED_ORDER',
      'wrong-types': 'MALFORMED_ORDER',
      'no-address': 'MISSING_BUYER_ADDRESS',
    });
    const failures = (await table.events.listByStatus('FAILED', { limit: 50 })).events;
    expect(failures.filter((f) => f.code === 'MALFORMED_EVENT')).toHaveLength(1);

    // Each reported once; none became an order; the poll never failed.
    const posted = postedStatuses(saashop().records);
    for (const p of Object.values(published)) expect(posted.get(p.orderId)).toEqual(['ProvisioningFailed']);
    const hub = await table.allOrders('saashop');
    for (const p of Object.values(published))
      expect(hub.some((o) => o.channelOrderId === p.orderId)).toBe(false);
    expect(rt.scheduler.status().find((s) => s.name === 'saashop-poller')!.failed).toBe(before);

    // The 502 was retried a bounded number of times (5 attempts × 4 requests), then never again.
    const fetches = fetchedCount(published['html-502']!.orderId);
    expect(fetches).toBe(20);
    await rt.advanceClock(7200);
    await pollNow(rt.url);
    await rt.drain(60_000);
    expect(fetchedCount(published['html-502']!.orderId)).toBe(fetches);
    expect(fetchedCount(published['html-200']!.orderId)).toBe(1);
  }, 300_000);
});
