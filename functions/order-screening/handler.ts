import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { createScreeningProviderFromEnv } from '../../shared/screening/provider.ts';
import { retryScreening } from './retry-screening.ts';

const env = parseEnv(
  tableEnvSchema.extend(busEnvSchema.shape).extend({
    SCREENING_BUDGET_MS: z.coerce.number().int().positive().default(15_000),
  }),
);
const deps = {
  orders: new OrderRepository(documentClient(), env.TABLE_NAME),
  publisher: publisherFromEnv(),
  clock: systemClock,
  screening: createScreeningProviderFromEnv(),
  budgetMs: env.SCREENING_BUDGET_MS,
};

/** `order.received` → screen again (SQS retries with the queue's visibility timeout as backoff). */
export const handler = busEventHandler(async (event) => {
  await retryScreening({ orderId: orderEventDetailSchema.parse(event.detail).orderId }, deps);
});
