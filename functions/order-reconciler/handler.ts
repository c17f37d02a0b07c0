import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { scheduledHandler } from '../../shared/events/scheduled-handler.ts';
import { logger } from '../../shared/logger.ts';
import { reconcileOrders } from './reconcile-orders.ts';

const env = parseEnv(
  tableEnvSchema.extend(busEnvSchema.shape).extend({
    ORDER_STUCK_AFTER_SECONDS: z.coerce.number().int().positive().default(900),
    ORDER_RECONCILE_LIMIT: z.coerce.number().int().positive().default(500),
    ORDER_MAX_REDRIVES: z.coerce.number().int().positive().default(20),
  }),
);
const deps = {
  orders: new OrderRepository(documentClient(), env.TABLE_NAME),
  publisher: publisherFromEnv(),
  clock: systemClock,
  stuckAfterSeconds: env.ORDER_STUCK_AFTER_SECONDS,
  limit: env.ORDER_RECONCILE_LIMIT,
  maxRedrives: env.ORDER_MAX_REDRIVES,
};

/** Scheduled every 5 minutes: re-drive orders stuck in a stage. */
export const handler = scheduledHandler(async ({ schedule }) => {
  const report = await reconcileOrders(deps);
  logger.info('order reconciliation done', { schedule, ...report });
  return report;
});
