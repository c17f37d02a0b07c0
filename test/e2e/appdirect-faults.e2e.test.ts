import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestRuntime } from '../helpers/runtime.ts';
import { appDirectHarness, type Emitted, type Rt } from './appdirect-helpers.ts';

/**
 * The AppDirect channel under trouble: 30 % of the marketplace's (and Zuora's) answers are 503s and
 * everything still converges — orders fulfilled, changes applied, each asynchronous result posted
 * exactly once; and events mutated by fast-check always get an answer in AppDirect's shape, never a
 * 5xx. Fault injection draws from a seeded generator, so a failure replays.
 */
let rt: Rt;
let ad: ReturnType<typeof appDirectHarness>;

function seeded(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

beforeAll(async () => {
  rt = await startTestRuntime({ random: seeded(20261123) });
  ad = appDirectHarness(rt);
});
afterAll(async () => {
  ad?.close();
  await rt?.cleanup();
});

const faults = async (errorRate: number) => {
  for (const name of ['appdirect', 'zuora']) {
    expect(
      (await api(rt, 'PUT', `/_sandbox/${name}/_faults`, { body: { errorRate, status: 503 } })).status,
    ).toBe(200);
  }
};

describe('AppDirect channel with 30 % marketplace and Zuora faults', () => {
  it('converges: orders fulfilled, results posted once, changes applied', async () => {
    await faults(0.3);
    const orders: Emitted[] = [];
    for (let i = 0; i < 4; i++) orders.push(await ad.emit('subscription-order'));
    for (const e of orders) expect([200, 202]).toContain(e.status);
    const settled = await ad.settle(() => orders.every((e) => ad.results(e.eventId).length > 0), 40);
    expect(settled).toBe(true);
    for (const e of orders) {
      expect(ad.results(e.eventId)).toHaveLength(1);
      expect(ad.results(e.eventId)[0]!.result).toMatchObject({
        success: true,
        accountIdentifier: expect.any(String),
      });
      expect((await ad.orderOfEvent(e.eventId))?.status).toBe('FULFILLED');
    }
    // A change under faults: answered at once, or accepted (202) and its result posted later.
    const last = orders.at(-1)!;
    const accountIdentifier = (ad.results(last.eventId)[0]!.result as any).accountIdentifier;
    const change = await ad.emit('subscription-change', { payload: { account: { accountIdentifier } } });
    expect([200, 202]).toContain(change.status);
    if (change.status === 202) {
      expect(await ad.settle(() => ad.results(change.eventId).length > 0, 40)).toBe(true);
      expect(ad.results(change.eventId)[0]!.result).toMatchObject({ success: true });
    } else {
      expect(change.answer).toMatchObject({ success: true });
    }
    const order = await ad.orderOfEvent(last.eventId);
    expect(
      ad
        .zuoraState()
        [order!.billing!.subscriptionNumber].ratePlans.map((p: any) => p.productName)
        .sort(),
    ).toEqual(['Switchboard Enterprise', 'Switchboard storage']);
    expect((await ad.accounts.get(accountIdentifier))!.editionCode).toBe('PREMIUM');
    await faults(0);
    // Redelivering everything after the storm changes nothing.
    const results = ad.records('event.result').length;
    const amended = rt.sandbox('zuora').records.filter((r) => r.kind === 'order.amended').length;
    for (const e of [...orders, change]) await ad.renotify(e.eventId);
    await ad.settle(() => true, 2);
    expect(ad.records('event.result').length).toBe(results);
    expect(rt.sandbox('zuora').records.filter((r) => r.kind === 'order.amended').length).toBe(amended);
    expect((await api(rt, 'GET', '/_local/queues')).body['appdirect-notifier']).toMatchObject({
      deadLettered: 0,
    });
  });
});

describe('AppDirect events mutated by fast-check', () => {
  const fixtures = [
    'subscription-order',
    'subscription-change',
    'subscription-cancel',
    'subscription-deactivated',
    'user-assign',
    'user-unassign',
    'subscription-order-addon',
  ];
  const garbage = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.constantFrom(-1, 1e308, 0.5, 'NaN', '', ' ', '-3', '1e9999', 'x'.repeat(3000), '\u0000', '😀'),
    fc.string({ maxLength: 20 }),
    fc.array(fc.oneof(fc.integer(), fc.string({ maxLength: 5 })), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }),
  );
  const paths = fc.constantFrom(
    ['type'],
    ['marketplace'],
    ['marketplace', 'baseUrl'],
    ['flag'],
    ['creator'],
    ['creator', 'email'],
    ['creator', 'address', 'country'],
    ['payload'],
    ['payload', 'company'],
    ['payload', 'company', 'country'],
    ['payload', 'account'],
    ['payload', 'account', 'accountIdentifier'],
    ['payload', 'order'],
    ['payload', 'order', 'editionCode'],
    ['payload', 'order', 'items'],
    ['payload', 'user'],
    ['payload', 'user', 'uuid'],
    ['payload', 'notice', 'type'],
  );
  const nest = (path: readonly string[], value: unknown): unknown =>
    path.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);

  it('always answer in AppDirect’s shape, never a 5xx', async () => {
    await faults(0);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fixtures), paths, garbage, async (fixture, path, value) => {
        const e = await ad.emit(fixture, nest(path, value));
        const label = `${fixture} ${path.join('.')}=${JSON.stringify(value)?.slice(0, 80)} → ${e.status} ${JSON.stringify(e.answer).slice(0, 300)}`;
        expect(e.status, label).toBeLessThan(500);
        expect([200, 202, 400], label).toContain(e.status);
        expect(typeof e.answer.success, label).toBe('boolean');
        if (!e.answer.success) {
          expect(typeof e.answer.errorCode, label).toBe('string');
          expect(String(e.answer.message ?? ''), label).not.toBe('');
        }
        if (e.status === 400) expect(e.answer.details?.[0]?.field, label).toMatch(/^event/);
      }),
      { seed: 20261123, numRuns: Number(process.env.APPDIRECT_FUZZ_RUNS ?? 40), endOnFailure: true },
    );
    await rt.drain(120_000);
  });
});
