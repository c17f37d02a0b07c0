import * as z from 'zod';
import type { EventDefinition } from './index.ts';

/**
 * Events of the marketplace channels' subscription lifecycle after the order (today: AppDirect).
 * `tenant` is the marketplace's channel tenant, so its webhook endpoints (and the platform's
 * all-events ones) receive them. Identifiers only: names and e-mails of the marketplace's users stay
 * with the marketplace. `eventId` is the marketplace event that caused it (consumers dedupe on it).
 */
const base = {
  tenant: z.string().min(1),
  channel: z.enum(['appdirect']),
  accountIdentifier: z.string().min(1),
  eventId: z.string().min(1),
};

export const seatEventSchema = z.object({
  ...base,
  orderId: z.string().min(1),
  /** The marketplace's user id (AppDirect user uuid). */
  userId: z.string().min(1),
  seatsAssigned: z.number().int().min(0),
  /** Absent when the subscription sells no seats (no limit). */
  seatLimit: z.number().int().min(0).optional(),
});

export const subscriptionChangeSchema = z.enum([
  'changed',
  'cancelled',
  'suspended',
  'resumed',
  'closed',
  'upcoming-invoice',
  'addon-added',
  'addon-changed',
  'addon-removed',
]);

export const subscriptionChangedSchema = z.object({
  ...base,
  change: subscriptionChangeSchema,
  orderId: z.string().optional(),
  subscriptionNumber: z.string().optional(),
  /** The products it sells after the change. */
  lines: z.array(z.object({ productCode: z.string(), quantity: z.number(), unit: z.string() })).optional(),
});

export const appDirectEvents: Record<string, EventDefinition> = {
  'licence.seat.assigned': {
    schema: seatEventSchema,
    public: true,
    description: 'A marketplace user was given a licence seat of an order (AppDirect USER_ASSIGNMENT)',
  },
  'licence.seat.unassigned': {
    schema: seatEventSchema,
    public: true,
    description: 'A marketplace user lost a licence seat of an order (AppDirect USER_UNASSIGNMENT)',
  },
  'subscription.changed': {
    schema: subscriptionChangedSchema,
    public: true,
    description:
      'A marketplace subscription changed after its order: edition or quantity, cancellation, suspension, resumption, closure, add-ons',
  },
};
