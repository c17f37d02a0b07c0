import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { CustomEventRepository } from '../../shared/db/entities/webhook-custom-events.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../shared/db/entities/webhook-endpoints.ts';
import { baseEnvSchema, busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { sqsDeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { secretBoxFromEnv } from '../../shared/webhooks/secret-box.ts';
import { webhookRoutes } from './routes.ts';

const env = parseEnv(
  baseEnvSchema
    .extend(tableEnvSchema.shape)
    .extend(busEnvSchema.shape)
    .extend({ QUEUE_WEBHOOK_DELIVERY_URL: z.string().min(1) }),
);
const doc = documentClient();

/** `/v1/webhooks/…`: endpoints, custom events, delivery log and replay. */
export const handler = httpHandler({
  functionName: 'webhook-dispatch',
  routes: webhookRoutes({
    endpoints: new WebhookEndpointRepository(doc, env.TABLE_NAME),
    deliveries: new WebhookDeliveryRepository(doc, env.TABLE_NAME),
    customEvents: new CustomEventRepository(doc, env.TABLE_NAME),
    queue: sqsDeliveryQueue(env.QUEUE_WEBHOOK_DELIVERY_URL),
    publisher: publisherFromEnv(),
    clock: systemClock,
    ids: ulidGenerator,
    stage: env.STAGE,
    secrets: secretBoxFromEnv(),
  }),
});
