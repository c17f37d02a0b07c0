import * as z from 'zod';
import { clientCredentialsSchema, readSecretJson } from '../../shared/clients/credentials.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { SalesforceClient } from './salesforce-client.ts';
import { syncCrm } from './sync-crm.ts';

const env = parseEnv(tableEnvSchema.extend(busEnvSchema.shape).extend({ SALESFORCE_BASE_URL: z.url() }));
const deps = {
  orders: new OrderRepository(documentClient(), env.TABLE_NAME),
  salesforce: new SalesforceClient({
    loginUrl: env.SALESFORCE_BASE_URL,
    credentials: () => readSecretJson('salesforce-credentials', clientCredentialsSchema),
    clock: systemClock,
  }),
  publisher: publisherFromEnv(),
  clock: systemClock,
};

/** `order.billing.provisioned` → Salesforce contact + opportunity + quote (SQS retries, then DLQ). */
export const handler = busEventHandler(async (event) => {
  await syncCrm({ orderId: orderEventDetailSchema.parse(event.detail).orderId }, deps);
});
