import * as z from 'zod';
import type { EventDefinition } from './index.ts';

/**
 * Events of webhook dispatch. Both operational events are internal (not fanned out to webhooks):
 * delivering "your endpoint failed" to failing endpoints would feed a retry loop between them.
 * Operators route them to alarms or e-mail.
 */
export const webhookEndpointDisabledSchema = z.object({
  tenant: z.string(),
  endpointId: z.string(),
  /** `gone`: the endpoint answered 410; `failing`: 5 days of continuous failures; `manual`. */
  reason: z.enum(['gone', 'failing']),
  /** Host only: the full URL may carry a partner's token in its path or query. */
  host: z.string(),
  disabledAt: z.string(),
});

export const webhookDeliveryExhaustedSchema = z.object({
  tenant: z.string(),
  endpointId: z.string(),
  deliveryId: z.string(),
  eventType: z.string(),
  attempts: z.number().int(),
  lastStatus: z.number().int().optional(),
  lastError: z.string().optional(),
});

/** Reserved prefix of events published by partners through `POST /v1/webhooks/events`. */
export const CUSTOM_EVENT_PREFIX = 'custom.';

/** `custom.` followed by dot-separated segments of `[a-z0-9_]` (Standard Webhooks' recommendation). */
export const customEventTypeSchema = z
  .string()
  .max(128)
  .regex(/^custom\.[a-z0-9_]+(\.[a-z0-9_]+)*$/, 'must be custom.<segment>[.<segment>…] of [a-z0-9_]');

export const customEventDetailSchema = z.object({
  tenant: z.string(),
  eventId: z.string(),
  /** When the publisher's first request was accepted (a retried request keeps it). */
  occurredAt: z.string().optional(),
  data: z.record(z.string(), z.unknown()),
});

export const webhookEvents: Record<string, EventDefinition> = {
  'webhook.endpoint.disabled': {
    schema: webhookEndpointDisabledSchema,
    public: false,
    description: 'A webhook endpoint was disabled automatically (410 Gone, or failing for 5 days)',
  },
  'webhook.delivery.exhausted': {
    schema: webhookDeliveryExhaustedSchema,
    public: false,
    description: 'A webhook delivery failed on every attempt of its retry schedule',
  },
};

/** Event type families (by prefix) that are valid without being listed one by one. */
export const webhookEventFamilies: Record<string, EventDefinition> = {
  [CUSTOM_EVENT_PREFIX]: {
    schema: customEventDetailSchema,
    public: true,
    description: 'Custom events published by a tenant through POST /v1/webhooks/events',
  },
};
