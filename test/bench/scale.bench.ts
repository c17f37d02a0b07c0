import {
  type BillingSlice,
  billSlice,
  planBillingRun,
  type RunBillingDeps,
} from '../../functions/usage-billing/run-billing.ts';
import { parseCli } from '../../local/cli/kit.ts';
import { createAppDirectSandbox } from '../../local/sandboxes/appdirect.ts';
import { createZuoraSandbox } from '../../local/sandboxes/zuora/index.ts';
import { systemClock } from '../../shared/clock.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { startTestTable, type TestTable } from '../helpers/dynamo.ts';
import { serveSandboxes } from '../helpers/sandbox-server.ts';
import { sandboxBillingDeps } from '../helpers/usage-billing.ts';
import { recordFigure } from './table.ts';

/**
 * `npm run bench -- scale [--records N] [--workers W] [--shards S]`: billing-run scale. Generates N
 * usage records over N/100 subscriptions straight into the store (the submission function's
 * conditional put, no HTTP), then one billing run: the planner (`planBillingRun`) and its slice
 * messages billed by `billSlice` — the worker's use case — W at a time (the `usage-billing-slices`
 * queue's concurrency cap; here an in-process pool standing in for SQS + Lambda). Then the same at
 * N/10 so growth is visible. Prints wall time, records/s, worker invocations and the longest, and
 * the DynamoDB requests per unit (counted on the document client): submission reads/writes per
 * record, billing reads per record (requests and items), billing writes per billed group.
 * Default N = 1,000,000 (10,000 subscriptions): minutes on the embedded store.
 */
const { values } = parseCli(
  {
    name: 'npm run bench -- scale',
    usage: `Usage: npm run bench -- scale [--records N] [--workers W] [--shards S]
  --records   usage records of the large run (default 1000000; the second run has a tenth)
  --workers   slices billed at once (default 16, the usage-billing-slices queue's cap)
  --shards    subscription shards per period (default 32, USAGE_PERIOD_SHARDS)`,
    options: {
      records: { type: 'string' },
      workers: { type: 'string' },
      shards: { type: 'string' },
    },
  },
  JSON.parse(process.env.BENCH_ARGS ?? '[]') as string[],
);
const positive = (v: string | undefined, fallback: number, name: string) => {
  const n = v === undefined ? fallback : Number(v);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`npm run bench -- scale: --${name} must be a positive integer (got ${v})`);
    process.exit(2);
  }
  return n;
};
const RECORDS = positive(values.records, 1_000_000, 'records');
const WORKERS = positive(values.workers, 16, 'workers');
const SHARDS = positive(values.shards, 32, 'shards');

type Counts = { reads: number; items: number; writes: number };

export default async function scaleBench(): Promise<void> {
  for (const n of [RECORDS, Math.max(100, Math.round(RECORDS / 10))]) await oneSize(n);
}

async function oneSize(records: number): Promise<void> {
  const table = await startTestTable();
  const clock = systemClock;
  const servers = await serveSandboxes(
    { zuora: createZuoraSandbox, appdirect: createAppDirectSandbox },
    { clock },
  );
  const counts: Counts = { reads: 0, items: 0, writes: 0 };
  count(table, counts);
  try {
    const registry = new SubscriptionRegistry(table.doc, table.tableName);
    const store = new UsageRecordStore(table.doc, table.tableName, { group: 8, period: SHARDS });
    const subCount = Math.max(1, Math.round(records / 100));
    const now = clock.now();
    await pool(subCount, 16, async (s) => {
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
    });
    Object.assign(counts, { reads: 0, items: 0, writes: 0 });
    const seedStart = Date.now();
    const nowSec = Math.floor(now.getTime() / 1000);
    await pool(records, 32, async (i) => {
      const s = i % subCount;
      await store.put(
        {
          tenant: 'platform',
          id: `r-${i}`,
          subscriptionNumber: `S-${s}`,
          chargeNumber: `C-${s}`,
          unit: s % 4 === 0 ? 'GIGABYTE' : 'Minutes',
          quantity: String((i % 50) / 2),
          timestamp: new Date(now.getTime() - 60_000 - (i % 1000) * 1000).toISOString(),
          acceptedAt: now.toISOString(),
          expiresAt: nowSec + 400 * 86_400,
        },
        nowSec,
      );
      if (i > 0 && i % 100_000 === 0) console.log(`  seeded ${i} records…`);
    });
    const seeding = { ...counts, seconds: (Date.now() - seedStart) / 1000 };
    console.log(
      `seeded ${records} records over ${subCount} subscriptions in ${seeding.seconds.toFixed(1)} s (direct puts); ` +
        `submission per record: ${(seeding.reads / records).toFixed(3)} reads, ${(seeding.writes / records).toFixed(3)} writes`,
    );

    const billing = new UsageBillingStore(table.doc, table.tableName);
    const deps: RunBillingDeps = sandboxBillingDeps({
      records: store,
      billing,
      registry,
      baseUrl: (name) => servers.baseUrl(name),
      clock,
    });

    Object.assign(counts, { reads: 0, items: 0, writes: 0 });
    const started = Date.now();
    const slices: Array<{ runId: string } & BillingSlice> = [];
    const run = await planBillingRun(
      { trigger: 'schedule' },
      {
        billing,
        slices: { send: async (m) => void slices.push(...m) },
        periodShards: SHARDS,
        clock,
        ids: ulidGenerator,
        config: deps.config,
      },
    );
    const durations: number[] = [];
    let groups = 0;
    let read = 0;
    await pool(slices.length, WORKERS, async (i) => {
      const t0 = Date.now();
      const outcome = await billSlice(slices[i]!, deps);
      durations.push(Date.now() - t0);
      groups += outcome?.subscriptions.reduce((n, s) => n + s.billedGroups, 0) ?? 0;
      read += outcome?.records ?? 0;
    });
    const seconds = (Date.now() - started) / 1000;
    const done = await billing.getRun(run.id);
    const longest = Math.max(...durations) / 1000;
    const per = (n: number, d: number) => (d ? (n / d).toFixed(3) : 'n/a');
    console.log(
      `billing run, ${records} records / ${subCount} subscriptions: ${seconds.toFixed(1)} s wall = ${(records / seconds).toFixed(0)} records/s; ` +
        `status ${done?.status}, ${done?.slices?.done}/${done?.slices?.total} slices; ${durations.length} worker invocations (${WORKERS} at once), longest ${longest.toFixed(1)} s; ` +
        `${groups} groups billed, ${read} records read`,
    );
    console.log(
      `  DynamoDB, billing: ${counts.reads} read requests (${counts.items} items) and ${counts.writes} write requests → ` +
        `${per(counts.reads, records)} read requests / record, ${per(counts.items, records)} items read / record, ` +
        `${per(counts.writes, groups)} writes / billed group, ${per(counts.writes, records)} writes / record`,
    );
    console.log(
      `  DynamoDB per usage record, submission + billing: ${per(seeding.reads + counts.reads, records)} read requests, ` +
        `${per(seeding.writes + counts.writes, records)} write requests`,
    );
    recordFigure({
      figure: `billing run (fan-out), ${records} records / ${subCount} subscriptions`,
      value: records / seconds,
      unit: 'records/s',
    });
    recordFigure({
      figure: `billing run (fan-out), ${records} records: longest worker invocation`,
      value: longest,
      unit: 's',
      better: 'lower',
    });
    recordFigure({
      figure: `billing, ${records} records: DynamoDB read requests per record`,
      value: counts.reads / records,
      unit: 'reads',
      target: '≤ 1',
      better: 'lower',
    });
    recordFigure({
      figure: `billing, ${records} records: DynamoDB writes per billed group`,
      value: groups ? counts.writes / groups : Number.NaN,
      unit: 'writes',
      target: '≤ 2',
      better: 'lower',
    });
  } finally {
    await servers.stop();
    await table.stop();
  }
}

/** Counts DynamoDB requests (and items returned by reads) on the table's document client. */
function count(table: TestTable, counts: Counts): void {
  table.doc.middlewareStack.add(
    (next, context) => async (args) => {
      const name = String(context.commandName);
      const out = await next(args);
      if (/^(GetItem|Query|Scan|BatchGetItem)/.test(name)) {
        counts.reads++;
        const o = out.output as { Count?: number; Item?: unknown; Responses?: Record<string, unknown[]> };
        counts.items +=
          o.Count ?? (o.Item ? 1 : 0) + Object.values(o.Responses ?? {}).reduce((n, r) => n + r.length, 0);
      } else if (/^(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems)/.test(name)) {
        counts.writes++;
      }
      return out;
    },
    { step: 'initialize', name: 'scaleBenchCounts' },
  );
}

async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}
