import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ReportDeps, reportToSaashop } from '../../../functions/saashop-notifier/report.ts';
import { createSaashopSandbox, type SaashopSandbox } from '../../../local/sandboxes/saashop.ts';
import { SaashopClient } from '../../../shared/clients/saashop.ts';
import { type Order, OrderRepository } from '../../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../../shared/db/entities/saashop-events.ts';
import { SaashopReportRepository } from '../../../shared/db/entities/saashop-reports.ts';
import { TransientError } from '../../../shared/errors.ts';
import type { ReceivedEvent } from '../../../shared/events/consumer.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { serveSandboxes } from '../../helpers/sandbox-server.ts';
import { ManualClock, validOrder } from '../orders/fixtures.ts';

/**
 * Status reports back to SaaShop from the hub's events, against the sandbox over loopback HTTP and a
 * real table: once per (order, status) under redelivery and concurrent duplicates, in lifecycle
 * order, resumed after a crash mid-post, never with screening evidence or partner error detail.
 */
const clock = new ManualClock(Date.parse('2026-11-23T10:00:00Z'));
let served: Awaited<ReturnType<typeof serveSandboxes>>;
let sandbox: SaashopSandbox;
let table: TestTable;
let orders: OrderRepository;
let events: SaashopEventRepository;
let reports: SaashopReportRepository;
let deps: ReportDeps;

beforeAll(async () => {
  served = await serveSandboxes({ saashop: createSaashopSandbox }, { clock });
  sandbox = served.get<SaashopSandbox>('saashop');
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
  events = new SaashopEventRepository(table.doc, table.tableName);
  reports = new SaashopReportRepository(table.doc, table.tableName);
  deps = {
    saashop: new SaashopClient({
      baseUrl: served.baseUrl('saashop'),
      clock,
      credentials: async () => ({
        clientId: 'switchboard-local-seller',
        clientSecret: 'local-saashop-sandbox-secret',
      }),
      sleep: async () => undefined,
      attempts: 2,
    }),
    orders,
    events,
    reports,
    clock,
    leaseMs: 60_000,
  };
});
afterAll(async () => {
  await served.stop();
  await table.stop();
});
beforeEach(() => {
  sandbox.faults = { errorRate: 0, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
});

const posted = (saashopOrderId: string) =>
  sandbox.records.filter((r) => r.kind === 'marketplaceEvent.posted' && r.orderId === saashopOrderId);
const statuses = (saashopOrderId: string) => posted(saashopOrderId).map((r) => r.statusCode);

/** A SaaShop order in the sandbox and its hub order in `status` with the given history. */
async function hubOrder(status: Order['status'], history: Order['status'][], extra: Partial<Order> = {}) {
  const published = sandbox.publish({ text: () => '{}' }).body as { orderId: string; eventId: string };
  const now = clock.now().toISOString();
  const order: Order = {
    ...validOrder({ channelOrderId: published.orderId }),
    orderId: `ord_${randomUUID().replace(/-/g, '').slice(0, 26)}`,
    tenant: 'saashop',
    channel: 'saashop',
    channelRef: {
      saashopOrderId: published.orderId,
      saashopEventId: published.eventId,
      saashopEventType: 'ServicePurchased',
    },
    requestHash: 'h',
    status,
    history: history.map((s) => ({ at: now, status: s })),
    redrives: 0,
    zuoraKeys: 0,
    createdAt: now,
    updatedAt: now,
    ...extra,
  };
  expect(await orders.create(order)).toBe(true);
  return { order, saashopOrderId: published.orderId };
}

const busEvent = (type: string, order: Order): ReceivedEvent => ({
  id: randomUUID(),
  type,
  source: 'switchboard',
  time: clock.now().toISOString(),
  detail: {
    tenant: order.tenant,
    orderId: order.orderId,
    channelOrderId: order.channelOrderId,
    channel: order.channel,
    status: order.status,
  },
});

const fulfilledExtras: Partial<Order> = {
  billing: {
    accountNumber: 'A00000777',
    subscriptionNumber: 'A-S00000777',
    chargeNumbers: [],
    provisionedAt: '2026-11-23T10:00:01Z',
  },
  licence: {
    licenceId: 'lic_01SAASHOPTEST',
    key: 'eyJ…',
    keyId: 'k1',
    issuedAt: '2026-11-23T10:00:02Z',
    expiresAt: '2027-11-23T10:00:02Z',
  },
};

describe('reportToSaashop', () => {
  it('order.accepted → ProvisioningStarted once, however often the event is delivered', async () => {
    const { order, saashopOrderId } = await hubOrder('ACCEPTED', ['RECEIVED', 'SCREENING', 'ACCEPTED']);
    const event = busEvent('order.accepted', order);
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'sent' },
    ]);
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'already' },
    ]);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted']);
    const [started] = posted(saashopOrderId);
    expect(started).toMatchObject({
      eventTypeCode: 'ServicePurchased',
      eventTime: Math.floor(clock.now().getTime() / 1000),
      additionalProperties: expect.arrayContaining([
        expect.objectContaining({ name: 'orderId', value: saashopOrderId }),
        expect.objectContaining({ name: 'sellerOrderId', value: order.orderId }),
      ]),
    });
    expect(await reports.get(order.orderId, 'ProvisioningStarted')).toMatchObject({
      state: 'SENT',
      eventId: started!.eventId,
    });
  });

  it('concurrent duplicates post once; the losers retry later (SQS) and find it done', async () => {
    const { order, saashopOrderId } = await hubOrder('ACCEPTED', ['RECEIVED', 'SCREENING', 'ACCEPTED']);
    const event = busEvent('order.accepted', order);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => reportToSaashop(event, deps)));
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted']);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(TransientError);
      else expect(['sent', 'already']).toContain(r.value[0]!.outcome);
    }
    expect(results.filter((r) => r.status === 'fulfilled' && r.value[0]!.outcome === 'sent')).toHaveLength(1);
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'already' },
    ]);
  });

  it('order.fulfilled arriving first sends Started, then Completed with the licence and account', async () => {
    const { order, saashopOrderId } = await hubOrder(
      'FULFILLED',
      ['RECEIVED', 'SCREENING', 'ACCEPTED', 'BILLING_PROVISIONED', 'FULFILLED'],
      fulfilledExtras,
    );
    await reportToSaashop(busEvent('order.fulfilled', order), deps);
    await reportToSaashop(busEvent('order.accepted', order), deps);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted', 'ProvisioningCompleted']);
    const completed = posted(saashopOrderId)[1]!;
    expect(completed.additionalProperties).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'licenseId', value: 'lic_01SAASHOPTEST' }),
        expect.objectContaining({ name: 'accountNumber', value: 'A00000777' }),
        expect.objectContaining({ name: 'subscriptionNumber', value: 'A-S00000777' }),
      ]),
    );
    // The licence key itself never leaves the hub this way.
    expect(JSON.stringify(completed)).not.toContain('eyJ');
  });

  it('a rejected order is reported Failed, without the screening evidence', async () => {
    const reason = 'RESTRICTED_PARTY: Demo Entity List entry 7928273d (score 0.97)';
    const { order, saashopOrderId } = await hubOrder('REJECTED', ['RECEIVED', 'SCREENING', 'REJECTED'], {
      screening: {
        outcome: 'blocked',
        provider: 'csl',
        screenedAt: '2026-11-23T10:00:00Z',
        evidence: [
          {
            list: 'Demo Entity List',
            entryId: '7928273d',
            entryName: 'Zenith Orbital Systems Ltd',
            matchedName: 'Zenith Orbital Systems',
            score: 0.97,
            countries: ['CN'],
            reason: 'name and country match',
          },
        ],
      },
      history: [
        { at: '2026-11-23T10:00:00Z', status: 'RECEIVED' },
        { at: '2026-11-23T10:00:00Z', status: 'SCREENING' },
        { at: '2026-11-23T10:00:00Z', status: 'REJECTED', reason },
      ],
    });
    await reportToSaashop(busEvent('order.rejected', order), deps);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningFailed']);
    const sent = JSON.stringify(posted(saashopOrderId));
    for (const secret of [
      'RESTRICTED',
      '7928273d',
      'Demo Entity List',
      'Zenith',
      '0.97',
      'blocked',
      'screen',
    ])
      expect(sent).not.toContain(secret);
  });

  it('an order that failed after acceptance: Started, then Failed, without the partner’s error', async () => {
    const { order, saashopOrderId } = await hubOrder(
      'ERROR',
      ['RECEIVED', 'SCREENING', 'ACCEPTED', 'ERROR'],
      {
        error: { stage: 'billing', reason: 'Zuora: 53100020 Invalid value for field BillToContact' },
      },
    );
    await reportToSaashop(busEvent('order.failed', order), deps);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted', 'ProvisioningFailed']);
    expect(JSON.stringify(posted(saashopOrderId))).not.toMatch(/Zuora|53100020|BillToContact/);
  });

  it('a failed marketplace event is reported with its reason; an unsupported one says so', async () => {
    const published = sandbox.publish({ text: () => '{}' }).body as { orderId: string; eventId: string };
    await events.claim(
      {
        eventId: published.eventId,
        eventTypeCode: 'ServicePurchased',
        saashopOrderId: published.orderId,
        rawEvent: '{}',
      },
      clock.now(),
      60_000,
    );
    await events.fail(
      published.eventId,
      {
        status: 'FAILED',
        code: 'UNKNOWN_PRODUCT',
        reason: 'documentLines.0: unknown product code "SB-GALAXY"',
      },
      clock.now(),
      60_000,
    );
    const failedEvent: ReceivedEvent = {
      id: randomUUID(),
      type: 'saashop.event.failed',
      source: 'switchboard',
      time: clock.now().toISOString(),
      detail: {
        tenant: 'saashop',
        eventId: published.eventId,
        saashopOrderId: published.orderId,
        status: 'FAILED',
        code: 'UNKNOWN_PRODUCT',
      },
    };
    await reportToSaashop(failedEvent, deps);
    await reportToSaashop(failedEvent, deps);
    expect(posted(published.orderId)).toEqual([
      expect.objectContaining({
        statusCode: 'ProvisioningFailed',
        description: 'Provisioning failed',
        detailedDescription: 'documentLines.0: unknown product code "SB-GALAXY"',
      }),
    ]);

    const upgrade = sandbox.publish({ text: () => JSON.stringify({ eventTypeCode: 'UpgradeToTrial' }) })
      .body as {
      orderId: string;
      eventId: string;
    };
    await events.claim(
      {
        eventId: upgrade.eventId,
        eventTypeCode: 'UpgradeToTrial',
        saashopOrderId: upgrade.orderId,
        rawEvent: '{}',
      },
      clock.now(),
      60_000,
    );
    await events.fail(
      upgrade.eventId,
      {
        status: 'UNSUPPORTED',
        code: 'UNSUPPORTED_EVENT_TYPE',
        reason: 'UpgradeToTrial events are not supported',
      },
      clock.now(),
      60_000,
    );
    await reportToSaashop(
      {
        ...failedEvent,
        detail: {
          tenant: 'saashop',
          eventId: upgrade.eventId,
          saashopOrderId: upgrade.orderId,
          status: 'UNSUPPORTED',
          code: 'UNSUPPORTED_EVENT_TYPE',
        },
      },
      deps,
    );
    expect(posted(upgrade.orderId)).toEqual([
      expect.objectContaining({
        statusCode: 'ProvisioningFailed',
        eventTypeCode: 'UpgradeToTrial',
        description: 'Event not supported by the seller',
      }),
    ]);
  });

  it('a notifier that died mid-post: the report waits for its lease, then the same event id is posted', async () => {
    const { order, saashopOrderId } = await hubOrder('ACCEPTED', ['RECEIVED', 'SCREENING', 'ACCEPTED']);
    const claim = await reports.claim(
      { subject: order.orderId, statusCode: 'ProvisioningStarted', saashopOrderId },
      clock.now(),
      60_000,
    );
    expect(claim.kind).toBe('claimed');
    const event = busEvent('order.accepted', order);
    await expect(reportToSaashop(event, deps)).rejects.toBeInstanceOf(TransientError);
    expect(posted(saashopOrderId)).toHaveLength(0);
    clock.advance(61);
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'sent' },
    ]);
    expect(posted(saashopOrderId).map((r) => r.eventId)).toEqual([claim.report.eventId]);
    expect(await reports.get(order.orderId, 'ProvisioningStarted')).toMatchObject({
      state: 'SENT',
      attempts: 2,
    });
  });

  it('SaaShop unavailable: the delivery fails (SQS retries) and the retry posts once', async () => {
    const { order, saashopOrderId } = await hubOrder('ACCEPTED', ['RECEIVED', 'SCREENING', 'ACCEPTED']);
    sandbox.faults = { ...sandbox.faults, errorRate: 1 };
    const event = busEvent('order.accepted', order);
    await expect(reportToSaashop(event, deps)).rejects.toBeInstanceOf(TransientError);
    sandbox.faults = { ...sandbox.faults, errorRate: 0 };
    clock.advance(61);
    await reportToSaashop(event, deps);
    await reportToSaashop(event, deps);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted']);
  });

  it('a report SaaShop refuses for good is recorded FAILED and not retried', async () => {
    const { order } = await hubOrder('ACCEPTED', ['RECEIVED', 'SCREENING', 'ACCEPTED'], {
      // An order SaaShop does not know: 404 to the post.
      channelRef: { saashopOrderId: randomUUID(), saashopEventType: 'ServicePurchased' },
    });
    const event = busEvent('order.accepted', order);
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'refused' },
    ]);
    expect(await reports.get(order.orderId, 'ProvisioningStarted')).toMatchObject({
      state: 'FAILED',
      reason: expect.stringContaining('404'),
    });
    expect(await reportToSaashop(event, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'already' },
    ]);
  });

  it('saashop.report.requested (the poller found one missing) sends what the order is still owed', async () => {
    const { order, saashopOrderId } = await hubOrder(
      'BILLING_PROVISIONED',
      ['RECEIVED', 'SCREENING', 'ACCEPTED', 'BILLING_PROVISIONED'],
      fulfilledExtras,
    );
    await reportToSaashop(busEvent('order.accepted', order), deps);
    // Fulfilled later; its order.fulfilled never reached the notifier.
    await orders.transition(order.orderId, {
      from: ['BILLING_PROVISIONED'],
      to: 'FULFILLED',
      event: { type: 'order.fulfilled', detail: { tenant: 'saashop' } },
      now: clock.now(),
    });
    const request: ReceivedEvent = {
      id: randomUUID(),
      type: 'saashop.report.requested',
      source: 'switchboard',
      time: clock.now().toISOString(),
      detail: { tenant: 'saashop', orderId: order.orderId },
    };
    expect(await reportToSaashop(request, deps)).toEqual([
      { statusCode: 'ProvisioningStarted', outcome: 'already' },
      { statusCode: 'ProvisioningCompleted', outcome: 'sent' },
    ]);
    expect(statuses(saashopOrderId)).toEqual(['ProvisioningStarted', 'ProvisioningCompleted']);
  });

  it('ignores orders of other channels', async () => {
    const { order } = await hubOrder('ACCEPTED', ['ACCEPTED']);
    const event = busEvent('order.accepted', order);
    event.detail.channel = 'api';
    expect(await reportToSaashop(event, deps)).toEqual([]);
  });
});
