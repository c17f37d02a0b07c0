import type { OrderRepository } from '../../shared/db/entities/orders.ts';
import { TransientError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { type ScreenOrderDeps, screenOrder } from '../../shared/orders/screen-order.ts';

/**
 * Consumer of `order.received`: screens an order stored while the screening service was down. Still
 * down → TransientError, so SQS redelivers it after the visibility timeout (the backoff) and, after
 * its retries, dead-letters it while the reconciler keeps re-driving the RECEIVED order. An order
 * already screened (a duplicate message) is left alone.
 */
export async function retryScreening(
  input: { orderId: string },
  deps: ScreenOrderDeps & { orders: Pick<OrderRepository, 'get' | 'transition' | 'settle' | 'recordStep'> },
): Promise<'screened' | 'skipped'> {
  const order = await deps.orders.get(input.orderId);
  if (!order || (order.status !== 'RECEIVED' && order.status !== 'SCREENING')) {
    logger.info('order already screened; nothing to do', { orderId: input.orderId, status: order?.status });
    return 'skipped';
  }
  const outcome = await screenOrder(order, deps, { recordFirstResponse: false });
  if (outcome.kind === 'unavailable') {
    throw new TransientError(`screening still unavailable for order ${order.orderId}`);
  }
  return 'screened';
}
