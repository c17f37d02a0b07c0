import * as z from 'zod';
import { tenantSchema } from '../../shared/auth/clients.ts';
import { saashopEventStatusSchema } from '../../shared/db/entities/saashop-events.ts';
import { orderChannelSchema, orderStatusSchema } from '../../shared/orders/contract.ts';

/** Query and body contracts of the operations API (`/v1/ops/…`). */
const limit = z.coerce.number().int().min(1).max(100).default(25);
const cursor = z.string().max(1000).optional();
const instant = z.iso.datetime({ offset: true }).or(z.iso.date()).optional();

export const opsOrdersQuerySchema = z
  .object({
    status: orderStatusSchema.optional(),
    channel: orderChannelSchema.optional(),
    tenant: tenantSchema.optional(),
    from: instant,
    to: instant,
    q: z.string().trim().min(1).max(100).optional(),
    limit,
    cursor,
  })
  .strict();

export const opsPageQuerySchema = z.object({ limit, cursor }).strict();

/** Marketplace events that did not become orders: FAILED by default. */
export const opsSaashopEventsQuerySchema = z
  .object({ status: saashopEventStatusSchema.default('FAILED'), limit, cursor })
  .strict();

export const opsDeliveriesQuerySchema = z
  .object({
    tenant: tenantSchema.optional(),
    status: z.enum(['pending', 'succeeded', 'failed', 'cancelled', 'skipped']).optional(),
    type: z.string().max(128).optional(),
    endpointId: z
      .string()
      .regex(/^ep_[0-9A-Z]{26}$/, 'is not an endpoint id')
      .optional(),
    limit,
    cursor,
  })
  .strict();

export const opsEndpointsQuerySchema = z.object({ tenant: tenantSchema.optional(), limit, cursor }).strict();

export const opsDashboardQuerySchema = z.object({ window: z.enum(['24h', '7d']).default('24h') }).strict();

export const opsUsageSummaryQuerySchema = z
  .object({
    tenant: tenantSchema,
    subscriptionNumber: z.string().min(1).max(100),
    period: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be YYYY-MM'),
  })
  .strict();

export const opsRunsQuerySchema = z
  .object({ limit: z.coerce.number().int().min(1).max(50).default(10) })
  .strict();

/** A redrive names no options: it moves every message of the DLQ back to its source queue. */
export const emptyBodySchema = z.object({}).strict();
