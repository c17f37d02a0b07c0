import type { Clock } from '../clock.ts';
import {
  type DeliveryStatus,
  dueKeyFor,
  type WebhookDelivery,
  type WebhookDeliveryRepository,
} from '../db/entities/webhook-deliveries.ts';
import type { WebhookEndpointRepository } from '../db/entities/webhook-endpoints.ts';
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
    { statuses: ['succeeded', 'failed', 'cancelled', 'skipped'], tenant },
    ['completedAt', 'claimId'],
  );
  if (!ok) {
    await deps.deliveries.deleteDue(dueKey);
    return false;
  }
  await deps.queue.enqueue([{ deliveryId: d.id, dueKey }]);
  return true;
}

/**
 * For fan-out and the deliverer, right after either recorded `d` as `skipped` (endpoint disabled):
 * if the endpoint is enabled again by now (re-enabled with replaySkipped since they read it), that
 * replay may have listed the skipped deliveries before this one was: re-arm it here. The re-arm is a
 * conditional transition out of `skipped`, so it and the replay never both send it.
 */
export async function rearmIfReenabled(
  d: WebhookDelivery,
  deps: Parameters<typeof rearmDelivery>[2] & { endpoints: Pick<WebhookEndpointRepository, 'get'> },
): Promise<boolean> {
  const fresh = await deps.endpoints.get(d.endpointTenant, d.endpointId);
  if (fresh?.status !== 'enabled') return false;
  return rearmDelivery(d, d.endpointTenant, deps);
}

/** Statuses "replay failed since T" re-arms: failed, cancelled, and skipped (endpoint was disabled). */
export const REPLAYABLE_STATUSES: DeliveryStatus[] = ['failed', 'cancelled', 'skipped'];

/**
 * Re-arms one page of an endpoint's deliveries in `statuses` since a time, OLDEST FIRST, one after
 * the other, so their queue messages go out in event order and the partner receives them in order.
 * Exactly-once: each re-arm is a conditional transition out of a finished status, so a second replay
 * (or one racing another) finds the delivery pending and re-arms nothing; fan-out never rewrites an
 * existing delivery (conditional put on its deterministic id).
 */
export async function replayEndpointPage(
  q: {
    tenant: string;
    endpointId: string;
    statuses: DeliveryStatus[];
    since?: Date;
    limit: number;
    cursor?: string;
    /**
     * Checked before each re-arm: true stops the page there (`stopped`; the cursor is then not
     * usable, the rest of the page is left as it was). For callers bounded by a request timeout.
     */
    stop?: () => boolean;
  },
  deps: {
    deliveries: Pick<WebhookDeliveryRepository, 'list' | 'putDue' | 'transition' | 'deleteDue'>;
    queue: DeliveryQueue;
    clock: Clock;
  },
): Promise<{ replayed: number; cursor?: string; stopped?: true }> {
  const page = await deps.deliveries.list({
    tenant: q.tenant,
    endpointId: q.endpointId,
    statuses: q.statuses,
    oldestFirst: true,
    limit: q.limit,
    ...(q.since ? { since: q.since } : {}),
    ...(q.cursor ? { cursor: q.cursor } : {}),
  });
  let replayed = 0;
  for (const d of page.items) {
    if (q.stop?.()) return { replayed, stopped: true };
    if (!d.notices?.length && (await rearmDelivery(d, q.tenant, deps))) replayed++;
  }
  return { replayed, ...(page.cursor ? { cursor: page.cursor } : {}) };
}
