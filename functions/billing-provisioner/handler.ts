import * as z from 'zod';
import { clientCredentialsSchema, readSecretJson } from '../../shared/clients/credentials.ts';
import { ZuoraClient } from '../../shared/clients/zuora.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { provisionBilling } from './provision-billing.ts';
import { createZuoraOrders } from './zuora-orders.ts';

const env = parseEnv(
  tableEnvSchema.extend(busEnvSchema.shape).extend({
    ZUORA_BASE_URL: z.url(),
    PLATFORM_TENANT: z.string().min(1).default('platform'),
  }),
);
const doc = documentClient();
const zuora = new ZuoraClient({
  baseUrl: env.ZUORA_BASE_URL,
  credentials: () => readSecretJson('zuora-credentials', clientCredentialsSchema),
  clock: systemClock,
});
const deps = {
  orders: new OrderRepository(doc, env.TABLE_NAME),
  registry: new SubscriptionRegistry(doc, env.TABLE_NAME),
  zuora: createZuoraOrders(zuora),
  publisher: publisherFromEnv(),
  clock: systemClock,
  platformTenant: env.PLATFORM_TENANT,
};

/** `order.accepted` → Zuora account and subscription (SQS retries transient failures, then DLQ). */
export const handler = busEventHandler(async (event) => {
  await provisionBilling({ orderId: orderEventDetailSchema.parse(event.detail).orderId }, deps);
});
