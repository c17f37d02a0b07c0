import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { localDynamoClient } from '../../local/dynamo.ts';
import { startRuntime } from '../../local/runtime.ts';
import { createDocumentClient, documentClient } from '../../shared/db/client.ts';
import { recordFigure } from './table.ts';

/**
 * Order pipeline through the local runtime with zero-latency sandboxes: orders/s from POST to
 * FULFILLED, p50/p99 of `POST /v1/orders` (includes synchronous screening) and of the whole
 * pipeline (order created → FULFILLED, from the order's own history on the hub clock). The limit it
 * is compared with: what the store alone could carry, i.e. its own conditional writes/s in the same
 * run divided by the DynamoDB requests one order makes (counted on the handlers' client).
 */
const ORDERS = Number(process.env.BENCH_ORDERS ?? 100);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 10);

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export default async function (): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-orders-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  try {
    const sample = JSON.parse(
      readFileSync(new URL('../../events/api/orders/valid.json', import.meta.url), 'utf8'),
    );
    const token = await rt.token('distributor');
    const post = async (i: number) => {
      const started = performance.now();
      const res = await fetch(`${rt.url}/v1/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ ...sample, channelOrderId: `BENCH-${Date.now()}-${i}` }),
      });
      const body = (await res.json()) as { orderId: string };
      if (res.status !== 201) throw new Error(`POST answered ${res.status}`);
      return { orderId: body.orderId, ms: performance.now() - started };
    };
    await post(-1); // warm-up: cold starts of every function on the path
    await rt.drain(60_000);
    // The runtime runs the handlers in this process: count their DynamoDB requests.
    let requests = 0;
    documentClient().middlewareStack.add(
      (next) => async (args) => {
        requests++;
        return next(args);
      },
      { step: 'initialize', name: 'ordersBenchRequests' },
    );

    const started = performance.now();
    const results: Array<{ orderId: string; ms: number }> = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ORDERS) results.push(await post(next++));
      }),
    );
    await rt.drain(300_000);
    const elapsed = (performance.now() - started) / 1000;
    documentClient().middlewareStack.remove('ordersBenchRequests');
    const requestsPerOrder = requests / ORDERS;

    const pipeline: number[] = [];
    let fulfilled = 0;
    for (const { orderId } of results) {
      const res = await fetch(`${rt.url}/v1/orders/${orderId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const order = (await res.json()) as {
        status: string;
        createdAt: string;
        history: Array<{ status: string; at: string }>;
      };
      const done = order.history.find((h) => h.status === 'FULFILLED');
      if (order.status === 'FULFILLED' && done) {
        fulfilled++;
        pipeline.push(Date.parse(done.at) - Date.parse(order.createdAt));
      }
    }
    const postMs = results.map((r) => r.ms).sort((a, b) => a - b);
    pipeline.sort((a, b) => a - b);
    console.log(`orders: ${ORDERS} (concurrency ${CONCURRENCY}), fulfilled: ${fulfilled}`);
    console.log(
      `throughput POST→FULFILLED: ${(fulfilled / elapsed).toFixed(1)} orders/s (${elapsed.toFixed(1)} s)`,
    );
    console.log(
      `POST /v1/orders latency: p50 ${pct(postMs, 50).toFixed(0)} ms, p99 ${pct(postMs, 99).toFixed(0)} ms`,
    );
    console.log(
      `pipeline latency (created→FULFILLED): p50 ${pct(pipeline, 50)} ms, p99 ${pct(pipeline, 99)} ms`,
    );

    // The store's own rate in this run: conditional puts straight to the runtime's DynamoDB.
    const info = JSON.parse(readFileSync(join(dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    const direct = createDocumentClient(localDynamoClient(info.dynamoEndpoint));
    let puts = 0;
    const putsStarted = Date.now();
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (Date.now() - putsStarted < 4_000) {
          const n = puts++;
          await direct.send(
            new PutCommand({
              TableName: info.tableName,
              Item: { PK: `BENCH#${n}`, SK: 'BENCH', n, pad: 'x'.repeat(800) },
              ConditionExpression: 'attribute_not_exists(PK)',
            }),
          );
        }
      }),
    );
    const storeRate = puts / ((Date.now() - putsStarted) / 1000);
    console.log(
      `DynamoDB requests per order: ${requestsPerOrder.toFixed(1)}; store alone: ${storeRate.toFixed(0)} conditional writes/s → ceiling ${(storeRate / requestsPerOrder).toFixed(1)} orders/s`,
    );
    recordFigure({
      figure: `orders POST→FULFILLED (concurrency ${CONCURRENCY})`,
      value: fulfilled / elapsed,
      unit: 'orders/s',
      peer: { label: 'store alone ÷ requests per order', value: storeRate / requestsPerOrder },
      target: '≥ 30/s',
    });
    recordFigure({
      figure: 'POST /v1/orders p50 (screening included)',
      value: pct(postMs, 50),
      unit: 'ms',
      better: 'lower',
    });
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
