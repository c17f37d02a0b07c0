import type * as z from 'zod';
import {
  createDocument,
  type oas31,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from 'zod-openapi';
import type { OAuthGrant, ResponseSpec, RouteSpec, Wiring } from '../../infra/wiring-types.ts';
import { errorBodySchema } from '../../shared/contracts/errors.ts';
import { scopes as knownScopes, type Scope, scopeDescriptions } from '../../shared/contracts/oauth.ts';
import { type ApiSample, LOCAL_URL_PLACEHOLDER } from './samples.ts';

type JsonSchema = Record<string, unknown>;

/**
 * A route's responses as documented: its own, plus the answers the kernel gives on every route of a
 * kind whether or not the route lists them; 4xx/5xx without a body get the route's error body.
 */
export function declaredResponses(route: RouteSpec): Record<string, ResponseSpec> {
  const declared: Record<string, ResponseSpec> = { ...(route.responses ?? { 200: { description: 'OK' } }) };
  if (route.auth === 'jwt') {
    declared[401] ??= { description: 'Missing, expired or invalid token' };
    declared[403] ??= { description: 'Token lacks a required scope' };
  }
  if (route.request?.query)
    declared[400] ??= { description: 'Invalid query string; details name each parameter' };
  if (route.path.includes('{'))
    declared[404] ??= { description: 'No such item (another tenant\u2019s answers the same)' };
  if (route.request?.body || route.request?.contentTypes) {
    declared[400] ??= { description: 'Malformed or invalid input' };
    declared[413] ??= { description: 'Body over the route\u2019s size limit' };
    declared[415] ??= { description: 'Content type not accepted by this route' };
  }
  declared[500] ??= { description: 'Unexpected fault (logged); the answer carries no detail' };
  return Object.fromEntries(
    Object.entries(declared).map(([status, r]) => {
      const body = r.body ?? (Number(status) >= 400 ? (route.errorBody ?? errorBodySchema) : undefined);
      return [status, { ...r, ...(body ? { body } : {}) }];
    }),
  );
}

/**
 * The OpenAPI 3.1 document of the hub, generated from the manifest's routes and their zod schemas, so
 * the published contract is the one the handlers validate against. Schemas are converted by
 * `zod-openapi` (zod's own JSON Schema conversion underneath): named schemas (`.meta({id})`) become
 * components, request bodies and query parameters use the input shape, responses the output shape
 * (an `Output` suffix where the two differ), and only referenced components are emitted.
 */
export function buildOpenApi(
  wiring: Wiring,
  info: { version: string; serverUrl?: string; samples?: Record<string, ApiSample[]> },
): JsonSchema {
  const paths: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const route of wiring.routes) {
    const op: ZodOpenApiOperationObject = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: route.summary,
      tags: [route.function],
      // `none`: no bearer token (the route is public, or checks its own signature, e.g. AppDirect's OAuth 1.0).
      security: route.auth === 'jwt' ? grantsOf(route).map((g) => ({ [SCHEMES[g]]: route.scopes })) : [],
      responses: {},
    };
    const responses: Record<string, ZodOpenApiResponseObject> = {};
    const pathParams = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1]!,
      in: 'path' as const,
      required: true,
      schema: { type: 'string' as const },
    }));
    if (pathParams.length) op.parameters = pathParams;
    // Each property of the query object becomes a parameter (a named query object is not a component).
    if (route.request?.query) op.requestParams = { query: route.request.query as z.ZodObject };
    const body = route.request?.body;
    if (body) {
      const types = route.request?.contentTypes ?? ['application/json'];
      const examples = requestExamples(body, info.samples?.[`${route.method} ${route.path}`]);
      op.requestBody = {
        required: true,
        content: Object.fromEntries(
          types.map((t) => [
            t,
            { schema: body, ...(t === 'application/json' && examples ? { examples } : {}) },
          ]),
        ),
      };
    }
    for (const [status, r] of Object.entries(declaredResponses(route))) {
      const content: Record<string, { schema: z.ZodType | { type: 'string' } }> = {};
      for (const type of r.mediaTypes ?? ['application/json']) {
        if (type === 'text/html') content[type] = { schema: { type: 'string' } };
        else if (r.body) content[type] = { schema: r.body };
      }
      responses[status] = {
        description: r.description,
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    op.responses = responses as ZodOpenApiResponsesObject;
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = op;
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Switchboard',
      version: info.version,
      description:
        'Integration hub: orders, restricted-party screening, Zuora, Salesforce, licences, usage billing and signed webhooks.',
    },
    // Without a configured URL the document is served by the hub itself: paths are relative to it.
    servers: [{ url: info.serverUrl ?? '/' }],
    paths,
    components: { securitySchemes: securitySchemes(wiring) },
  }) as unknown as JsonSchema;
}

/** The security scheme of each grant (one flow each, so a route can name the grants it expects). */
const SCHEMES: Record<OAuthGrant, string> = {
  client_credentials: 'clientCredentials',
  password: 'password',
  authorization_code: 'operatorSignIn',
};

const grantsOf = (route: RouteSpec): OAuthGrant[] => route.grants ?? ['client_credentials'];

/**
 * One OAuth 2.0 scheme per grant, listing the scopes of the routes that expect it (scopes no route
 * requires, e.g. `webhooks:all-events`, are client capabilities: client credentials).
 */
function securitySchemes(wiring: Wiring): Record<string, oas31.SecuritySchemeObject> {
  const scopesOf = (grant: OAuthGrant) => {
    const used = wiring.routes
      .filter((r) => r.auth === 'jwt' && grantsOf(r).includes(grant))
      .flatMap((r) => r.scopes);
    if (grant === 'client_credentials') {
      const required = new Set(wiring.routes.flatMap((r) => r.scopes));
      used.push(...knownScopes.filter((s) => !required.has(s)));
    }
    return Object.fromEntries([...new Set(used)].sort().map((s) => [s, scopeDescriptions[s as Scope] ?? s]));
  };
  return {
    clientCredentials: {
      type: 'oauth2',
      description:
        'Partners and the platform: client id and secret (HTTP Basic or form body) for a token carrying the client\u2019s scopes.',
      flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: scopesOf('client_credentials') } },
    },
    password: {
      type: 'oauth2',
      description:
        'Zuora\u2019s event emitter: client id and secret plus username and password; send X-Client-Id with the client id.',
      flows: { password: { tokenUrl: '/oauth/token', scopes: scopesOf('password') } },
    },
    operatorSignIn: {
      type: 'oauth2',
      description:
        'Operators signed in to the operations console (authorization code with PKCE S256). Only the console client and its registered redirect URIs may use it; scripts use client credentials.',
      flows: {
        authorizationCode: {
          authorizationUrl: '/oauth/authorize',
          tokenUrl: '/oauth/token',
          refreshUrl: '/oauth/token',
          scopes: scopesOf('authorization_code'),
        },
      },
    },
  };
}

/**
 * The samples of `events/api/` the route's schema accepts, as OpenAPI examples named after their file
 * (samples of refused input, e.g. `missing-lines`, are left out: an example must match its schema).
 */
function requestExamples(
  schema: z.ZodType,
  samples: ApiSample[] | undefined,
): oas31.ExamplesObject | undefined {
  const entries = (samples ?? []).flatMap(({ name, value }) => {
    const text = JSON.stringify(value);
    const local = text.includes(LOCAL_URL_PLACEHOLDER);
    // The placeholder is no URL; the local runtime resolves it before the handler validates (the
    // build-time document has an example host in its place).
    const checked = local
      ? JSON.parse(text.replaceAll(LOCAL_URL_PLACEHOLDER, 'http://127.0.0.1:3000'))
      : value;
    if (!schema.safeParse(checked).success) return [];
    return [[name, { summary: name.replace(/-/g, ' '), value }] as const];
  });
  return entries.length ? Object.fromEntries(entries) : undefined;
}
