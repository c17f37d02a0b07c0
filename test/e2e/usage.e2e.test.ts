import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/dynamo.ts';
import type { SandboxRecord } from '../../local/sandboxes/kit.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/**
 * Through the local runtime: the platform submits usage (JSON and CloudEvents), an operator starts a
 * billing run with the API, the usage-billing function bills Zuora (usage import sandbox) and
 * AppDirect (Billing Usage V2 sandbox) exactly once, and a late record is billed by the schedule.
 */
describe('usage end to end', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  let token: string;
  let low: ReturnType<typeof localDynamoClient>;
  const period = systemClock.now().toISOString().slice(0, 7);
  // Fixed once: a timestamp is part of a record's content (the same id with another one is a CONFLICT).
  const started = systemClock.now().getTime();
  const ts = (minutesAgo: number) => new Date(started - minutesAgo * 60_000).toISOString();

  beforeAll(async () => {
    rt = await startTestRuntime();
    token = await rt.token('platform');
    const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    low = localDynamoClient(info.dynamoEndpoint);
    const registry = new SubscriptionRegistry(createDocumentClient(low), info.tableName);
    const now = systemClock.now();
    await registry.register({
      subscriptionNumber: 'E2E-Z-1',
      accountNumber: 'A-E2E-1',
      tenants: ['platform'],
      source: 'test',
      now,
    });
    await registry.putCharge({ subscriptionNumber: 'E2E-Z-1', chargeNumber: 'C-Z-1', unit: 'Minutes' }, now);
    await registry.register({
      subscriptionNumber: 'E2E-AD-1',
      accountNumber: 'ad-account-1',
      tenants: ['platform'],
      source: 'test',
      biller: 'appdirect',
      overrideBiller: true,
      now,
    });
    await registry.putCharge(
      { subscriptionNumber: 'E2E-AD-1', chargeNumber: 'C-AD-1', unit: 'GIGABYTE' },
      now,
    );
  });
  afterAll(async () => {
    low?.destroy();
    await rt?.cleanup();
  });

  const zuoraRows = () =>
    (rt.sandbox('zuora').records as SandboxRecord[])
      .filter((r) => r.kind === 'usage.imported')
      .flatMap((r) => r.rows as Array<Record<string, string>>);
  const appDirectEvents = () =>
    (rt.sandbox('appdirect').records as SandboxRecord[])
      .filter((r) => r.kind === 'usage.received')
      .flatMap((r) => r.events as Array<{ quantity: string; accountId: string }>);

  it('accepts usage, bills it once through a run started by the API, and reports the run', async () => {
    const first = await api(rt, 'POST', '/v1/usage', {
      token,
      body: {
        records: [
          {
            id: 'e2e-1',
            subscriptionNumber: 'E2E-Z-1',
            chargeNumber: 'C-Z-1',
            unit: 'Minutes',
            quantity: 30,
            timestamp: ts(30),
          },
          {
            id: 'e2e-2',
            subscriptionNumber: 'E2E-Z-1',
            chargeNumber: 'C-Z-1',
            unit: 'Minutes',
            quantity: 12.5,
            timestamp: ts(20),
          },
          {
            id: 'e2e-3',
            subscriptionNumber: 'E2E-AD-1',
            chargeNumber: 'C-AD-1',
            unit: 'GIGABYTE',
            quantity: 3,
            timestamp: ts(10),
          },
        ],
      },
    });
    expect(first.status).toBe(202);
    expect(first.body.accepted).toBe(3);
    const cloudEvents = await api(rt, 'POST', '/v1/usage', {
      token,
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([
        {
          specversion: '1.0',
          id: 'e2e-ce-1',
          source: '/metering',
          type: 'com.vendor.usage',
          subject: 'E2E-AD-1',
          time: ts(5),
          data: { chargeNumber: 'C-AD-1', unit: 'GIGABYTE', quantity: 1.25 },
        },
        {
          specversion: '1.0',
          id: 'e2e-3',
          source: '/metering',
          type: 'com.vendor.usage',
          subject: 'E2E-AD-1',
          time: ts(10),
          data: { chargeNumber: 'C-AD-1', unit: 'GIGABYTE', quantity: 3 },
        },
      ]),
    });
    expect(cloudEvents.status).toBe(202);
    expect(cloudEvents.body.results.map((r: { status: string }) => r.status)).toEqual([
      'accepted',
      'duplicate',
    ]);

    const start = await api(rt, 'POST', '/v1/usage/billing-runs', { token });
    expect(start.status).toBe(202);
    expect(start.body.status).toBe('queued');
    await rt.drain();
    const run = await api(rt, 'GET', `/v1/usage/billing-runs/${start.body.id}`, { token });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: 'succeeded', trigger: 'api', stats: { billed: 2, failed: 0 } });
    // Fanned out in (period, subscription shard) slices, all done; reported per subscription.
    expect(run.body.slices.done).toBe(run.body.slices.total);
    expect(run.body.subscriptions).toEqual([
      expect.objectContaining({
        subscriptionNumber: 'E2E-AD-1',
        total: '4.25',
        billed: '4.25',
        billedGroups: 1,
      }),
      expect.objectContaining({
        subscriptionNumber: 'E2E-Z-1',
        total: '42.5',
        billed: '42.5',
        billedGroups: 1,
      }),
    ]);

    expect(zuoraRows()).toEqual([
      expect.objectContaining({
        ACCOUNT_ID: 'A-E2E-1',
        UOM: 'Minutes',
        QTY: '42.5',
        SUBSCRIPTION_ID: 'E2E-Z-1',
        CHARGE_ID: 'C-Z-1',
      }),
    ]);
    expect(appDirectEvents()).toEqual([
      expect.objectContaining({ accountId: 'ad-account-1', pricingUnit: 'GIGABYTE', quantity: '4.25' }),
    ]);

    const summary = await api(rt, 'GET', `/v1/usage/summary?subscriptionNumber=E2E-Z-1&period=${period}`, {
      token,
    });
    expect(summary.body.charges).toEqual([
      {
        chargeNumber: 'C-Z-1',
        unit: 'Minutes',
        records: 2,
        total: '42.5',
        billed: '42.5',
        pending: '0',
        inFlight: '0',
      },
    ]);
    const events = await api(rt, 'GET', '/_local/events');
    const types = JSON.stringify(events.body);
    expect(types).toContain('usage.billed');
  });

  it('bills a late record in the next scheduled run, and nothing twice', async () => {
    const late = await api(rt, 'POST', '/v1/usage', {
      token,
      body: {
        records: [
          {
            id: 'e2e-late',
            subscriptionNumber: 'E2E-Z-1',
            chargeNumber: 'C-Z-1',
            unit: 'Minutes',
            quantity: 7.5,
            timestamp: ts(60),
          },
        ],
      },
    });
    expect(late.body.accepted).toBe(1);
    await rt.runSchedule('usage-billing-daily');
    await rt.drain();
    await rt.runSchedule('usage-billing-daily');
    await rt.drain();
    expect(zuoraRows().map((r) => r.QTY)).toEqual(['42.5', '7.5']);
    expect(appDirectEvents()).toHaveLength(1);
  });

  it('refuses a billing run to a token without usage:admin', async () => {
    const distributor = await rt.token('distributor');
    expect((await api(rt, 'POST', '/v1/usage/billing-runs', { token: distributor })).status).toBe(403);
    expect(
      (await api(rt, 'GET', '/v1/usage/billing-runs/urun_01KAAAAAAAAAAAAAAAAAAAAAAA', { token })).status,
    ).toBe(404);
  });
});
