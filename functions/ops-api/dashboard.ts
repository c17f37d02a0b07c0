import { decodeTime } from 'ulid';
import type { Clock } from '../../shared/clock.ts';
import type { OrderRepository } from '../../shared/db/entities/orders.ts';
import type { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import type { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { type DeadLetterDeps, listDeadLetters } from './dead-letters.ts';

export interface DashboardDeps extends DeadLetterDeps {
  orders: Pick<OrderRepository, 'window' | 'countInStatus'>;
  deliveries: Pick<WebhookDeliveryRepository, 'window'>;
  billing: Pick<UsageBillingStore, 'listRuns'>;
  clock: Clock;
}

/** Orders and deliveries a window may count; beyond it the figures say `capped`. */
export const WINDOW_CAP = 50_000;

const timeOf = (id: string) => {
  try {
    return decodeTime(id.slice(id.indexOf('_') + 1, id.indexOf('_') + 27));
  } catch {
    return undefined;
  }
};

/**
 * The dashboard: orders per status and channel created in the window, the review queue, every
 * DLQ's depth and oldest message, the delivery success rate, orders and deliveries per time bucket,
 * and the last billing run. Read from the time indexes with projections (ids and statuses only).
 */
export async function dashboard(window: '24h' | '7d', deps: DashboardDeps) {
  const now = deps.clock.now();
  const span = window === '24h' ? 24 * 3600_000 : 7 * 24 * 3600_000;
  const bucketMs = window === '24h' ? 3600_000 : 6 * 3600_000;
  const from = new Date(Math.floor((now.getTime() - span) / bucketMs + 1) * bucketMs);
  const [orders, deliveries, reviewQueue, deadLetters, runs] = await Promise.all([
    deps.orders.window(from, now, WINDOW_CAP),
    deps.deliveries.window(from, now, WINDOW_CAP),
    deps.orders.countInStatus('NEEDS_REVIEW'),
    listDeadLetters(deps),
    deps.billing.listRuns(1),
  ]);
  const byStatus: Record<string, number> = {};
  const byChannel: Record<string, number> = {};
  const buckets = new Map<number, { orders: number; deliveries: number; failedDeliveries: number }>();
  for (let t = from.getTime(); t <= now.getTime(); t += bucketMs)
    buckets.set(t, { orders: 0, deliveries: 0, failedDeliveries: 0 });
  const bucketOf = (ms: number | undefined) =>
    ms === undefined
      ? undefined
      : buckets.get(from.getTime() + Math.floor((ms - from.getTime()) / bucketMs) * bucketMs);
  for (const o of orders.rows) {
    byStatus[o.status] = (byStatus[o.status] ?? 0) + 1;
    byChannel[o.channel] = (byChannel[o.channel] ?? 0) + 1;
    const b = bucketOf(timeOf(o.orderId));
    if (b) b.orders++;
  }
  const deliveryCounts: Record<string, number> = { succeeded: 0, failed: 0, pending: 0, cancelled: 0 };
  for (const d of deliveries.rows) {
    deliveryCounts[d.status] = (deliveryCounts[d.status] ?? 0) + 1;
    const b = bucketOf(timeOf(d.id));
    if (b) {
      b.deliveries++;
      if (d.status === 'failed') b.failedDeliveries++;
    }
  }
  const finished = deliveryCounts.succeeded! + deliveryCounts.failed!;
  const last = runs[0];
  return {
    window,
    from: from.toISOString(),
    to: now.toISOString(),
    orders: { total: orders.rows.length, byStatus, byChannel, ...(orders.capped ? { capped: true } : {}) },
    reviewQueue,
    deadLetters: deadLetters.map((d) => ({
      name: d.name,
      depth: d.depth,
      oldestAgeSeconds: d.oldestAgeSeconds,
    })),
    deliveries: {
      total: deliveries.rows.length,
      ...deliveryCounts,
      successRate: finished ? deliveryCounts.succeeded! / finished : null,
      ...(deliveries.capped ? { capped: true } : {}),
    },
    series: [...buckets].map(([t, b]) => ({ at: new Date(t).toISOString(), ...b })),
    ...(last
      ? {
          lastBillingRun: {
            id: last.id,
            status: last.status,
            createdAt: last.createdAt,
            finishedAt: last.finishedAt,
            stats: last.stats,
          },
        }
      : {}),
  };
}
