import type { Clock } from '../../shared/clock.ts';
import { DUE_SHARDS, type WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import type { DeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';

export interface SweepDeps {
  deliveries: Pick<WebhookDeliveryRepository, 'listDue'>;
  queue: DeliveryQueue;
  clock: Clock;
}

/**
 * Turns due items whose time has come back into queue messages: deliveries waiting longer than SQS's
 * 15-minute delay, deliveries whose worker crashed, and messages that went to the DLQ. Messages are
 * only hints — the deliverer decides from the stored delivery — so sweeping twice is harmless.
 */
export async function sweep(
  deps: SweepDeps,
  options: { perShard?: number } = {},
): Promise<{ enqueued: number }> {
  const now = deps.clock.now();
  let enqueued = 0;
  for (let shard = 0; shard < DUE_SHARDS; shard++) {
    const due = await deps.deliveries.listDue(shard, now, options.perShard ?? 1_000);
    await deps.queue.enqueue(due);
    enqueued += due.length;
  }
  return { enqueued };
}
