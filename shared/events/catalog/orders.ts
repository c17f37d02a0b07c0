import * as z from 'zod';
import { orderChannelSchema, orderStatusSchema } from '../../orders/contract.ts';
import type { EventDefinition } from './index.ts';

/**
 * Order lifecycle events. `tenant` is the channel tenant that owns the order, so the webhook fan-out
 * delivers the public ones (accepted, needs-review, rejected, failed, fulfilled) to that channel's
 * endpoints as status callbacks. Details carry ids only: consumers read the order from the table.
 */
export const orderEventDetailSchema = z.object({
  tenant: z.string().min(1),
  orderId: z.string().min(1),
  channelOrderId: z.string().min(1),
  /** Which channel the order came through; marketplace connectors' rules match on it. */
  channel: orderChannelSchema.optional(),
  status: orderStatusSchema,
  /** Failures: a stable code (`ZUORA_REJECTED`, `SALESFORCE_REJECTED`, `UNKNOWN_PRODUCT`, …). */
  code: z.string().optional(),
  /**
   * Channel-facing: an outcome, never evidence (no screening list, entry or score) and never a
   * partner's text (a code and a fixed sentence instead). Operators read the evidence in the ops API.
   */
  reason: z.string().optional(),
  /**
   * Identity of the transition that published it, set when the order item records the event: a
   * re-publication (the reconciler after a crash between write and publish) carries the same id and
   * time, so a webhook endpoint or a channel is told once.
   */
  eventId: z.string().optional(),
  occurredAt: z.iso.datetime({ offset: true }).optional(),
});
export type OrderEventDetail = z.infer<typeof orderEventDetailSchema>;

const def = (description: string, isPublic: boolean): EventDefinition => ({
  schema: orderEventDetailSchema,
  public: isPublic,
  description,
});

export const orderEvents: Record<string, EventDefinition> = {
  'order.received': def('Order stored unscreened (screening unavailable); screening is retried', false),
  'order.accepted': def('Buyer screened clear (or cleared by an operator); provisioning starts', true),
  'order.needs-review': def('Possible restricted-party match; an operator must clear or reject it', true),
  'order.rejected': def('Refused: restricted party or rejected by an operator (reason given)', true),
  'order.billing.provisioned': def('Zuora account and subscription created', false),
  'order.crm.synced': def('Salesforce contact, opportunity and quote upserted', false),
  'order.licence.issued': def('Licence issued and e-mailed to the buyer and the partner', false),
  'order.fulfilled': def('Billing, CRM and licence all done', true),
  'order.failed': def('A permanent failure stopped the order (reason given)', true),
};
