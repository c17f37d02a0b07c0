import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { baseEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { scheduledHandler } from '../../shared/events/scheduled-handler.ts';
import { logger } from '../../shared/logger.ts';
import { sqsDeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { sweep } from './sweep.ts';

const env = parseEnv(
  baseEnvSchema.extend(tableEnvSchema.shape).extend({ QUEUE_WEBHOOK_DELIVERY_URL: z.string().min(1) }),
);
const deps = {
  deliveries: new WebhookDeliveryRepository(documentClient(), env.TABLE_NAME),
  queue: sqsDeliveryQueue(env.QUEUE_WEBHOOK_DELIVERY_URL),
  clock: systemClock,
};

/** Scheduled every minute: re-enqueue due webhook deliveries. */
export const handler = scheduledHandler(async ({ schedule }): Promise<{ enqueued: number }> => {
  const result = await sweep(deps);
  if (result.enqueued) logger.info('due webhook deliveries re-enqueued', { ...result, schedule });
  return result;
});
