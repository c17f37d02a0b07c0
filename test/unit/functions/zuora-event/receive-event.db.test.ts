import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestKeys, testKeys } from '../../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';
import { type Harness, harness, samples } from './harness.ts';

const at = '2026-11-23T10:00:00.000Z';

/** Every test uses its own account numbers, so they share one table without interfering. */
const client = (account: string, ref = 'c', extra: Record<string, unknown> = {}) => ({
  typeEvent: 'CLIENTISCREATED',
  emitter: 'ZUORA',
  timestamp: '2026-11-23T10:00:00.000Z',
  payload: [
    { zReference: ref, zaccount: account, client: { name: 'Org', email: 'a@example.com', ...extra } },
  ],
});
const workspace = (account: string, ws = 'ws1') => ({
  typeEvent: 'WORKSPACEISADDEDTOPCLIENT',
  emitter: 'ZUORA',
  timestamp: '2026-11-23T10:00:00.000Z',
  payload: [{ zReference: 'w', zaccount: account, zworkspace: ws }],
});
type P = [charge: string, capacity: number, unit?: string, family?: string];
const products = (list: P[]) =>
  list.map(([zcharge, newCapacity, unit = 'Giga', family = 'Adbackup']) => ({
    zcharge,
    family,
    threshold: { newCapacity, unit },
  }));
const subscription = (
  account: string,
  sub: string,
  list: P[],
  type = 'SUBSCRIPTIONISCREATED',
  ref = 's',
) => ({
  typeEvent: type,
  emitter: 'ZUORA',
  timestamp: '2026-11-23T10:00:00.000Z',
  payload: [
    { zReference: ref, zaccount: account, zworkspace: 'ws1', zsubscription: sub, products: products(list) },
  ],
});
const zlink = (account: string, sub: string, charge: string, capacity: number, unit = 'Giga', ref = 'z') => ({
  zReference: ref,
  zaccount: account,
  zsubscription: sub,
  product: { zcharge: charge, family: 'Adbackup', threshold: { newCapacity: capacity, unit } },
});
const zlinkEvent = (...items: ReturnType<typeof zlink>[]) => ({
  typeEvent: 'ZLINKUPDATED',
  emitter: 'ZUORA',
  timestamp: '2026-11-23T10:00:00.000Z',
  payload: items,
});

describe('zuora-event: POST /v1/zuora/events', () => {
  let table: TestTable;
  let keys: TestKeys;
  let h: Harness;

  beforeAll(async () => {
    table = await startTestTable();
    keys = await testKeys();
    h = await harness(table, keys);
  });
  afterAll(async () => table.stop());

  /** Client + workspace + subscription for `account`. */
  async function seed(account: string, sub: string, list: P[] = [['C1', 5]]) {
    expect((await h.send(client(account))).status).toBe(200);
    expect((await h.send(workspace(account))).status).toBe(200);
    expect((await h.send(subscription(account, sub, list))).status).toBe(200);
  }
  const countItems = async () =>
    (await table.doc.send(new ScanCommand({ TableName: table.tableName, Select: 'COUNT' }))).Count ?? 0;

  describe('the samples', () => {
    it('applies every "under development" sample in order, each answered in its own shape', async () => {
      const expected: Array<[string, number, string[]]> = [
        ['current-client-created', 200, ['CREATED']],
        ['current-workspace-added', 200, ['CREATED']],
        ['current-subscription-created', 200, ['CREATED']],
        ['current-zlink-updated', 200, ['UPGRADED']],
        ['current-product-list-modified', 200, ['MODIFIED']],
        ['current-product-is-added', 200, ['CREATED']],
        ['current-mixed-downgrade', 400, ['UNPROCESSABLE_ENTITY', 'UPDATED']],
      ];
      for (const [name, status, names] of expected) {
        const sample = samples[name]!;
        const res = await h.send(sample);
        expect(res.status, name).toBe(status);
        expect(res.body.typeEvent).toBe(sample.typeEvent);
        expect(res.body.emitter).toBe(sample.emitter);
        expect(res.body.timestamp).toBe(sample.timestamp);
        expect(res.body.details.map((d: { name: string }) => d.name)).toEqual(names);
        for (const d of res.body.details) {
          expect(d.calculedHash === null).toBe(!d.success);
          if (d.success) expect(d.message).toMatch(/^z[a-z]{2}_/);
        }
      }
      const sub = await h.registry.get('S00067808');
      expect(sub).toMatchObject({
        accountNumber: 'BA00206872',
        tenants: ['platform'],
        source: 'zuora-event',
      });
      expect(sub?.charges.map((c) => [c.chargeNumber, c.unit])).toEqual([
        ['C00155760', 'Giga'],
        ['C00400001', 'Giga'],
        ['C00400002', 'Licence'],
      ]);
      const state = await h.store.getSubscription('S00067808');
      expect(state?.products.find((p) => p.chargeNumber === 'C00155760')?.capacity).toBe(20);
      expect(JSON.stringify(state)).not.toContain('8adcd9eb'); // the rate plan id is never stored
    });

    it('applies every "first implementation" sample in order, answered {success, message, errorDTOS}', async () => {
      for (const name of [
        'first-client-created',
        'first-workspace-added',
        'first-subscription-created',
        'first-zlink-updated',
        'first-product-list-modified',
      ]) {
        const res = await h.send(samples[name]);
        expect(res.status, name).toBe(200);
        expect(res.body).toEqual({ success: true, message: null, errorDTOS: null });
      }
      const state = await h.store.getSubscription('S00067807');
      // First-implementation items carry one charge each: they add or change it, never remove others.
      expect(state?.products.map((p) => [p.chargeNumber, p.capacity, p.family])).toEqual([
        ['C00347767', 10, 'Adbackup'],
        ['C00347799', 20, 'AdbackupPro'],
      ]);
      expect(JSON.stringify(state)).not.toContain('8adcd9eb');
      expect((await h.store.getClient('BA00206871'))?.details).toMatchObject({
        company: 'Example SA',
        city: 'Paris',
      });
      const again = await h.send({
        ...samples['first-zlink-updated'],
        payload: [
          {
            zlink: {
              existingAccountNumber: 'BA00206871',
              subscriptionNumber: 'S00067807',
              chargeNumber: 'C00347799',
            },
            threshold: { newCapacity: 1, unit: 'Giga' },
          },
        ],
      });
      expect(again.status).toBe(400);
      expect(again.body).toEqual({
        success: false,
        message: 'errors while executing',
        errorDTOS: [{ name: 'UNPROCESSABLE_ENTITY', message: 'event downgrade or so is not in scope' }],
      });
    });
  });

  describe('rules', () => {
    it('CLIENTISCREATED: a second event with new details is MODIFIED, identical details UPDATED', async () => {
      const first = await h.send(client('R-C1', 'a'));
      expect(first.body.details[0]).toMatchObject({ success: true, name: 'CREATED' });
      const id = first.body.details[0].message;
      const changed = await h.send(client('R-C1', 'b', { department: 'Finance' }));
      expect(changed.body.details[0]).toMatchObject({ success: true, name: 'MODIFIED', message: id });
      const same = await h.send(client('R-C1', 'c', { department: 'Finance' }));
      expect(same.body.details[0]).toMatchObject({ success: true, name: 'UPDATED', message: id });
      expect((await h.store.getClient('R-C1'))?.details.department).toBe('Finance');
      const types = h.publisher.events.filter((e) => e.detail.accountNumber === 'R-C1');
      expect(types.map((e) => e.detail.change)).toEqual(['CREATED', 'MODIFIED']);
      // Personal fields never leave the hub.
      expect(JSON.stringify(types)).not.toContain('a@example.com');
    });

    it('WORKSPACEISADDEDTOPCLIENT needs the client; SUBSCRIPTIONISCREATED needs client and workspace', async () => {
      const noClient = await h.send(workspace('R-W1'));
      expect(noClient.status).toBe(400);
      expect(noClient.body.details[0]).toMatchObject({
        name: 'NOT_FOUND',
        calculedHash: null,
        success: false,
      });
      expect(noClient.body.details[0].message).toContain('R-W1');
      await h.send(client('R-W1'));
      const noWorkspace = await h.send(subscription('R-W1', 'R-W1-S', [['C1', 1]]));
      expect(noWorkspace.body.details[0]).toMatchObject({ name: 'NOT_FOUND' });
      expect(noWorkspace.body.details[0].message).toContain('workspace ws1');
      expect(await h.store.getSubscription('R-W1-S')).toBeUndefined();
      expect(await h.registry.get('R-W1-S')).toBeUndefined();
      expect((await h.send(workspace('R-W1'))).body.details[0].name).toBe('CREATED');
      // The same item again is a redelivery (first result); another item for the same workspace is UPDATED.
      expect((await h.send(workspace('R-W1'))).body.details[0].name).toBe('CREATED');
      const other = {
        ...workspace('R-W1'),
        payload: [{ zReference: 'w2', zaccount: 'R-W1', zworkspace: 'ws1' }],
      };
      expect((await h.send(other)).body.details[0].name).toBe('UPDATED');
      const created = await h.send(
        subscription('R-W1', 'R-W1-S', [
          ['C1', 1],
          ['C2', 2, 'Licence'],
        ]),
      );
      expect(created.body.details[0].name).toBe('CREATED');
      const event = h.publisher.events.find(
        (e) => e.type === 'zuora.subscription.created' && e.detail.subscriptionNumber === 'R-W1-S',
      );
      expect(event?.detail).toMatchObject({ tenant: 'platform', workspace: 'ws1', accountNumber: 'R-W1' });
      expect((event?.detail.products as unknown[] | undefined)?.length).toBe(2);
    });

    it('ZLINKUPDATED: increase UPGRADED, same UPDATED, decrease refused, unknown ids NOT_FOUND', async () => {
      await seed('R-Z1', 'R-Z1-S', [
        ['C1', 5],
        ['L1', 3, 'Licence'],
      ]);
      const up = await h.send(zlinkEvent(zlink('R-Z1', 'R-Z1-S', 'C1', 10)));
      expect(up.status).toBe(200);
      expect(up.body.details[0]).toMatchObject({ success: true, name: 'UPGRADED' });
      const upgraded = h.publisher.events.filter(
        (e) => e.type === 'zuora.capacity.upgraded' && e.detail.subscriptionNumber === 'R-Z1-S',
      );
      expect(upgraded).toHaveLength(1);
      expect(upgraded[0]!.detail).toMatchObject({
        previousCapacity: 5,
        product: { chargeNumber: 'C1', capacity: 10, unit: 'Giga' },
      });
      // 10 Giga = 10240 Mega: the same capacity in another storage unit is not a change.
      expect(
        (await h.send(zlinkEvent(zlink('R-Z1', 'R-Z1-S', 'C1', 10240, 'Mega')))).body.details[0].name,
      ).toBe('UPDATED');
      expect((await h.send(zlinkEvent(zlink('R-Z1', 'R-Z1-S', 'C1', 1, 'Tera')))).body.details[0].name).toBe(
        'UPGRADED',
      );
      const down = await h.send(zlinkEvent(zlink('R-Z1', 'R-Z1-S', 'C1', 2, 'Giga')));
      expect(down.status).toBe(400);
      expect(down.body.details[0]).toEqual({
        zReference: 'z',
        calculedHash: null,
        success: false,
        name: 'UNPROCESSABLE_ENTITY',
        message: 'event downgrade or so is not in scope',
      });
      const units = await h.send(zlinkEvent(zlink('R-Z1', 'R-Z1-S', 'L1', 50, 'Giga')));
      expect(units.body.details[0].name).toBe('UNPROCESSABLE_ENTITY');
      for (const [acc, sub, charge, what] of [
        ['R-NOPE', 'R-Z1-S', 'C1', 'client R-NOPE'],
        ['R-Z1', 'R-NOPE-S', 'C1', 'subscription R-NOPE-S'],
        ['R-Z1', 'R-Z1-S', 'C-NOPE', 'charge C-NOPE'],
      ] as const) {
        const res = await h.send(zlinkEvent(zlink(acc, sub, charge, 99)));
        expect(res.body.details[0].name).toBe('NOT_FOUND');
        expect(res.body.details[0].message).toContain(what);
      }
      const product = (await h.store.getSubscription('R-Z1-S'))?.products.find(
        (p) => p.chargeNumber === 'C1',
      );
      expect(product).toMatchObject({ capacity: 1, unit: 'Tera' });
      expect((await h.registry.get('R-Z1-S'))?.charges.find((c) => c.chargeNumber === 'C1')?.unit).toBe(
        'Tera',
      );
    });

    it('PRODUCTLISTISMODIFIED sets the list: CREATED, UPGRADED, MODIFIED, DELETED, registry in step', async () => {
      await seed('R-P1', 'R-P1-S', [
        ['A', 5],
        ['B', 5],
        ['C', 5],
        ['D', 5],
      ]);
      const res = await h.send(
        subscription(
          'R-P1',
          'R-P1-S',
          [
            ['A', 5],
            ['B', 8],
            ['C', 5, 'Giga', 'Other'],
            ['E', 1],
          ],
          'PRODUCTISADDED',
        ),
      );
      expect(res.status).toBe(200);
      expect(res.body.typeEvent).toBe('PRODUCTISADDED');
      const detail = res.body.details[0];
      expect(detail).toMatchObject({ success: true, name: 'MODIFIED' });
      expect(
        Object.fromEntries(detail.changes.map((c: { zcharge: string; name: string }) => [c.zcharge, c.name])),
      ).toEqual({
        B: 'UPGRADED',
        C: 'MODIFIED',
        E: 'CREATED',
        D: 'DELETED',
      });
      const state = await h.store.getSubscription('R-P1-S');
      expect(state?.products.map((p) => p.chargeNumber)).toEqual(['A', 'B', 'C', 'E']);
      expect((await h.registry.get('R-P1-S'))?.charges.map((c) => c.chargeNumber)).toEqual([
        'A',
        'B',
        'C',
        'E',
      ]);
      const event = h.publisher.events.find(
        (e) => e.type === 'zuora.products.modified' && e.detail.subscriptionNumber === 'R-P1-S',
      );
      expect((event?.detail.products as unknown[] | undefined)?.length).toBe(4);
      const unchanged = await h.send(
        subscription(
          'R-P1',
          'R-P1-S',
          [
            ['A', 5],
            ['B', 8],
            ['C', 5, 'Giga', 'Other'],
            ['E', 1],
          ],
          'PRODUCTLISTISMODIFIED',
          'again',
        ),
      );
      expect(unchanged.body.details[0]).toMatchObject({ name: 'UPDATED' });
      const unknown = await h.send(subscription('R-P1', 'R-NOPE', [['A', 1]], 'PRODUCTLISTISMODIFIED'));
      expect(unknown.body.details[0].name).toBe('NOT_FOUND');
    });

    it('SUBSCRIPTIONISCREATED for an existing subscription adds or changes products, never removes', async () => {
      await seed('R-S1', 'R-S1-S', [
        ['A', 5],
        ['B', 5],
      ]);
      const again = await h.send(
        subscription(
          'R-S1',
          'R-S1-S',
          [
            ['B', 6],
            ['C', 1],
          ],
          'SUBSCRIPTIONISCREATED',
          's2',
        ),
      );
      expect(again.status).toBe(200);
      expect(again.body.details[0].name).toBe('MODIFIED');
      const state = await h.store.getSubscription('R-S1-S');
      expect(state?.products.map((p) => [p.chargeNumber, p.capacity])).toEqual([
        ['A', 5],
        ['B', 6],
        ['C', 1],
      ]);
      const firstShape = (charge: string) => ({
        typeEvent: 'SUBSCRIPTIONISCREATED',
        emitter: 'ZUORA',
        timestamp: at,
        payload: [
          {
            zlink: {
              existingAccountNumber: 'R-S1',
              subscriptionNumber: 'R-S1-F',
              ratePlanId: 'rp',
              chargeNumber: charge,
            },
            workspace: 'ws1',
            productFamily: 'Adbackup',
            threshold: { newCapacity: 1, unit: 'Giga' },
          },
        ],
      });
      expect((await h.send(firstShape('F1'))).status).toBe(200);
      expect((await h.send(firstShape('F2'))).status).toBe(200);
      expect((await h.registry.get('R-S1-F'))?.charges.map((c) => c.chargeNumber)).toEqual(['F1', 'F2']);
    });

    it('validates each item on its own: BAD_REQUEST names the field, the other items still apply', async () => {
      const res = await h.send({
        typeEvent: 'CLIENTISCREATED',
        emitter: 'ZUORA',
        timestamp: '2026-11-23T10:00:00Z',
        payload: [
          { zReference: 'bad', zaccount: 'R-V1', client: { email: 'not-an-email' } },
          { zReference: 'good', zaccount: 'R-V2', client: { name: 'Ok' } },
          { zReference: 'neg', zaccount: 'R V3', client: {} },
        ],
      });
      expect(res.status).toBe(400);
      expect(res.body.details.map((d: { name: string }) => d.name)).toEqual([
        'BAD_REQUEST',
        'CREATED',
        'BAD_REQUEST',
      ]);
      expect(res.body.details[0].message).toContain('payload.0.client.email');
      expect(res.body.details[2].message).toContain('payload.2.zaccount');
      expect(res.body.details[0].calculedHash).toBeNull();
      expect(await h.store.getClient('R-V1')).toBeUndefined();
      expect(await h.store.getClient('R-V2')).toBeDefined();
      await seed('R-V4', 'R-V4-S');
      const capacity = await h.send(zlinkEvent({ ...zlink('R-V4', 'R-V4-S', 'C1', -1) }));
      expect(capacity.body.details[0].message).toContain('payload.0.product.threshold.newCapacity');
      for (const huge of [1e300, 5e-324]) {
        const res = await h.send(zlinkEvent({ ...zlink('R-V4', 'R-V4-S', 'C1', huge) }));
        expect(res.status).toBe(400);
        expect(res.body.details[0].message).toContain('payload.0.product.threshold.newCapacity');
      }
      const blank = await h.send({
        ...client('R-V5'),
        payload: [{ zaccount: 'R-V5', client: { firstName: '', lastName: '', name: '', city: '' } }],
      });
      expect(blank.status).toBe(200);
      expect((await h.store.getClient('R-V5'))?.details).toMatchObject({ firstName: '' });
      const unit = await h.send(zlinkEvent({ ...zlink('R-V4', 'R-V4-S', 'C1', 9, 'Peta') }));
      expect(unit.body.details[0].message).toContain('payload.0.product.threshold.unit');
    });

    it('refuses a bad envelope with 400 in the request shape, changing nothing', async () => {
      const before = await countItems();
      const unknownType = await h.send({ ...client('R-E1'), typeEvent: 'CLIENTISDELETED' });
      expect(unknownType.status).toBe(400);
      expect(unknownType.body).toMatchObject({
        typeEvent: 'CLIENTISDELETED',
        success: false,
        message: 'errors while executing',
      });
      expect(unknownType.body.details[0]).toMatchObject({ name: 'BAD_REQUEST', calculedHash: null });
      expect(unknownType.body.details[0].message).toContain('typeEvent');
      const noPayload = await h.send({
        typeEvent: 'ZLINKUPDATED',
        emitter: 'ZUORA',
        timestamp: '2026-11-23T10:00:00Z',
      });
      expect(noPayload.status).toBe(400);
      expect(noPayload.body.errorDTOS[0]).toMatchObject({ name: 'BAD_REQUEST' });
      expect(noPayload.body.errorDTOS[0].message).toContain('payload');
      const emitter = await h.send({ ...samples['first-zlink-updated'], emitter: 'SALESFORCE' });
      expect(emitter.body.errorDTOS[0].message).toContain('emitter');
      const malformed = await h.send('{"typeEvent": "ZLINKUPDATED", "payload": [');
      expect(malformed.status).toBe(400);
      expect(malformed.body).toMatchObject({ success: false, message: 'errors while executing' });
      expect(malformed.body.errorDTOS[0]).toMatchObject({ name: 'BAD_REQUEST' });
      expect(malformed.body.errorDTOS[0].message).toContain('not valid JSON');
      const malformedCurrent = await h.send('{"typeEvent": "ZLINKUPDATED", "payload": [{"zReference": "x"');
      expect(malformedCurrent.status).toBe(400);
      expect(malformedCurrent.body.details[0]).toMatchObject({ name: 'BAD_REQUEST', calculedHash: null });
      const empty = await h.send('');
      expect(empty.status).toBe(400);
      expect(empty.body.errorDTOS[0].name).toBe('BAD_REQUEST');
      expect(await countItems()).toBe(before);
    });
  });

  describe('idempotency', () => {
    it('a redelivered item (same hash) returns its first result and changes nothing', async () => {
      await seed('R-I1', 'R-I1-S');
      const body = zlinkEvent(zlink('R-I1', 'R-I1-S', 'C1', 50));
      const first = await h.send(body);
      expect(first.body.details[0].name).toBe('UPGRADED');
      const events = h.publisher.events.length;
      // A later upgrade, then the old item again: still the first answer, and no downgrade attempt.
      expect((await h.send(zlinkEvent(zlink('R-I1', 'R-I1-S', 'C1', 60, 'Giga', 'later')))).status).toBe(200);
      const again = await h.send({ ...body, timestamp: '2026-11-24T00:00:00Z' });
      expect(again.status).toBe(200);
      expect(again.body.details).toEqual(first.body.details);
      expect(h.publisher.events.length).toBe(events + 1);
      const product = (await h.store.getSubscription('R-I1-S'))?.products[0];
      expect(product).toMatchObject({ capacity: 60, version: 3 });
    });

    it('an item repeated within one payload applies once; both answer its first result', async () => {
      const item = { zReference: 'dup', zaccount: 'R-D1', client: { name: 'Dup Org' } };
      const other = { zReference: 'other', zaccount: 'R-D2', client: { name: 'Other Org' } };
      const events = h.publisher.events.length;
      const res = await h.send({
        typeEvent: 'CLIENTISCREATED',
        emitter: 'ZUORA',
        timestamp: '2026-11-23T10:00:00Z',
        payload: [item, other, item],
      });
      expect(res.status).toBe(200);
      const [a, , c] = res.body.details;
      expect(a).toMatchObject({ name: 'CREATED', success: true });
      expect(c).toEqual(a);
      expect((await h.store.getClient('R-D1'))?.version).toBe(1);
      expect(await h.store.getReceipt(a.calculedHash)).toMatchObject({
        status: 'done',
        result: { name: 'CREATED' },
      });
      const created = h.publisher.events.slice(events).filter((e) => e.detail.accountNumber === 'R-D1');
      expect(new Set(created.map((e) => e.detail.eventId)).size).toBe(1);
    });

    it('a repeated Zuora-Notification-Id returns the first response', async () => {
      await seed('R-N1', 'R-N1-S');
      const first = await h.send(zlinkEvent(zlink('R-N1', 'R-N1-S', 'C1', 20)), {
        notificationId: 'notif-1',
      });
      expect(first.status).toBe(200);
      const second = await h.send(zlinkEvent(zlink('R-N1', 'R-N1-S', 'C1', 20)), {
        notificationId: 'notif-1',
      });
      expect(second).toEqual(first);
      expect(h.observations.at(-1)?.replayed).toBe(true);
      const bad = await h.send(zlinkEvent(zlink('R-N1', 'R-N1-S', 'C1', 20)), {
        notificationId: 'bad id with spaces',
      });
      expect(bad.status).toBe(400);
    });

    it('concurrent duplicates apply once and all answer the same', async () => {
      await seed('R-K1', 'R-K1-S');
      const before = h.publisher.events.length;
      const body = zlinkEvent(zlink('R-K1', 'R-K1-S', 'C1', 30));
      const results = await Promise.all([
        ...Array.from({ length: 4 }, () => h.send(body)),
        ...Array.from({ length: 4 }, () => h.send(body, { notificationId: 'notif-k1' })),
      ]);
      for (const r of results) {
        expect(r.status).toBe(200);
        expect(r.body.details).toEqual(results[0]!.body.details);
      }
      expect(h.publisher.events.length - before).toBe(1);
      const product = (await h.store.getSubscription('R-K1-S'))?.products[0];
      expect(product).toMatchObject({ capacity: 30, version: 2 });
    });
    it('concurrent different changes of one product never lose an update (conflicts answer 500, retries converge)', async () => {
      await seed('R-K2', 'R-K2-S');
      const before = h.publisher.events.filter((e) => e.detail.subscriptionNumber === 'R-K2-S').length;
      const bodies = [20, 30, 40, 50].map((c) =>
        zlinkEvent(zlink('R-K2', 'R-K2-S', 'C1', c, 'Giga', `k${c}`)),
      );
      const final = new Map<number, string>();
      let pending = bodies.map((b, i) => ({ b, i }));
      for (let round = 0; pending.length > 0 && round < 10; round++) {
        const results = await Promise.all(pending.map(({ b }) => h.send(b)));
        pending = pending.filter((p, k) => {
          const r = results[k]!;
          if (r.status === 500) return true; // Zuora retries
          final.set(p.i, r.body.details[0].name);
          return false;
        });
      }
      expect(pending).toEqual([]);
      const upgrades = [...final.values()].filter((n) => n === 'UPGRADED').length;
      expect(upgrades).toBeGreaterThanOrEqual(1);
      expect([...final.values()].every((n) => n === 'UPGRADED' || n === 'UNPROCESSABLE_ENTITY')).toBe(true);
      const product = (await h.store.getSubscription('R-K2-S'))?.products[0];
      // Every UPGRADED answer is one write and one event; the highest capacity always wins.
      expect(product).toMatchObject({ capacity: 50, version: 1 + upgrades });
      const events =
        h.publisher.events.filter((e) => e.detail.subscriptionNumber === 'R-K2-S').length - before;
      expect(events).toBe(upgrades);
    });

    it('concurrent upgrades and list changes of one subscription: each change applied once, whole, with its event', async () => {
      await seed('R-K3', 'R-K3-S', [
        ['A', 5],
        ['B', 5],
      ]);
      const before = h.publisher.events.filter((e) => e.detail.subscriptionNumber === 'R-K3-S').length;
      const bodies = [
        zlinkEvent(zlink('R-K3', 'R-K3-S', 'A', 10, 'Giga', 'a10')),
        zlinkEvent(zlink('R-K3', 'R-K3-S', 'B', 20, 'Giga', 'b20')),
        subscription(
          'R-K3',
          'R-K3-S',
          [
            ['A', 30],
            ['C', 1],
          ],
          'PRODUCTLISTISMODIFIED',
          'list',
        ),
        zlinkEvent(zlink('R-K3', 'R-K3-S', 'A', 40, 'Giga', 'a40')),
      ];
      const outcome = new Map<number, string>();
      let pending = bodies.map((b, i) => ({ b, i }));
      for (let round = 0; pending.length > 0 && round < 10; round++) {
        const results = await Promise.all(pending.map(({ b }) => h.send(b)));
        pending = pending.filter((p, k) => {
          const r = results[k]!;
          if (r.status === 500) return true;
          outcome.set(p.i, r.body.details[0].name);
          return false;
        });
      }
      expect(pending).toEqual([]);
      const changing = [...outcome.values()].filter(
        (n) => !['UPDATED', 'NOT_FOUND', 'UNPROCESSABLE_ENTITY'].includes(n),
      );
      const state = await h.store.getSubscription('R-K3-S');
      // One subscription version per applied change (a conflict wrote nothing), one event per change.
      expect(state?.subscription.version).toBe(1 + changing.length);
      const events =
        h.publisher.events.filter((e) => e.detail.subscriptionNumber === 'R-K3-S').length - before;
      expect(events).toBe(changing.length);
      const registry = await h.registry.get('R-K3-S');
      expect(registry?.charges.map((c) => c.chargeNumber)).toEqual(
        state?.products.map((p) => p.chargeNumber),
      );
    });
  });

  describe('auth', () => {
    it('401 without or with an invalid token, in the request shape', async () => {
      const none = await h.send(samples['current-zlink-updated'], { token: null });
      expect(none.status).toBe(401);
      expect(none.body).toMatchObject({ success: false, typeEvent: 'ZLINKUPDATED' });
      expect(none.body.details[0].name).toBe('UNAUTHORIZED');
      const invalid = await h.send(samples['first-zlink-updated'], { token: 'abc.def.ghi' });
      expect(invalid.status).toBe(401);
      expect(invalid.body.errorDTOS[0].name).toBe('UNAUTHORIZED');
    });

    it('403 for a missing scope, a missing X-Client-Id or one naming another client', async () => {
      const before = await countItems();
      const noScope = await keys.token({ tenant: 'zuora', scopes: ['orders:read'], sub: 'zuora-client' });
      const scope = await h.send(samples['first-client-created'], { token: noScope });
      expect(scope.status).toBe(403);
      expect(scope.body.errorDTOS[0]).toMatchObject({ name: 'FORBIDDEN' });
      const missing = await h.send(samples['current-client-created'], { clientId: null });
      expect(missing.status).toBe(403);
      expect(missing.body.details[0]).toMatchObject({ name: 'FORBIDDEN' });
      expect(missing.body.details[0].message).toContain('X-Client-Id');
      const other = await h.send(samples['current-client-created'], { clientId: 'someone-else' });
      expect(other.status).toBe(403);
      // An unrecognisable body gets the hub's generic error shape.
      const generic = await h.send('not json', { clientId: 'someone-else' });
      expect(generic.status).toBe(403);
      expect(generic.body.error).toBe('CLIENT_ID_MISMATCH');
      expect(await countItems()).toBe(before);
    });

    it('observes type, outcome, account, subscription and latency, without personal fields', async () => {
      await h.send(client('R-O1', 'o', { firstName: 'Secretname', phone: '0611111111' }));
      const o = h.observations.at(-1);
      expect(o).toMatchObject({
        typeEvent: 'CLIENTISCREATED',
        statusCode: 200,
        outcomes: ['CREATED'],
        accounts: ['R-O1'],
      });
      expect(o?.latencyMs).toBeGreaterThanOrEqual(0);
      expect(JSON.stringify(h.observations)).not.toMatch(/Secretname|0611111111|example\.com/);
    });

    it('serves the alias POST /api/billing/events', async () => {
      const res = await h.send(client('R-A1'), { path: '/api/billing/events' });
      expect(res.status).toBe(200);
      expect(res.body.details[0].name).toBe('CREATED');
    });
  });
});
