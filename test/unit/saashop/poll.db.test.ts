import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type PollDeps, type PollSettings, pollSaashop } from '../../../functions/saashop-poller/poll.ts';
import { createSaashopSandbox, type SaashopSandbox } from '../../../local/sandboxes/saashop.ts';
import { DEMO_LIST_PATH } from '../../../local/screening/demo-list.ts';
import { SaashopClient } from '../../../shared/clients/saashop.ts';
import { CursorError } from '../../../shared/db/client.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../../shared/db/entities/saashop-events.ts';
import { SaashopReportRepository } from '../../../shared/db/entities/saashop-reports.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { logger } from '../../../shared/logger.ts';
import { submitOrder } from '../../../shared/orders/submit-order.ts';
import { createCslProviderFromEnv } from '../../../shared/screening/csl-engine.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { serveSandboxes } from '../../helpers/sandbox-server.ts';
import { FakePublisher, ManualClock } from '../orders/fixtures.ts';

/**
 * The poller against the SaaShop sandbox over loopback HTTP and a real (embedded) table, with the
 * real order use case and screening engine: claims exactly once under overlapping polls, resumes
 * after a crash at each step, retries temporary failures a bounded number of times, and turns
 * every bad answer into a stored, announced failure instead of a loop.
 */
const clock = new ManualClock(Date.parse('2026-11-23T10:00:00Z'));
let served: Awaited<ReturnType<typeof serveSandboxes>>;
let sandbox: SaashopSandbox;
let table: TestTable;
let events: SaashopEventRepository;
let orders: OrderRepository;
let publisher: FakePublisher;
let reports: SaashopReportRepository;
const screening = createCslProviderFromEnv({ SCREENING_LIST_PATH: DEMO_LIST_PATH });

beforeAll(async () => {
  served = await serveSandboxes({ saashop: createSaashopSandbox }, { clock });
  sandbox = served.get<SaashopSandbox>('saashop');
});
afterAll(async () => served.stop());
beforeEach(async () => {
  table = await startTestTable();
  events = new SaashopEventRepository(table.doc, table.tableName);
  orders = new OrderRepository(table.doc, table.tableName);
  reports = new SaashopReportRepository(table.doc, table.tableName);
  publisher = new FakePublisher();
  sandbox.reset();
  sandbox.faults = { errorRate: 0, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
});
afterEach(async () => table.stop());

const settings: PollSettings = {
  tenant: 'saashop',
  pageSize: 5,
  maxPages: 20,
  maxAttempts: 3,
  leaseMs: 180_000,
  retryBaseMs: 60_000,
  concurrency: 3,
  resumeLimit: 100,
  reserveMs: 0,
  reportCheckMs: 900_000,
  maxReportChecks: 3,
  normalise: {
    currencies: ['USD', 'EUR', 'GBP'],
    partner: {
      id: 'saashop',
      name: 'SaaShop',
      contact: { firstName: 'SaaShop', lastName: 'Marketplace', email: 'orders@saashop.example' },
    },
  },
};

function deps(overrides: Partial<PollDeps> = {}): PollDeps {
  const saashop = new SaashopClient({
    baseUrl: served.baseUrl('saashop'),
    clock,
    credentials: async () => ({
      clientId: 'switchboard-local-seller',
      clientSecret: 'local-saashop-sandbox-secret',
    }),
    sleep: async () => undefined,
    attempts: 2,
  });
  const orderDeps = { orders, publisher, clock, ids: ulidGenerator, screening, budgetMs: 5_000 };
  return {
    saashop,
    events,
    submit: (input) => submitOrder(input, orderDeps),
    orders,
    reports,
    publisher,
    clock,
    settings,
    ...overrides,
  };
}

const publish = (body: Record<string, unknown> = {}) => {
  const res = sandbox.publish({ text: () => JSON.stringify(body) });
  expect(res.status).toBe(201);
  return res.body as { orderId: string; eventId: string };
};
const fetched = (orderId?: string) =>
  sandbox.records.filter((r) => r.kind === 'order.fetched' && (!orderId || r.orderId === orderId));
const saashopOrders = async () => (await orders.listByTenant('saashop', { limit: 100 })).orders;
const failedAnnouncements = () => publisher.events.filter((e) => e.type === 'saashop.event.failed');

describe('pollSaashop', () => {
  it('submits each new order once through the order use case, with its channel and references', async () => {
    const published = [
      publish(),
      publish({ buyerName: 'Zenith Orbital Systems', buyerCountry: 'CN' }),
      publish(),
    ];
    const report = await pollSaashop(deps());
    expect(report).toMatchObject({ read: 3, claimed: 3, submitted: 3, failed: 0, offset: 3 });
    const hub = await saashopOrders();
    expect(hub.map((o) => o.channelOrderId).sort()).toEqual(published.map((p) => p.orderId).sort());
    for (const order of hub) {
      const p = published.find((x) => x.orderId === order.channelOrderId)!;
      expect(order).toMatchObject({
        tenant: 'saashop',
        channel: 'saashop',
        channelRef: {
          saashopOrderId: p.orderId,
          saashopEventId: p.eventId,
          saashopEventType: 'ServicePurchased',
        },
      });
      const record = await events.get(p.eventId);
      expect(record).toMatchObject({ status: 'SUBMITTED', hubOrderId: order.orderId, attempts: 1 });
      // Due again in 15 minutes: confirming SaaShop got its status reports.
      expect(record?.dueAt).toBe(new Date(clock.now().getTime() + 900_000).toISOString());
    }
    // The restricted buyer is refused by screening, like any other channel's order.
    expect(hub.map((o) => o.status).sort()).toEqual(['ACCEPTED', 'ACCEPTED', 'REJECTED']);
    expect((await events.getCursor()).offset).toBe(3);

    const again = await pollSaashop(deps());
    expect(again).toMatchObject({ read: 0, claimed: 0, submitted: 0 });
    expect(fetched()).toHaveLength(3);
  });

  it('overlapping polls never process one event twice', async () => {
    const published = Array.from({ length: 12 }, () => publish());
    const reports = await Promise.all([pollSaashop(deps()), pollSaashop(deps()), pollSaashop(deps())]);
    expect(reports.reduce((n, r) => n + r.claimed, 0)).toBe(12);
    expect(reports.reduce((n, r) => n + r.submitted, 0)).toBe(12);
    for (const p of published) expect(fetched(p.orderId)).toHaveLength(1);
    expect(await saashopOrders()).toHaveLength(12);
    expect(publisher.events.filter((e) => e.type === 'order.accepted')).toHaveLength(12);
    expect((await events.getCursor()).offset).toBe(12);
  });

  it('a poll that dies between claim and fetch is resumed after its lease, and the dead one changes nothing', async () => {
    const { orderId, eventId } = publish();
    let release: () => void = () => undefined;
    const hung = new Promise<void>((r) => {
      release = r;
    });
    const real = deps();
    // The first poll's fetch never returns (a frozen, then killed, Lambda).
    const dead = pollSaashop(
      deps({
        saashop: {
          listEvents: (o, l) => real.saashop.listEvents(o, l),
          getOrder: async (id) => {
            await hung;
            return real.saashop.getOrder(id);
          },
        },
      }),
    );
    await waitFor(async () => (await events.get(eventId))?.status === 'PENDING');
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 0, claimed: 0 }); // still leased
    clock.advance(181);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, submitted: 1 });
    expect(await events.get(eventId)).toMatchObject({ status: 'SUBMITTED', attempts: 2 });

    release();
    const late = await dead;
    // The stale worker re-submits (idempotent by the SaaShop order id) and loses the completion.
    expect(late.submitted).toBe(0);
    expect(await saashopOrders()).toHaveLength(1);
    expect(publisher.events.filter((e) => e.type === 'order.accepted')).toHaveLength(1);
    expect(fetched(orderId)).toHaveLength(2);
  });

  it('a crash after the order was submitted but before the event was completed submits nothing twice', async () => {
    const { eventId } = publish();
    const real = deps();
    let crash = true;
    const crashing = deps({
      events: Object.assign(Object.create(events) as SaashopEventRepository, {
        complete: async (...args: Parameters<SaashopEventRepository['complete']>) => {
          if (crash) throw new Error('process killed');
          return events.complete(...args);
        },
      }),
    });
    const first = await pollSaashop(crashing);
    expect(first).toMatchObject({ claimed: 1, submitted: 0, leftDue: 1 });
    crash = false;
    clock.advance(181);
    expect(await pollSaashop(real)).toMatchObject({ resumed: 1, submitted: 1 });
    const hub = await saashopOrders();
    expect(hub).toHaveLength(1);
    expect(await events.get(eventId)).toMatchObject({ status: 'SUBMITTED', hubOrderId: hub[0]!.orderId });
    expect(publisher.events.filter((e) => e.type === 'order.accepted')).toHaveLength(1);
  });

  it('a crash inside the order use case (channel claimed, no order yet) is finished by the retry', async () => {
    const { orderId, eventId } = publish();
    let crash = true;
    const flaky = Object.assign(Object.create(orders) as OrderRepository, {
      create: async (...args: Parameters<OrderRepository['create']>) => {
        if (crash) throw new Error('process killed');
        return orders.create(...args);
      },
    });
    const orderDeps = { orders: flaky, publisher, clock, ids: ulidGenerator, screening, budgetMs: 5_000 };
    const first = await pollSaashop(deps({ submit: (input) => submitOrder(input, orderDeps) }));
    expect(first).toMatchObject({ claimed: 1, deferred: 1 });
    expect(await events.findHubOrder('saashop', orderId)).toMatchObject({ orderId: expect.any(String) });
    crash = false;
    clock.advance(61);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, submitted: 1 });
    const hub = await saashopOrders();
    expect(hub.map((o) => o.status)).toEqual(['ACCEPTED']);
    expect(await events.get(eventId)).toMatchObject({ status: 'SUBMITTED', hubOrderId: hub[0]!.orderId });
  });

  it('temporary failures are retried with backoff, then FAILED and announced: never forever', async () => {
    const { orderId, eventId } = publish({
      answer: { status: 503, body: '<html><h1>503 Service Unavailable</h1></html>' },
    });
    expect(await pollSaashop(deps())).toMatchObject({ claimed: 1, deferred: 1 });
    let record = await events.get(eventId);
    expect(record).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(record?.lastError).toMatch(/503/);
    expect(Date.parse(record!.dueAt!) - clock.now().getTime()).toBe(60_000);

    expect(await pollSaashop(deps())).toMatchObject({ resumed: 0 }); // not due yet
    clock.advance(61);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, deferred: 1 });
    record = await events.get(eventId);
    expect(Date.parse(record!.dueAt!) - clock.now().getTime()).toBe(120_000); // doubled
    clock.advance(121);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, failed: 1, announced: 1 });
    expect(await events.get(eventId)).toMatchObject({ status: 'FAILED', code: 'FETCH_FAILED', attempts: 3 });
    expect(failedAnnouncements()).toHaveLength(1);

    clock.advance(3600);
    await pollSaashop(deps());
    expect(fetched(orderId)).toHaveLength(3 * 2); // maxAttempts × client attempts, then no more
    expect(await saashopOrders()).toHaveLength(0);
  });

  it.each([
    [
      'an HTML page answered 200',
      { status: 200, body: '<!doctype html><title>Login</title>' },
      'ORDER_MALFORMED_ANSWER',
    ],
    ['a JSON array', { status: 200, body: [] }, 'ORDER_MALFORMED_ANSWER'],
    [
      'an order without its buyer',
      { status: 200, body: { orderId: 'x', issueDate: '2026-11-23' } },
      'MALFORMED_ORDER',
    ],
    [
      'wrong types',
      {
        status: 200,
        body: { orderId: 42, orderTypeCode: ['Purchase'], documentLines: 'x', buyerCustomerParty: 7 },
      },
      'MALFORMED_ORDER',
    ],
    ['a 404', { status: 404, body: { errorCode: 'NotFound' } }, 'ORDER_NOT_FOUND'],
  ])('%s: FAILED at once with the answer kept, announced once, not retried', async (_label, answer, code) => {
    const { orderId, eventId } = publish({ answer });
    const warn = vi.spyOn(logger, 'warn');
    const report = await pollSaashop(deps());
    // Logged once, with ids and the code only: never the answer (it may carry a buyer's data).
    expect(warn.mock.calls).toEqual([['saashop event failed', { eventId, code, status: 'FAILED' }]]);
    warn.mockRestore();
    expect(report).toMatchObject({ claimed: 1, failed: 1, announced: 1, deferred: 0 });
    const record = await events.get(eventId);
    expect(record).toMatchObject({ status: 'FAILED', code, saashopOrderId: orderId });
    expect(record?.rawOrder).toBeDefined();
    expect(record?.announcedAt).toBeDefined();
    expect(failedAnnouncements().map((e) => e.detail)).toEqual([
      {
        tenant: 'saashop',
        eventId,
        saashopOrderId: orderId,
        eventTypeCode: 'ServicePurchased',
        status: 'FAILED',
        code,
      },
    ]);
    clock.advance(7200);
    await pollSaashop(deps());
    expect(fetched(orderId)).toHaveLength(1);
  });

  it('an order that cannot be normalised is FAILED with the reason (unknown product, missing address)', async () => {
    const unknown = publish({ productCode: 'SB-GALAXY' });
    const order = sandbox.generateOrder({});
    delete ((order.buyerCustomerParty as any).party as Record<string, unknown>).postalAddress;
    const noAddress = publish(order);
    await pollSaashop(deps());
    expect(await events.get(unknown.eventId)).toMatchObject({
      status: 'FAILED',
      code: 'UNKNOWN_PRODUCT',
      reason: 'documentLines.0.lineItem.item.sellersItemIdentification.id: unknown product code "SB-GALAXY"',
    });
    expect(await events.get(noAddress.eventId)).toMatchObject({
      status: 'FAILED',
      code: 'MISSING_BUYER_ADDRESS',
    });
    expect(await saashopOrders()).toHaveLength(0);
  });

  it('a failure whose announcement was lost is announced by a later poll', async () => {
    const { eventId } = publish({ productCode: 'SB-GALAXY' });
    publisher.failNext = 1;
    expect(await pollSaashop(deps())).toMatchObject({ failed: 1, announced: 0, leftDue: 1 });
    expect(failedAnnouncements()).toHaveLength(0);
    clock.advance(181);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, announced: 1 });
    expect(failedAnnouncements()).toHaveLength(1);
    expect((await events.get(eventId))?.announcedAt).toBeDefined();
    clock.advance(181);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 0, announced: 0 });
  });

  it('unsupported event types are stored UNSUPPORTED and announced; status events and repeats are ignored unfetched', async () => {
    const upgrade = publish({ eventTypeCode: 'UpgradeToPurchase' });
    const first = publish();
    await pollSaashop(deps());
    // SaaShop announces the same order again, and lists a status event (ours, echoed).
    sandbox.state.feed.push({ ...sandbox.state.feed[1]!, eventId: 'f0000000-0000-4000-8000-000000000001' });
    sandbox.state.feed.push({
      ...sandbox.state.feed[1]!,
      eventId: 'f0000000-0000-4000-8000-000000000002',
      statusCode: 'ProvisioningCompleted',
    });
    expect(await pollSaashop(deps())).toMatchObject({ claimed: 2, ignored: 2, submitted: 0 });
    expect(await events.get(upgrade.eventId)).toMatchObject({
      status: 'UNSUPPORTED',
      code: 'UNSUPPORTED_EVENT_TYPE',
    });
    expect(await events.get('f0000000-0000-4000-8000-000000000001')).toMatchObject({
      status: 'IGNORED',
      hubOrderId: (await saashopOrders())[0]!.orderId,
    });
    expect(await events.get('f0000000-0000-4000-8000-000000000002')).toMatchObject({ status: 'IGNORED' });
    expect(fetched(first.orderId)).toHaveLength(1);
    expect(failedAnnouncements().map((e) => e.detail.status)).toEqual(['UNSUPPORTED']);
  });

  it('a malformed feed event is claimed once under a content key and FAILED', async () => {
    sandbox.state.feed.push({ eventTypeCode: 'ServicePurchased', additionalProperties: 'none' });
    sandbox.state.feed.push({ eventId: 'not a usable id!', eventTypeCode: 7 });
    const report = await pollSaashop(deps());
    expect(report).toMatchObject({ claimed: 2, failed: 2 });
    const failed = (await events.listByStatus('FAILED', { limit: 10 })).events;
    expect(failed.map((e) => e.code)).toEqual(['MALFORMED_EVENT', 'MALFORMED_EVENT']);
    for (const e of failed) expect(e.eventId).toMatch(/^invalid-[0-9a-f]{32}$/);
    // Re-reading the same feed (cursor lost) claims nothing new.
    await events.advanceCursor(0, clock.now());
    expect(await pollSaashop(deps({ events: withCursorAt(0) }))).toMatchObject({
      read: 2,
      claimed: 0,
      alreadyClaimed: 2,
    });
  });

  it('a feed SaaShop cannot serve is logged on the cursor and retried by the next poll, never a throw', async () => {
    publish();
    sandbox.faults = { ...sandbox.faults, errorRate: 1, status: 502 };
    const report = await pollSaashop(deps());
    expect(report.feedError).toMatch(/502|failed/);
    expect(await events.getCursor()).toMatchObject({
      offset: 0,
      consecutiveErrors: 1,
      lastError: expect.any(String),
    });
    sandbox.faults = { ...sandbox.faults, errorRate: 0 };
    expect(await pollSaashop(deps())).toMatchObject({ submitted: 1 });
    const cursor = await events.getCursor();
    expect(cursor).toMatchObject({ offset: 1, consecutiveErrors: 0 });
    expect(cursor.lastError).toBeUndefined();
  });

  it('reads the feed page by page and stops at the page budget', async () => {
    for (let i = 0; i < 12; i++) publish();
    const report = await pollSaashop(deps({ settings: { ...settings, pageSize: 5, maxPages: 2 } }));
    expect(report).toMatchObject({ read: 10, submitted: 10, offset: 10 });
    expect(await pollSaashop(deps())).toMatchObject({ read: 2, submitted: 2, offset: 12 });
  });

  it('stops starting work when the invocation is about to time out; the lease brings it back', async () => {
    publish();
    publish();
    let left = 60_000;
    const report = await pollSaashop(
      deps({ remainingMs: () => (left -= 30_000), settings: { ...settings, reserveMs: 20_000 } }),
    );
    expect(report.submitted + report.leftDue).toBeLessThanOrEqual(2);
    clock.advance(181);
    await pollSaashop(deps());
    expect(await saashopOrders()).toHaveLength(2);
  });
});

describe('confirming the status reports (the safety net behind the notifier queue)', () => {
  const sent = async (subject: string, statusCode: string) => {
    const claim = await reports.claim({ subject, statusCode }, clock.now(), 60_000);
    expect(claim.kind).toBe('claimed');
    await reports.finish(claim.report, { state: 'SENT' }, clock.now());
  };
  const requested = () => publisher.events.filter((e) => e.type === 'saashop.report.requested');

  it('a report never sent is requested again, with backoff, until it is; then the record closes', async () => {
    const { eventId } = publish();
    await pollSaashop(deps());
    const hubOrderId = (await events.get(eventId))!.hubOrderId!;
    // The pipeline finished the order, but its Completed report was lost on the way to the notifier.
    const order = (await orders.get(hubOrderId))!;
    await orders.transition(hubOrderId, {
      from: ['ACCEPTED'],
      to: 'FULFILLED',
      event: { type: 'order.fulfilled', detail: { tenant: 'saashop' } },
      now: clock.now(),
    });
    await sent(hubOrderId, 'ProvisioningStarted');
    expect(order.channel).toBe('saashop');

    clock.advance(901);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, requested: 1, confirmed: 0 });
    expect(requested().map((e) => e.detail)).toEqual([{ tenant: 'saashop', orderId: hubOrderId }]);
    let record = (await events.get(eventId))!;
    expect(record.reportChecks).toBe(1);
    expect(Date.parse(record.dueAt!) - clock.now().getTime()).toBe(1_800_000); // doubled

    clock.advance(600);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 0 });
    await sent(hubOrderId, 'ProvisioningCompleted');
    clock.advance(1300);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, confirmed: 1, requested: 0 });
    record = (await events.get(eventId))!;
    expect(record).toMatchObject({ status: 'SUBMITTED', closeNote: 'status reports confirmed' });
    expect(record.dueAt).toBeUndefined();
    expect(requested()).toHaveLength(1);
  });

  it('an order still in review is watched with backoff, then no longer (bounded)', async () => {
    const { eventId } = publish({ buyerName: 'Zenith Orbital Systems', buyerCountry: 'US' }); // review
    await pollSaashop(deps());
    expect((await events.get(eventId))?.hubStatus).toBe('NEEDS_REVIEW');
    for (let i = 0; i < 4; i++) {
      clock.advance(86_400);
      await pollSaashop(deps());
    }
    const record = (await events.get(eventId))!;
    expect(record).toMatchObject({ reportChecks: 3, closeNote: 'no final status yet' });
    expect(record.dueAt).toBeUndefined();
    expect(requested()).toHaveLength(0); // nothing was owed while in review
  });

  it('a failed event’s report is confirmed the same way', async () => {
    const { eventId } = publish({ productCode: 'SB-GALAXY' });
    await pollSaashop(deps());
    clock.advance(901);
    expect(await pollSaashop(deps())).toMatchObject({ resumed: 1, requested: 1 });
    expect(failedAnnouncements()).toHaveLength(2);
    await sent(`EVENT#${eventId}`, 'ProvisioningFailed');
    clock.advance(1801);
    expect(await pollSaashop(deps())).toMatchObject({ confirmed: 1 });
    expect((await events.get(eventId))?.closeNote).toBe('status reports confirmed');
  });
});

describe('the event records (what operators see)', () => {
  it('lists failures by status, newest first, from the index, with a cursor bound to the status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push(publish({ productCode: `SB-NOPE-${i}` }).eventId);
      await pollSaashop(deps());
      clock.advance(1);
    }
    const first = await events.listByStatus('FAILED', { limit: 2 });
    expect(first.events.map((e) => e.eventId)).toEqual([ids[2], ids[1]]);
    expect(first.events[0]).toMatchObject({ code: 'UNKNOWN_PRODUCT', rawEvent: expect.any(String) });
    const second = await events.listByStatus('FAILED', {
      limit: 2,
      ...(first.cursor ? { cursor: first.cursor } : {}),
    });
    expect(second.events.map((e) => e.eventId)).toEqual([ids[0]]);
    await expect(
      events.listByStatus('SUBMITTED', { limit: 2, cursor: first.cursor! }),
    ).rejects.toBeInstanceOf(CursorError);
    await expect(events.listByStatus('FAILED', { limit: 2, cursor: 'forged' })).rejects.toBeInstanceOf(
      CursorError,
    );
  });

  it('the cursor only moves forward', async () => {
    expect(await events.advanceCursor(5, clock.now())).toBe(true);
    expect(await events.advanceCursor(3, clock.now())).toBe(false);
    expect((await events.getCursor()).offset).toBe(5);
  });
});

/** The event repository with its cursor forced to `offset` (a lost cursor re-reading the feed). */
function withCursorAt(offset: number): SaashopEventRepository {
  return Object.assign(Object.create(events) as SaashopEventRepository, {
    getCursor: async () => ({ ...(await events.getCursor()), offset }),
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 5_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}
