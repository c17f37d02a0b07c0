import type { Clock } from '../../shared/clock.ts';
import type { Order, OrderRepository, StoredEvent } from '../../shared/db/entities/orders.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import { logger } from '../../shared/logger.ts';
import { type OrderStatus, TERMINAL_STATUSES } from '../../shared/orders/contract.ts';
import { orderEvent } from '../../shared/orders/lifecycle.ts';
import { channelEvent } from '../../shared/orders/public-reason.ts';

/**
 * Finds orders whose stage entry (GSI2: status + last activity) is older than `stuckAfterSeconds`
 * and re-publishes the event that moves them on (a crash, a lost event or a dead-lettered message
 * never strands an order). Terminal orders are only in the index while their final event may be
 * unpublished: it is published and the entry dropped. NEEDS_REVIEW waits for a human: not re-driven.
 * No scan: one query per status.
 */
export const REDRIVEN_STATUSES: readonly OrderStatus[] = [
  'RECEIVED',
  'SCREENING',
  'ACCEPTED',
  'BILLING_PROVISIONED',
  'REJECTED',
  'FULFILLED',
  'ERROR',
];

export interface ReconcileDeps {
  orders: Pick<OrderRepository, 'listStaleInStage' | 'touchStage' | 'settle'>;
  publisher: Publisher;
  clock: Clock;
  stuckAfterSeconds: number;
  /** Most orders re-driven per run (the next run continues). */
  limit: number;
  /** After this many re-drives an order is left for an operator (logged as an error: alarm on it). */
  maxRedrives: number;
}

export interface ReconcileReport {
  redriven: number;
  settled: number;
  /** Orders past `maxRedrives`, left alone. */
  abandoned: number;
  byStatus: Partial<Record<OrderStatus, number>>;
}

/** SCREENING has no event of its own (intake was interrupted mid-screening): screen it again. */
function eventFor(
  status: OrderStatus,
  lastEvent: StoredEvent | undefined,
  order: Pick<Order, 'tenant' | 'orderId' | 'channelOrderId' | 'channel' | 'error'>,
): StoredEvent | undefined {
  // Built like every other order event, so it carries the channel a marketplace consumer matches on.
  if (status === 'SCREENING' && !lastEvent) return orderEvent('order.received', order, 'RECEIVED');
  // An event stored before channels saw outcomes only loses its evidence or partner text.
  return lastEvent ? channelEvent(lastEvent, order) : undefined;
}

export async function reconcileOrders(deps: ReconcileDeps): Promise<ReconcileReport> {
  const now = deps.clock.now();
  const cutoff = new Date(now.getTime() - deps.stuckAfterSeconds * 1000);
  const report: ReconcileReport = { redriven: 0, settled: 0, abandoned: 0, byStatus: {} };
  let budget = deps.limit;
  for (const status of REDRIVEN_STATUSES) {
    if (budget <= 0) break;
    const stale = await deps.orders.listStaleInStage(status, cutoff, budget);
    budget -= stale.length;
    for (const { order, stageSk } of stale) {
      const event = eventFor(status, order.lastEvent as StoredEvent | undefined, order);
      if (TERMINAL_STATUSES.has(status)) {
        if (event) await deps.publisher.publish([event]);
        await deps.orders.settle(order);
        report.settled++;
        continue;
      }
      if (order.redrives >= deps.maxRedrives) {
        // A poison order (e.g. a partner failing it for days): stop re-driving, ask for a human.
        report.abandoned++;
        logger.error('order stuck after max re-drives; needs an operator', {
          orderId: order.orderId,
          status,
        });
        continue;
      }
      // Claim the re-drive first (conditional on the entry we saw), so two runs never both publish.
      if (!(await deps.orders.touchStage(order.orderId, status, stageSk, now))) continue;
      if (event) await deps.publisher.publish([event]);
      report.redriven++;
      report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
      logger.info('order re-driven', { orderId: order.orderId, status, redrives: order.redrives + 1 });
    }
  }
  return report;
}
