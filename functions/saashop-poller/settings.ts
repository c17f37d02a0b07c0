import * as z from 'zod';
import { busEnvSchema, tableEnvSchema } from '../../shared/env.ts';
import type { PollSettings } from './poll.ts';

/** The poller's environment (manifest `environment` entries, defaults for tests and `npm run invoke`). */
export const pollerEnvSchema = tableEnvSchema.extend(busEnvSchema.shape).extend({
  SAASHOP_BASE_URL: z.url(),
  SCREENING_BUDGET_MS: z.coerce.number().int().positive().default(3000),
  SAASHOP_TENANT: z.string().min(1).default('saashop'),
  SAASHOP_PAGE_SIZE: z.coerce.number().int().min(1).max(100).default(50),
  SAASHOP_MAX_PAGES: z.coerce.number().int().min(1).default(20),
  SAASHOP_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  SAASHOP_LEASE_SECONDS: z.coerce.number().int().min(10).default(180),
  SAASHOP_RETRY_BASE_SECONDS: z.coerce.number().int().min(1).default(60),
  SAASHOP_CONCURRENCY: z.coerce.number().int().min(1).max(20).default(4),
  SAASHOP_REPORT_CHECK_SECONDS: z.coerce.number().int().min(1).default(900),
  SAASHOP_MAX_REPORT_CHECKS: z.coerce.number().int().min(0).default(12),
  SAASHOP_CURRENCIES: z
    .string()
    .default('USD,EUR,GBP')
    .transform((s) =>
      s
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    ),
  SAASHOP_PARTNER_NAME: z.string().min(1).default('SaaShop'),
  SAASHOP_PARTNER_EMAIL: z.email(),
});
export type PollerEnv = z.infer<typeof pollerEnvSchema>;

/** Poll settings from the parsed environment. */
export function pollSettings(env: PollerEnv): PollSettings {
  return {
    tenant: env.SAASHOP_TENANT,
    pageSize: env.SAASHOP_PAGE_SIZE,
    maxPages: env.SAASHOP_MAX_PAGES,
    maxAttempts: env.SAASHOP_MAX_ATTEMPTS,
    leaseMs: env.SAASHOP_LEASE_SECONDS * 1000,
    retryBaseMs: env.SAASHOP_RETRY_BASE_SECONDS * 1000,
    concurrency: env.SAASHOP_CONCURRENCY,
    resumeLimit: 100,
    reserveMs: 15_000,
    reportCheckMs: env.SAASHOP_REPORT_CHECK_SECONDS * 1000,
    maxReportChecks: env.SAASHOP_MAX_REPORT_CHECKS,
    normalise: {
      currencies: env.SAASHOP_CURRENCIES,
      partner: {
        id: env.SAASHOP_TENANT,
        name: env.SAASHOP_PARTNER_NAME,
        contact: {
          firstName: env.SAASHOP_PARTNER_NAME,
          lastName: 'Marketplace',
          email: env.SAASHOP_PARTNER_EMAIL,
        },
      },
    },
  };
}
