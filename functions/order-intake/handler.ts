import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { createScreeningProviderFromEnv } from '../../shared/screening/provider.ts';
import { orderRoutes } from './routes.ts';

const env = parseEnv(
  tableEnvSchema.extend(busEnvSchema.shape).extend({
    SCREENING_BUDGET_MS: z.coerce.number().int().positive().default(3000),
  }),
);
const deps = {
  orders: new OrderRepository(documentClient(), env.TABLE_NAME),
  publisher: publisherFromEnv(),
  clock: systemClock,
  ids: ulidGenerator,
  screening: createScreeningProviderFromEnv(),
  budgetMs: env.SCREENING_BUDGET_MS,
};

/** `/v1/orders…` and the licence public key: routes, auth and scopes come from the manifest. */
export const handler = httpHandler({ functionName: 'order-intake', routes: orderRoutes(deps) });
