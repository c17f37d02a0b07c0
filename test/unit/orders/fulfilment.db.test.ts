import { createPublicKey } from 'node:crypto';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SalesforceClient } from '../../../functions/crm-sync/salesforce-client.ts';
import { crmCompositeRequest, syncCrm } from '../../../functions/crm-sync/sync-crm.ts';
import {
  issueLicence,
  MAIL_CLAIM_LEASE_MS,
  type Mailer,
  mailNotSent,
} from '../../../functions/licence-provisioner/issue-licence.ts';
import { type MailClaimStore, MailClaims } from '../../../functions/licence-provisioner/mail-claims.ts';
import { reconcileOrders } from '../../../functions/order-reconciler/reconcile-orders.ts';
import { createMailSandbox } from '../../../local/sandboxes/mail.ts';
import {
  LOCAL_LICENCE_SIGNING_KEY,
  LOCAL_SALESFORCE_CREDENTIALS,
} from '../../../local/sandboxes/order-credentials.ts';
import {
  createSalesforceSandbox,
  type SalesforceSandbox,
  salesforceObjects,
} from '../../../local/sandboxes/salesforce.ts';
import { type Order, OrderRepository } from '../../../shared/db/entities/orders.ts';
import { deliveryIdFor } from '../../../shared/db/entities/webhook-deliveries.ts';
import { TransientError } from '../../../shared/errors.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { publicJwks, verifyLicence } from '../../../shared/orders/licence-keys.ts';
import { orderEvent } from '../../../shared/orders/lifecycle.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { sandboxContext, sandboxFetch } from '../../helpers/sandbox-fetch.ts';
import { FakePublisher, ManualClock, validOrder } from './fixtures.ts';

let table: TestTable;
let orders: OrderRepository;
let sf: SalesforceSandbox;
let publisher: FakePublisher;
let mails: Array<{ to: string; subject: string; text: string }>;
let mailer: Mailer & { failNext: number };
const clock = new ManualClock();

/** An order already BILLING_PROVISIONED (the state crm-sync and licence-provisioner start from). */
async function provisionedOrder(): Promise<string> {
  const now = clock.now().toISOString();
  const orderId = ulidGenerator.next('ord');
  const body = validOrder();
  const order: Order = {
    orderId,
    tenant: 'arrow',
    channel: 'api',
    ...body,
    requestHash: 'h',
    status: 'BILLING_PROVISIONED',
    history: [{ at: now, status: 'BILLING_PROVISIONED' }],
    billing: {
      accountNumber: 'A00000001',
      subscriptionNumber: 'A-S00000001',
      chargeNumbers: ['C-1'],
      provisionedAt: now,
    },
    lastEvent: {
      type: 'order.billing.provisioned',
      detail: {
        tenant: 'arrow',
        orderId,
        channelOrderId: body.channelOrderId,
        status: 'BILLING_PROVISIONED',
      },
    },
    redrives: 0,
    zuoraKeys: 0,
    createdAt: now,
    updatedAt: now,
  };
  await orders.create(order);
  return orderId;
}

const crmDeps = () => ({
  orders,
  publisher,
  clock,
  salesforce: new SalesforceClient({
    loginUrl: sf.ctx.baseUrl,
    credentials: async () => LOCAL_SALESFORCE_CREDENTIALS,
    clock,
    fetchImpl: sandboxFetch(sf),
  }),
});
const licenceDeps = () => ({
  orders,
  publisher,
  clock,
  mailer,
  mailClaims: new MailClaims(table.doc, table.tableName),
  signingKey: async () => LOCAL_LICENCE_SIGNING_KEY,
});

beforeAll(async () => {
  table = await startTestTable();
  orders = new OrderRepository(table.doc, table.tableName);
});
afterAll(async () => table.stop());
beforeEach(() => {
  sf = createSalesforceSandbox(sandboxContext('salesforce', { clock }));
  publisher = new FakePublisher();
  mails = [];
  mailer = {
    failNext: 0,
    async send(m) {
      if (this.failNext > 0) {
        this.failNext--;
        throw mailNotSent(new TransientError('SES throttled'));
      }
      mails.push(m);
      return undefined;
    },
  };
});

describe('crm-sync', () => {
  it('upserts contact, opportunity and quote in one composite call, once per order', async () => {
    const orderId = await provisionedOrder();
    expect(await syncCrm({ orderId }, crmDeps())).toBe('synced');
    // A duplicate message and a forced re-sync (crash before recording) change nothing in Salesforce.
    expect(await syncCrm({ orderId }, crmDeps())).toBe('skipped');
    const order = (await orders.get(orderId))!;
    await crmDeps().salesforce.composite('again', crmCompositeRequest(order, '2026-01-05'));
    expect(salesforceObjects(sf, 'Contact')).toHaveLength(1);
    expect(salesforceObjects(sf, 'Opportunity')).toHaveLength(1);
    const [quote] = salesforceObjects(sf, 'Quote');
    expect(quote?.OpportunityId).toBe(order.crm?.opportunityId);
    expect(sf.records.filter((r) => r.kind === 'composite')).toHaveLength(2);
    expect(order.crm?.contactId).toMatch(/^003/);
  });

  it('maps a Salesforce error array to a permanent failure naming the fields', async () => {
    const orderId = await provisionedOrder();
    const salesforce = crmDeps().salesforce;
    const broken = {
      composite: (op: string, reqs: Parameters<typeof salesforce.composite>[1]) =>
        salesforce.composite(
          op,
          reqs.map((r) =>
            r.referenceId === 'opportunity' ? { ...r, body: { ...r.body, StageName: '' } } : r,
          ),
        ),
    };
    expect(await syncCrm({ orderId }, { ...crmDeps(), salesforce: broken })).toBe('failed');
    const order = await orders.get(orderId);
    expect(order?.status).toBe('ERROR');
    expect(order?.error).toMatchObject({
      stage: 'crm',
      code: 'SALESFORCE_REJECTED',
      partnerCode: 'REQUIRED_FIELD_MISSING',
    });
    expect(order?.error?.reason).not.toContain('StageName');
    expect(order?.error?.detail).toContain('StageName');
    expect(String(publisher.events.at(-1)?.detail.reason)).toMatch(
      /^SALESFORCE_REJECTED \(REQUIRED_FIELD_MISSING\): /,
    );
    expect(String(publisher.events.at(-1)?.detail.reason)).not.toContain('StageName');
    // allOrNone rolled the contact back.
    expect(salesforceObjects(sf, 'Contact')).toHaveLength(0);
    expect(publisher.types()).toEqual(['order.failed']);
  });

  it('retries Salesforce outages (TransientError) without touching the order', async () => {
    const orderId = await provisionedOrder();
    sf.faults = { ...sf.faults, errorRate: 1, status: 503 };
    await expect(syncCrm({ orderId }, crmDeps())).rejects.toBeInstanceOf(TransientError);
    expect((await orders.get(orderId))?.status).toBe('BILLING_PROVISIONED');
  });
});

describe('licence-provisioner and the fulfilment join', () => {
  it('issues a verifiable licence, mails buyer and partner, and FULFILLED is reached once in any order', async () => {
    for (const crmFirst of [true, false]) {
      publisher.events = [];
      mails = [];
      const orderId = await provisionedOrder();
      if (crmFirst) await syncCrm({ orderId }, crmDeps());
      expect(await issueLicence({ orderId }, licenceDeps())).toBe('issued');
      if (!crmFirst) await syncCrm({ orderId }, crmDeps());
      const order = (await orders.get(orderId))!;
      expect(order.status).toBe('FULFILLED');
      expect(publisher.types().filter((t) => t === 'order.fulfilled')).toHaveLength(1);
      expect(mails.map((m) => m.to)).toEqual([order.sellTo.contact.email, order.partner.contact.email]);
      expect(mails[0]?.text).toContain(order.licence!.key);
      // The product verifies the key offline with the published public key.
      const jwk = publicJwks(LOCAL_LICENCE_SIGNING_KEY).keys[0]!;
      const claims = await verifyLicence(order.licence!.key, jwk, clock.now());
      expect(claims).toMatchObject({ orderId, customer: { company: order.sellTo.company, country: 'DE' } });
      expect(claims.products[0]).toMatchObject({ productCode: 'SB-PRO', quantity: 10, termMonths: 12 });
      // Redelivery: no second licence, no second e-mail, no second fulfilled event.
      expect(await issueLicence({ orderId }, licenceDeps())).toBe('skipped');
      expect(mails).toHaveLength(2);
    }
  });

  it('keeps the same licence when the e-mail fails and is retried', async () => {
    const orderId = await provisionedOrder();
    mailer.failNext = 1;
    await expect(issueLicence({ orderId }, licenceDeps())).rejects.toBeInstanceOf(TransientError);
    const key = (await orders.get(orderId))?.licence?.key;
    expect(key).toBeDefined();
    clock.advance(60);
    expect(await issueLicence({ orderId }, licenceDeps())).toBe('issued');
    expect((await orders.get(orderId))?.licence?.key).toBe(key);
    expect(mails).toHaveLength(2);
  });

  it('does not re-send the buyer’s copy when only the partner’s copy failed', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    const flaky: Mailer = {
      async send(m) {
        if (m.to === order.partner.contact.email && !mails.some((x) => x.to === 'failed-once')) {
          mails.push({ to: 'failed-once', subject: '', text: '' });
          throw mailNotSent(new TransientError('SES throttled'));
        }
        mails.push(m);
        return undefined;
      },
    };
    await expect(issueLicence({ orderId }, { ...licenceDeps(), mailer: flaky })).rejects.toBeInstanceOf(
      TransientError,
    );
    expect(await issueLicence({ orderId }, { ...licenceDeps(), mailer: flaky })).toBe('issued');
    expect(mails.map((m) => m.to)).toEqual([
      order.sellTo.contact.email,
      'failed-once',
      order.partner.contact.email,
    ]);
  });

  it('rejects a licence signed by another key', async () => {
    const orderId = await provisionedOrder();
    await issueLicence({ orderId }, licenceDeps());
    const other = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
      format: 'jwk',
    });
    const key = (await orders.get(orderId))!.licence!.key;
    await expect(verifyLicence(key, await exportJWK(other), clock.now())).rejects.toThrow();
  });
});

describe('order-reconciler', () => {
  it('a terminal event re-published after a crash between write and publish is the same event (one webhook per endpoint)', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    // The transition is written; the process dies before publishing it.
    const moved = (await orders.transition(orderId, {
      from: ['BILLING_PROVISIONED'],
      to: 'FULFILLED',
      event: orderEvent('order.fulfilled', order, 'FULFILLED'),
      now: clock.now(),
    }))!;
    const written = moved.lastEvent!;
    expect(written.detail).toMatchObject({
      eventId: expect.stringMatching(/^evt_/),
      occurredAt: clock.now().toISOString(),
    });
    clock.advance(601);
    await reconcileOrders({ orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 20 });
    const republished = publisher.events.filter((e) => e.detail.orderId === orderId);
    expect(republished.map((e) => e.type)).toEqual(['order.fulfilled']);
    expect(republished[0]!.detail.eventId).toBe(written.detail.eventId);
    expect(republished[0]!.detail.occurredAt).toBe(written.detail.occurredAt);
    // Both publications name the same delivery per endpoint, whatever EventBridge's envelope says.
    const ids = [written, republished[0]!].map((e) =>
      deliveryIdFor(String(e.detail.eventId), 'ep_1', Date.parse(String(e.detail.occurredAt))),
    );
    expect(ids[0]).toBe(ids[1]);
  });

  it('re-publishes the last event of orders stuck longer than the threshold, once per period', async () => {
    const orderId = await provisionedOrder();
    const deps = { orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 20 };
    expect((await reconcileOrders(deps)).redriven).toBe(0);
    clock.advance(601);
    const report = await reconcileOrders(deps);
    expect(report.byStatus.BILLING_PROVISIONED).toBeGreaterThanOrEqual(1);
    expect(publisher.events.filter((e) => e.detail.orderId === orderId).map((e) => e.type)).toEqual([
      'order.billing.provisioned',
    ]);
    // Within the next period it is not re-driven again.
    await reconcileOrders(deps);
    expect(publisher.events.filter((e) => e.detail.orderId === orderId)).toHaveLength(1);
    // The re-driven event completes it; a fulfilled order whose event was published leaves the index.
    await syncCrm({ orderId }, crmDeps());
    await issueLicence({ orderId }, licenceDeps());
    clock.advance(601);
    publisher.events = [];
    await reconcileOrders(deps);
    expect(publisher.events.filter((e) => e.detail.orderId === orderId)).toHaveLength(0);
  });

  it('screens again an order whose intake stopped mid-screening, as an event of its own channel', async () => {
    const now = clock.now().toISOString();
    const orderId = ulidGenerator.next('ord');
    const body = validOrder();
    await orders.create({
      orderId,
      tenant: 'saashop',
      channel: 'saashop',
      channelRef: { saashopOrderId: body.channelOrderId },
      ...body,
      requestHash: 'h',
      status: 'SCREENING',
      history: [{ at: now, status: 'SCREENING' }],
      redrives: 0,
      zuoraKeys: 0,
      createdAt: now,
      updatedAt: now,
    });
    clock.advance(601);
    await reconcileOrders({ orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 20 });
    // A marketplace consumer's rule matches detail.channel: the synthesized event must carry it.
    expect(publisher.events.filter((e) => e.detail.orderId === orderId)).toEqual([
      {
        type: 'order.received',
        detail: {
          tenant: 'saashop',
          orderId,
          channelOrderId: body.channelOrderId,
          channel: 'saashop',
          status: 'RECEIVED',
        },
      },
    ]);
  });

  it('stops re-driving an order after maxRedrives and reports it', async () => {
    const orderId = await provisionedOrder();
    const deps = { orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 2 };
    for (let i = 0; i < 4; i++) {
      clock.advance(601);
      await reconcileOrders(deps);
    }
    expect(publisher.events.filter((e) => e.detail.orderId === orderId)).toHaveLength(2);
    expect((await orders.get(orderId))?.redrives).toBe(2);
    clock.advance(601);
    expect((await reconcileOrders(deps)).abandoned).toBeGreaterThanOrEqual(1);
  });

  it('publishes a terminal event that a crash left unpublished', async () => {
    const orderId = await provisionedOrder();
    publisher.failNext = 1; // the order.failed publish is lost
    await expect(
      syncCrm({ orderId }, { ...crmDeps(), salesforce: { composite: async () => [] } }),
    ).rejects.toThrow('bus down');
    expect((await orders.get(orderId))?.status).toBe('ERROR');
    clock.advance(601);
    await reconcileOrders({ orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 20 });
    expect(publisher.events.filter((e) => e.detail.orderId === orderId).map((e) => e.type)).toEqual([
      'order.failed',
    ]);
    publisher.events = [];
    clock.advance(601);
    await reconcileOrders({ orders, publisher, clock, stuckAfterSeconds: 600, limit: 1000, maxRedrives: 20 });
    expect(publisher.events.filter((e) => e.detail.orderId === orderId)).toHaveLength(0);
  });
});

describe('licence e-mails across crashes (claim in DynamoDB, SES MessageId recorded)', () => {
  /** Sends into the mail sandbox's outbox as the runtime's SES emulation does, answering a MessageId. */
  function outbox() {
    const mail = createMailSandbox(sandboxContext('mail', { clock }));
    let n = 0;
    const sesLike: Mailer = {
      async send(m) {
        const messageId = `local-${++n}`;
        mail.record('email', { messageId, to: [m.to], subject: m.subject, text: m.text });
        return messageId;
      },
    };
    const sentTo = (to: string) =>
      mail.records.filter((r) => r.kind === 'email' && (r.to as string[]).includes(to)).length;
    return { sesLike, sentTo, total: () => mail.records.filter((r) => r.kind === 'email').length };
  }
  const crash = () => new Error('process killed');

  it('crash between claim and send: redelivery waits for the lease, then sends each copy once', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    const box = outbox();
    // The attempt that dies ran in another process (a crashed Lambda environment).
    const real = new MailClaims(table.doc, table.tableName, { holder: 'crashed-process' });
    let crashed = false;
    const dying: MailClaimStore = {
      claim: async (...args) => {
        const claimed = await real.claim(...args);
        if (!crashed) {
          crashed = true;
          throw crash();
        }
        return claimed;
      },
      recordSent: (...args) => real.recordSent(...args),
      release: (...args) => real.release(...args),
    };
    const deps = { ...licenceDeps(), mailer: box.sesLike };
    await expect(issueLicence({ orderId }, { ...deps, mailClaims: dying })).rejects.toThrow('process killed');
    // Redelivered at once: the claim is still leased, nothing is sent.
    await expect(issueLicence({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    expect(box.total()).toBe(0);
    clock.advance(MAIL_CLAIM_LEASE_MS / 1000 + 1);
    expect(await issueLicence({ orderId }, deps)).toBe('issued');
    await issueLicence({ orderId }, deps); // one more redelivery: nothing new
    expect(box.sentTo(order.sellTo.contact.email)).toBe(1);
    expect(box.sentTo(order.partner.contact.email)).toBe(1);
  });

  it('a hub clock jump past the lease does not let this process send a copy its running attempt holds', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    const box = outbox();
    let wall = Date.now();
    const claims = new MailClaims(table.doc, table.tableName, { wallClock: () => wall });
    // The first attempt has claimed the buyer's copy and is still sending when the clock jumps.
    const first = await claims.claim(orderId, 'buyer', clock.now(), MAIL_CLAIM_LEASE_MS);
    expect(first.kind).toBe('claimed');
    clock.advance(10 * 60);
    const deps = { ...licenceDeps(), mailer: box.sesLike, mailClaims: claims };
    await expect(issueLicence({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    expect(box.sentTo(order.sellTo.contact.email)).toBe(0);
    // Another process (a restarted suite) needs only the hub clock; so does this one once the lease
    // has passed on the machine clock too.
    const other = new MailClaims(table.doc, table.tableName, { holder: 'restarted', wallClock: () => wall });
    expect((await other.claim(orderId, 'buyer', clock.now(), MAIL_CLAIM_LEASE_MS)).kind).toBe('claimed');
    clock.advance(MAIL_CLAIM_LEASE_MS / 1000 + 1);
    wall += MAIL_CLAIM_LEASE_MS + 1;
    expect(await issueLicence({ orderId }, deps)).toBe('issued');
    expect(box.sentTo(order.sellTo.contact.email)).toBe(1);
    expect(box.sentTo(order.partner.contact.email)).toBe(1);
  });

  it('crash after the MessageId is recorded but before the order is: the copy is not sent again', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    const box = outbox();
    let crashed = false;
    const dyingOrders = {
      get: orders.get.bind(orders),
      transition: orders.transition.bind(orders),
      settle: orders.settle.bind(orders),
      recordStep: async (...args: Parameters<typeof orders.recordStep>) => {
        if (args[1] === 'licenceBuyerMailedAt' && !crashed) {
          crashed = true;
          throw crash();
        }
        return orders.recordStep(...args);
      },
    };
    const deps = { ...licenceDeps(), mailer: box.sesLike };
    await expect(issueLicence({ orderId }, { ...deps, orders: dyingOrders })).rejects.toThrow(
      'process killed',
    );
    expect(await issueLicence({ orderId }, deps)).toBe('issued');
    expect(box.sentTo(order.sellTo.contact.email)).toBe(1);
    expect(box.sentTo(order.partner.contact.email)).toBe(1);
  });

  it('crash between SES accepting and the record: no re-send under the lease; after it, one documented re-send', async () => {
    const orderId = await provisionedOrder();
    const order = (await orders.get(orderId))!;
    const box = outbox();
    // The attempt that dies ran in another process (a crashed Lambda environment).
    const real = new MailClaims(table.doc, table.tableName, { holder: 'crashed-process' });
    let crashed = false;
    const dying: MailClaimStore = {
      claim: (...args) => real.claim(...args),
      recordSent: async (...args) => {
        if (!crashed) {
          crashed = true;
          throw crash();
        }
        return real.recordSent(...args);
      },
      release: (...args) => real.release(...args),
    };
    const deps = { ...licenceDeps(), mailer: box.sesLike };
    await expect(issueLicence({ orderId }, { ...deps, mailClaims: dying })).rejects.toThrow('process killed');
    expect(box.sentTo(order.sellTo.contact.email)).toBe(1);
    // Redeliveries within the lease send nothing.
    await expect(issueLicence({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    await expect(issueLicence({ orderId }, deps)).rejects.toBeInstanceOf(TransientError);
    expect(box.total()).toBe(1);
    // After the lease, SES offers no idempotency key: the buyer's copy goes once more (the README's
    // stated limit), the partner's once, and nothing after that.
    clock.advance(MAIL_CLAIM_LEASE_MS / 1000 + 1);
    expect(await issueLicence({ orderId }, deps)).toBe('issued');
    await issueLicence({ orderId }, deps); // one more redelivery: nothing new
    expect(box.sentTo(order.sellTo.contact.email)).toBe(2);
    expect(box.sentTo(order.partner.contact.email)).toBe(1);
  });

  it('an e-mail SES refused (answered with an error) releases its claim: the retry sends at once', async () => {
    const orderId = await provisionedOrder();
    mailer.failNext = 1;
    await expect(issueLicence({ orderId }, licenceDeps())).rejects.toBeInstanceOf(TransientError);
    expect(await issueLicence({ orderId }, licenceDeps())).toBe('issued');
    expect(mails).toHaveLength(2);
  });
});
