import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../shared/db/entities/webhook-endpoints.ts';
import { baseEnvSchema, busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { sqsHandler } from '../../shared/events/consumer.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { logger } from '../../shared/logger.ts';
import { deliveryMessageSchema, sqsDeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { secretBoxFromEnv } from '../../shared/webhooks/secret-box.ts';
import { deliver } from './deliver.ts';
import { createSender } from './http-sender.ts';
import { dynamoRateLimiter } from './rate-limiter.ts';

const env = parseEnv(
  baseEnvSchema
    .extend(tableEnvSchema.shape)
    .extend(busEnvSchema.shape)
    .extend({ QUEUE_WEBHOOK_DELIVERY_URL: z.string().min(1) }),
);
const doc = documentClient();

const deps = {
  deliveries: new WebhookDeliveryRepository(doc, env.TABLE_NAME),
  endpoints: new WebhookEndpointRepository(doc, env.TABLE_NAME),
  queue: sqsDeliveryQueue(env.QUEUE_WEBHOOK_DELIVERY_URL),
  publisher: publisherFromEnv(),
  send: createSender({ stage: env.STAGE }),
  rateLimiter: dynamoRateLimiter(doc, env.TABLE_NAME),
  clock: systemClock,
  random: Math.random,
  newClaimId: randomUUID,
  secrets: secretBoxFromEnv(),
};

/** Delivery queue consumer: one signed attempt per due delivery (partial batch failure). */
export const handler = sqsHandler({
  parse: (body) => deliveryMessageSchema.parse(JSON.parse(body)),
  handle: async (message) => {
    const outcome = await deliver(message, deps);
    // Ids and outcome only: URLs may carry partner tokens, payloads carry customer data.
    logger.info('webhook delivery step', { deliveryId: message.deliveryId, outcome });
  },
});
