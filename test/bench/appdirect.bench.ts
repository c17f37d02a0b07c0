import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRuntime } from '../../local/runtime.ts';
import type { SandboxRecord } from '../../local/sandboxes/kit.ts';

/**
 * AppDirect benchmark through the local suite (zero-latency sandboxes, one process):
 *  1. notification → answered, synchronous events (USER_ASSIGNMENT on a provisioned account): the
 *     marketplace's call, pinning, signature check, signed fetch, seat write, webhook event, answer;
 *  2. notification → result posted, SUBSCRIPTION_ORDER: 202, screening, Zuora, Salesforce, licence,
 *     FULFILLED, then the notifier's signed result post (measured from emit to `event.result`).
 * Figures are printed, never asserted. `APPDIRECT_BENCH_SYNC` / `APPDIRECT_BENCH_ASYNC` set the counts.
 */
const SYNC = Number(process.env.APPDIRECT_BENCH_SYNC ?? 60);
const ASYNC = Number(process.env.APPDIRECT_BENCH_ASYNC ?? 20);
/**
 * Every event costs marketplace calls (a fetch; an order also a result post), and AppDirect allows 4
 * per second per marketplace after a burst of 20: latency is measured at a pace under that limit
 * (sync 1 event / 300 ms, async 1 order / 600 ms); a last run shows the limit itself.
 */
const SYNC_GAP_MS = 300;
const ASYNC_GAP_MS = 600;

const pct = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
};
const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

export default async function appDirectBench(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-appdirect-bench-'));
  const rt = await startRuntime({ port: 0, dataDir, quiet: true });
  const emit = async (fixture: string, payload?: unknown) => {
    const res = await fetch(`${rt.url}/_sandbox/appdirect/_emit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ fixture, ...(payload ? { payload } : {}) }),
    });
    return (await res.json()) as { eventId: string; status: number; answer: any };
  };
  const results = () =>
    new Map(
      (rt.sandbox('appdirect').records as SandboxRecord[])
        .filter((r) => r.kind === 'event.result')
        .map((r) => [r.eventId as string, Date.parse(r.at)]),
    );
  try {
    // An account with room for every seat of the run.
    const order = await emit('subscription-order', {
      payload: { order: { items: [{ unit: 'USER', quantity: SYNC + 100 }] } },
    });
    for (let i = 0; i < 200 && !results().has(order.eventId); i++) {
      await rt.drain(60_000);
      await new Promise((r) => setTimeout(r, 50));
    }
    const accountIdentifier = (rt.sandbox('appdirect').records as SandboxRecord[]).find(
      (r) => r.kind === 'event.result' && r.eventId === order.eventId,
    )?.result as { accountIdentifier?: string } | undefined;
    if (!accountIdentifier?.accountIdentifier) throw new Error('the warm-up order did not complete');

    const sync: number[] = [];
    for (let i = 0; i < SYNC; i++) {
      await new Promise((r) => setTimeout(r, SYNC_GAP_MS));
      const t0 = performance.now();
      const e = await emit('user-assign', {
        payload: {
          account: { accountIdentifier: accountIdentifier.accountIdentifier },
          user: { uuid: `bench-user-${i}` },
        },
      });
      sync.push(performance.now() - t0);
      if (e.status !== 200 || !e.answer.success) throw new Error(`sync event failed: ${JSON.stringify(e)}`);
    }
    console.log(
      `sync (USER_ASSIGNMENT, 1 per ${SYNC_GAP_MS} ms): ${SYNC} events, notification → answered p50 ${fmt(pct(sync, 50))} / p99 ${fmt(pct(sync, 99))}`,
    );
    // Back to back: the burst of 20 goes at once, then the marketplace's 4 calls/s pace the events.
    const burst = Date.now();
    for (let i = 0; i < 60; i++) {
      await emit('user-assign', {
        payload: {
          account: { accountIdentifier: accountIdentifier.accountIdentifier },
          user: { uuid: `burst-user-${i}` },
        },
      });
    }
    console.log(
      `sync back to back: 60 events in ${((Date.now() - burst) / 1000).toFixed(1)} s (rate limit: 20 burst, then 4/s)`,
    );

    const emittedAt = new Map<string, number>();
    const startedAsync = Date.now();
    await Promise.all(
      Array.from({ length: ASYNC }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * ASYNC_GAP_MS));
        const t0 = Date.now();
        const e = await emit('subscription-order');
        emittedAt.set(e.eventId, t0);
      }),
    );
    for (let i = 0; i < 600; i++) {
      const got = results();
      if ([...emittedAt.keys()].every((id) => got.has(id))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const got = results();
    const latencies = [...emittedAt].filter(([id]) => got.has(id)).map(([id, t0]) => got.get(id)! - t0);
    const asyncSeconds = (Date.now() - startedAsync) / 1000;
    console.log(
      `async (SUBSCRIPTION_ORDER, 1 per ${ASYNC_GAP_MS} ms): notification → result posted p50 ${fmt(pct(latencies, 50))} / p99 ${fmt(pct(latencies, 99))}; ${latencies.length}/${ASYNC} posted in ${asyncSeconds.toFixed(1)} s`,
    );
  } finally {
    await rt.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
