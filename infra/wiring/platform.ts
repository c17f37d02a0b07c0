import {
  oauthErrorBodySchema,
  tokenRequestSchema,
  tokenResponseSchema,
} from '../../shared/contracts/oauth.ts';
import type { WiringPart } from '../wiring-types.ts';

/** Platform part of the manifest: OAuth token endpoint, JWKS, health and the OpenAPI document. */

const api = { memoryMb: 512, timeoutSeconds: 10 } as const;

export const platformWiring: WiringPart = {
  functions: {
    token: {
      description: 'OAuth 2.0 token endpoint (client_credentials, password) and the public JWKS',
      entry: 'functions/token/handler.ts',
      ...api,
      uses: [
        // readWrite: operator sign-in stores one-time codes and sessions (infra/wiring/ops.ts).
        { kind: 'table', access: 'readWrite' },
        { kind: 'secret', name: 'auth-signing-key', access: 'read' },
        { kind: 'console' },
      ],
    },
    meta: {
      description: 'Health check and the OpenAPI document',
      entry: 'functions/meta/handler.ts',
      memoryMb: 256,
      timeoutSeconds: 5,
      uses: [],
    },
  },

  routes: [
    {
      method: 'POST',
      path: '/oauth/token',
      function: 'token',
      auth: 'none',
      scopes: [],
      summary: 'Issue an access token (RFC 6749: client_credentials or password grant)',
      throttle: { rateLimit: 50, burstLimit: 100 },
      request: {
        body: tokenRequestSchema,
        contentTypes: ['application/x-www-form-urlencoded', 'application/json'],
      },
      errorBody: oauthErrorBodySchema,
      responses: {
        200: { description: 'Token issued', body: tokenResponseSchema },
        400: { description: 'RFC 6749 error (invalid_request, invalid_grant, unsupported_grant_type…)' },
        401: { description: 'invalid_client' },
      },
    },
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      function: 'token',
      auth: 'none',
      scopes: [],
      summary: 'Public keys that verify access tokens',
    },
    {
      method: 'GET',
      path: '/health',
      function: 'meta',
      auth: 'none',
      scopes: [],
      summary: 'Liveness check',
    },
    {
      method: 'GET',
      path: '/openapi.json',
      function: 'meta',
      auth: 'none',
      scopes: [],
      summary: 'This API described as OpenAPI 3.1',
    },
  ],

  secrets: {
    'auth-signing-key': {
      description: 'ES256 private JWK that signs access tokens (generated at deploy by a custom resource)',
    },
    'zuora-credentials': {
      description: 'Zuora OAuth client {clientId, clientSecret} (orders and usage import)',
    },
  },
};
