import * as z from 'zod';
import type { RouteSpec, Wiring } from '../../infra/wiring-types.ts';

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

const errorSchema: JsonSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'Machine-readable code, e.g. VALIDATION_FAILED' },
    message: { type: 'string', description: 'Human sentence naming the problem' },
    details: {
      type: 'array',
      items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
};

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
 * The OpenAPI 3.1 document of the hub, generated from the manifest's routes and their zod schemas, so
 * the published contract is the one the handlers validate against.
 */
export function buildOpenApi(wiring: Wiring, info: { version: string; serverUrl?: string }): JsonSchema {
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
      op.requestBody = {
        required: true,
        content: Object.fromEntries(
          types.map((t) => [t, { schema: toSchema(route.request!.body!, 'input') }]),
        ),
      };
    }
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(route.responses ?? { 200: { description: 'OK' } })) {
      responses[status] = {
        description: r.description,
        ...(r.body ? { content: { 'application/json': { schema: toSchema(r.body, 'output') } } } : {}),
      };
    }
    // `none`: no bearer token (the route is public, or checks its own signature, e.g. AppDirect's OAuth 1.0).
    op.security = route.auth === 'jwt' ? [{ oauth2: route.scopes }] : [];
    if (route.auth === 'jwt') {
      responses['401'] ??= {
        description: 'Missing, expired or invalid token',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
      responses['403'] ??= {
        description: 'Token lacks a required scope',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    if (route.request?.body) {
      responses['400'] ??= {
        description: 'Malformed or invalid input',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
      };
    }
    op.responses = responses;
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = op;
  }
  pruneUnreferenced(components, paths);
  const allScopes = [...new Set(wiring.routes.flatMap((r) => r.scopes))].sort();
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
      schemas: { ...components, Error: errorSchema },
      securitySchemes: {
        oauth2: {
          type: 'oauth2',
          flows: {
            clientCredentials: {
              tokenUrl: '/oauth/token',
              scopes: Object.fromEntries(allScopes.map((s) => [s, s])),
            },
            password: { tokenUrl: '/oauth/token', scopes: Object.fromEntries(allScopes.map((s) => [s, s])) },
          },
        },
      },
    },
  };
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
