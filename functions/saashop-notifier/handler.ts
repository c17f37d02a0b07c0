import * as z from 'zod';
import { createSaashopClient } from '../../shared/clients/saashop.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';
import { SaashopReportRepository } from '../../shared/db/entities/saashop-reports.ts';
import { parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { reportToSaashop } from './report.ts';

const env = parseEnv(
  tableEnvSchema.extend({
    SAASHOP_BASE_URL: z.url(),
    SAASHOP_REPORT_LEASE_SECONDS: z.coerce.number().int().min(5).default(60),
  }),
);
const doc = documentClient();
const deps = {
  saashop: createSaashopClient(env.SAASHOP_BASE_URL, systemClock),
  orders: new OrderRepository(doc, env.TABLE_NAME),
  events: new SaashopEventRepository(doc, env.TABLE_NAME),
  reports: new SaashopReportRepository(doc, env.TABLE_NAME),
  clock: systemClock,
  leaseMs: env.SAASHOP_REPORT_LEASE_SECONDS * 1000,
};

/** SaaShop orders' lifecycle events and failed marketplace events → status posted back to SaaShop. */
export const handler = busEventHandler(async (event) => {
  await reportToSaashop(event, deps);
});
