import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appDirectErrorBody } from '../../functions/appdirect-events/schema.ts';
import { handler } from '../../functions/meta/handler.ts';
import { buildOpenApi } from '../../functions/meta/openapi.ts';
import { formatOAuthError, invalidClient, OAuthError } from '../../functions/token/schema.ts';
import { buildResponse, echoOf, formatZuoraError } from '../../functions/zuora-event/respond.ts';
import { wiring } from '../../infra/wiring.ts';
import type { RouteSpec } from '../../infra/wiring-types.ts';
import { scopes as knownScopes } from '../../shared/contracts/oauth.ts';
import {
  AppError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  UnprocessableError,
  ValidationError,
} from '../../shared/errors.ts';
import { errorResponse } from '../../shared/http/handler.ts';
import type { HttpRequest } from '../../shared/http/types.ts';
import { apiEvent, testContext } from '../helpers/auth.ts';
import { answerChecker } from '../helpers/openapi-answers.ts';
import { repoRoot } from '../helpers/reference.ts';

/**
 * `GET /openapi.json` is the published contract: it must be a structurally valid OpenAPI 3.1 document
 * covering every manifest route, and the request samples in `events/api/` must satisfy the schemas
 * the routes validate against.
 */
type Obj = Record<string, any>;
const doc = buildOpenApi(wiring, { version: 'contract-test' }) as Obj;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Resolves a local JSON pointer (`#/a/b`) in the document; undefined when it points nowhere. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return undefined;
  const parts = ref
    .slice(1)
    .split('/')
    .filter((p, i) => i > 0 || p !== '')
    .map((p) => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: unknown = root;
  for (const part of parts) {
    if (node === null || typeof node !== 'object' || !(part in (node as Obj))) return undefined;
    node = (node as Obj)[part];
  }
  return node;
}

function collectRefs(value: unknown, path = '#', out: Array<{ ref: string; at: string }> = []) {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) collectRefs(v, `${path}/${i}`, out);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push({ ref: v, at: path });
      else collectRefs(v, `${path}/${k}`, out);
    }
  }
  return out;
}

const deref = (schema: Obj): Obj =>
  typeof schema.$ref === 'string' ? deref(resolvePointer(doc, schema.$ref) as Obj) : schema;

const isJsonSchemaObject = (s: unknown): boolean => {
  if (!s || typeof s !== 'object' || Array.isArray(s)) return false;
  const o = s as Obj;
  if (typeof o.type === 'string' || Array.isArray(o.type)) return true;
  return ['anyOf', 'oneOf', 'allOf'].some((k) => Array.isArray(o[k]) && o[k].length > 0);
};

describe('OpenAPI document', () => {
  it('is served by GET /openapi.json as the document buildOpenApi makes', async () => {
    const res = (await handler(
      apiEvent({ method: 'GET', path: '/openapi.json' }),
      testContext('meta') as never,
    )) as {
      statusCode: number;
      body: string;
    };
    expect(res.statusCode).toBe(200);
    const served = JSON.parse(res.body) as Obj;
    expect(served.openapi).toBe('3.1.0');
    expect(Object.keys(served.paths).sort()).toEqual(Object.keys(doc.paths).sort());
  });

  it('names the API itself as the server, so a page on another origin calls the API', async () => {
    const event = apiEvent({
      method: 'GET',
      path: '/openapi.json',
      headers: { 'x-forwarded-proto': 'https' },
    });
    event.requestContext.domainName = 'abc123.execute-api.eu-west-1.amazonaws.com';
    const res = (await handler(event, testContext('meta') as never)) as { body: string };
    const served = JSON.parse(res.body) as Obj;
    expect(served.servers).toEqual([{ url: 'https://abc123.execute-api.eu-west-1.amazonaws.com' }]);
    // Token URLs stay relative to that server (Swagger UI resolves them against it).
    expect(served.components.securitySchemes.clientCredentials.flows.clientCredentials.tokenUrl).toBe(
      '/oauth/token',
    );
    const bare = (await handler(
      apiEvent({ method: 'GET', path: '/openapi.json' }),
      testContext('meta') as never,
    )) as { body: string };
    expect((JSON.parse(bare.body) as Obj).servers).toEqual([{ url: '/' }]);
  });

  it('has the OpenAPI 3.1 top-level structure', () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(typeof doc.info?.title).toBe('string');
    expect(typeof doc.info?.version).toBe('string');
    expect(doc.paths && typeof doc.paths).toBe('object');
    for (const [path, item] of Object.entries(doc.paths as Obj)) {
      expect(path.startsWith('/'), path).toBe(true);
      for (const [method, op] of Object.entries(item as Obj)) {
        expect(METHODS, `${method} ${path}`).toContain(method);
        expect(
          op.responses && Object.keys(op.responses).length,
          `${method} ${path} has responses`,
        ).toBeTruthy();
        for (const [status, r] of Object.entries(op.responses as Obj)) {
          expect(status, `${method} ${path}`).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
          expect(typeof (r as Obj).description, `${method} ${path} ${status} description`).toBe('string');
        }
      }
    }
    const ids = Object.values(doc.paths as Obj).flatMap((item) =>
      Object.values(item as Obj).map((op) => op.operationId),
    );
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lists every manifest route with its security scopes, by grant', () => {
    const schemes = doc.components.securitySchemes as Obj;
    const flowScopes = (name: string) => Object.values(schemes[name].flows as Obj)[0].scopes as Obj;
    const byGrant: Obj = {
      client_credentials: 'clientCredentials',
      password: 'password',
      authorization_code: 'operatorSignIn',
    };
    for (const route of wiring.routes) {
      const op = doc.paths[route.path]?.[route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      if (route.auth === 'jwt') {
        const grants = route.grants ?? ['client_credentials'];
        expect(op.security).toEqual(grants.map((g) => ({ [byGrant[g]]: route.scopes })));
        for (const g of grants) {
          for (const scope of route.scopes) expect(flowScopes(byGrant[g]), scope).toHaveProperty(scope);
        }
      } else {
        expect(op.security ?? [], `${route.method} ${route.path} is public`).toEqual([]);
      }
    }
    // Zuora's emitter uses the password grant; operators sign in or use the ops client.
    expect(doc.paths['/v1/zuora/events'].post.security).toEqual([{ password: ['zuora:events'] }]);
    expect(doc.paths['/v1/orders'].post.security).toEqual([{ clientCredentials: ['orders:write'] }]);
    expect(doc.paths['/v1/ops/orders'].get.security).toEqual([
      { operatorSignIn: ['ops:read'] },
      { clientCredentials: ['ops:read'] },
    ]);
    expect(schemes.password.flows.password.tokenUrl).toBe('/oauth/token');
    expect(schemes.operatorSignIn.flows.authorizationCode.authorizationUrl).toBe('/oauth/authorize');
  });

  it('describes every scope in words, not by its name', () => {
    const all = Object.values(doc.components.securitySchemes as Obj).flatMap((scheme) =>
      Object.values((scheme as Obj).flows as Obj).flatMap((flow) => Object.entries((flow as Obj).scopes)),
    );
    expect(new Set(all.map(([s]) => s))).toEqual(new Set(knownScopes));
    for (const [scope, description] of all) {
      expect(String(description), scope).toMatch(/\S+ \S+ \S+/);
      expect(description, scope).not.toBe(scope);
    }
  });

  it('documents exactly the manifest routes', () => {
    const documented = Object.entries(doc.paths as Obj).flatMap(([p, item]) =>
      Object.keys(item as Obj).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(documented.sort()).toEqual(wiring.routes.map((r) => `${r.method} ${r.path}`).sort());
  });

  it('every $ref resolves inside the document', () => {
    const refs = collectRefs(doc);
    expect(refs.length).toBeGreaterThan(0);
    const broken = refs
      .filter(({ ref }) => resolvePointer(doc, ref) === undefined)
      .map((r) => `${r.ref} at ${r.at}`);
    expect(broken).toEqual([]);
  });

  it('declares every path parameter, and only those', () => {
    for (const [path, item] of Object.entries(doc.paths as Obj)) {
      const inTemplate = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      for (const [method, op] of Object.entries(item as Obj)) {
        const declared = ((op.parameters ?? []) as Obj[]).filter((p) => p.in === 'path');
        expect(declared.map((p) => p.name).sort(), `${method} ${path}`).toEqual(inTemplate);
        for (const p of declared) expect(p.required, `${method} ${path} ${p.name}`).toBe(true);
      }
    }
  });

  it('every request body and response schema is a JSON Schema object', () => {
    let bodies = 0;
    for (const [path, item] of Object.entries(doc.paths as Obj)) {
      for (const [method, op] of Object.entries(item as Obj)) {
        for (const [type, media] of Object.entries((op.requestBody?.content ?? {}) as Obj)) {
          bodies++;
          expect(isJsonSchemaObject(deref(media.schema)), `${method} ${path} ${type}`).toBe(true);
        }
        for (const [status, r] of Object.entries(op.responses as Obj)) {
          for (const media of Object.values(((r as Obj).content ?? {}) as Obj)) {
            expect(isJsonSchemaObject(deref(media.schema)), `${method} ${path} ${status}`).toBe(true);
          }
        }
      }
    }
    expect(bodies).toBeGreaterThan(0);
  });
});

describe('request samples in events/api', () => {
  /** The folder name a route's samples live in (as `npm run send` maps them). */
  const slug = (r: RouteSpec) =>
    r.path
      .replace(/^\/(v1|api)\//, '')
      .replace(/\{[^}]+\}/g, '')
      .replace(/\/+$/, '')
      .replace(/\//g, '-');
  /** Samples named like this are meant to be refused. */
  const meantInvalid = /^(bad|missing|restricted|invalid)-/;
  const apiDir = join(repoRoot, 'events/api');
  const samples = readdirSync(apiDir).flatMap((folder) => {
    const route = wiring.routes.find((r) => r.method === 'POST' && slug(r) === folder);
    return readdirSync(join(apiDir, folder))
      .filter((f) => f.endsWith('.json') && !f.endsWith('.apigw.json'))
      .map((file) => ({ folder, file, route, path: join(apiDir, folder, file) }));
  });

  it('every sample folder maps to a POST route', () => {
    expect(samples.length).toBeGreaterThan(0);
    expect(samples.filter((s) => !s.route).map((s) => s.folder)).toEqual([]);
  });

  const valid = samples.filter((s) => !meantInvalid.test(s.file));
  it.each(valid.map((s) => ({ ...s, name: `${s.folder}/${s.file}` })))(
    '$name is accepted by its route schema',
    ({ route, path }) => {
      const schema = route?.request?.body;
      if (!schema) return;
      // `{{localUrl}}` is resolved by the local runtime to its own URL (see README, local runtime).
      const text = readFileSync(path, 'utf8').replaceAll('{{localUrl}}', 'http://127.0.0.1:3000');
      const parsed = schema.safeParse(JSON.parse(text));
      expect(parsed.error?.issues ?? []).toEqual([]);
    },
  );
});

describe('error answers match the documented schemas', () => {
  const check = answerChecker(doc);
  const answer = (statusCode: number, body: unknown) => ({
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(body),
  });
  const req = (rawBody: string) => ({ rawBody }) as HttpRequest;

  it('the hub error body of every AppError, and the bare 500', () => {
    const errors = [
      new ValidationError('The request body is invalid.', [
        { field: 'lines.0.quantity', message: 'too small' },
      ]),
      new UnauthorizedError(),
      new ForbiddenError('The token lacks the scope orders:write.', 'INSUFFICIENT_SCOPE'),
      new UnprocessableError('restricted', 'RESTRICTED_PARTY'),
    ];
    for (const e of errors) {
      expect(check('POST', '/v1/orders', answer(e.status, e.toBody())), e.code).toEqual([]);
    }
    const fault = errorResponse(new Error('boom'), req(''));
    expect(check('GET', '/v1/orders/{orderId}', answer(fault.statusCode, fault.body))).toEqual([]);
  });

  it('refuses what the handlers do not send', () => {
    expect(check('POST', '/v1/orders', answer(400, { error: 'X' }))).not.toEqual([]);
    expect(
      check('POST', '/v1/orders', answer(400, { error: 'invalid_request', error_description: 'x' })),
    ).not.toEqual([]);
    expect(check('GET', '/health', answer(404, new NotFoundError('x').toBody()))[0]).toMatch(
      /not documented/,
    );
  });

  it('RFC 6749 errors on /oauth/token and /oauth/revoke', () => {
    for (const e of [
      new OAuthError('invalid_grant', 'The username or password is incorrect.'),
      invalidClient('Client authentication failed.', true),
      new ValidationError('The request body is empty.'),
      new AppError(500, 'INTERNAL_ERROR', 'fault'),
    ]) {
      const res = formatOAuthError(e);
      expect(check('POST', '/oauth/token', answer(res.statusCode, res.body)), e.code).toEqual([]);
      expect(check('POST', '/oauth/revoke', answer(res.statusCode, res.body)), e.code).toEqual([]);
    }
    const hub = new ValidationError('x').toBody();
    expect(check('POST', '/oauth/token', answer(400, hub))).not.toEqual([]);
  });

  it('Zuora answers in both shapes, success and KO', () => {
    const zuoraSamples = join(repoRoot, 'events/api/zuora-events');
    const first = readFileSync(join(zuoraSamples, 'first-client-created.json'), 'utf8');
    const current = readFileSync(join(zuoraSamples, 'current-client-created.json'), 'utf8');
    const item = {
      zReference: 'r1',
      calculedHash: null,
      success: false,
      name: 'BAD_REQUEST' as const,
      message: 'payload.0.zaccount: required',
    };
    const answers = [
      buildResponse('first', echoOf(JSON.parse(first)), [item]),
      buildResponse('current', echoOf(JSON.parse(current)), [item]),
      buildResponse('current', echoOf(JSON.parse(current)), [
        { ...item, success: true, name: 'CREATED', calculedHash: 'abc', message: null },
      ]),
      buildResponse('first', echoOf(JSON.parse(first)), [
        { ...item, success: true, name: 'CREATED', calculedHash: 'abc', message: null },
      ]),
      formatZuoraError(new ValidationError('malformed'), req('{not json'))!,
      formatZuoraError(new UnauthorizedError(), req(current))!,
      formatZuoraError(new ForbiddenError('X-Client-Id is required.'), req(first))!,
      formatZuoraError(new AppError(500, 'INTERNAL_ERROR', 'fault'), req(current))!,
    ];
    for (const res of answers) {
      const label = JSON.stringify(res.body);
      expect(check('POST', '/v1/zuora/events', answer(res.statusCode, res.body)), label).toEqual([]);
      expect(check('POST', '/api/billing/events', answer(res.statusCode, res.body)), label).toEqual([]);
    }
    // Auth refusals of a body that is no Zuora event keep the hub's shape, also documented.
    expect(formatZuoraError(new UnauthorizedError(), req('{}'))).toBeUndefined();
    expect(check('POST', '/v1/zuora/events', answer(401, new UnauthorizedError().toBody()))).toEqual([]);
  });

  it('AppDirect refusals', () => {
    for (const e of [new ValidationError('eventUrl is required'), new UnauthorizedError('bad signature')]) {
      const res = answer(e.status, appDirectErrorBody(e));
      expect(check('GET', '/v1/channels/appdirect/events', res), e.code).toEqual([]);
    }
  });
});
