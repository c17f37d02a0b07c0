import * as z from 'zod';
import { customEventTypeSchema } from '../../shared/events/catalog/webhooks.ts';
import { eventTypeFilterSchema } from '../../shared/webhooks/event-filter.ts';

/** Request and response shapes of `/v1/webhooks/…` (validation and the OpenAPI document). */
const urlSchema = z
  .string()
  .min(1)
  .max(2048)
  .describe('https URL that receives deliveries (http allowed locally)');
const eventTypesSchema = z
  .array(eventTypeFilterSchema)
  .min(1)
  .max(50)
  .describe('Exact types, trailing wildcards (order.*) or *');
const rateSchema = z
  .number()
  .int()
  .min(1)
  .max(1000)
  .describe('Deliveries per second to this endpoint (default 10, at most 1,000)');

export const createEndpointSchema = z
  .object({
    url: urlSchema,
    eventTypes: eventTypesSchema,
    description: z.string().max(500).optional(),
    rateLimitPerSecond: rateSchema.optional(),
  })
  .strict()
  .meta({ id: 'CreateWebhookEndpoint' });
export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;

export const updateEndpointSchema = z
  .object({
    url: urlSchema.optional(),
    eventTypes: eventTypesSchema.optional(),
    description: z.string().max(500).optional(),
    rateLimitPerSecond: rateSchema.optional(),
    status: z.enum(['enabled', 'disabled']).optional(),
    replaySkipped: z
      .boolean()
      .optional()
      .describe(
        'With status: enabled, also deliver (oldest first) the events skipped while the endpoint was disabled',
      ),
  })
  .strict()
  .refine((v) => Object.keys(v).some((k) => k !== 'replaySkipped'), {
    message: 'give at least one field to change',
  })
  .refine((v) => !v.replaySkipped || v.status === 'enabled', {
    message: 'replaySkipped needs status: enabled',
    path: ['replaySkipped'],
  })
  .meta({ id: 'UpdateWebhookEndpoint' });
export type UpdateEndpointInput = z.infer<typeof updateEndpointSchema>;

export const endpointViewSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    eventTypes: z.array(z.string()),
    description: z.string().optional(),
    rateLimitPerSecond: z.number().int(),
    status: z.enum(['enabled', 'disabled']),
    disabledReason: z.string().optional(),
    allEvents: z.boolean(),
    failingSince: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    secret: z.string().optional().describe('whsec_ secret: only in the answers to create and rotate'),
    replay: z
      .object({ replayed: z.number().int(), complete: z.boolean() })
      .optional()
      .describe(
        'Only when re-enabled with replaySkipped: skipped deliveries re-armed (complete: false → POST …/replay for the rest)',
      ),
  })
  .meta({ id: 'WebhookEndpoint' });

export const paginationQuerySchema = z
  .object({
    cursor: z.string().max(2048).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();

export const listDeliveriesQuerySchema = z
  .object({
    endpointId: z
      .string()
      .regex(/^ep_[0-9A-Z]{26}$/, 'is not an endpoint id')
      .optional(),
    status: z.enum(['pending', 'succeeded', 'failed', 'cancelled', 'skipped']).optional(),
    type: z.string().max(128).optional(),
    cursor: z.string().max(4096).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(25),
  })
  .strict();

export const publishEventSchema = z
  .object({
    type: customEventTypeSchema,
    data: z.record(z.string(), z.unknown()),
  })
  .strict()
  .meta({ id: 'PublishWebhookEvent' });
export type PublishEventInput = z.infer<typeof publishEventSchema>;

export const replayEndpointSchema = z
  .object({
    since: z.iso
      .datetime({ offset: true })
      .describe(
        'Replay failed, cancelled and skipped (endpoint was disabled) deliveries of events since, oldest first',
      ),
  })
  .strict()
  .meta({ id: 'ReplayWebhookEndpoint' });

/** Most deliveries one replay request re-arms; the answer carries a cursor to continue. */
export const REPLAY_PAGE = 100;

/** Largest custom event `data`, serialised (Standard Webhooks recommends small payloads). */
export const MAX_CUSTOM_DATA_BYTES = 64 * 1024;
