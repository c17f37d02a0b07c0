import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../../local/runtime.ts';

/**
 * Order pipeline through the local runtime with zero-latency sandboxes: orders/s from POST to
 * FULFILLED, p50/p99 of `POST /v1/orders` (includes synchronous screening) and of the whole
 * pipeline (order created → FULFILLED, from the order's own history on the hub clock).
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
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
