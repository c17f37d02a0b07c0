import * as z from 'zod';

/** `POST /oauth/token` body (form-encoded or JSON), RFC 6749 §4.3 and §4.4. */
export const tokenRequestSchema = z
  .object({
    grant_type: z.string().describe('client_credentials or password'),
    client_id: z.string().optional().describe('Or HTTP Basic authentication'),
    client_secret: z.string().optional().describe('Or HTTP Basic authentication'),
    username: z.string().optional().describe('password grant only'),
    password: z.string().optional().describe('password grant only'),
    scope: z.string().optional().describe('Space-separated subset of the client’s scopes'),
  })
  .meta({ id: 'TokenRequest' });

export const tokenResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int(),
    scope: z.string(),
  })
  .meta({ id: 'TokenResponse' });

export const oauthErrorCodes = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
] as const;
export type OAuthErrorCode = (typeof oauthErrorCodes)[number];

/** RFC 6749 §5.2 error body of `/oauth/token` and `/oauth/revoke` (`server_error` for a fault). */
export const oauthErrorBodySchema = z
  .object({
    error: z.enum([...oauthErrorCodes, 'server_error']),
    error_description: z.string().describe('Human sentence naming the problem'),
  })
  .meta({ id: 'OAuthError' });

export const grantTypes = ['client_credentials', 'password'] as const;
export type GrantType = (typeof grantTypes)[number];

/** Every scope the hub knows. Clients are granted a subset; routes require a subset. */
export const scopes = [
  'orders:write',
  'orders:read',
  'orders:admin',
  'zuora:events',
  'usage:write',
  'usage:read',
  'usage:admin',
  'webhooks:manage',
  'webhooks:publish',
  'webhooks:all-events',
  // Operations API (`/v1/ops/…`): operators signed in to the console, or the `ops` client of scripts.
  'ops:read',
  'ops:review',
  'ops:webhooks',
  'ops:deadletters',
  'ops:billing',
] as const;
export type Scope = (typeof scopes)[number];

/** What each scope allows, as the OpenAPI security schemes and the token endpoint's callers see it. */
export const scopeDescriptions: Record<Scope, string> = {
  'orders:write': 'Place orders for your tenant (POST /v1/orders)',
  'orders:read': "Read your tenant's orders and their status history",
  'orders:admin': 'Clear or reject any tenant\u2019s order held for screening review (platform)',
  'zuora:events': 'Deliver Zuora subscription events (the Zuora event emitter, with X-Client-Id)',
  'usage:write': 'Submit usage records (POST /v1/usage) for billing',
  'usage:read': "Read usage totals of your tenant's subscriptions",
  'usage:admin': 'Start and read billing runs (global, all tenants)',
  'webhooks:manage':
    'Register, change, rotate, disable and delete your webhook endpoints; read and replay deliveries',
  'webhooks:publish': 'Publish custom events to subscribed webhook endpoints',
  'webhooks:all-events': "Register endpoints that receive every tenant's custom events (platform)",
  'ops:read':
    'Operations console: read orders, timelines, queues, deliveries, usage, billing runs and the audit trail',
  'ops:review': 'Operations console: clear or reject orders in the review queue',
  'ops:webhooks': 'Operations console: replay webhook deliveries',
  'ops:deadletters': 'Operations console: redrive dead-letter queues',
  'ops:billing': 'Operations console: start billing runs',
};

/** Every operations scope: read everything; decide reviews; replay webhooks; redrive DLQs; run billing. */
export const opsScopes = scopes.filter((s) => s.startsWith('ops:')) as Array<Extract<Scope, `ops:${string}`>>;
export type OpsScope = (typeof opsScopes)[number];
