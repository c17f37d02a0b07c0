import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { wiring } from '../../infra/wiring.ts';
import { startRuntime } from '../../local/runtime.ts';
import type { SaashopSandbox } from '../../local/sandboxes/saashop.ts';
import { pollNow, postedStatuses, publishSaashopOrder, suiteTable } from '../helpers/saashop.ts';

/**
 * SaaShop channel through the local runtime with zero-latency sandboxes: marketplace events/s from
 * the feed to FULFILLED (and to ProvisioningCompleted reported back), latency from publication to
 * FULFILLED, and the SaaShop calls per order (goal: 1 fetch + ≤ 3 status posts + amortised token).
 */
const ORDERS = Number(process.env.BENCH_SAASHOP_ORDERS ?? 100);
/** Events the poller processes in parallel (the manifest's SAASHOP_CONCURRENCY unless set). */
const CONCURRENCY = process.env.BENCH_SAASHOP_CONCURRENCY;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

export default async function (): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-bench-saashop-'));
  const base = wiring.functions['saashop-poller']!;
  const poller = CONCURRENCY
    ? { ...base, environment: { ...base.environment, SAASHOP_CONCURRENCY: CONCURRENCY } }
    : base;
  const tuned = { ...wiring, functions: { ...wiring.functions, 'saashop-poller': poller } };
  const rt = await startRuntime({ port: 0, dataDir, quiet: true, wiring: tuned });
  const table = suiteTable(dataDir);
  try {
    const saashop = rt.sandbox('saashop') as SaashopSandbox;
    const completed = (ids: string[]) => {
      const posted = postedStatuses(saashop.records);
      return ids.filter((id) => posted.get(id)?.includes('ProvisioningCompleted')).length;
    };
    // Warm-up: cold starts of every function on the path, and the token caches.
    const warm = await publishSaashopOrder(rt.url);
    for (let i = 0; i < 20 && completed([warm.orderId]) < 1; i++) {
      await pollNow(rt.url);
      await rt.drain(60_000);
    }

    const before = { ...saashop.state.calls };
    const published: Array<{ orderId: string; at: number }> = [];
    for (let i = 0; i < ORDERS; i++) {
      published.push({ ...(await publishSaashopOrder(rt.url)), at: Date.now() });
    }
    const ids = published.map((p) => p.orderId);
    const started = performance.now();
    let polls = 0;
    while (completed(ids) < ORDERS && polls < 200) {
      polls++;
      await pollNow(rt.url);
      await rt.drain(300_000);
    }
    const elapsed = (performance.now() - started) / 1000;

    const hub = await table.allOrders('saashop');
    const latencies: number[] = [];
    let fulfilled = 0;
    for (const p of published) {
      const order = hub.find((o) => o.channelOrderId === p.orderId);
      const done = order?.history.find((h) => h.status === 'FULFILLED');
      if (!order || !done) continue;
      fulfilled++;
      latencies.push(Date.parse(done.at) - p.at);
    }
    latencies.sort((a, b) => a - b);
    const calls = Object.fromEntries(
      Object.entries(saashop.state.calls).map(([k, v]) => [k, v - (before[k as keyof typeof before] ?? 0)]),
    ) as typeof before;
    const perOrder = (n: number) => (n / ORDERS).toFixed(2);
    console.log(
      `orders: ${ORDERS} published into the SaaShop feed, fulfilled: ${fulfilled}, polls: ${polls}, poller concurrency ${poller.environment?.SAASHOP_CONCURRENCY}`,
    );
    console.log(
      `throughput feed→FULFILLED and reported: ${(completed(ids) / elapsed).toFixed(1)} events/s (${elapsed.toFixed(1)} s)`,
    );
    console.log(`latency published→FULFILLED: p50 ${pct(latencies, 50)} ms, p99 ${pct(latencies, 99)} ms`);
    console.log(
      `SaaShop calls per order: ${perOrder(calls.getOrder)} order fetch, ${perOrder(calls.postEvent)} status posts, ` +
        `${perOrder(calls.token)} token, ${perOrder(calls.listEvents)} feed reads ` +
        `(totals: ${calls.getOrder} fetches, ${calls.postEvent} posts, ${calls.token} tokens, ${calls.listEvents} feed pages)`,
    );
  } finally {
    table.close();
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
