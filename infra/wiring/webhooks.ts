import {
  createEndpointSchema,
  endpointViewSchema,
  listDeliveriesQuerySchema,
  paginationQuerySchema,
  publishEventSchema,
  replayEndpointSchema,
  updateEndpointSchema,
} from '../../functions/webhook-dispatch/schema.ts';
import { EVENT_SOURCE, publicEventPrefixes, publicEventTypes } from '../../shared/events/catalog/index.ts';
import { schedulerInputTemplate } from '../../shared/events/scheduled.ts';
import type { RouteSpec, WiringPart } from '../wiring-types.ts';

/**
 * Webhooks part of the manifest: the management API (`webhook-dispatch`), the fan-out of every public
 * event (`webhook-fanout`), the delivery queue and its consumer (`webhook-deliverer`), and the sweeper
 * that re-enqueues due deliveries (waits longer than SQS's 15-minute delay, and crash recovery).
 */
const manage = (
  method: RouteSpec['method'],
  path: string,
  summary: string,
  extra: Partial<RouteSpec> = {},
): RouteSpec => ({
  method,
  path,
  function: 'webhook-dispatch',
  auth: 'jwt',
  scopes: ['webhooks:manage'],
  summary,
  throttle: { rateLimit: 20, burstLimit: 50 },
  ...extra,
});

const deliveryQueue = { kind: 'queue', name: 'webhook-delivery', access: 'send' } as const;
/**
 * Endpoint signing secrets are sealed with KMS envelope encryption (a data key per secret, bound to
 * tenant + endpoint id). The older `webhook-secrets-key` secret only opens secrets sealed before that.
 */
const secretsKey = { kind: 'secret', name: 'webhook-secrets-key', access: 'read' } as const;
const sealKey = { kind: 'kmsKey', name: 'webhook-secrets', access: 'encrypt' } as const;
const openKey = { kind: 'kmsKey', name: 'webhook-secrets', access: 'decrypt' } as const;

export const webhooksWiring: WiringPart = {
  functions: {
    'webhook-dispatch': {
      description: 'Webhook endpoints, custom events, delivery log and replay',
      entry: 'functions/webhook-dispatch/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 10,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'authVerify' },
        deliveryQueue,
        secretsKey,
        sealKey,
      ],
    },
    'webhook-fanout': {
      description: 'Creates one delivery per matching endpoint for every public event',
      entry: 'functions/webhook-fanout/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 5,
      uses: [{ kind: 'table', access: 'readWrite' }, deliveryQueue],
    },
    'webhook-deliverer': {
      description: 'Signs and sends webhook deliveries (Standard Webhooks), retrying for days',
      entry: 'functions/webhook-deliverer/handler.ts',
      memoryMb: 512,
      // A batch runs in parallel; each request is capped at 15 s. Below the 90 s attempt lease.
      timeoutSeconds: 60,
      reservedConcurrency: 20,
      uses: [{ kind: 'table', access: 'readWrite' }, { kind: 'bus' }, deliveryQueue, secretsKey, openKey],
    },
    'webhook-sweeper': {
      description: 'Re-enqueues webhook deliveries whose due time has come (long waits, crash recovery)',
      entry: 'functions/webhook-sweeper/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 60,
      reservedConcurrency: 1,
      uses: [{ kind: 'table', access: 'readWrite' }, deliveryQueue],
    },
  },

  routes: [
    manage('POST', '/v1/webhooks/endpoints', 'Create a webhook endpoint (answers its whsec_ secret once)', {
      request: { body: createEndpointSchema },
      responses: {
        201: { description: 'Created', body: endpointViewSchema },
        400: { description: 'Invalid' },
      },
    }),
    manage('GET', '/v1/webhooks/endpoints', 'List the tenant’s webhook endpoints', {
      request: { query: paginationQuerySchema },
    }),
    manage('GET', '/v1/webhooks/endpoints/{endpointId}', 'Get a webhook endpoint', {
      responses: {
        200: { description: 'The endpoint', body: endpointViewSchema },
        404: { description: 'Unknown' },
      },
    }),
    manage('PATCH', '/v1/webhooks/endpoints/{endpointId}', 'Change url, filters, description, rate, status', {
      request: { body: updateEndpointSchema },
    }),
    manage('DELETE', '/v1/webhooks/endpoints/{endpointId}', 'Delete a webhook endpoint'),
    manage(
      'POST',
      '/v1/webhooks/endpoints/{endpointId}/rotate-secret',
      'New secret; the old one signs 24 h more',
    ),
    manage('POST', '/v1/webhooks/endpoints/{endpointId}/replay', 'Replay failed deliveries since a time', {
      request: { body: replayEndpointSchema },
    }),
    {
      method: 'POST',
      path: '/v1/webhooks/events',
      function: 'webhook-dispatch',
      auth: 'jwt',
      scopes: ['webhooks:publish'],
      summary: 'Publish a custom event (type custom.…) to the tenant’s subscribed endpoints',
      throttle: { rateLimit: 50, burstLimit: 100 },
      request: { body: publishEventSchema },
      responses: { 202: { description: 'Accepted for dispatch' } },
    },
    manage('GET', '/v1/webhooks/deliveries', 'Delivery log (filter by endpointId, status, type)', {
      request: { query: listDeliveriesQuerySchema },
    }),
    manage('GET', '/v1/webhooks/deliveries/{deliveryId}', 'One delivery with every attempt'),
    manage('POST', '/v1/webhooks/deliveries/{deliveryId}/replay', 'Send a finished delivery again'),
  ],

  queues: {
    'webhook-fanout': {
      consumer: 'webhook-fanout',
      visibilityTimeoutSeconds: 180,
      maxReceiveCount: 5,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 5,
    },
    'webhook-delivery': {
      consumer: 'webhook-deliverer',
      visibilityTimeoutSeconds: 360,
      maxReceiveCount: 8,
      batchSize: 10,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 20,
      // Retries wait up to SQS's 15-minute delay in this queue: age alone is no sign of trouble.
      oldestMessageAlarmSeconds: 1800,
    },
  },

  rules: [
    {
      name: 'webhook-fanout',
      description: 'Every public event of the catalog (and custom events) to webhook fan-out',
      pattern: {
        source: [EVENT_SOURCE],
        'detail-type': [...publicEventTypes(), ...publicEventPrefixes().map((prefix) => ({ prefix }))],
      },
      queue: 'webhook-fanout',
    },
  ],

  secrets: {
    'webhook-secrets-key': {
      description:
        'Key material that seals webhook endpoint secrets in the table (random, generated at deploy)',
    },
  },

  schedules: [
    {
      name: 'webhook-sweeper',
      description: 'Re-enqueue due webhook deliveries',
      expression: 'rate(1 minute)',
      function: 'webhook-sweeper',
      input: schedulerInputTemplate('webhook-sweeper'),
    },
  ],
};
