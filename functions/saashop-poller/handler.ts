import { createSaashopClient } from '../../shared/clients/saashop.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';
import { SaashopReportRepository } from '../../shared/db/entities/saashop-reports.ts';
import { parseEnv } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { scheduledHandler } from '../../shared/events/scheduled-handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { logger } from '../../shared/logger.ts';
import { submitOrder } from '../../shared/orders/submit-order.ts';
import { createScreeningProviderFromEnv } from '../../shared/screening/provider.ts';
import { pollSaashop } from './poll.ts';
import { pollerEnvSchema, pollSettings } from './settings.ts';

const env = parseEnv(pollerEnvSchema);
const doc = documentClient();
const publisher = publisherFromEnv();
const orders = new OrderRepository(doc, env.TABLE_NAME);
const screening = createScreeningProviderFromEnv();
const orderDeps = {
  orders,
  publisher,
  clock: systemClock,
  ids: ulidGenerator,
  screening,
  budgetMs: env.SCREENING_BUDGET_MS,
};
const deps = {
  saashop: createSaashopClient(env.SAASHOP_BASE_URL, systemClock),
  events: new SaashopEventRepository(doc, env.TABLE_NAME),
  submit: (input: Parameters<typeof submitOrder>[0]) => submitOrder(input, orderDeps),
  orders,
  reports: new SaashopReportRepository(doc, env.TABLE_NAME),
  publisher,
  clock: systemClock,
  settings: pollSettings(env),
};

/** Every minute (EventBridge Scheduler): claim new SaaShop marketplace events and submit their orders. */
export const handler = scheduledHandler(async ({ schedule }, context) => {
  const report = await pollSaashop({ ...deps, remainingMs: () => context.getRemainingTimeInMillis() });
  logger.info('saashop poll done', { schedule, ...report });
  return report;
});
