import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppDirectClient, AppDirectUsageBiller } from '../../../functions/usage-billing/appdirect-usage.ts';
import type { BillerAdapter } from '../../../functions/usage-billing/biller.ts';
import {
  billSlice,
  planBillingRun,
  type RunBillingDeps,
} from '../../../functions/usage-billing/run-billing.ts';
import { ZuoraUsageBiller } from '../../../functions/usage-billing/zuora-usage.ts';
import { createAppDirectSandbox } from '../../../local/sandboxes/appdirect.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from '../../../local/sandboxes/appdirect-credentials.ts';
import type { Sandbox, SandboxRecord } from '../../../local/sandboxes/kit.ts';
import { createZuoraSandbox, LOCAL_ZUORA_CREDENTIALS } from '../../../local/sandboxes/zuora/index.ts';
import { HttpClient } from '../../../shared/clients/http.ts';
import { ZuoraClient } from '../../../shared/clients/zuora.ts';
import type { Clock } from '../../../shared/clock.ts';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../../shared/db/entities/usage-billing.ts';
import { subscriptionShardOf, UsageRecordStore } from '../../../shared/db/entities/usage-records.ts';
import type { HubEvent } from '../../../shared/events/publisher.ts';
import { ulidGenerator } from '../../../shared/ids.ts';
import { fromScaled, toScaled } from '../../../shared/usage/quantity.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { serveSandboxes } from '../../helpers/sandbox-server.ts';
import { runBillingInline } from '../../helpers/usage-billing.ts';

/**
 * The billing run against the Zuora and AppDirect sandboxes served over loopback HTTP, on the
 * embedded table: delta logic with late records, crashes at every step, concurrent runs, faults.
 */
let table: TestTable;
let servers: Awaited<ReturnType<typeof serveSandboxes>>;
let t = Date.parse('2026-11-20T12:00:00.000Z');
const clock: Clock = { now: () => new Date(t) };
const noSleep = async () => {};
let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};

let registry: SubscriptionRegistry;
let records: UsageRecordStore;
let events: HubEvent[] = [];
let subCounter = 0;

const zuora = () => servers.get<Sandbox<Record<string, unknown>>>('zuora');
const appdirect = () => servers.get<Sandbox<Record<string, unknown>>>('appdirect');

function billers(): Record<'zuora' | 'appdirect', BillerAdapter> {
  const http = (name: string) =>
    new HttpClient({ baseUrl: servers.baseUrl(name), sleep: noSleep, defaultAttempts: 3 });
  const zc = new ZuoraClient({
    baseUrl: servers.baseUrl('zuora'),
    credentials: async () => LOCAL_ZUORA_CREDENTIALS,
    clock,
    http: http('zuora'),
  });
  const ac = new AppDirectClient({
    baseUrl: servers.baseUrl('appdirect'),
    credentials: async () => LOCAL_APPDIRECT_CREDENTIALS,
    clock,
    http: http('appdirect'),
  });
  return {
    zuora: new ZuoraUsageBiller(zc, {
      dateFormat: 'MM/DD/YYYY',
      pollAttempts: 4,
      pollIntervalMs: 0,
      sleep: noSleep,
    }),
    appdirect: new AppDirectUsageBiller(ac, { pollAttempts: 4, pollIntervalMs: 0, sleep: noSleep }),
  };
}

function deps(over: Partial<RunBillingDeps> = {}): RunBillingDeps {
  return {
    records,
    billing: new UsageBillingStore(table.doc, table.tableName),
    registry,
    billers: billers(),
    publisher: { publish: async (e) => void events.push(...e) },
    clock,
    ids: ulidGenerator,
    config: {
      lateWindowDays: 35,
      leaseSeconds: 600,
      retryBaseSeconds: 0,
      retryMaxSeconds: 0,
      submissionConcurrency: 4,
    },
    ...over,
  };
}

async function subscription(
  biller: 'zuora' | 'appdirect',
  options: { tenant?: string; charges?: number; account?: string } = {},
) {
  const n = `A-S${String(++subCounter).padStart(8, '0')}`;
  await registry.register({
    subscriptionNumber: n,
    accountNumber: options.account ?? `A${subCounter}`,
    tenants: [options.tenant ?? 'platform'],
    source: 'test',
    biller,
    overrideBiller: true,
    now: clock.now(),
  });
  for (let c = 1; c <= (options.charges ?? 1); c++) {
    await registry.putCharge(
      {
        subscriptionNumber: n,
        chargeNumber: `C-${subCounter}-${c}`,
        unit: biller === 'appdirect' ? 'GIGABYTE' : 'Minutes',
      },
      clock.now(),
    );
  }
  return n;
}

let recordCounter = 0;
async function usage(
  sub: string,
  quantity: string,
  options: { charge?: number; at?: string; tenant?: string } = {},
) {
  const subNo = Number(sub.slice(3));
  const s = await registry.get(sub);
  const r = {
    tenant: options.tenant ?? 'platform',
    id: `rec-${++recordCounter}`,
    subscriptionNumber: sub,
    chargeNumber: `C-${subNo}-${options.charge ?? 1}`,
    unit: s!.biller === 'appdirect' ? 'GIGABYTE' : 'Minutes',
    quantity,
    timestamp: options.at ?? new Date(t - 3_600_000).toISOString(),
    acceptedAt: new Date(t).toISOString(),
    expiresAt: Math.floor(t / 1000) + 400 * 86_400,
  };
  expect(await records.put(r, Math.floor(t / 1000))).toBe('accepted');
  return r;
}

/** What the sandboxes hold as billed, per `sub|charge|unit`, as exact decimals. */
function billedInSandboxes(): Map<string, string> {
  const totals = new Map<string, bigint>();
  const add = (k: string, q: string) => totals.set(k, (totals.get(k) ?? 0n) + toScaled(q)!);
  for (const rec of zuora().records.filter((r: SandboxRecord) => r.kind === 'usage.imported')) {
    for (const row of rec.rows as Array<Record<string, string>>)
      add(`${row.SUBSCRIPTION_ID}|${row.CHARGE_ID}|${row.UOM}`, row.QTY!);
  }
  for (const rec of appdirect().records.filter((r: SandboxRecord) => r.kind === 'usage.received')) {
    for (const ev of rec.events as Array<{
      attributes: Record<string, string>;
      pricingUnit?: string;
      customUnit?: string;
      quantity: string;
    }>) {
      add(
        `${ev.attributes.subscriptionNumber}|${ev.attributes.chargeNumber}|${ev.pricingUnit ?? ev.customUnit}`,
        ev.quantity,
      );
    }
  }
  return new Map([...totals].map(([k, v]) => [k, fromScaled(v)]));
}

const billedFor = (sub: string, charge = 1) => {
  const hit = [...billedInSandboxes()].find(([k]) =>
    k.startsWith(`${sub}|C-${Number(sub.slice(3))}-${charge}|`),
  );
  return hit?.[1];
};

beforeAll(async () => {
  table = await startTestTable();
  servers = await serveSandboxes(
    { zuora: createZuoraSandbox, appdirect: createAppDirectSandbox },
    { clock, random },
  );
  registry = new SubscriptionRegistry(table.doc, table.tableName);
  records = new UsageRecordStore(table.doc, table.tableName, { group: 4, period: 8 });
});
afterAll(async () => {
  await servers?.stop();
  await table?.stop();
});
beforeEach(() => {
  events = [];
  zuora().faults = { errorRate: 0, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
  appdirect().faults = { errorRate: 0, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
});

describe('billing run: deltas', () => {
  it.each(['zuora', 'appdirect'] as const)(
    'bills the delta once, late records in the next run, nothing twice (%s)',
    async (biller) => {
      const sub = await subscription(biller);
      await usage(sub, '1.5');
      await usage(sub, '2.25');
      const run1 = await runBillingInline({ trigger: 'schedule' }, deps());
      expect(run1.status).toBe('succeeded');
      expect(billedFor(sub)).toBe('3.75');
      expect(
        events.filter((e) => e.type === 'usage.billed').some((e) => JSON.stringify(e.detail).includes(sub)),
      ).toBe(true);

      // A late record (earlier timestamp, same period) arrives after the run.
      await usage(sub, '0.25', { at: new Date(t - 5 * 86_400_000).toISOString().replace(/-\d\dT/, '-16T') });
      t += 60_000;
      await runBillingInline({ trigger: 'schedule' }, deps());
      expect(billedFor(sub)).toBe('4');

      const before = zuora().records.length + appdirect().records.length;
      t += 60_000;
      await runBillingInline({ trigger: 'schedule' }, deps());
      expect(billedFor(sub)).toBe('4');
      const uploads = [...zuora().records, ...appdirect().records]
        .slice(before)
        .filter((r) => /usage\.(import\.received|received)/.test(r.kind));
      expect(uploads).toHaveLength(0);
    },
  );

  it('bills through AppDirect a subscription the configuration moves there', async () => {
    const sub = await subscription('zuora');
    await usage(sub, '8');
    const base = deps();
    await runBillingInline(
      { trigger: 'schedule' },
      { ...base, config: { ...base.config, billerOverrides: { [sub]: 'appdirect' } } },
    );
    const received = appdirect().records.filter(
      (r) => r.kind === 'usage.received' && JSON.stringify(r.events).includes(sub),
    );
    expect(received).toHaveLength(1);
    expect(
      zuora().records.some((r) => r.kind === 'usage.imported' && JSON.stringify(r.rows).includes(sub)),
    ).toBe(false);
  });

  it('records the outcome of a run and the billed totals it reached', async () => {
    const sub = await subscription('zuora', { charges: 2 });
    await usage(sub, '10');
    await usage(sub, '5', { charge: 2 });
    const run = await runBillingInline({ trigger: 'api' }, deps());
    const stored = await new UsageBillingStore(table.doc, table.tableName).getRun(run.id);
    expect(stored).toMatchObject({
      status: 'succeeded',
      stats: { billed: expect.any(Number), failed: 0, pending: 0 },
    });
    const states = await new UsageBillingStore(table.doc, table.tableName).listStates(
      'platform',
      sub,
      new Date(t - 3_600_000).toISOString().slice(0, 7),
    );
    expect(states.map((s) => [s.chargeNumber, s.billed, s.inflight])).toEqual([
      [`C-${subCounter}-1`, '10', undefined],
      [`C-${subCounter}-2`, '5', undefined],
    ]);
  });

  it('a file Zuora rejects imports nothing, is retried alone with backoff, and bills once fixed', async () => {
    const bad = await subscription('zuora', { account: ' ' });
    const good = await subscription('zuora');
    await usage(bad, '7');
    await usage(good, '3');
    const run1 = await runBillingInline(
      { trigger: 'schedule' },
      deps({
        config: {
          lateWindowDays: 35,
          leaseSeconds: 600,
          retryBaseSeconds: 3600,
          retryMaxSeconds: 86_400,
          submissionConcurrency: 4,
        },
      }),
    );
    expect(run1.status).toBe('partial');
    expect(run1.failures[0]?.reason).toMatch(/ACCOUNT_ID/);
    expect(billedFor(bad)).toBeUndefined();
    // One Zuora file is atomic, and a file holds one slice's groups: the good subscription is held
    // back with the bad one only when both are in the same (period, subscription shard) slice.
    const sameSlice =
      subscriptionShardOf('platform', bad, records.periodShards) ===
      subscriptionShardOf('platform', good, records.periodShards);
    expect(billedFor(good)).toBe(sameSlice ? undefined : '3');
    expect(events.filter((e) => e.type === 'usage.billing.failed')).toHaveLength(1);

    // Backoff: a run right away does not retry them.
    t += 60_000;
    const run2 = await runBillingInline({ trigger: 'schedule' }, deps());
    expect(run2.stats?.skipped).toBeGreaterThanOrEqual(sameSlice ? 2 : 1);

    // After the backoff each failed group goes alone: the good one bills, the bad one fails again.
    t += 3_600_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    expect(billedFor(good)).toBe('3');
    expect(billedFor(bad)).toBeUndefined();

    await registry.register({
      subscriptionNumber: bad,
      accountNumber: 'A-FIXED',
      tenants: ['platform'],
      source: 'test',
      now: clock.now(),
    });
    t += 86_400_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    expect(billedFor(bad)).toBe('7');
  });
});

describe('billing run: crashes and concurrency', () => {
  class Crash extends Error {}

  /** A store that dies (every later write throws) once `dead` is set: the process crashed. */
  function mortal() {
    const store = new UsageBillingStore(table.doc, table.tableName);
    const state = { dead: false };
    const guard =
      <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
      async (...a: A): Promise<R> => {
        if (state.dead) throw new Crash('process is gone');
        return fn(...a);
      };
    const billing: RunBillingDeps['billing'] = {
      listStates: guard(store.listStates.bind(store)),
      getState: guard(store.getState.bind(store)),
      claim: guard(store.claim.bind(store)),
      commit: guard(store.commit.bind(store)),
      release: guard(store.release.bind(store)),
      putSubmission: guard(store.putSubmission.bind(store)),
      getSubmission: guard(store.getSubmission.bind(store)),
      updateSubmission: guard(store.updateSubmission.bind(store)),
      putRun: guard(store.putRun.bind(store)),
      getRun: guard(store.getRun.bind(store)),
      completeSlice: guard(store.completeSlice.bind(store)),
      isSliceDone: guard(store.isSliceDone.bind(store)),
    };
    return { billing, state };
  }

  /** Wraps a biller so the process "dies" at a chosen point. */
  function crashing(
    inner: BillerAdapter,
    state: { dead: boolean },
    at: 'afterUpload' | 'afterRemoteId' | 'afterDelivered',
  ): BillerAdapter {
    return {
      maxLines: inner.maxLines,
      async deliver(s, hooks) {
        const outcome = await inner.deliver(s, {
          beforeUpload: hooks.beforeUpload,
          recordRemoteId: async (id) => {
            if (at === 'afterUpload') {
              state.dead = true;
              throw new Crash('died after the upload, before recording its id');
            }
            await hooks.recordRemoteId(id);
            if (at === 'afterRemoteId') {
              state.dead = true;
              throw new Crash('died after recording the id');
            }
          },
        });
        if (at === 'afterDelivered') state.dead = true; // the run records "delivered"… and dies
        return outcome;
      },
    };
  }

  it.each([
    ['zuora', 'afterUpload'],
    ['zuora', 'afterRemoteId'],
    ['zuora', 'afterDelivered'],
    ['appdirect', 'afterUpload'],
    ['appdirect', 'afterDelivered'],
  ] as const)('%s: a run crashed %s never double-bills and never skips', async (biller, at) => {
    const sub = await subscription(biller);
    await usage(sub, '4.5');
    const { billing, state } = mortal();
    const b = billers();
    await expect(
      runBillingInline(
        { trigger: 'schedule' },
        deps({ billing, billers: { ...b, [biller]: crashing(b[biller], state, at) } }),
      ),
    ).rejects.toThrow();

    // A run soon after the crash leaves the submission to its (presumed live) owner.
    t += 60_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    const afterEarlyRun = billedFor(sub);
    expect(afterEarlyRun === undefined || afterEarlyRun === '4.5').toBe(true);

    // After the lease the next run resumes it: it finds what the biller already has.
    t += 700_000;
    await usage(sub, '1'); // and a new record meanwhile
    await runBillingInline({ trigger: 'schedule' }, deps());
    t += 60_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    expect(billedFor(sub)).toBe('5.5');
    if (biller === 'zuora') {
      const imports = zuora().records.filter(
        (r) => r.kind === 'usage.imported' && JSON.stringify(r.rows).includes(sub),
      );
      expect(imports).toHaveLength(2); // the crashed one (completed once) and the new delta
    } else {
      expect(appdirect().records.filter((r) => r.kind === 'usage.duplicate').length).toBeGreaterThanOrEqual(
        at === 'afterUpload' ? 1 : 0,
      );
    }
  });

  it.each([
    ['zuora', 'afterUpload'],
    ['zuora', 'afterDelivered'],
    ['appdirect', 'afterUpload'],
  ] as const)(
    '%s: a worker killed %s: its slice, redelivered, is billed at once, once, and counted once',
    async (biller, at) => {
      const sub = await subscription(biller);
      await usage(sub, '3.25');
      const { billing, state } = mortal();
      const b = billers();
      const crashed = { ...b, [biller]: crashing(b[biller], state, at) };
      // Plan with the real store, then let the one slice holding `sub` die on the mortal one.
      const slices: Array<{ runId: string; period: string; shard: number }> = [];
      const run = await planBillingRun(
        { trigger: 'schedule' },
        {
          billing: new UsageBillingStore(table.doc, table.tableName),
          slices: { send: async (m) => void slices.push(...m) },
          periodShards: records.periodShards,
          clock,
          ids: ulidGenerator,
          config: { lateWindowDays: 35 },
        },
      );
      for (const s of slices) {
        await billSlice(s, deps({ billing, billers: crashed })).catch(() => {});
        if (state.dead) {
          // SQS redelivers the message after the visibility timeout (longer than the worker's
          // timeout, far shorter than the lease): the same run takes its own submission over.
          t += 60_000;
          const redelivered = await billSlice(s, deps(), 2);
          expect(redelivered).toBeDefined();
          expect(billedFor(sub)).toBe('3.25');
          expect(await billSlice(s, deps(), 3)).toBeUndefined(); // a duplicate delivery: counted once
          state.dead = false; // the next slices run on a live store
          Object.assign(crashed, b);
        } else {
          await billSlice(s, deps());
        }
      }
      const done = await new UsageBillingStore(table.doc, table.tableName).getRun(run.id);
      expect(done?.slices).toEqual({ total: slices.length, done: slices.length });
      expect(done?.status).toBe('succeeded');
      expect(billedFor(sub)).toBe('3.25');
      if (biller === 'zuora') {
        const imports = zuora().records.filter(
          (r) => r.kind === 'usage.imported' && JSON.stringify(r.rows).includes(sub),
        );
        expect(imports).toHaveLength(1);
      }
    },
  );

  it('a run that died between its claims and trimming its lines uploads only the groups it holds', async () => {
    const sub = await subscription('zuora', { charges: 2 });
    const r1 = await usage(sub, '6');
    const r2 = await usage(sub, '9', { charge: 2 });
    const store = new UsageBillingStore(table.doc, table.tableName);
    const line = (r: typeof r1) => ({
      ...r,
      period: r.timestamp.slice(0, 7),
      accountNumber: `A${subCounter}`,
      quantity: r.quantity,
      target: r.quantity,
      targetCount: 1,
      usageDate: r.timestamp,
    });
    const created = new Date(t).toISOString();
    await store.putSubmission({
      id: 'usub_01KDEADRUN00000000000000001',
      runId: 'urun_dead',
      biller: 'zuora',
      status: 'prepared',
      lines: [line(r1), line(r2)],
      attempts: 0,
      rev: 0,
      createdAt: created,
      updatedAt: created,
      expiresAt: 2e9,
    });
    // It claimed the first group; another run holds the second (here: nobody yet, it is free).
    expect(
      await store.claim(
        line(r1),
        0,
        {
          submissionId: 'usub_01KDEADRUN00000000000000001',
          target: '6',
          targetCount: 1,
          delta: '6',
          claimedAt: created,
        },
        clock.now(),
      ),
    ).toBe(true);
    t += 700_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    expect(billedFor(sub, 1)).toBe('6');
    expect(billedFor(sub, 2)).toBe('9');
    expect((await store.getSubmission('usub_01KDEADRUN00000000000000001'))?.lines).toHaveLength(1);
  });

  it('two concurrent runs never both bill a group', async () => {
    const subs = await Promise.all(
      Array.from({ length: 6 }, (_, i) => subscription(i % 2 ? 'appdirect' : 'zuora')),
    );
    for (const s of subs) {
      await usage(s, '2');
      await usage(s, '0.001');
    }
    const [a, b] = await Promise.all([
      runBillingInline({ trigger: 'schedule' }, deps()),
      runBillingInline({ trigger: 'api' }, deps()),
    ]);
    expect([a.status, b.status]).toEqual(expect.arrayContaining(['succeeded']));
    t += 700_000;
    await runBillingInline({ trigger: 'schedule' }, deps());
    for (const s of subs) expect(billedFor(s)).toBe('2.001');
  });
});

describe('billing run: 10,000 records, 3× delivery, 30% biller faults', () => {
  // ~30 k conditional writes: about 25 s at dynalite's ~1,200 writes/s, longer on a loaded machine.
  it('bills exactly the accepted totals', { timeout: 400_000 }, async () => {
    const { submitUsage } = await import('../../../functions/usage-submission/submit-usage.ts');
    const subs: string[] = [];
    for (let i = 0; i < 40; i++)
      subs.push(await subscription(i % 3 === 0 ? 'appdirect' : 'zuora', { charges: 2 }));
    const infos = new Map(await Promise.all(subs.map(async (s) => [s, (await registry.get(s))!] as const)));
    const expected = new Map<string, bigint>();
    const all = Array.from({ length: 10_000 }, (_, i) => {
      const sub = subs[i % subs.length]!;
      const info = infos.get(sub)!;
      const charge = info.charges[i % 2]!;
      const q = (((i * 7919) % 100_000) / 1000).toString();
      const key = `${sub}|${charge.chargeNumber}|${charge.unit}`;
      expected.set(key, (expected.get(key) ?? 0n) + toScaled(q)!);
      return {
        id: `bulk-${i}`,
        subscriptionNumber: sub,
        chargeNumber: charge.chargeNumber,
        unit: charge.unit!,
        quantity: Number(q),
        timestamp: new Date(t - 1000 - (i % 50) * 60_000).toISOString(),
      };
    });
    const submitDeps = {
      registry,
      records,
      clock,
      config: { lateWindowDays: 35, retentionDays: 400, futureSkewSeconds: 300, writeConcurrency: 32 },
    };
    let accepted = 0;
    let duplicates = 0;
    // Three deliveries of every record, in shuffled batches of 500, a billing run between some.
    const deliveries = [...all, ...all, ...all]
      .map((r, i) => ({ r, k: (i * 2654435761) % 30_000 }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.r);
    zuora().faults = { errorRate: 0.3, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
    appdirect().faults = { errorRate: 0.3, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
    for (let i = 0; i < deliveries.length; i += 500) {
      const res = await submitUsage(
        { tenant: 'platform', records: deliveries.slice(i, i + 500).map((record) => ({ record })) },
        submitDeps,
      );
      accepted += res.accepted;
      duplicates += res.duplicates;
      expect(res.rejected).toBe(0);
      if (i % 15_000 === 0) {
        t += 700_000;
        await runBillingInline({ trigger: 'schedule' }, deps());
      }
    }
    expect(accepted).toBe(10_000);
    expect(duplicates).toBe(20_000);
    let runs = 0;
    for (; runs < 40; runs++) {
      t += 700_000;
      const run = await runBillingInline({ trigger: 'schedule' }, deps());
      if (run.status === 'succeeded' && run.stats?.submissions === 0 && run.stats.recovered === 0) break;
    }
    expect(runs).toBeLessThan(40);
    const billed = billedInSandboxes();
    for (const [k, v] of expected) expect({ k, billed: billed.get(k) }).toEqual({ k, billed: fromScaled(v) });
  });
});
