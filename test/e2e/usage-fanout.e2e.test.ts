import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import type { Wiring } from '../../infra/wiring-types.ts';
import { localDynamoClient } from '../../local/dynamo.ts';
import type { SandboxRecord } from '../../local/sandboxes/kit.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { fromScaled, toScaled } from '../../shared/usage/quantity.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/**
 * Billing fan-out through the local runtime (the suite `npm start` runs, in this process, over real
 * HTTP and the emulated queues): 20,000 records over 200 subscriptions, both billers failing 30 % of
 * calls, two runs started at once, and workers killed mid-slice. "Killed" here: the worker's
 * timeout is cut to 8 s and the Zuora sandbox holds every call 10 s while the two runs start, so the
 * first workers exceed their timeout in the middle of a slice (after claiming groups and writing
 * their submission, during the upload); middy ends the invocation with a TimeoutError just before
 * the deadline (as it does in AWS), the
 * slice message comes back after its visibility timeout and is re-done. Unlike AWS the timed-out
 * handler is not frozen: it goes on in the background, a stricter test (a zombie racing the retry).
 * Then runs follow until nothing is left: billed totals equal accepted totals exactly.
 */
const SUBSCRIPTIONS = 200;
const RECORDS = 20_000;

function testWiring(): Wiring {
  return {
    ...wiring,
    functions: {
      ...wiring.functions,
      'usage-billing-worker': { ...wiring.functions['usage-billing-worker']!, timeoutSeconds: 8 },
    },
    queues: {
      ...wiring.queues,
      'usage-billing-slices': { ...wiring.queues['usage-billing-slices']!, visibilityTimeoutSeconds: 30 },
    },
  };
}

describe('usage billing fan-out end to end', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  let token: string;
  let low: ReturnType<typeof localDynamoClient>;
  const expected = new Map<string, bigint>();
  const started = systemClock.now().getTime();

  beforeAll(async () => {
    rt = await startTestRuntime({ wiring: testWiring() });
    token = await rt.token('platform');
    const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    low = localDynamoClient(info.dynamoEndpoint);
    const registry = new SubscriptionRegistry(createDocumentClient(low), info.tableName);
    const now = systemClock.now();
    for (let s = 0; s < SUBSCRIPTIONS; s++) {
      const appdirect = s % 4 === 0;
      await registry.register({
        subscriptionNumber: `FAN-${s}`,
        accountNumber: `A-FAN-${s}`,
        tenants: ['platform'],
        source: 'test',
        biller: appdirect ? 'appdirect' : 'zuora',
        overrideBiller: true,
        now,
      });
      await registry.putCharge(
        {
          subscriptionNumber: `FAN-${s}`,
          chargeNumber: `C-FAN-${s}`,
          unit: appdirect ? 'GIGABYTE' : 'Minutes',
        },
        now,
      );
    }
  }, 120_000);
  afterAll(async () => {
    low?.destroy();
    await rt?.cleanup();
  });

  const billedInSandboxes = () => {
    const totals = new Map<string, bigint>();
    const add = (k: string, q: string) => totals.set(k, (totals.get(k) ?? 0n) + toScaled(q)!);
    for (const rec of (rt.sandbox('zuora').records as SandboxRecord[]).filter(
      (r) => r.kind === 'usage.imported',
    )) {
      for (const row of rec.rows as Array<Record<string, string>>)
        add(`${row.SUBSCRIPTION_ID}|${row.CHARGE_ID}`, row.QTY!);
    }
    for (const rec of (rt.sandbox('appdirect').records as SandboxRecord[]).filter(
      (r) => r.kind === 'usage.received',
    )) {
      for (const ev of rec.events as Array<{ attributes: Record<string, string>; quantity: string }>) {
        add(`${ev.attributes.subscriptionNumber}|${ev.attributes.chargeNumber}`, ev.quantity);
      }
    }
    return totals;
  };

  it('bills exactly the accepted totals with faults, killed workers and two runs at once', {
    timeout: 900_000,
  }, async () => {
    let accepted = 0;
    for (let i = 0; i < RECORDS; i += 500) {
      const records = Array.from({ length: 500 }, (_, j) => {
        const n = i + j;
        const s = n % SUBSCRIPTIONS;
        const quantity = ((n * 7919) % 100_000) / 1000;
        const k = `FAN-${s}|C-FAN-${s}`;
        expected.set(k, (expected.get(k) ?? 0n) + toScaled(String(quantity))!);
        return {
          id: `fan-${n}`,
          subscriptionNumber: `FAN-${s}`,
          chargeNumber: `C-FAN-${s}`,
          unit: s % 4 === 0 ? 'GIGABYTE' : 'Minutes',
          quantity,
          timestamp: new Date(started - 60_000 - (n % 50) * 60_000).toISOString(),
        };
      });
      const res = await api(rt, 'POST', '/v1/usage', { token, body: { records } });
      expect(res.status).toBe(202);
      accepted += res.body.accepted;
    }
    expect(accepted).toBe(RECORDS);

    const zuora = rt.sandbox('zuora') as unknown as { faults: Record<string, unknown> };
    const appdirect = rt.sandbox('appdirect') as unknown as { faults: Record<string, unknown> };
    const faults = { errorRate: 0.3, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
    // Workers die mid-slice: every Zuora call is held past the worker's 8 s timeout.
    zuora.faults = { ...faults, latencyMs: 10_000 };
    appdirect.faults = { ...faults };
    // A worker past its time limit ends one way or the other: middy answers a TimeoutError just
    // before the deadline (timeoutEarlyInMillis), else the runtime's timeout fires.
    const killed = () => rt.lambdas.stats.timeouts + rt.lambdas.stats.errors;
    const killedBefore = killed();

    // Two runs at once.
    const [a, b] = await Promise.all([
      api(rt, 'POST', '/v1/usage/billing-runs', { token }),
      api(rt, 'POST', '/v1/usage/billing-runs', { token }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    await rt.drain(300_000);
    expect(killed()).toBeGreaterThan(killedBefore);
    zuora.faults = { ...faults };
    // The killed slices come back after their visibility timeout and are re-done.
    const unfinished = async () => {
      let left = 0;
      for (const r of [a, b]) {
        const run = (await api(rt, 'GET', `/v1/usage/billing-runs/${r.body.id}`, { token })).body;
        left += run.slices.total - run.slices.done;
      }
      return left;
    };
    expect(await unfinished()).toBeGreaterThan(0); // killed mid-slice: not counted yet
    for (let round = 0; round < 4 && (await unfinished()) > 0; round++) {
      await rt.advanceClock(60);
      await rt.drain(300_000);
    }
    expect(await unfinished()).toBe(0);
    for (const r of [a, b]) {
      const run = await api(rt, 'GET', `/v1/usage/billing-runs/${r.body.id}`, { token });
      expect(['succeeded', 'partial']).toContain(run.body.status);
    }

    // Runs until one finds nothing left to bill (backoff of refused and interrupted groups: the clock).
    zuora.faults = { ...faults, errorRate: 0 };
    appdirect.faults = { ...faults, errorRate: 0 };
    let last: any;
    for (let i = 0; i < 12; i++) {
      await rt.advanceClock(2 * 86_400);
      token = await rt.token('platform'); // the clock moved past the last token's expiry
      const start = await api(rt, 'POST', '/v1/usage/billing-runs', { token });
      await rt.drain(300_000);
      last = (await api(rt, 'GET', `/v1/usage/billing-runs/${start.body.id}`, { token })).body;
      if (last.status === 'succeeded' && last.stats.submissions === 0 && last.stats.recovered === 0) break;
    }
    expect(last).toMatchObject({ status: 'succeeded', stats: { submissions: 0, failed: 0, pending: 0 } });

    // Billed totals equal accepted totals, group by group: nothing missing, nothing twice.
    const billed = billedInSandboxes();
    expect(billed.size).toBe(SUBSCRIPTIONS);
    for (const [k, v] of expected)
      expect({ k, billed: fromScaled(billed.get(k) ?? 0n) }).toEqual({ k, billed: fromScaled(v) });
    // And the last run reports it per subscription.
    expect(last.subscriptionCount).toBe(SUBSCRIPTIONS);
    for (const s of last.subscriptions) expect(s.billed).toBe(s.total);
  });
});
