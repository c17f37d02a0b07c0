import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { wiring } from '../../infra/wiring.ts';
import { localDynamoClient } from '../../local/dynamo.ts';
import { type Runtime, startRuntime } from '../../local/runtime.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient, documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { tableDefinition } from '../../shared/db/table.ts';
import { ASSUMPTIONS, markdown, PRICES, priceMonth, type UnitCounts } from './cost-model.ts';
import { recordFigure } from './table.ts';

/**
 * The per-unit counts `docs/cost.md` is built from, measured through the local runtime (every
 * function, queue and rule of the manifest; zero-latency sandboxes):
 *  - per order (POST → FULFILLED, no webhook endpoint),
 *  - per webhook delivery (one custom event to one endpoint: publish + fan-out + signed delivery),
 *  - per usage record submitted (batches of 100).
 * For each: API requests, Lambda invocations (and the functions' configured memory, for GB-s),
 * EventBridge entries, SQS messages, and DynamoDB read and write request units as DynamoDB itself
 * reports them (`ReturnConsumedCapacity: TOTAL` on every request of the handlers' client, so index
 * writes and item sizes are included). Printed, never asserted.
 */
const ORDERS = Number(process.env.BENCH_COST_ORDERS ?? 40);
const EVENTS = Number(process.env.BENCH_COST_EVENTS ?? 200);
const USAGE_BATCHES = Number(process.env.BENCH_COST_USAGE_BATCHES ?? 20);

interface Counts {
  apiRequests: number;
  invocations: Map<string, { n: number; ms: number }>;
  busEntries: number;
  queueMessages: number;
  rru: number;
  wru: number;
  dynamoRequests: number;
}

type Item = Record<string, unknown>;
type BatchRequest = { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } };
const size = (item: Item | undefined) => (item ? Buffer.byteLength(JSON.stringify(item)) : 0);
const kb = (item: Item | undefined) => Math.max(1, Math.ceil(size(item) / 1024));
const pickKey = (item: Item) => ({ PK: item.PK, SK: item.SK });

/** Write request units of one write: the table, plus each index the item was or is in. */
function writeUnits(before: Item | undefined, after: Item | undefined, put?: Item): number {
  const changed = JSON.stringify(before) !== JSON.stringify(after);
  let units = Math.max(kb(before), kb(after ?? put));
  if (!changed) return units; // a refused condition or an identical rewrite: the table write only
  for (const gsi of tableDefinition.globalSecondaryIndexes) {
    const keyOf = (i: Item | undefined) =>
      i && i[gsi.partitionKey] !== undefined && i[gsi.sortKey] !== undefined
        ? `${i[gsi.partitionKey]}|${i[gsi.sortKey]}`
        : undefined;
    const was = keyOf(before);
    const is = keyOf(after);
    if (was && is) units += was === is ? kb(after) : kb(before) + kb(after);
    else if (was) units += kb(before);
    else if (is) units += kb(after);
  }
  return units;
}

function instrument(rt: Runtime): { reset(): void; snapshot(): Counts; count: Counts } {
  const fresh = (): Counts => ({
    apiRequests: 0,
    invocations: new Map(),
    busEntries: 0,
    queueMessages: 0,
    rru: 0,
    wru: 0,
    dynamoRequests: 0,
  });
  const box = { count: fresh() };
  // dynalite reports neither index writes nor query reads, so request units are computed here the
  // way DynamoDB bills them: item images before and after every write (read on a separate, unmetered
  // client), 1 KB write units on the table plus every index the item is in (ALL projection: any change
  // rewrites the index entry; a key change is a delete plus a put), 4 KB read units per Get/Query
  // response (half for eventually consistent reads).
  const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
    dynamoEndpoint: string;
  };
  const raw = createDocumentClient(localDynamoClient(info.dynamoEndpoint));
  const image = async (table: string, key: Record<string, unknown>) =>
    (await raw.send(new GetCommand({ TableName: table, Key: key, ConsistentRead: true }))).Item;
  documentClient().middlewareStack.add(
    (next, context) => async (args) => {
      const cmd = String(context.commandName);
      const input = args.input as Record<string, unknown> & { TableName?: string; ConsistentRead?: boolean };
      box.count.dynamoRequests++;
      const writeKey = /^(Put|Update|Delete)/.test(cmd)
        ? ((input.Key as Record<string, unknown>) ?? pickKey(input.Item as Record<string, unknown>))
        : undefined;
      const before = writeKey && input.TableName ? await image(input.TableName, writeKey) : undefined;
      const batchBefore: Array<[string, Array<{ key: Item; before?: Item; put?: Item }>]> = [];
      if (cmd.startsWith('BatchWrite')) {
        for (const [table, requests] of Object.entries(
          input.RequestItems as Record<string, BatchRequest[]>,
        )) {
          const list = [];
          for (const r of requests) {
            const key = r.PutRequest ? pickKey(r.PutRequest.Item) : (r.DeleteRequest?.Key as Item);
            list.push({ key, before: await image(table, key), put: r.PutRequest?.Item });
          }
          batchBefore.push([table, list]);
        }
      }
      let result: Awaited<ReturnType<typeof next>> | undefined;
      try {
        result = await next(args);
        return result;
      } finally {
        if (writeKey && input.TableName) {
          const after = await image(input.TableName, writeKey);
          box.count.wru += writeUnits(
            before,
            after,
            cmd.startsWith('Put') ? (input.Item as Item) : undefined,
          );
        } else if (/^(Get|Query|Scan)/.test(cmd) && result) {
          const out = result.output as { Item?: Item; Items?: Item[] };
          const bytes = out.Item ? size(out.Item) : (out.Items ?? []).reduce((n, i) => n + size(i), 0);
          box.count.rru += Math.max(1, Math.ceil(bytes / 4096)) * (input.ConsistentRead ? 1 : 0.5);
        } else if (cmd.startsWith('BatchWrite')) {
          // Before-images were read ahead of the call; after-images now.
          for (const [table, requests] of batchBefore) {
            for (const r of requests) box.count.wru += writeUnits(r.before, await image(table, r.key), r.put);
          }
        } else if (cmd.startsWith('BatchGet') && result) {
          const out = result.output as { Responses?: Record<string, Item[]> };
          for (const items of Object.values(out.Responses ?? {}))
            for (const i of items) box.count.rru += Math.ceil(size(i) / 4096) * 0.5;
        }
      }
    },
    { step: 'initialize', name: 'costBenchCapacity' },
  );
  const invoke = rt.lambdas.invoke.bind(rt.lambdas);
  rt.lambdas.invoke = async (name: string, event: unknown) => {
    const started = performance.now();
    try {
      return await invoke(name, event);
    } finally {
      const entry = box.count.invocations.get(name) ?? { n: 0, ms: 0 };
      entry.n++;
      entry.ms += performance.now() - started;
      box.count.invocations.set(name, entry);
    }
  };
  const putEvents = rt.bus.putEvents.bind(rt.bus);
  rt.bus.putEvents = (entries) => {
    box.count.busEntries += entries.length;
    return putEvents(entries);
  };
  for (const queue of rt.queues.values()) {
    const send = queue.send.bind(queue);
    queue.send = (body, options) => {
      box.count.queueMessages++;
      return send(body, options);
    };
  }
  return {
    count: box.count,
    reset() {
      box.count = fresh();
    },
    snapshot() {
      return box.count;
    },
  };
}

function report(label: string, units: number, c: Counts, storageBytes: number): UnitCounts {
  const per = (v: number) => v / units;
  const memoryMb = Object.fromEntries(
    Object.entries(wiring.functions).map(([name, f]) => [name, f.memoryMb]),
  );
  const invocations: Record<string, number> = {};
  const rows: string[] = [];
  for (const [name, { n, ms }] of [...c.invocations.entries()].sort()) {
    invocations[name] = per(n);
    rows.push(`${name} ${per(n).toFixed(2)} (local ${(ms / n).toFixed(0)} ms, ${memoryMb[name]} MB)`);
  }
  const total = Object.values(invocations).reduce((a, b) => a + b, 0);
  const unit: UnitCounts = {
    apiRequests: per(c.apiRequests),
    invocations,
    memoryMb,
    busEntries: per(c.busEntries),
    queueMessages: per(c.queueMessages),
    rru: per(c.rru),
    wru: per(c.wru),
    storageBytes: per(storageBytes),
  };
  console.log(
    `${label}: API requests ${unit.apiRequests.toFixed(2)}, Lambda invocations ${total.toFixed(2)}, ` +
      `EventBridge entries ${unit.busEntries.toFixed(2)}, SQS messages ${unit.queueMessages.toFixed(2)}, ` +
      `DynamoDB requests ${per(c.dynamoRequests).toFixed(1)} = ${unit.rru.toFixed(2)} RRU + ${unit.wru.toFixed(1)} WRU, ` +
      `stored ${unit.storageBytes.toFixed(0)} B (items + indexes)`,
  );
  console.log(`  invocations per unit: ${rows.join('; ')}`);
  recordFigure({ figure: `${label}: DynamoDB write request units`, value: unit.wru, unit: 'WRU' });
  recordFigure({ figure: `${label}: DynamoDB read request units`, value: unit.rru, unit: 'RRU' });
  recordFigure({ figure: `${label}: Lambda invocations`, value: total, unit: 'invocations' });
  return unit;
}

/** Bytes DynamoDB bills as storage: each item + 100 B, once for the table and once per index it is in. */
async function storedBytes(doc: ReturnType<typeof createDocumentClient>, table: string): Promise<number> {
  let bytes = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, ExclusiveStartKey: start }));
    for (const item of page.Items ?? []) {
      const copies =
        1 +
        tableDefinition.globalSecondaryIndexes.filter(
          (g) => item[g.partitionKey] !== undefined && item[g.sortKey] !== undefined,
        ).length;
      bytes += (size(item) + 100) * copies;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return bytes;
}

export default async function costBench(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-cost-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      meter.snapshot().apiRequests++;
      const res = await fetch(`${rt.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await res.text();
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : undefined;
    };
    const meter = instrument(rt);
    const orderSample = JSON.parse(
      readFileSync(new URL('../../events/api/orders/valid.json', import.meta.url), 'utf8'),
    );
    const distributor = await rt.token('distributor');
    const platform = await rt.token('platform');

    // Warm-up: cold starts of every function on the order path.
    await call('POST', '/v1/orders', distributor, {
      ...orderSample,
      channelOrderId: `COST-WARM-${Date.now()}`,
    });
    await rt.drain(60_000);

    const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    const low = localDynamoClient(info.dynamoEndpoint);
    const store = createDocumentClient(low);
    let stored = await storedBytes(store, info.tableName);
    const storedDelta = async () => {
      const now = await storedBytes(store, info.tableName);
      const delta = now - stored;
      stored = now;
      return delta;
    };

    // 1. Orders, no webhook endpoint subscribed.
    meter.reset();
    for (let i = 0; i < ORDERS; i++) {
      await call('POST', '/v1/orders', distributor, {
        ...orderSample,
        channelOrderId: `COST-${Date.now()}-${i}`,
      });
    }
    await rt.drain(120_000);
    const orders = report(
      `per order (${ORDERS} orders, POST → FULFILLED)`,
      ORDERS,
      meter.snapshot(),
      await storedDelta(),
    );

    // 2. Webhook deliveries: one custom event to one endpoint each.
    await call('DELETE', '/_sandbox/receiver/_records', platform).catch(() => undefined);
    const endpoint = await call('POST', '/v1/webhooks/endpoints', platform, {
      url: `${rt.url}/_sandbox/receiver/cost`,
      eventTypes: ['custom.cost.*'],
      rateLimitPerSecond: 1000,
    });
    await call('PUT', '/_sandbox/receiver/cost/_config', platform, { secret: endpoint.secret });
    await call('POST', '/v1/webhooks/events', platform, { type: 'custom.cost.warm', data: {} });
    await rt.drain(60_000);
    await storedDelta();
    meter.reset();
    for (let i = 0; i < EVENTS; i++) {
      await call('POST', '/v1/webhooks/events', platform, { type: 'custom.cost.tick', data: { i } });
    }
    await rt.drain(120_000);
    const deliveries = report(
      `per webhook delivery (${EVENTS} events × 1 endpoint)`,
      EVENTS,
      meter.snapshot(),
      await storedDelta(),
    );

    // 3. Usage submission, batches of 100.
    const registry = new SubscriptionRegistry(createDocumentClient(low), info.tableName);
    const subs = Array.from({ length: 10 }, (_, i) => `COST-S-${i}`);
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
    await storedDelta();
    const timestamp = new Date(systemClock.now().getTime() - 60_000).toISOString();
    meter.reset();
    for (let b = 0; b < USAGE_BATCHES; b++) {
      const records = Array.from({ length: 100 }, (_, i) => ({
        id: `cost-${b}-${i}`,
        subscriptionNumber: subs[i % subs.length],
        chargeNumber: `C-${subs[i % subs.length]}`,
        unit: 'Minutes',
        quantity: 1,
        timestamp,
      }));
      await call('POST', '/v1/usage', platform, { records });
    }
    await rt.drain(60_000);
    const usage = report(
      `per usage record submitted (${USAGE_BATCHES} batches of 100)`,
      USAGE_BATCHES * 100,
      meter.snapshot(),
      await storedDelta(),
    );
    low.destroy();
    console.log(
      `\ncost-model inputs (JSON): ${JSON.stringify({ order: orders, webhookDelivery: deliveries, usageRecordSubmitted: usage })}`,
    );
    console.log(`\nMonthly cost, ${PRICES.region} list prices of ${PRICES.asOf} (docs/cost.md):\n`);
    const blocks = [
      markdown(
        '1 M orders',
        priceMonth(1e6, orders, {
          emails: ASSUMPTIONS.emailsPerOrder,
          polls: ASSUMPTIONS.statusPollsPerOrder,
        }),
      ),
      markdown('10 M webhook deliveries', priceMonth(10e6, deliveries)),
      markdown('25 M usage records (submission)', priceMonth(25e6, usage)),
    ];
    console.log(blocks.join('\n\n'));
  } finally {
    documentClient().middlewareStack.remove('costBenchCapacity');
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
