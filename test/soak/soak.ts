import './quiet-logs.ts';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../local/quiet-warnings.ts';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoZuoraStore } from '../../functions/zuora-event/model.ts';
import type { Wiring } from '../../infra/wiring-types.ts';
import { parseCli, progress, runCli, usage } from '../../local/cli/kit.ts';
import { localDynamoClient } from '../../local/dynamo.ts';
import type { Runtime } from '../../local/runtime.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { tableDefinition } from '../../shared/db/table.ts';
import { fromScaled, toScaled } from '../../shared/usage/quantity.ts';
import { SuiteClient } from './client.ts';
import {
  newCounts,
  SOAK_RECEIVER,
  type TrafficCounts,
  UsageStream,
  WebhookStream,
  ZuoraStream,
} from './traffic.ts';

/**
 * The chaos soak (`npm run soak -- --minutes N`): the suite runs as a child process on its own data
 * folder and port (loopback only); the driver sends orders, Zuora events (with duplicates), usage
 * batches (with billing runs) and custom webhook events at a steady rate, to one all-events webhook
 * endpoint on the receiver sandbox (disabled for a while, then re-enabled with replaySkipped), while
 * at random moments (seeded) it sets partner sandbox faults (errors, latency, timeouts), moves the
 * clock, and kills the suite with SIGKILL and restarts it on the same data. At the end it restarts
 * the suite in this process on the same port, clears the faults, re-sends what was never answered
 * (as Zuora and a usage client would), drains (orders to a terminal state, billing runs until
 * nothing is left, webhook retries until none is pending) and checks the invariants, printed as a
 * table. Exit 1 on any violation.
 */
const REPO = resolve(fileURLToPath(new URL('../../', import.meta.url)));
const FAULTED = ['zuora', 'salesforce', 'mail', 'appdirect', 'receiver'];
/** Billed through AppDirect (the others through Zuora's usage import). */
const APPDIRECT_SUBSCRIPTIONS = ['SOAK-S2'];
const TERMINAL = new Set(['FULFILLED', 'REJECTED', 'ERROR']);

export interface SoakOptions {
  minutes: number;
  seed: number;
  port: number;
  /** Keep the data folder (the suite's table, queues and sandboxes) for investigation; its path is logged. */
  keep?: boolean;
  log?: (line: string) => void;
}
export interface InvariantRow {
  invariant: string;
  expected: string;
  actual: string;
  ok: boolean;
}
export interface SoakResult {
  rows: InvariantRow[];
  counts: TrafficCounts;
  /** What the drain found besides the invariants (delivery statuses, per-subscription state…). */
  figures: Record<string, number | string>;
}

/** mulberry32: a small seeded generator, so a run can be repeated with `--seed`. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startSuite(dataDir: string, port: number, extraEnv: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/start.ts'], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SWITCHBOARD_DATA_DIR: dataDir,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c) => (out = (out + c).slice(-20_000)));
  child.stderr!.on('data', (c) => (out = (out + c).slice(-20_000)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`suite did not start within 120 s: ${out.slice(-500)}`));
    }, 120_000);
    const onData = () => {
      if (out.includes('Switchboard is running at')) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`suite exited ${code} while starting: ${out.slice(-500)}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => {
    child.once('exit', () => r());
    child.kill('SIGKILL');
  });
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  const dataDir = await mkdtemp(join(tmpdir(), 'switchboard-soak-'));
  const url = `http://127.0.0.1:${options.port}`;
  const sample = JSON.parse(await readFile(join(REPO, 'events/api/orders/valid.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  const counts = newCounts();
  const accepted: string[] = [];
  const api = new SuiteClient(url, dataDir);
  const suiteEnv = { USAGE_APPDIRECT_SUBSCRIPTIONS: APPDIRECT_SUBSCRIPTIONS.join(',') };
  // One seeded generator per traffic kind, so each kind's choices repeat with the seed.
  const chaosRandom = rng(options.seed);
  const zuora = new ZuoraStream(api, rng(options.seed + 1), counts, new Set(APPDIRECT_SUBSCRIPTIONS));
  const usage = new UsageStream(api, zuora, rng(options.seed + 2), counts);
  const webhooks = new WebhookStream(api, rng(options.seed + 3), counts);
  const driverErrors: string[] = [];
  let child = await startSuite(dataDir, options.port, suiteEnv);
  // The mail sandbox's last record seq at each restart: a copy on each side of one is a re-send
  // after a kill between SES accepting it and the hub recording its id (the documented window).
  const killBoundaries: number[] = [];
  const lastMailSeq = async () => {
    const res = await api.call('GET', '/_sandbox/mail/_records', { timeoutMs: 30_000 });
    const records = Array.isArray(res?.body) ? (res.body as Array<{ seq?: number }>) : [];
    return records.reduce((max, r) => Math.max(max, r.seq ?? 0), 0);
  };
  try {
    await webhooks.setup();
    const started = Date.now();
    const end = started + options.minutes * 60_000;
    const loop = async (periodMs: number, step: () => Promise<void>) => {
      while (Date.now() < end) {
        try {
          await step();
        } catch (error) {
          driverErrors.push(String(error));
          log(`driver error: ${String(error)}`);
        }
        await sleep(periodMs);
      }
    };
    const orderStep = async () => {
      counts.ordersSent++;
      const res = await api.call('POST', '/v1/orders', {
        as: 'distributor',
        body: { ...sample, channelOrderId: `SOAK-${options.seed}-${counts.ordersSent}` },
      });
      // Not answered (suite down, slow under faults): not accepted, not counted.
      if (res && (res.status === 201 || res.status === 202) && res.body?.orderId) {
        accepted.push(res.body.orderId as string);
        counts.ordersAccepted++;
      }
    };
    const chaos = async () => {
      let nextChaos = Date.now() + 5_000;
      while (Date.now() < end) {
        await sleep(Math.max(0, Math.min(nextChaos, end) - Date.now()));
        if (Date.now() >= end) break;
        nextChaos = Date.now() + 3_000 + chaosRandom() * 12_000;
        const roll = chaosRandom();
        if (roll < 0.2) {
          await kill(child);
          counts.kills++;
          log(`chaos: SIGKILL and restart (${counts.kills})`);
          child = await startSuite(dataDir, options.port, suiteEnv);
          killBoundaries.push(await lastMailSeq());
        } else if (roll < 0.7) {
          const name = FAULTED[Math.floor(chaosRandom() * FAULTED.length)]!;
          const faults = {
            errorRate: Math.round(chaosRandom() * 50) / 100,
            status: 503,
            latencyMs: Math.floor(chaosRandom() * 300),
            timeoutRate: Math.round(chaosRandom() * 10) / 100,
            rateLimitRate: 0,
          };
          await api.call('PUT', `/_sandbox/${name}/_faults`, { body: faults, timeoutMs: 5_000 });
          counts.faults++;
          log(`chaos: ${name} faults ${JSON.stringify(faults)}`);
        } else {
          const seconds = Math.floor(chaosRandom() * 600);
          await api.call('POST', '/_local/clock', { body: { advanceSeconds: seconds }, timeoutMs: 5_000 });
          counts.clockMoves++;
          log(`chaos: clock +${seconds} s`);
        }
      }
    };
    const report = async () => {
      while (Date.now() < end) {
        await sleep(Math.min(5_000, Math.max(0, end - Date.now())));
        log(`${Math.ceil((end - Date.now()) / 1000)} s left: ${JSON.stringify(counts)}`);
      }
    };
    await Promise.all([
      loop(250, orderStep),
      loop(700, () => zuora.step()),
      loop(1_000, () => usage.step()),
      loop(2_000, () => webhooks.step((Date.now() - started) / (end - started))),
      chaos(),
      report(),
    ]);
    // The suite goes down hard one last time; the drain runs in this process on the same data.
    await kill(child);
  } catch (error) {
    await kill(child);
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }

  log('draining: faults cleared, unanswered requests re-sent, clock past retries and leases');
  // Loaded only now (the functions' logs are silenced by `quiet-logs.ts`).
  const { startRuntime } = await import('../../local/runtime.ts');
  const { wiring } = await import('../../infra/wiring.ts');
  // Same port: the webhook endpoint's URL names it. Same AppDirect billing as the child had.
  const rt = await startRuntime({
    port: options.port,
    dataDir,
    quiet: true,
    wiring: withEnvironment(wiring, suiteEnv),
  });
  const drainStarted = Date.now();
  killBoundaries.push(
    (rt.sandbox('mail').records as Array<{ seq: number }>).reduce((max, r) => Math.max(max, r.seq), 0),
  );
  try {
    for (const name of rt.sandboxNames)
      await api.call('PUT', `/_sandbox/${name}/_faults`, {
        body: { errorRate: 0, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 },
      });
    const between = async () => {
      await rt.drain(120_000);
      await rt.advanceClock(60);
    };
    // What a real client does: Zuora retries its unanswered event, the platform its usage batch.
    await zuora.settle(20, between);
    await usage.settle(20, between);
    await webhooks.settle(20, between);

    const status = new Map<string, string>();
    for (let round = 0; round < 20; round++) {
      await rt.drain(120_000);
      for (const id of accepted) {
        if (TERMINAL.has(status.get(id) ?? '')) continue;
        const res = await api.call('GET', `/v1/orders/${id}`, { as: 'distributor' });
        status.set(id, res?.status === 200 ? (res.body.status as string) : `HTTP ${res?.status}`);
      }
      if (accepted.every((id) => TERMINAL.has(status.get(id) ?? ''))) break;
      await rt.advanceClock(1_000);
      await rt.runSchedule('order-reconciler');
    }

    // Billing runs until one finds nothing left (refused and interrupted groups back off: the clock).
    let lastRun: BillingRunAnswer | undefined;
    for (let round = 0; round < 12; round++) {
      await rt.advanceClock(2 * 86_400);
      const start = await api.call('POST', '/v1/usage/billing-runs', { as: 'platform' });
      await rt.drain(300_000);
      if (start?.status !== 202) continue;
      const run = await api.call('GET', `/v1/usage/billing-runs/${start.body.id}`, { as: 'platform' });
      lastRun = run?.body as BillingRunAnswer | undefined;
      if (lastRun?.status === 'succeeded' && lastRun.stats.submissions === 0 && lastRun.stats.recovered === 0)
        break;
    }

    // Webhook retries (up to 14 h apart) and the sweeper, until no delivery of the endpoint is pending.
    for (let round = 0; round < 30; round++) {
      const pending = await api.call(
        'GET',
        `/v1/webhooks/deliveries?endpointId=${webhooks.endpointId}&status=pending&limit=1`,
        { as: 'platform' },
      );
      if (pending?.status === 200 && pending.body.items.length === 0 && !pending.body.cursor) break;
      await rt.advanceClock(6 * 3_600);
      await rt.runSchedule('webhook-sweeper');
      await rt.drain(120_000);
    }
    await rt.drain(120_000);
    // A message sent with a delay during the last round is pending, not stuck: let its delay pass
    // (SQS delays are at most 15 minutes) until no queue holds a delayed message.
    for (let round = 0; round < 10; round++) {
      const queues = (await api.call('GET', '/_local/queues'))?.body as
        | Record<string, { delayed: number }>
        | undefined;
      if (!queues || Object.values(queues).every((q) => q.delayed === 0)) break;
      await rt.advanceClock(900);
      await rt.drain(120_000);
    }
    log(`drained in ${Math.round((Date.now() - drainStarted) / 1000)} s; checking the invariants`);
    const checked = await invariants({
      rt,
      api,
      accepted,
      status,
      zuora,
      usage,
      webhooks,
      lastRun,
      killBoundaries,
    });
    if (driverErrors.length > 0) checked.figures.driverErrors = driverErrors.length;
    return { ...checked, counts };
  } finally {
    await rt.stop();
    if (options.keep)
      log(`data folder kept: ${dataDir} (SWITCHBOARD_DATA_DIR=${dataDir} npm start opens it)`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

interface BillingRunAnswer {
  status: string;
  stats: { submissions: number; recovered: number; failed: number; pending: number };
}

/** The manifest with `env` added to every function that reads one of its variables. */
function withEnvironment(wiring: Wiring, env: Record<string, string>): Wiring {
  const functions: Wiring['functions'] = {};
  for (const [name, fn] of Object.entries(wiring.functions)) {
    const reads = Object.keys(env).some((k) => fn.environment && k in fn.environment);
    functions[name] = reads ? { ...fn, environment: { ...fn.environment, ...env } } : fn;
  }
  return { ...wiring, functions };
}

interface Delivery {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
}

/**
 * The endpoint's whole delivery log, a page of 100 at a time. A page that gets no answer is asked
 * again (at most 3 times) and counted: a hub that cannot answer a read is a finding (figure
 * `deliveryLogPagesAskedAgain`), but not one of the invariants, which are about what was delivered.
 */
async function deliveryLog(
  api: SuiteClient,
  endpointId: string,
  figures: Record<string, number | string>,
): Promise<Delivery[]> {
  const all: Delivery[] = [];
  let cursor: string | undefined;
  let pages = 0;
  let slowest = 0;
  let again = 0;
  do {
    const q = `endpointId=${endpointId}&limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    let res: Awaited<ReturnType<SuiteClient['call']>>;
    for (let attempt = 0; ; attempt++) {
      const started = performance.now();
      res = await api.call('GET', `/v1/webhooks/deliveries?${q}`, { as: 'platform', timeoutMs: 60_000 });
      slowest = Math.max(slowest, performance.now() - started);
      if (res !== undefined || attempt === 3) break;
      again++;
    }
    if (res?.status !== 200)
      throw new Error(`delivery log page ${pages + 1}: ${res?.status} ${JSON.stringify(res?.body)}`);
    pages++;
    all.push(...(res.body.items as Delivery[]));
    cursor = res.body.cursor as string | undefined;
  } while (cursor);
  figures.deliveryLogPages = pages;
  figures.deliveryLogSlowestPageMs = Math.round(slowest);
  if (again > 0) figures.deliveryLogPagesAskedAgain = again;
  return all;
}

/**
 * Index entries that do not match the table: items missing from an index they have keys for, and
 * stale entries (keys their item no longer has). DynamoDB keeps the two consistent (an index may
 * lag, never lose or keep a stale copy); the embedded one must too across the soak's kills (a killed
 * write once left a delivery out of its status index, so no replay found it).
 */
async function indexDrift(
  doc: ReturnType<typeof createDocumentClient>,
  tableName: string,
): Promise<{ missing: number; stale: number }> {
  const scan = async (indexName?: string) => {
    const out: Array<Record<string, unknown>> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await doc.send(
        new ScanCommand({
          TableName: tableName,
          ...(indexName ? { IndexName: indexName } : {}),
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  };
  const items = await scan();
  let missing = 0;
  let stale = 0;
  for (const gsi of tableDefinition.globalSecondaryIndexes) {
    const entry = (i: Record<string, unknown>) =>
      JSON.stringify([i.PK, i.SK, i[gsi.partitionKey], i[gsi.sortKey]]);
    const expected = new Set(
      items.filter((i) => i[gsi.partitionKey] !== undefined && i[gsi.sortKey] !== undefined).map(entry),
    );
    const actual = new Set((await scan(gsi.indexName)).map(entry));
    for (const e of expected) if (!actual.has(e)) missing++;
    for (const e of actual) if (!expected.has(e)) stale++;
  }
  return { missing, stale };
}

/** `fn` over `items`, `limit` at a time. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

async function invariants(input: {
  rt: Runtime;
  api: SuiteClient;
  accepted: string[];
  status: Map<string, string>;
  zuora: ZuoraStream;
  usage: UsageStream;
  webhooks: WebhookStream;
  lastRun: BillingRunAnswer | undefined;
  /** The mail sandbox's last record seq at each restart. */
  killBoundaries: number[];
}): Promise<{ rows: InvariantRow[]; figures: Record<string, number | string> }> {
  const { rt, api, accepted, status, zuora, usage, webhooks, killBoundaries } = input;
  const rows: InvariantRow[] = [];
  const figures: Record<string, number | string> = {};
  const row = (invariant: string, expected: number | string, actual: number | string) =>
    rows.push({
      invariant,
      expected: String(expected),
      actual: String(actual),
      ok: String(expected) === String(actual),
    });

  // --- orders ---
  const notTerminal = accepted.filter((id) => !TERMINAL.has(status.get(id) ?? ''));
  row('accepted orders not terminal', 0, notTerminal.length);
  const fulfilled = accepted.filter((id) => status.get(id) === 'FULFILLED');
  figures.ordersFulfilled = fulfilled.length;
  const zuoraRecords = rt.sandbox('zuora').records as Array<Record<string, unknown>>;
  const creates = new Map<string, number>();
  for (const r of zuoraRecords)
    if (r.kind === 'order.created' && typeof r.idempotencyKey === 'string')
      creates.set(r.idempotencyKey, (creates.get(r.idempotencyKey) ?? 0) + 1);
  row('orders with a duplicate Zuora order', 0, [...creates.values()].filter((n) => n > 1).length);
  row('fulfilled orders without a Zuora order', 0, fulfilled.filter((id) => !creates.has(id)).length);
  const sf = rt.sandbox('salesforce').records as Array<{
    kind: string;
    sobject?: string;
    externalId?: string;
  }>;
  const sfCreates = new Map<string, number>();
  for (const r of sf)
    if (r.kind === 'sobject.created' && r.externalId) {
      const key = `${r.sobject}/${r.externalId}`;
      sfCreates.set(key, (sfCreates.get(key) ?? 0) + 1);
    }
  row('duplicate Salesforce records', 0, [...sfCreates.values()].filter((n) => n > 1).length);
  // Each fulfilled order mails its licence once to the buyer and once to the partner: a second
  // e-mail for the same order to the same recipients is a duplicate.
  const mail = (rt.sandbox('mail').records as Array<{ kind: string; seq: number; to?: string[] }>)
    .filter((r) => r.kind === 'email')
    .map((r) => ({ seq: r.seq, to: (r.to ?? []).join(','), text: JSON.stringify(r) }));
  const mailsOf = (id: string) => {
    const perRecipient = new Map<string, number[]>();
    for (const m of mail)
      if (m.text.includes(`lic_${id.replace(/^ord_/, '')}`))
        perRecipient.set(m.to, [...(perRecipient.get(m.to) ?? []), m.seq]);
    return perRecipient;
  };
  const mails = new Map(fulfilled.map((id) => [id, mailsOf(id)]));
  // Two copies with a restart between them: the one window SES leaves open (no idempotency key) —
  // a kill after SES accepted a copy and before the hub recorded its id. Anything else is a bug.
  const acrossKill = (seqs: number[]) =>
    seqs.length === 2 && killBoundaries.some((k) => seqs[0]! <= k && k < seqs[1]!);
  const duplicated = fulfilled.filter((id) => [...mails.get(id)!.values()].some((s) => s.length > 1));
  const explained = duplicated.filter((id) =>
    [...mails.get(id)!.values()].every((s) => s.length === 1 || acrossKill(s)),
  );
  row('fulfilled orders with a duplicate licence mail', 0, duplicated.length - explained.length);
  figures.licenceMailsResentAcrossAKill = explained.length;
  row(
    'fulfilled orders without a licence mail',
    0,
    fulfilled.filter((id) => mails.get(id)!.size === 0).length,
  );

  // Reported once: the order's terminal event reaches the (all-events) webhook endpoint exactly once
  // (a delivery that succeeded: a cancelled or skipped one told the partner nothing).
  const deliveries = await deliveryLog(api, webhooks.endpointId!, figures);
  const terminalTypes = new Set(['order.fulfilled', 'order.rejected', 'order.failed']);
  const terminal = deliveries.filter((d) => terminalTypes.has(d.eventType) && d.status === 'succeeded');
  const orderOf = await mapLimit(terminal, 16, async (d) => {
    const res = await api.call('GET', `/v1/webhooks/deliveries/${d.id}`, {
      as: 'platform',
      timeoutMs: 60_000,
    });
    try {
      return (JSON.parse(res?.body?.payload ?? '{}') as { data?: { orderId?: string } }).data?.orderId;
    } catch {
      return undefined;
    }
  });
  const reports = new Map<string, number>();
  for (const id of orderOf) if (id) reports.set(id, (reports.get(id) ?? 0) + 1);
  const misreported = accepted.filter((id) => reports.get(id) !== 1);
  row('accepted orders not reported exactly once (terminal webhook)', 0, misreported.length);
  // Enough to start an investigation from the figures alone.
  if (misreported.length > 0)
    figures.ordersMisreported = misreported
      .slice(0, 10)
      .map((id) => `${id}: ${reports.get(id) ?? 0}× ${status.get(id)}`)
      .join(', ');
  const duplicateMails = duplicated.filter((id) => !explained.includes(id));
  if (duplicateMails.length > 0) figures.ordersWithDuplicateMail = duplicateMails.slice(0, 10).join(', ');

  // --- Zuora events ---
  const acked = zuora.subscriptions.flatMap((s) => s.events.filter((e) => e.acked));
  figures.zuoraDistinctEvents = zuora.subscriptions.reduce((n, s) => n + s.events.length, 0);
  figures.zuoraEventsAcknowledged = acked.length;
  row(
    'valid Zuora events refused',
    0,
    zuora.subscriptions.reduce((n, s) => n + s.events.filter((e) => e.refused).length, 0),
  );
  row('Zuora duplicates answered unlike the first', 0, zuora.mismatches.length);
  const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
    dynamoEndpoint: string;
    tableName: string;
  };
  const low = localDynamoClient(info.dynamoEndpoint);
  let lost = 0;
  let twice = 0;
  try {
    const doc = createDocumentClient(low);
    const store = new DynamoZuoraStore(doc, info.tableName, new SubscriptionRegistry(doc, info.tableName), [
      'platform',
    ]);
    for (const sub of zuora.subscriptions) {
      const upgrades = sub.events.filter((e) => e.acked && e.expected === 'UPGRADED');
      const created = sub.events.some((e) => e.acked && e.expected === 'CREATED' && e.index === 2);
      if (!created) continue;
      const state = await store.getSubscription(sub.number);
      const product = state?.products.find((p) => p.chargeNumber === sub.charge);
      if (!product) {
        lost += 1 + upgrades.length;
        continue;
      }
      // Each applied upgrade is one version: more is an event applied twice, fewer one lost.
      const expectedVersion = 1 + upgrades.length;
      const expectedCapacity = upgrades.at(-1)?.capacity ?? 1;
      if (product.version > expectedVersion) twice += product.version - expectedVersion;
      if (product.version < expectedVersion) lost += expectedVersion - product.version;
      else if (product.capacity !== expectedCapacity) lost += 1;
      figures[`zuora ${sub.number}`] = `v${product.version} ${product.capacity} ${product.unit}`;
    }
  } finally {
    low.destroy();
  }
  row('acknowledged Zuora events not applied', 0, lost);
  row('Zuora events applied more than once', 0, twice);
  const eventIds = new Set(deliveries.map((d) => d.eventId));
  const ackedIds = new Set(acked.map((e) => `${e.acked!.hash}-0`));
  row(
    'applied Zuora events without a webhook delivery',
    0,
    [...ackedIds].filter((id) => !eventIds.has(id)).length,
  );
  row(
    'zuora.* webhook events of no acknowledged Zuora event',
    0,
    deliveries.filter((d) => d.eventType.startsWith('zuora.') && !ackedIds.has(d.eventId)).length,
  );

  // --- usage ---
  row('valid usage records rejected', 0, usage.rejected.length);
  const billed = new Map<string, bigint>();
  const add = (k: string, q: string) => billed.set(k, (billed.get(k) ?? 0n) + (toScaled(q) ?? 0n));
  for (const rec of zuoraRecords.filter((r) => r.kind === 'usage.imported'))
    for (const r of rec.rows as Array<Record<string, string>>)
      add(`${r.SUBSCRIPTION_ID}|${r.CHARGE_ID}`, r.QTY!);
  for (const rec of (rt.sandbox('appdirect').records as Array<Record<string, unknown>>).filter(
    (r) => r.kind === 'usage.received',
  ))
    for (const ev of rec.events as Array<{ attributes: Record<string, string>; quantity: string }>)
      add(`${ev.attributes.subscriptionNumber}|${ev.attributes.chargeNumber}`, ev.quantity);
  const expected = usage.expected();
  const keys = new Set([...expected.keys(), ...billed.keys()]);
  const off = [...keys].filter((k) => (expected.get(k) ?? 0n) !== (billed.get(k) ?? 0n));
  for (const k of off)
    figures[`usage ${k}`] =
      `accepted ${fromScaled(expected.get(k) ?? 0n)}, billed ${fromScaled(billed.get(k) ?? 0n)}`;
  const sum = (m: Map<string, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);
  row(
    'usage billed total (zuora + appdirect) = accepted',
    fromScaled(sum(expected)),
    fromScaled(sum(billed)),
  );
  row('subscription charges billed ≠ accepted', 0, off.length);
  figures.usageAppDirectBilled = fromScaled(
    [...billed.entries()]
      .filter(([k]) => APPDIRECT_SUBSCRIPTIONS.includes(k.split('|')[0]!))
      .reduce((a, [, v]) => a + v, 0n),
  );
  row(
    'last billing run: groups failed or pending',
    0,
    input.lastRun ? input.lastRun.stats.failed + input.lastRun.stats.pending : 'no run',
  );

  // --- webhooks ---
  const byStatus: Record<string, number> = {};
  for (const d of deliveries) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  figures.webhookDeliveries = deliveries.length;
  for (const [s, n] of Object.entries(byStatus)) figures[`webhook ${s}`] = n;
  row('webhook deliveries still pending after the drain', 0, byStatus.pending ?? 0);
  // The endpoint was re-enabled with replaySkipped and is never deleted: nothing may stay undelivered.
  row(
    'deliveries skipped or cancelled after re-enabling',
    0,
    (byStatus.skipped ?? 0) + (byStatus.cancelled ?? 0),
  );
  row(
    'published custom events without a delivery',
    0,
    [...webhooks.published.values()].filter((id) => !eventIds.has(id)).length,
  );
  row('custom event retries given a new eventId', 0, webhooks.newIds.length);
  const receipts = (rt.sandbox('receiver').records as Array<Record<string, unknown>>).filter(
    (r) => r.kind === 'delivery' && r.receiver === SOAK_RECEIVER,
  ) as Array<{ webhookId: string; answered: number; verified: boolean; verifyError?: string }>;
  const ok200 = new Map<string, number>();
  for (const r of receipts) if (r.answered === 200) ok200.set(r.webhookId, (ok200.get(r.webhookId) ?? 0) + 1);
  figures.receiverReceipts = receipts.length;
  figures.receiverDistinctWebhookIds = new Set(receipts.map((r) => r.webhookId)).size;
  figures.receiverWebhookIdsAnswered200MoreThanOnce = [...ok200.values()].filter((n) => n > 1).length;
  row(
    'succeeded deliveries the receiver never answered 200',
    0,
    deliveries.filter((d) => d.status === 'succeeded' && !ok200.has(d.id)).length,
  );
  row(
    'failed deliveries the receiver answered 200',
    0,
    deliveries.filter((d) => d.status === 'failed' && ok200.has(d.id)).length,
  );
  // A clock move between signing and receipt makes a timestamp "too old": the harness, not the signature.
  row(
    'receipts with a bad signature (timestamp skew aside)',
    0,
    receipts.filter((r) => !r.verified && !/timestamp too (old|new)/i.test(r.verifyError ?? '')).length,
  );
  figures.receiptsWithTimestampSkew = receipts.filter((r) => !r.verified).length;

  let stuck = 0;
  for (const [name, q] of rt.queues) {
    const s = q.stats();
    const n = s.visible + s.delayed + s.inFlight;
    stuck += n;
    if (n > 0) figures[`stuck in ${name}`] = JSON.stringify(s);
  }
  row('messages stuck outside a DLQ', 0, stuck);
  // Dead-lettered messages are not lost (an operator redrives them) but each one is an effect that has
  // not happened yet (an event with no delivery, an order not provisioned): name them.
  for (const [name, q] of rt.queues) {
    const dead = q.deadLetters();
    if (dead.length === 0) continue;
    figures[`dead-lettered in ${name}`] = dead.length;
    figures[`dead letter in ${name}`] = dead[0]!.body.slice(0, 400);
  }
  {
    const check = localDynamoClient(info.dynamoEndpoint);
    try {
      const drift = await indexDrift(createDocumentClient(check), info.tableName);
      row('index entries missing (embedded DynamoDB)', 0, drift.missing);
      // A figure, not an invariant, while their cause is open (README, soak finding 9): entries a
      // later write deleted that are back after a restart. They never lose an item.
      figures.indexEntriesStale = drift.stale;
    } finally {
      check.destroy();
    }
  }
  return { rows, figures };
}

export function table(rows: InvariantRow[]): string {
  const head = ['invariant', 'expected', 'actual', 'ok'];
  const cells = rows.map((r) => [r.invariant, r.expected, r.actual, r.ok ? 'ok' : 'VIOLATED']);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

const USAGE = `Usage: npm run soak -- --minutes N [--seed S] [--port P] [--keep]

Chaos soak on loopback: runs the suite as a child process on a temporary data folder, sends orders,
Zuora events, usage batches (and billing runs) and webhook events at a steady rate while randomly
setting partner sandbox faults, moving the clock and killing the suite with SIGKILL (restarted on
the same data); then drains and prints the invariants as a table, the traffic counts and figures.
Exit 0 when every invariant holds, 1 otherwise.

Options:
  --minutes N   how long the chaos runs (required, 0.1 to 240)
  --seed S      seed of the random choices (default: the current time)
  --port P      port of the suite (default 3917)
  --keep        keep the data folder afterwards (its path is printed) to look into a violation
  -h, --help    this text`;

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseCli({
    name: 'npm run soak',
    usage: USAGE,
    options: {
      minutes: { type: 'string' },
      seed: { type: 'string' },
      port: { type: 'string' },
      keep: { type: 'boolean' },
    },
  });
  runCli('npm run soak', async () => {
    const minutes = Number(values.minutes);
    if (values.minutes === undefined || !Number.isFinite(minutes) || minutes < 0.1 || minutes > 240)
      usage('--minutes must be a number from 0.1 to 240');
    const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
    if (!Number.isInteger(seed)) usage('--seed must be a whole number');
    const port = values.port === undefined ? 3917 : Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      usage('--port must be a whole number from 1 to 65535');
    process.stderr.write(`npm run soak: seed ${seed}, ${minutes} min on port ${port}\n`);
    const p = progress('soak', 10_000);
    const result = await runSoak({
      minutes,
      seed,
      port,
      keep: values.keep === true,
      log: (l) => process.stderr.write(`${l}\n`),
    });
    p.done();
    process.stdout.write(
      `seed ${seed}\n${table(result.rows)}\n${JSON.stringify(result.counts)}\n${JSON.stringify(result.figures)}\n`,
    );
    return result.rows.every((r) => r.ok) ? 0 : 1;
  });
}
