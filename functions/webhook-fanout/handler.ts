import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../shared/db/entities/webhook-endpoints.ts';
import { baseEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { sqsDeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { cachedEndpointListings } from './endpoint-cache.ts';
import { fanOut } from './fan-out.ts';

const env = parseEnv(
  baseEnvSchema.extend(tableEnvSchema.shape).extend({ QUEUE_WEBHOOK_DELIVERY_URL: z.string().min(1) }),
);
const doc = documentClient();
const endpoints = new WebhookEndpointRepository(doc, env.TABLE_NAME);
const deps = {
  // Listings through a 5-second cache (per container); single endpoints read fresh.
  endpoints: Object.assign(cachedEndpointListings(endpoints, systemClock), {
    get: endpoints.get.bind(endpoints),
  }),
  deliveries: new WebhookDeliveryRepository(doc, env.TABLE_NAME),
  queue: sqsDeliveryQueue(env.QUEUE_WEBHOOK_DELIVERY_URL),
  clock: systemClock,
};

/** Rule target of every public event: one delivery per matching endpoint. */
export const handler = busEventHandler(async (event) => {
  await fanOut(event, deps);
});
