import * as z from 'zod';
import type { EventDefinition } from './index.ts';

/**
 * SaaShop channel events. A marketplace event that did not become an order (its order could not be
 * fetched or normalised, or the event type is not supported) is announced once, with ids only; the
 * SaaShop notifier reads the stored reason and reports `ProvisioningFailed` back to SaaShop.
 */
export const saashopEventFailedSchema = z.object({
  /** The SaaShop channel tenant (`saashop`). */
  tenant: z.string().min(1),
  eventId: z.string().min(1),
  saashopOrderId: z.string().optional(),
  eventTypeCode: z.string().optional(),
  status: z.enum(['FAILED', 'UNSUPPORTED']),
  code: z.string().min(1),
});
export type SaashopEventFailed = z.infer<typeof saashopEventFailedSchema>;

/**
 * The poller found a SaaShop order whose status report was never confirmed (a lost or dead-lettered
 * message): the notifier sends whatever the order is owed that is not sent yet.
 */
export const saashopReportRequestedSchema = z.object({
  tenant: z.string().min(1),
  orderId: z.string().min(1),
});

export const saashopEvents: Record<string, EventDefinition> = {
  'saashop.event.failed': {
    schema: saashopEventFailedSchema,
    public: false,
    description:
      'A SaaShop marketplace event did not become an order (failed or unsupported); SaaShop is told',
  },
  'saashop.report.requested': {
    schema: saashopReportRequestedSchema,
    public: false,
    description: 'A SaaShop order is owed a status report that was never confirmed; the notifier sends it',
  },
};
