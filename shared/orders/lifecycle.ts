import type { Clock } from '../clock.ts';
import type { Order, OrderRepository, StoredEvent } from '../db/entities/orders.ts';
import type { Publisher } from '../events/publisher.ts';
import { logger } from '../logger.ts';
import { count, milliseconds } from '../telemetry.ts';
import type { OrderStatus } from './contract.ts';
import { failureReason, type OrderFailure } from './public-reason.ts';

/**
 * Order lifecycle steps shared by every order function: the event each status announces, publishing
 * it after the conditional status write, failing an order, and the fulfilment join (billing, CRM and
 * licence done in any order → FULFILLED exactly once).
 */

/** Narrow dependencies of the lifecycle steps. */
export interface LifecycleDeps {
  orders: Pick<OrderRepository, 'transition' | 'settle' | 'get' | 'recordStep'>;
  publisher: Publisher;
  clock: Clock;
}

/** Statuses a downstream failure may move to ERROR from (never from a terminal or review state). */
export const IN_FLIGHT: readonly OrderStatus[] = ['RECEIVED', 'SCREENING', 'ACCEPTED', 'BILLING_PROVISIONED'];

/** The event announcing `order` in `status`, with what every consumer and webhook needs. */
export function orderEvent(
  type: string,
  order: Pick<Order, 'tenant' | 'orderId' | 'channelOrderId'> & Partial<Pick<Order, 'channel'>>,
  status: OrderStatus,
  reason?: string,
  code?: string,
): StoredEvent {
  return {
    type,
    detail: {
      tenant: order.tenant,
      orderId: order.orderId,
      channelOrderId: order.channelOrderId,
      channel: order.channel ?? 'api',
      status,
      ...(code ? { code } : {}),
      ...(reason ? { reason } : {}),
    },
  };
}

/**
 * Publishes the event the order's last transition recorded, then (terminal orders) drops it from the
 * reconciler's index. A crash between the write and the publish leaves the order in the index, so
 * the reconciler publishes it later: at-least-once, never lost.
 */
export async function announce(order: Order, deps: Pick<LifecycleDeps, 'orders' | 'publisher'>) {
  if (!order.lastEvent) return;
  await deps.publisher.publish([order.lastEvent as StoredEvent]);
  await deps.orders.settle(order);
}

/**
 * Moves an in-flight order to ERROR and publishes `order.failed`; false if it had left. History and
 * event carry the failure's code and fixed sentence; its detail (partner text, redacted) is stored
 * for operators only.
 */
export async function failOrder(
  order: Pick<Order, 'tenant' | 'orderId' | 'channelOrderId'> & Partial<Pick<Order, 'channel'>>,
  stage: string,
  failure: OrderFailure,
  deps: LifecycleDeps,
): Promise<boolean> {
  const reason = failureReason(failure);
  const failed = await deps.orders.transition(order.orderId, {
    from: IN_FLIGHT,
    to: 'ERROR',
    reason,
    set: {
      error: {
        stage,
        code: failure.code,
        ...(failure.partnerCode ? { partnerCode: failure.partnerCode } : {}),
        reason: failure.message,
        ...(failure.detail ? { detail: failure.detail } : {}),
      },
    },
    event: orderEvent('order.failed', order, 'ERROR', reason, failure.code),
    now: deps.clock.now(),
  });
  if (!failed) return false;
  logger.warn('order failed', { orderId: order.orderId, stage });
  count('OrdersFailed');
  await announce(failed, deps);
  return true;
}

/**
 * The fulfilment join: when billing, CRM and licence (issued and e-mailed) are all recorded, moves
 * BILLING_PROVISIONED → FULFILLED. The condition names every step, so whichever worker finishes last
 * wins and `order.fulfilled` is published once; the others see the condition fail and stop.
 */
export async function fulfilIfComplete(order: Order, deps: LifecycleDeps): Promise<boolean> {
  if (order.status !== 'BILLING_PROVISIONED' || !order.crm || !order.licenceEmailedAt) return false;
  const fulfilled = await deps.orders.transition(order.orderId, {
    from: ['BILLING_PROVISIONED'],
    to: 'FULFILLED',
    requireAttributes: ['billing', 'crm', 'licence', 'licenceEmailedAt'],
    event: orderEvent('order.fulfilled', order, 'FULFILLED'),
    now: deps.clock.now(),
  });
  if (!fulfilled) return false;
  count('OrdersFulfilled');
  milliseconds('OrderPipelineLatency', Date.parse(fulfilled.updatedAt) - Date.parse(fulfilled.createdAt));
  await announce(fulfilled, deps);
  return true;
}

/**
 * Records a fulfilment step (idempotent) and runs the join. Returns the order as it now is. A step
 * already recorded is not an error: a redelivered message still re-runs the join, which completes
 * an order whose last worker crashed before fulfilling it.
 */
export async function completeStep(
  orderId: string,
  field: 'crm' | 'licence' | 'licenceBuyerMailedAt' | 'licenceEmailedAt',
  value: unknown,
  deps: LifecycleDeps,
): Promise<Order | undefined> {
  const written = await deps.orders.recordStep(
    orderId,
    field,
    value,
    ['BILLING_PROVISIONED'],
    deps.clock.now(),
  );
  const order = written ?? (await deps.orders.get(orderId));
  if (order) await fulfilIfComplete(order, deps);
  return order;
}
