import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDynamoClient } from '../../local/dynamo.ts';
import { startRuntime } from '../../local/runtime.ts';
import { createAppDirectSandbox } from '../../local/sandboxes/appdirect.ts';
import { createZuoraSandbox } from '../../local/sandboxes/zuora/index.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient, documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { startTestTable } from '../helpers/dynamo.ts';
import { serveSandboxes } from '../helpers/sandbox-server.ts';
import { runBillingInline, sandboxBillingDeps } from '../helpers/usage-billing.ts';
import { recordFigure } from './table.ts';

/**
 * Usage benchmark:
 *  1. records accepted per second through the local runtime (POST /v1/usage, batches of 100 and 500);
 *  2. DynamoDB write operations per accepted record (counted on the document client: target 1.0);
 *  3. billing-run time for N records over N/100 subscriptions (USAGE_BENCH_RECORDS, default 5,000;
 *     the 100,000 over 1,000 takes minutes on the embedded store: set USAGE_BENCH_RECORDS=100000).
 */
const SECONDS_PER_BATCH_SIZE = Number(process.env.USAGE_BENCH_SECONDS ?? 6);
const BILLING_RECORDS = Number(process.env.USAGE_BENCH_RECORDS ?? 5_000);

export default async function usageBench(): Promise<void> {
  await submissionThroughRuntime();
  await billingRun();
}

async function submissionThroughRuntime(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-usage-bench-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    const low = localDynamoClient(info.dynamoEndpoint);
    const registry = new SubscriptionRegistry(createDocumentClient(low), info.tableName);
    const subs = Array.from({ length: 20 }, (_, i) => `BENCH-S-${i}`);
    for (const s of subs) {
      await registry.register({
        subscriptionNumber: s,
        accountNumber: `A-${s}`,
        tenants: ['platform'],
        source: 'bench',
        now: systemClock.now(),
      });
      await registry.putCharge(
        { subscriptionNumber: s, chargeNumber: `C-${s}`, unit: 'Minutes' },
        systemClock.now(),
      );
    }
    low.destroy();
    const token = await rt.token('platform');

    // The runtime runs the handlers in this process: count writes on their shared document client.
    let writes = 0;
    documentClient().middlewareStack.add(
      (next, context) => async (args) => {
        if (
          /^(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems)/.test(
            String(context.commandName).replace('Command', ''),
          )
        )
          writes++;
        return next(args);
      },
      { step: 'initialize', name: 'usageBenchWrites' },
    );

    const timestamp = new Date(systemClock.now().getTime() - 60_000).toISOString();
    let seq = 0;
    const rates = new Map<number, number>();
    let writesPerRecord = Number.NaN;
    for (const size of [100, 500]) {
      writes = 0;
      let accepted = 0;
      let requests = 0;
      const started = Date.now();
      const worker = async () => {
        while (Date.now() - started < SECONDS_PER_BATCH_SIZE * 1000) {
          const records = Array.from({ length: size }, () => {
            const i = seq++;
            return {
              id: `b-${i}`,
              subscriptionNumber: subs[i % subs.length],
              chargeNumber: `C-${subs[i % subs.length]}`,
              unit: 'Minutes',
              quantity: (i % 97) / 4,
              timestamp,
            };
          });
          const res = await fetch(`${rt.url}/v1/usage`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ records }),
          });
          const body = (await res.json()) as { accepted: number };
          if (res.status !== 202) throw new Error(`POST /v1/usage answered ${res.status}`);
          accepted += body.accepted;
          requests++;
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `POST /v1/usage batches of ${size}: ${accepted} records in ${seconds.toFixed(1)} s = ${(accepted / seconds).toFixed(0)} records/s ` +
          `(${requests} requests, 4 concurrent); DynamoDB writes per accepted record: ${(writes / accepted).toFixed(3)}`,
      );
      rates.set(size, accepted / seconds);
      writesPerRecord = writes / accepted;
    }
    documentClient().middlewareStack.remove('usageBenchWrites');

    // The store's own limit in this run: the same conditional puts of the same items, straight to
    // the runtime's DynamoDB (no HTTP, no handler), as many in flight as the API path had (4 × 32).
    const direct = new UsageRecordStore(
      createDocumentClient(localDynamoClient(info.dynamoEndpoint)),
      info.tableName,
    );
    const nowSec = Math.floor(Date.now() / 1000);
    let puts = 0;
    const limitStarted = Date.now();
    await Promise.all(
      Array.from({ length: 128 }, async () => {
        while (Date.now() - limitStarted < SECONDS_PER_BATCH_SIZE * 1000) {
          const i = seq++;
          const sub = subs[i % subs.length]!;
          await direct.put(
            {
              tenant: 'platform',
              id: `b-${i}`,
              subscriptionNumber: sub,
              chargeNumber: `C-${sub}`,
              unit: 'Minutes',
              quantity: String((i % 97) / 4),
              timestamp,
              acceptedAt: new Date().toISOString(),
              expiresAt: nowSec + 400 * 86_400,
            },
            nowSec,
          );
          puts++;
        }
      }),
    );
    const limit = puts / ((Date.now() - limitStarted) / 1000);
    console.log(
      `store limit (direct conditional puts of the same items, 128 in flight): ${limit.toFixed(0)} writes/s`,
    );
    recordFigure({
      figure: 'usage records accepted, batches of 500 (POST /v1/usage)',
      value: rates.get(500)!,
      unit: 'records/s',
      peer: { label: 'store limit: direct conditional puts', value: limit },
      target: '≥ 1,000/s and ratio ≥ 0.75',
    });
    recordFigure({
      figure: 'usage records accepted, batches of 100',
      value: rates.get(100)!,
      unit: 'records/s',
      peer: { label: 'store limit: direct conditional puts', value: limit },
    });
    recordFigure({
      figure: 'DynamoDB writes per accepted usage record',
      value: writesPerRecord,
      unit: 'writes',
      target: '1.0',
      better: 'lower',
    });
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function billingRun(): Promise<void> {
  const table = await startTestTable();
  const clock = systemClock;
  const servers = await serveSandboxes(
    { zuora: createZuoraSandbox, appdirect: createAppDirectSandbox },
    { clock },
  );
  try {
    const registry = new SubscriptionRegistry(table.doc, table.tableName);
    const records = new UsageRecordStore(table.doc, table.tableName);
    const subCount = Math.max(1, Math.round(BILLING_RECORDS / 100));
    const now = clock.now();
    for (let s = 0; s < subCount; s++) {
      const appdirect = s % 4 === 0;
      await registry.register({
        subscriptionNumber: `S-${s}`,
        accountNumber: `A-${s}`,
        tenants: ['platform'],
        source: 'bench',
        biller: appdirect ? 'appdirect' : 'zuora',
        overrideBiller: true,
        now,
      });
      await registry.putCharge(
        { subscriptionNumber: `S-${s}`, chargeNumber: `C-${s}`, unit: appdirect ? 'GIGABYTE' : 'Minutes' },
        now,
      );
    }
    const seedStart = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < BILLING_RECORDS) {
          const i = next++;
          const s = i % subCount;
          await records.put(
            {
              tenant: 'platform',
              id: `r-${i}`,
              subscriptionNumber: `S-${s}`,
              chargeNumber: `C-${s}`,
              unit: s % 4 === 0 ? 'GIGABYTE' : 'Minutes',
              quantity: String((i % 50) / 2),
              timestamp: new Date(now.getTime() - 60_000 - (i % 1000) * 1000).toISOString(),
              acceptedAt: now.toISOString(),
              expiresAt: Math.floor(now.getTime() / 1000) + 400 * 86_400,
            },
            Math.floor(now.getTime() / 1000),
          );
          if (i > 0 && i % 20_000 === 0) console.log(`  seeded ${i} records…`);
        }
      }),
    );
    console.log(
      `seeded ${BILLING_RECORDS} records over ${subCount} subscriptions in ${((Date.now() - seedStart) / 1000).toFixed(1)} s (direct puts)`,
    );
    const deps = sandboxBillingDeps({
      records,
      billing: new UsageBillingStore(table.doc, table.tableName),
      registry,
      baseUrl: (name) => servers.baseUrl(name),
      clock,
    });
    const started = Date.now();
    const run = await runBillingInline({ trigger: 'schedule' }, deps);
    const seconds = (Date.now() - started) / 1000;
    recordFigure({
      figure: `billing run, ${BILLING_RECORDS} records / ${subCount} subscriptions`,
      value: BILLING_RECORDS / seconds,
      unit: 'records/s',
    });
    console.log(
      `billing run: ${BILLING_RECORDS} records, ${subCount} subscriptions → ${run.stats?.submissions} submissions, status ${run.status}, ${seconds.toFixed(1)} s` +
        (BILLING_RECORDS < 100_000
          ? ` — extrapolated (linear, NOT measured) to 100,000 records / 1,000 subscriptions: ~${((seconds * 100_000) / BILLING_RECORDS).toFixed(0)} s`
          : ''),
    );
    const again = Date.now();
    await runBillingInline({ trigger: 'schedule' }, deps);
    console.log(
      `second run with nothing new (reads every record, submits nothing): ${((Date.now() - again) / 1000).toFixed(1)} s`,
    );
  } finally {
    await servers.stop();
    await table.stop();
  }
}
