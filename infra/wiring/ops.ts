import {
  opsDashboardQuerySchema,
  opsDeliveriesQuerySchema,
  opsEndpointsQuerySchema,
  opsOrdersQuerySchema,
  opsPageQuerySchema,
  opsRunsQuerySchema,
  opsSaashopEventsQuerySchema,
  opsUsageSummaryQuerySchema,
} from '../../functions/ops-api/schema.ts';
import { oauthErrorBodySchema } from '../../shared/contracts/oauth.ts';
import { reviewDecisionSchema } from '../../shared/orders/contract.ts';
import type { RouteSpec, WiringPart } from '../wiring-types.ts';
import { usageSettings } from './usage.ts';

/**
 * Operations part of the manifest: the operations API behind the operator console (`/v1/ops/…`,
 * `ops:*` scopes, every call audited) and operator sign-in on the token function (authorization
 * code + PKCE login page, token revocation; the code and refresh grants ride on `POST /oauth/token`).
 */
const errors = {
  400: { description: 'Invalid input; details name each field' },
  401: { description: 'Missing or invalid token' },
  403: { description: 'Missing ops scope (channel and platform tokens have none)' },
};

const ops = (
  method: RouteSpec['method'],
  path: string,
  scope: string,
  summary: string,
  request?: RouteSpec['request'],
): RouteSpec => ({
  method,
  path: `/v1/ops${path}`,
  function: 'ops-api',
  auth: 'jwt',
  scopes: [scope],
  // Operators signed in to the console, or the ops client of scripts.
  grants: ['authorization_code', 'client_credentials'],
  summary,
  throttle: { rateLimit: 20, burstLimit: 40 },
  ...(request ? { request } : {}),
  responses: {
    [method === 'POST' ? 202 : 200]: { description: 'Done' },
    ...errors,
    ...(path.includes('{')
      ? { 404: { description: 'No such item' } as const }
      : ({} as Record<number, never>)),
  },
});

const json = ['application/json'];

export const opsWiring: WiringPart = {
  functions: {
    'ops-api': {
      description:
        'Operations API of the operator console: orders, review, timeline, DLQs, webhooks, billing, audit',
      entry: 'functions/ops-api/handler.ts',
      memoryMb: 1024,
      timeoutSeconds: 15,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'authVerify' },
        { kind: 'queue', name: 'webhook-delivery', access: 'send' },
        { kind: 'queue', name: 'usage-billing-runs', access: 'send' },
        { kind: 'deadLetters' },
      ],
      // Reads usage the way usage-submission writes it (same shard counts).
      environment: usageSettings,
    },
  },
  routes: [
    ops('GET', '/me', 'ops:read', 'The signed-in operator (or ops client) and its scopes'),
    ops(
      'GET',
      '/dashboard',
      'ops:read',
      'Orders per status, review queue, DLQ depths, delivery success, series, last billing run',
      {
        query: opsDashboardQuerySchema,
      },
    ),
    ops(
      'GET',
      '/orders',
      'ops:read',
      'Orders of every tenant and channel: status, channel, tenant, date and search filters (indexes)',
      {
        query: opsOrdersQuerySchema,
      },
    ),
    ops('GET', '/review-queue', 'ops:read', 'Orders in NEEDS_REVIEW, oldest first', {
      query: opsPageQuerySchema,
    }),
    ops(
      'GET',
      '/orders/{orderId}',
      'ops:read',
      "An order's timeline: history, screening evidence, downstream ids, events, deliveries",
    ),
    ops('POST', '/orders/{orderId}/clear', 'ops:review', 'Clear an order in NEEDS_REVIEW (reason required)', {
      body: reviewDecisionSchema,
      contentTypes: json,
    }),
    ops(
      'POST',
      '/orders/{orderId}/reject',
      'ops:review',
      'Reject an order in NEEDS_REVIEW (reason required)',
      {
        body: reviewDecisionSchema,
        contentTypes: json,
      },
    ),
    ops(
      'GET',
      '/channels/saashop/events',
      'ops:read',
      'SaaShop marketplace events that did not become orders (FAILED, UNSUPPORTED, PENDING), newest first',
      { query: opsSaashopEventsQuerySchema },
    ),
    ops('GET', '/dead-letters', 'ops:read', 'Every dead-letter queue: depth, oldest message, last redrive'),
    ops(
      'GET',
      '/dead-letters/{queue}',
      'ops:read',
      'The first messages of a dead-letter queue (left in place)',
    ),
    ops(
      'POST',
      '/dead-letters/{queue}/redrive',
      'ops:deadletters',
      'Move every message of a DLQ back to its queue (SQS message move task)',
    ),
    ops('GET', '/webhooks/endpoints', 'ops:read', 'Webhook endpoints of every tenant (never their secrets)', {
      query: opsEndpointsQuerySchema,
    }),
    ops(
      'GET',
      '/webhooks/deliveries',
      'ops:read',
      'Webhook deliveries of every tenant: tenant, status, type, endpoint filters',
      {
        query: opsDeliveriesQuerySchema,
      },
    ),
    ops('GET', '/webhooks/deliveries/{deliveryId}', 'ops:read', 'One delivery with every attempt'),
    ops(
      'POST',
      '/webhooks/deliveries/{deliveryId}/replay',
      'ops:webhooks',
      'Re-send a finished delivery (same webhook-id)',
    ),
    ops('GET', '/usage/summary', 'ops:read', "A tenant's usage of one subscription and month", {
      query: opsUsageSummaryQuerySchema,
    }),
    ops('GET', '/billing-runs', 'ops:read', 'The latest billing runs', { query: opsRunsQuerySchema }),
    ops('POST', '/billing-runs', 'ops:billing', 'Start a billing run now'),
    ops('GET', '/billing-runs/{id}', 'ops:read', "A billing run's outcome per subscription"),
    ops('GET', '/audit', 'ops:read', 'Who did what and when in the operations API (7 days, newest first)', {
      query: opsPageQuerySchema,
    }),
    {
      method: 'GET',
      path: '/oauth/authorize',
      function: 'token',
      auth: 'none',
      scopes: [],
      summary: 'Operator sign-in page (authorization code + PKCE S256, console client only)',
      throttle: { rateLimit: 10, burstLimit: 20 },
      responses: {
        200: { description: 'The sign-in page', mediaTypes: ['text/html'] },
        302: { description: 'Back to redirect_uri with an RFC 6749 error (e.g. invalid_scope)' },
        400: {
          description: 'Error page: unknown client_id or redirect_uri, PKCE S256 missing',
          mediaTypes: ['text/html'],
        },
      },
    },
    {
      method: 'POST',
      path: '/oauth/authorize',
      function: 'token',
      auth: 'none',
      scopes: [],
      summary: 'Operator credentials → redirect to the console with a one-time code',
      throttle: { rateLimit: 10, burstLimit: 20 },
      request: { contentTypes: ['application/x-www-form-urlencoded'] },
      // Refusals of the form itself (empty, oversized, wrong type) are RFC 6749 errors; the rest are pages.
      errorBody: oauthErrorBodySchema,
      responses: {
        302: { description: 'Back to redirect_uri with a one-time code (or an RFC 6749 error)' },
        400: {
          description:
            'Error page: unknown client_id or redirect_uri, PKCE S256 missing; or an unreadable form',
          mediaTypes: ['text/html', 'application/json'],
        },
        401: {
          description: 'The sign-in page again: incorrect credentials, or locked for 15 minutes',
          mediaTypes: ['text/html'],
        },
      },
    },
    {
      method: 'POST',
      path: '/oauth/revoke',
      function: 'token',
      auth: 'none',
      scopes: [],
      summary: 'End an operator sign-in (RFC 7009, refresh token)',
      throttle: { rateLimit: 10, burstLimit: 20 },
      request: { contentTypes: ['application/x-www-form-urlencoded'] },
      errorBody: oauthErrorBodySchema,
      responses: {
        200: { description: 'Revoked (also for an unknown or already revoked token, RFC 7009)' },
        400: { description: 'RFC 6749 error {error, error_description} (invalid_request)' },
        401: { description: 'RFC 6749 error invalid_client: not the console client' },
      },
    },
  ],
};
