import * as z from 'zod';
import type { EventDefinition } from './index.ts';

/** Usage events: what a billing run delivered to a biller, or why a submission failed. */
const lineSchema = z.object({
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  unit: z.string(),
  period: z.string(),
  /** Decimal text (exact). */
  quantity: z.string(),
});

export const usageBilledSchema = z.object({
  tenant: z.string(),
  runId: z.string(),
  /** Stable per submission: consumers dedupe on it (a crash may publish it twice). */
  submissionId: z.string(),
  biller: z.enum(['zuora', 'appdirect']),
  lines: z.array(lineSchema),
});

export const usageBillingFailedSchema = z.object({
  tenant: z.string(),
  runId: z.string(),
  submissionId: z.string(),
  biller: z.enum(['zuora', 'appdirect']),
  reason: z.string(),
  /** When the groups will be retried (backoff). */
  retryAt: z.string(),
  lines: z.array(lineSchema),
});

export const usageEvents: Record<string, EventDefinition> = {
  'usage.billed': {
    schema: usageBilledSchema,
    public: true,
    description:
      'A usage submission was confirmed by the biller (Zuora import completed, AppDirect accepted)',
  },
  'usage.billing.failed': {
    schema: usageBillingFailedSchema,
    public: true,
    description:
      'A usage submission was refused by the biller; its usage is retried with backoff on the next runs',
  },
};
