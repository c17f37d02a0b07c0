import type { Order } from '../db/entities/orders.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { count } from '../telemetry.ts';
import { announce, type LifecycleDeps, orderEvent } from './lifecycle.ts';

/**
 * Operator decision on an order in NEEDS_REVIEW (`orders:admin` on the order API, `ops:review` on the
 * operations API; any tenant): `clear` accepts it
 * (`order.accepted`, provisioning starts), `reject` refuses it (`order.rejected`). Conditional on the
 * order still being in review, so two operators cannot both decide.
 */
export async function reviewOrder(
  input: { orderId: string; decision: 'clear' | 'reject'; reason: string; operator: string },
  deps: LifecycleDeps,
): Promise<Order> {
  const order = /^[\w-]{1,64}$/.test(input.orderId) ? await deps.orders.get(input.orderId) : undefined;
  if (!order) throw new NotFoundError(`Order ${input.orderId} was not found.`);
  const to = input.decision === 'clear' ? 'ACCEPTED' : 'REJECTED';
  const reason = `${input.decision === 'clear' ? 'cleared' : 'rejected'} by operator ${input.operator}: ${input.reason}`;
  const moved: Order | undefined = await deps.orders.transition(order.orderId, {
    from: ['NEEDS_REVIEW'],
    to,
    reason,
    event: orderEvent(to === 'ACCEPTED' ? 'order.accepted' : 'order.rejected', order, to, reason),
    now: deps.clock.now(),
  });
  if (!moved) {
    throw new ConflictError(
      `Order ${order.orderId} is ${order.status}, not NEEDS_REVIEW; only orders in review can be ${input.decision === 'clear' ? 'cleared' : 'rejected'}.`,
      'ORDER_NOT_IN_REVIEW',
    );
  }
  count(to === 'ACCEPTED' ? 'OrdersAccepted' : 'OrdersRejected');
  await announce(moved, deps);
  return moved;
}
