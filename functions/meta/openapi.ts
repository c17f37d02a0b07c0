import * as z from 'zod';
import type { OAuthGrant, ResponseSpec, RouteSpec, Wiring } from '../../infra/wiring-types.ts';
import { errorBodySchema } from '../../shared/contracts/errors.ts';
import { scopes as knownScopes, type Scope, scopeDescriptions } from '../../shared/contracts/oauth.ts';
import { type ApiSample, LOCAL_URL_PLACEHOLDER } from './samples.ts';

type JsonSchema = Record<string, unknown>;

/** Replaces every `$ref` string through `map` (deep copy). */
const rewriteRefs = (value: unknown, map: (ref: string) => string): unknown => {
  if (Array.isArray(value)) return value.map((v) => rewriteRefs(v, map));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === '$ref' && typeof v === 'string' ? map(v) : rewriteRefs(v, map),
      ]),
    );
  }
  return value;
};

/**
 * Converts zod schemas to JSON Schema for one document. Named schemas (`.meta({id})`) come out of zod
 * as `$defs` with `#/$defs/<id>` references, which inside an OpenAPI document resolve against the
 * document root and point nowhere; they are hoisted into `components.schemas` instead. The same id
 * converted differently (input vs output shape) gets an `Input`/`Output` suffix.
 */
function schemaConverter() {
  const components: Record<string, JsonSchema> = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): JsonSchema => {
    const {
      $schema: _drop,
      $defs,
      ...rest
    } = z.toJSONSchema(schema, {
      io,
      unrepresentable: 'any',
      target: 'draft-2020-12',
    }) as JsonSchema & { $defs?: Record<string, JsonSchema> };
    const defs = $defs ?? {};
    const refTo = (names: Record<string, string>) => (ref: string) => {
      const id = /^#\/\$defs\/(.+)$/.exec(ref)?.[1];
      return id && names[id] ? `#/components/schemas/${names[id]}` : ref;
    };
    // First pass with plain names: a def identical to the one already listed shares its name.
    const plain = refTo(Object.fromEntries(Object.keys(defs).map((id) => [id, id])));
    const names: Record<string, string> = {};
    for (const [id, def] of Object.entries(defs)) {
      const taken = components[id];
      const same = taken === undefined || JSON.stringify(taken) === JSON.stringify(rewriteRefs(def, plain));
      names[id] = same ? id : `${id}${io === 'input' ? 'Input' : 'Output'}`;
    }
    const map = refTo(names);
    for (const [id, def] of Object.entries(defs))
      components[names[id]!] = rewriteRefs(def, map) as JsonSchema;
    return rewriteRefs(rest, map) as JsonSchema;
  };
  return { toSchema, components };
}

/** Query parameters of a route from its zod object schema (each property becomes a parameter). */
function queryParameters(
  route: RouteSpec,
  { toSchema, components }: ReturnType<typeof schemaConverter>,
): JsonSchema[] {
  const query = route.request?.query;
  if (!query) return [];
  let schema = toSchema(query, 'input');
  // A named query object comes back as a reference: its properties become the parameters.
  const ref = /^#\/components\/schemas\/(.+)$/.exec(String(schema.$ref ?? ''))?.[1];
  if (ref && components[ref]) schema = components[ref]!;
  const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}

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
 * the published contract is the one the handlers validate against.
 */
export function buildOpenApi(
  wiring: Wiring,
  info: { version: string; serverUrl?: string; samples?: Record<string, ApiSample[]> },
): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const converter = schemaConverter();
  const { toSchema, components } = converter;
  for (const route of wiring.routes) {
    const op: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: route.summary,
      tags: [route.function],
    };
    const params = [
      ...[...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...queryParameters(route, converter),
    ];
    if (params.length) op.parameters = params;
    if (route.request?.body) {
      const types = route.request.contentTypes ?? ['application/json'];
      const examples = requestExamples(route.request.body, info.samples?.[`${route.method} ${route.path}`]);
      op.requestBody = {
        required: true,
        content: Object.fromEntries(
          types.map((t) => [
            t,
            {
              schema: toSchema(route.request!.body!, 'input'),
              ...(t === 'application/json' && examples ? { examples } : {}),
            },
          ]),
        ),
      };
    }
    // `none`: no bearer token (the route is public, or checks its own signature, e.g. AppDirect's OAuth 1.0).
    op.security = route.auth === 'jwt' ? grantsOf(route).map((g) => ({ [SCHEMES[g]]: route.scopes })) : [];
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(declaredResponses(route))) {
      const content: Record<string, unknown> = {};
      for (const type of r.mediaTypes ?? ['application/json']) {
        if (type === 'text/html') content[type] = { schema: { type: 'string' } };
        else if (r.body) content[type] = { schema: toSchema(r.body, 'output') };
      }
      responses[status] = {
        description: r.description,
        ...(Object.keys(content).length ? { content } : {}),
      };
    }
    op.responses = responses;
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = op;
  }
  pruneUnreferenced(components, paths);
  return {
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
    components: {
      schemas: components,
      securitySchemes: securitySchemes(wiring),
    },
  };
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
function securitySchemes(wiring: Wiring): JsonSchema {
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
function requestExamples(schema: z.ZodType, samples: ApiSample[] | undefined): JsonSchema | undefined {
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

/** Drops components no path (nor any kept component) refers to, e.g. a named query object inlined as parameters. */
function pruneUnreferenced(components: Record<string, JsonSchema>, paths: unknown): void {
  const used = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) {
        const name =
          k === '$ref' && typeof v === 'string' ? /^#\/components\/schemas\/(.+)$/.exec(v)?.[1] : undefined;
        if (name && !used.has(name)) {
          used.add(name);
          visit(components[name]);
        } else visit(v);
      }
    }
  };
  visit(paths);
  for (const name of Object.keys(components)) if (!used.has(name)) delete components[name];
}
