import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ZuoraStore } from '../../../../functions/zuora-event/model.ts';
import { type TestKeys, testKeys } from '../../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';
import { type Harness, harness } from './harness.ts';

const at = '2026-11-23T10:00:00.000Z';
const body = (typeEvent: string, payload: unknown[]) => ({
  typeEvent,
  emitter: 'ZUORA',
  timestamp: at,
  payload,
});
const clientItem = (account: string, ref = 'c') => ({
  zReference: ref,
  zaccount: account,
  client: { name: 'Org' },
});

/** Failures injected into the store: a write that throws, or a "crash" right before the result is stored. */
const faults = { executeFailures: 0, crashBeforeResult: 0 };
const faulty = (inner: ZuoraStore): ZuoraStore =>
  new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'execute') {
        return async (...args: Parameters<ZuoraStore['execute']>) => {
          if (faults.executeFailures > 0) {
            faults.executeFailures--;
            throw new Error('DynamoDB throttled');
          }
          return target.execute(...args);
        };
      }
      if (prop === 'completeReceipt') {
        return async (...args: Parameters<ZuoraStore['completeReceipt']>) => {
          if (faults.crashBeforeResult > 0) {
            faults.crashBeforeResult--;
            throw new Error('process crashed');
          }
          return target.completeReceipt(...args);
        };
      }
      if (prop === 'recordResults') {
        return async (...args: Parameters<ZuoraStore['recordResults']>) => {
          if (faults.crashBeforeResult > 0) {
            faults.crashBeforeResult--;
            throw new Error('process crashed');
          }
          return target.recordResults(...args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });

describe('zuora-event: failures, the seed mixed responses and crash recovery', () => {
  let table: TestTable;
  let keys: TestKeys;
  let h: Harness;
  beforeAll(async () => {
    table = await startTestTable();
    keys = await testKeys();
    h = await harness(table, keys, { wrapStore: faulty, waitMs: 200 });
  });
  afterAll(async () => table.stop());

  it('2 KO (UNPROCESSABLE_ENTITY + INTERNAL_SERVER_ERROR) → 500; the retry applies only what is left', async () => {
    expect((await h.send(body('CLIENTISCREATED', [clientItem('F-1')]))).status).toBe(200);
    expect(
      (await h.send(body('WORKSPACEISADDEDTOPCLIENT', [{ zaccount: 'F-1', zworkspace: 'w' }]))).status,
    ).toBe(200);
    const sub = body('SUBSCRIPTIONISCREATED', [
      {
        zReference: 'title1',
        zaccount: 'F-1',
        zworkspace: 'w',
        zsubscription: 'F-1-S',
        products: [{ zcharge: 'C1', family: 'A', threshold: { newCapacity: 5, unit: 'Giga' } }],
      },
    ]);
    expect((await h.send(sub)).status).toBe(200);
    const mixed = body('ZLINKUPDATED', [
      {
        zReference: 'title1',
        zaccount: 'F-1',
        zsubscription: 'F-1-S',
        product: { zcharge: 'C1', threshold: { newCapacity: 1, unit: 'Giga' } },
      },
      {
        zReference: 'title2',
        zaccount: 'F-1',
        zsubscription: 'F-1-S',
        product: { zcharge: 'C1', threshold: { newCapacity: 9, unit: 'Giga' } },
      },
    ]);
    faults.executeFailures = 1;
    const ko = await h.send(mixed);
    expect(ko.status).toBe(500);
    expect(ko.body).toMatchObject({ success: false, message: 'errors while executing' });
    expect(ko.body.details.map((d: { name: string }) => d.name)).toEqual([
      'UNPROCESSABLE_ENTITY',
      'INTERNAL_SERVER_ERROR',
    ]);
    expect(ko.body.details.map((d: { calculedHash: unknown }) => d.calculedHash)).toEqual([null, null]);
    expect((await h.store.getSubscription('F-1-S'))?.products[0]?.capacity).toBe(5);

    // Zuora retries: the downgrade is still refused, the upgrade now applies → 1 KO + 1 OK → 400.
    const retry = await h.send(mixed);
    expect(retry.status).toBe(400);
    expect(retry.body.details.map((d: { name: string; success: boolean }) => [d.name, d.success])).toEqual([
      ['UNPROCESSABLE_ENTITY', false],
      ['UPGRADED', true],
    ]);
    expect(retry.body.details[1].calculedHash).toMatch(/^[0-9a-f]{32}$/);
    expect((await h.store.getSubscription('F-1-S'))?.products[0]?.capacity).toBe(9);
  });

  it('a 500 answered to a notification id is not replayed: the retry with that id is processed', async () => {
    faults.executeFailures = 1;
    const first = await h.send(body('CLIENTISCREATED', [clientItem('F-2')]), { notificationId: 'n-f2' });
    expect(first.status).toBe(500);
    const retry = await h.send(body('CLIENTISCREATED', [clientItem('F-2')]), { notificationId: 'n-f2' });
    expect(retry.status).toBe(200);
    expect(retry.body.details[0].name).toBe('CREATED');
    const third = await h.send(body('CLIENTISCREATED', [clientItem('F-2')]), { notificationId: 'n-f2' });
    expect(third).toEqual(retry);
  });

  it('a crash between claim and result: a redelivery after the lease completes it with the first result', async () => {
    // A plan of several writes (subscription, product, registry) goes through the claim.
    expect((await h.send(body('CLIENTISCREATED', [clientItem('F-3')]))).status).toBe(200);
    expect(
      (await h.send(body('WORKSPACEISADDEDTOPCLIENT', [{ zaccount: 'F-3', zworkspace: 'w' }]))).status,
    ).toBe(200);
    const request = body('SUBSCRIPTIONISCREATED', [
      {
        zReference: 'title1',
        zaccount: 'F-3',
        zworkspace: 'w',
        zsubscription: 'F-3-S',
        products: [{ zcharge: 'C1', family: 'A', threshold: { newCapacity: 5, unit: 'Giga' } }],
      },
    ]);
    faults.crashBeforeResult = 1;
    const crashed = await h.send(request);
    expect(crashed.status).toBe(500);
    const written = await h.store.getSubscription('F-3-S');
    expect(written?.subscription.version).toBe(1);
    // While the lease runs, a duplicate waits, then answers 500 (Zuora retries later).
    const busy = await h.send(request);
    expect(busy.status).toBe(500);
    expect(busy.body.details[0].message).toContain('in progress');
    h.clock.advance(31_000);
    const recovered = await h.send(request);
    expect(recovered.status).toBe(200);
    expect(recovered.body.details[0]).toMatchObject({ name: 'CREATED' });
    expect((await h.store.getSubscription('F-3-S'))?.subscription.version).toBe(1);
    const created = h.publisher.events.filter((e) => e.detail.subscriptionNumber === 'F-3-S');
    // At least once: the event of the recovered plan is published again with the same eventId.
    expect(created.length).toBeGreaterThanOrEqual(2);
    expect(new Set(created.map((e) => e.detail.eventId)).size).toBe(1);
    expect((await h.send(request)).body.details).toEqual(recovered.body.details);
  });

  it('a one-write item that crashed before its result was stored: the redelivery answers the first result at once', async () => {
    const request = body('CLIENTISCREATED', [clientItem('F-5')]);
    faults.crashBeforeResult = 1;
    const crashed = await h.send(request);
    expect(crashed.status).toBe(500);
    expect(crashed.body.details[0].name).toBe('INTERNAL_SERVER_ERROR');
    const written = await h.store.getClient('F-5');
    expect(written?.version).toBe(1);
    expect(await h.store.getReceipt(crashed.body.details[0].calculedHash ?? 'none')).toBeUndefined();
    // No lease to wait for: the entity this item wrote carries its result and events.
    const recovered = await h.send(request);
    expect(recovered.status).toBe(200);
    expect(recovered.body.details[0]).toMatchObject({ name: 'CREATED', message: written?.clientId });
    expect((await h.store.getClient('F-5'))?.version).toBe(1);
    const receipt = await h.store.getReceipt(recovered.body.details[0].calculedHash);
    expect(receipt).toMatchObject({ status: 'done', result: { name: 'CREATED' } });
    const created = h.publisher.events.filter((e) => e.detail.accountNumber === 'F-5');
    expect(created.length).toBeGreaterThanOrEqual(2); // announced again by the redelivery
    expect(new Set(created.map((e) => e.detail.eventId)).size).toBe(1);
    // Superseded later, a redelivery of the first item still answers its first result.
    const changed = body('CLIENTISCREATED', [{ ...clientItem('F-5'), client: { name: 'Org 2' } }]);
    expect((await h.send(changed)).body.details[0].name).toBe('MODIFIED');
    expect((await h.send(request)).body.details).toEqual(recovered.body.details);
  });

  it('a publish failure keeps the plan: the retry finishes it and reports the first outcome', async () => {
    h.publisher.failNext = 1;
    const request = body('CLIENTISCREATED', [clientItem('F-4')]);
    const failed = await h.send(request);
    expect(failed.status).toBe(500);
    const retry = await h.send(request);
    expect(retry.status).toBe(200);
    expect(retry.body.details[0].name).toBe('CREATED');
    expect(h.publisher.events.filter((e) => e.detail.accountNumber === 'F-4')).toHaveLength(1);
  });
});
