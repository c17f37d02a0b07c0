import type { Clock } from '../clock.ts';
import {
  dueKeyFor,
  type WebhookDelivery,
  type WebhookDeliveryRepository,
} from '../db/entities/webhook-deliveries.ts';
import type { DeliveryQueue } from './delivery-queue.ts';

/**
 * Re-arms a finished delivery (same `webhook-id`, fresh retry schedule), for its owner's replay
 * (webhook API) or an operator's (operations API); `tenant` is the endpoint's owner. The due item is written
 * first and the message sent last, so a crash in between is finished by the sweeper.
 */
export async function rearmDelivery(
  d: WebhookDelivery,
  tenant: string,
  deps: {
    deliveries: Pick<WebhookDeliveryRepository, 'putDue' | 'transition' | 'deleteDue'>;
    queue: DeliveryQueue;
    clock: Clock;
  },
): Promise<boolean> {
  const now = deps.clock.now();
  const dueKey = dueKeyFor(now, d.id);
  await deps.deliveries.putDue(dueKey);
  const ok = await deps.deliveries.transition(
    d.id,
    {
      status: 'pending',
      retryIndex: 0,
      nextAttemptAt: now.toISOString(),
      dueKey,
      updatedAt: now.toISOString(),
    },
    { statuses: ['succeeded', 'failed', 'cancelled'], tenant },
    ['completedAt', 'claimId'],
  );
  if (!ok) {
    await deps.deliveries.deleteDue(dueKey);
    return false;
  }
  await deps.queue.enqueue([{ deliveryId: d.id, dueKey }]);
  return true;
}
