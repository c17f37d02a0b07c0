import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AppDirectResult } from '../../../shared/appdirect/answers.ts';
import { type AppDirectEvent, appDirectEventSchema } from '../../../shared/appdirect/events.ts';
import { type ProcessEventDeps, processEvent } from '../../../shared/appdirect/process-event.ts';
import type { Clock } from '../../../shared/clock.ts';
import { AppDirectAccountStore } from '../../../shared/db/entities/appdirect-accounts.ts';
import { AppDirectEventStore } from '../../../shared/db/entities/appdirect-events.ts';
import { OrderRepository } from '../../../shared/db/entities/orders.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { submitOrder } from '../../../shared/orders/submit-order.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { FakePublisher, FakeScreening } from '../orders/fixtures.ts';
import { FakeZuora, orderEvent, testMarketplace } from './fakes.ts';

/**
 * The event use case on the embedded DynamoDB with a fake Zuora: each event type's outcome, and
 * exactly-once effects when the same event is handled again (redelivery, crash, duplicate).
 */
let table: TestTable;
let deps: ProcessEventDeps;
let zuora: FakeZuora;
let publisher: FakePublisher;
let orders: OrderRepository;
let accounts: AppDirectAccountStore;
const now = { t: Date.parse('2026-11-23T10:00:00Z') };
const clock: Clock = { now: () => new Date(now.t) };
const marketplace = testMarketplace();
let seq = 0;

const event = (body: unknown): AppDirectEvent => appDirectEventSchema.parse(body);
const handle = (body: unknown, eventId = `ev-${++seq}`, m = marketplace) =>
  processEvent(event(body), { marketplace: m, eventId }, deps);
const result = async (p: ReturnType<typeof handle>): Promise<AppDirectResult> => {
  const outcome = await p;
  if (outcome.kind !== 'answer') throw new Error(`expected an answer, got ${outcome.kind}`);
  return outcome.result;
};
const about = (type: string, accountIdentifier: string, payload: Record<string, unknown> = {}) => ({
  type,
  marketplace: { baseUrl: marketplace.baseUrl },
  payload: { account: { accountIdentifier }, ...payload },
});

beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => {
  await table.stop();
});
beforeEach(() => {
  zuora = new FakeZuora();
  publisher = new FakePublisher();
  orders = new OrderRepository(table.doc, table.tableName);
  accounts = new AppDirectAccountStore(table.doc, table.tableName);
  const orderDeps = {
    orders,
    publisher,
    clock,
    ids: ulidGenerator,
    screening: new FakeScreening('clear'),
    budgetMs: 1000,
  };
  deps = {
    orders,
    accounts,
    events: new AppDirectEventStore(table.doc, table.tableName),
    zuora,
    publisher,
    clock,
    submitOrder: (input) => submitOrder(input, orderDeps),
  };
});

/** An ordered and provisioned account (what the pipeline and the notifier leave behind). */
async function provisioned(items = [{ unit: 'USER', quantity: 2 }]) {
  const eventId = `order-${++seq}`;
  const outcome = await handle(orderEvent(items), eventId);
  expect(outcome.kind).toBe('pending');
  const order = (await orders.listByTenant('appdirect', { limit: 100 })).orders.find(
    (o) => o.channelRef?.eventId === eventId,
  )!;
  const accountIdentifier = order.channelRef!.accountIdentifier!;
  const sub = `A-S-${seq}`;
  zuora.seed(sub, `A-${seq}`, 'SB-PRO', (await accounts.get(accountIdentifier))!.lines[0]!.quantity);
  await accounts.patch(
    accountIdentifier,
    { status: 'ACTIVE', subscriptionNumber: sub, zuoraAccountNumber: `A-${seq}` },
    clock.now(),
  );
  return { accountIdentifier, order, sub };
}

describe('AppDirect events', () => {
  it('SUBSCRIPTION_ORDER: the order use case under the channel tenant, once per event', async () => {
    const first = await handle(orderEvent(), 'order-once');
    const again = await handle(orderEvent(), 'order-once');
    expect(first).toMatchObject({ kind: 'pending' });
    expect(again).toEqual(first);
    const mine = (await orders.listByTenant('appdirect', { limit: 100 })).orders.filter(
      (o) => o.channelRef?.eventId === 'order-once',
    );
    expect(mine).toHaveLength(1);
    const order = mine[0]!;
    expect(order).toMatchObject({
      channel: 'appdirect',
      channelOrderId: 'order-once',
      status: 'ACCEPTED',
      currency: 'USD',
      lines: [{ productCode: 'SB-PRO', quantity: 2, unit: 'seat' }],
      channelRef: {
        eventId: 'order-once',
        marketplaceId: 'home',
        marketplaceBaseUrl: marketplace.baseUrl,
        companyUuid: 'c-1',
      },
    });
    const account = await accounts.get(order.channelRef!.accountIdentifier!);
    expect(account).toMatchObject({
      status: 'PENDING',
      orderId: order.orderId,
      tenant: 'appdirect',
      kind: 'subscription',
    });
  });

  it('an order naming no buyer, or an edition not sold, is answered as a failure with nothing stored', async () => {
    const noBuyer = { ...orderEvent(), creator: null };
    expect(await result(handle(noBuyer))).toMatchObject({ success: false, errorCode: 'USER_NOT_FOUND' });
    const unsold = orderEvent();
    unsold.payload.order.editionCode = 'GOLD';
    expect(await result(handle(unsold))).toMatchObject({ success: false, errorCode: 'CONFIGURATION_ERROR' });
  });

  it('a STATELESS ping answers success and changes nothing', async () => {
    const before = (await orders.listByTenant('appdirect', { limit: 100 })).orders.length;
    expect(await result(handle({ ...orderEvent(), flag: 'STATELESS' }))).toMatchObject({
      success: true,
      accountIdentifier: 'stateless',
    });
    expect(
      await result(handle({ ...about('SUBSCRIPTION_CANCEL', 'whatever'), flag: 'STATELESS' })),
    ).toMatchObject({ success: true });
    expect((await orders.listByTenant('appdirect', { limit: 100 })).orders.length).toBe(before);
    expect(zuora.applied).toEqual([]);
  });

  it('an unknown account, or another marketplace’s, is ACCOUNT_NOT_FOUND', async () => {
    const { accountIdentifier } = await provisioned();
    expect(await result(handle(about('SUBSCRIPTION_CANCEL', 'nobody')))).toMatchObject({
      success: false,
      errorCode: 'ACCOUNT_NOT_FOUND',
    });
    const other = testMarketplace({
      id: 'other',
      baseUrl: 'https://other.example.com',
      tenant: 'appdirect-other',
    });
    expect(
      await result(handle(about('SUBSCRIPTION_CANCEL', accountIdentifier), undefined, other)),
    ).toMatchObject({
      errorCode: 'ACCOUNT_NOT_FOUND',
    });
    expect(zuora.applied).toEqual([]);
  });

  it('SUBSCRIPTION_CHANGE amends Zuora once per event (Idempotency-Key = event id) and announces it', async () => {
    const { accountIdentifier, sub } = await provisioned();
    const change = about('SUBSCRIPTION_CHANGE', accountIdentifier, {
      order: {
        editionCode: 'BASIC',
        items: [
          { unit: 'USER', quantity: '7' },
          { unit: 'GIGABYTE', quantity: 20 },
        ],
      },
    });
    const first = await result(handle(change, 'chg-1'));
    const again = await result(handle(change, 'chg-1'));
    expect(first).toEqual({ success: true, message: 'The subscription was changed.', accountIdentifier });
    expect(again).toEqual(first);
    expect(zuora.applied).toHaveLength(1);
    expect(zuora.applied[0]!.key).toBe('ad-chg-1');
    expect(zuora.applied[0]!.actions.map((a) => a.type)).toEqual(['UpdateProduct', 'AddProduct']);
    const state = await zuora.getSubscription(sub);
    expect(state.ratePlans.map((r) => r.charges[0]!.quantity)).toEqual([7, 20]);
    expect((await accounts.get(accountIdentifier))!.lines).toEqual([
      { productCode: 'SB-PRO', quantity: 7, unit: 'seat' },
      { productCode: 'SB-STORAGE', quantity: 20, unit: 'GB' },
    ]);
    expect(
      publisher.events.filter((e) => e.type === 'subscription.changed').map((e) => e.detail.change),
    ).toEqual(['changed', 'changed']);
  });

  it('a retryable Zuora refusal burns its key and the next key is used; a permanent one is the event’s failure', async () => {
    const { accountIdentifier } = await provisioned();
    zuora.refuse.set('ad-chg-lock', 'retryable');
    const change = about('SUBSCRIPTION_CHANGE', accountIdentifier, {
      order: { editionCode: 'BASIC', items: [{ unit: 'USER', quantity: 3 }] },
    });
    expect(await result(handle(change, 'chg-lock'))).toMatchObject({ success: true });
    expect(zuora.applied.map((a) => a.key)).toEqual(['ad-chg-lock.1']);
    // Handled again: key 0 replays its refusal, key 1 replays its success: nothing applied twice.
    expect(await result(handle(change, 'chg-lock'))).toMatchObject({ success: true });
    expect(zuora.applied).toHaveLength(1);

    zuora.refuse.set('ad-chg-bad', 'permanent');
    const before = await accounts.get(accountIdentifier);
    const bigger = about('SUBSCRIPTION_CHANGE', accountIdentifier, {
      order: { editionCode: 'BASIC', items: [{ unit: 'USER', quantity: 4 }] },
    });
    expect(await result(handle(bigger, 'chg-bad'))).toMatchObject({
      success: false,
      errorCode: 'UNKNOWN_ERROR',
    });
    expect((await accounts.get(accountIdentifier))!.lines).toEqual(before!.lines);
  });

  it('notices suspend, resume and close the Zuora subscription; cancel cancels it; repeats change nothing', async () => {
    const { accountIdentifier, sub } = await provisioned();
    const notice = (type: string) => about('SUBSCRIPTION_NOTICE', accountIdentifier, { notice: { type } });
    expect(await result(handle(notice('DEACTIVATED')))).toMatchObject({ success: true });
    expect((await zuora.getSubscription(sub)).status).toBe('Suspended');
    expect(await result(handle(notice('DEACTIVATED')))).toMatchObject({
      success: true,
      message: expect.stringMatching(/already/),
    });
    expect(await result(handle(notice('REACTIVATED')))).toMatchObject({ success: true });
    expect((await zuora.getSubscription(sub)).status).toBe('Active');
    expect(await result(handle(notice('UPCOMING_INVOICE')))).toMatchObject({ success: true });
    expect(await result(handle(about('SUBSCRIPTION_CANCEL', accountIdentifier)))).toMatchObject({
      success: true,
    });
    expect((await zuora.getSubscription(sub)).status).toBe('Cancelled');
    expect(await result(handle(notice('CLOSED')))).toMatchObject({ success: true });
    expect((await accounts.get(accountIdentifier))!.status).toBe('CLOSED');
    expect(zuora.applied.map((a) => a.actions[0]!.type)).toEqual(['Suspend', 'Resume', 'CancelSubscription']);
    expect(
      await result(
        handle(about('SUBSCRIPTION_CHANGE', accountIdentifier, { order: { editionCode: 'BASIC' } })),
      ),
    ).toMatchObject({
      errorCode: 'OPERATION_CANCELED',
    });
  });

  it('seats: assigned up to the limit on the order, once per event; removed once', async () => {
    const { accountIdentifier, order } = await provisioned([{ unit: 'USER', quantity: 2 }]);
    const user = (uuid: string, type = 'USER_ASSIGNMENT') =>
      about(type, accountIdentifier, { user: { uuid } });
    expect(await result(handle(user('u1'), 'as-1'))).toMatchObject({ success: true, userIdentifier: 'u1' });
    expect(await result(handle(user('u1'), 'as-1'))).toMatchObject({ success: true }); // the same event again
    expect(await result(handle(user('u1'), 'as-other'))).toMatchObject({ errorCode: 'USER_ALREADY_EXISTS' });
    expect(await result(handle(user('u2')))).toMatchObject({ success: true });
    expect(await result(handle(user('u3')))).toMatchObject({
      success: false,
      errorCode: 'MAX_USERS_REACHED',
    });
    expect(Object.keys((await orders.get(order.orderId))!.seats ?? {}).sort()).toEqual(['u1', 'u2']);
    expect(await result(handle(user('u1', 'USER_SYNC')))).toMatchObject({ success: true });

    expect(await result(handle(user('u1', 'USER_UNASSIGNMENT'), 'un-1'))).toMatchObject({ success: true });
    // A crash after the removal, before the answer: the redelivered event still succeeds.
    expect(await result(handle(user('u1', 'USER_UNASSIGNMENT'), 'un-1'))).toMatchObject({ success: true });
    expect(await result(handle(user('u1', 'USER_UNASSIGNMENT'), 'un-2'))).toMatchObject({
      errorCode: 'USER_NOT_FOUND',
    });
    expect(Object.keys((await orders.get(order.orderId))!.seats ?? {})).toEqual(['u2']);
    const seatEvents = publisher.events.filter((e) => e.type.startsWith('licence.seat.'));
    expect(
      seatEvents.map((e) => [e.type, e.detail.userId, e.detail.seatsAssigned, e.detail.seatLimit]),
    ).toEqual([
      ['licence.seat.assigned', 'u1', 1, 2],
      ['licence.seat.assigned', 'u1', 1, 2],
      ['licence.seat.assigned', 'u2', 2, 2],
      ['licence.seat.unassigned', 'u1', 1, 2],
      ['licence.seat.unassigned', 'u1', 1, 2],
    ]);
  });

  it('add-ons: a subscription order with a parent and the classic ADDON_* events amend the parent subscription once', async () => {
    const { accountIdentifier, sub } = await provisioned();
    const addonOrder = {
      ...orderEvent([{ unit: 'GIGABYTE', quantity: 100 }]),
      payload: {
        ...orderEvent().payload,
        account: { parentAccountIdentifier: accountIdentifier },
        order: { editionCode: 'STORAGE', items: [{ unit: 'GIGABYTE', quantity: 100 }] },
      },
    };
    const first = await result(handle(addonOrder, 'addon-sub'));
    expect(first).toMatchObject({ success: true, accountIdentifier: expect.stringMatching(/^sb-/) });
    expect(await result(handle(addonOrder, 'addon-sub'))).toEqual(first);
    const addonAccount = (first as { accountIdentifier: string }).accountIdentifier;
    expect((await zuora.getSubscription(sub)).ratePlans.filter((r) => r.ref === addonAccount)).toHaveLength(
      1,
    );
    expect(await result(handle(about('SUBSCRIPTION_CANCEL', addonAccount)))).toMatchObject({ success: true });
    expect((await zuora.getSubscription(sub)).ratePlans.filter((r) => r.ref === addonAccount)).toHaveLength(
      0,
    );
    expect((await zuora.getSubscription(sub)).status).toBe('Active');

    const ordered = await result(
      handle(about('ADDON_ORDER', accountIdentifier, { order: { addonOfferingCode: 'API' } }), 'ao-1'),
    );
    expect(ordered).toMatchObject({ success: true, id: expect.stringMatching(/^sba-/) });
    const addonId = (ordered as { id: string }).id;
    expect(
      await result(
        handle(about('ADDON_ORDER', accountIdentifier, { order: { addonOfferingCode: 'API' } }), 'ao-1'),
      ),
    ).toEqual(ordered);
    const instance = { addonInstance: { id: addonId } };
    expect(
      await result(
        handle(
          about('ADDON_CHANGE', accountIdentifier, {
            ...instance,
            order: { addonOfferingCode: 'API', items: [{ unit: 'API_CALLS', quantity: 500000 }] },
          }),
        ),
      ),
    ).toMatchObject({ success: true });
    const bound = await result(
      handle(about('ADDON_BIND', accountIdentifier, { ...instance, user: { uuid: 'u9' } })),
    );
    expect(bound).toMatchObject({ success: true, id: expect.stringMatching(/^sbb-/) });
    const binding = { addonBinding: { id: (bound as { id: string }).id } };
    expect(await result(handle(about('ADDON_UNBIND', accountIdentifier, binding)))).toMatchObject({
      success: true,
    });
    expect(await result(handle(about('ADDON_UNBIND', accountIdentifier, binding)))).toMatchObject({
      errorCode: 'BINDING_NOT_FOUND',
    });
    expect(await result(handle(about('ADDON_CANCEL', accountIdentifier, instance)))).toMatchObject({
      success: true,
    });
    expect(await result(handle(about('ADDON_CANCEL', accountIdentifier, instance)))).toMatchObject({
      success: true,
      message: expect.stringMatching(/already/),
    });
    expect(zuora.applied.map((a) => a.actions.map((x) => x.type).join('+'))).toEqual([
      'AddProduct',
      'RemoveProduct',
      'AddProduct',
      'UpdateProduct',
      'RemoveProduct',
    ]);
    expect(
      await result(handle(about('ACCOUNT_SYNC', accountIdentifier, { company: { uuid: 'c-77' } }))),
    ).toMatchObject({ success: true });
    expect((await accounts.get(accountIdentifier))!.syncedCompanies).toEqual(['c-77']);
    expect(
      await result(handle(about('ACCOUNT_UNSYNC', accountIdentifier, { company: { uuid: 'c-77' } }))),
    ).toMatchObject({ success: true });
    expect((await accounts.get(accountIdentifier))!.syncedCompanies).toEqual([]);
  });

  it('an event for a subscription still being provisioned answers PENDING and changes nothing', async () => {
    await handle(orderEvent(), 'order-pending');
    const order = (await orders.listByTenant('appdirect', { limit: 100 })).orders.find(
      (o) => o.channelRef?.eventId === 'order-pending',
    )!;
    const change = about('SUBSCRIPTION_CHANGE', order.channelRef!.accountIdentifier!, {
      order: { editionCode: 'BASIC' },
    });
    expect(await result(handle(change))).toMatchObject({ success: false, errorCode: 'PENDING' });
    expect(zuora.applied).toEqual([]);
  });
});
