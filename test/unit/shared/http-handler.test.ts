import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { RouteSpec } from '../../../infra/wiring-types.ts';
import { jsonBody } from '../../../shared/http/body.ts';
import { httpHandler, toRequest } from '../../../shared/http/handler.ts';
import { type HttpRequest, json } from '../../../shared/http/types.ts';
import { apiEvent, type TestKeys, testContext, testKeys } from '../../helpers/auth.ts';
import { readReferenceJson } from '../../helpers/reference.ts';

const spec = (method: RouteSpec['method'], path: string, extra: Partial<RouteSpec> = {}): RouteSpec => ({
  method,
  path,
  function: 'kernel-test',
  auth: 'none',
  scopes: [],
  summary: 'test',
  ...extra,
});

type Result = APIGatewayProxyStructuredResultV2 & { statusCode: number; body: string };
const call = async (h: ReturnType<typeof httpHandler>, event: unknown) =>
  (await h(event as APIGatewayProxyEventV2, testContext())) as Result;

const echo = async (req: HttpRequest) =>
  json(200, {
    method: req.method,
    path: req.path,
    routeKey: req.routeKey,
    query: req.query,
    body: req.rawBody,
    params: req.pathParameters,
    ua: req.headers['user-agent'],
  });

describe('API Gateway events from real AWS samples', () => {
  const v2Samples = [
    'aws-lambda-go/apigw-v2-request-iam.json',
    'aws-lambda-go/apigw-v2-request-jwt-authorizer.json',
    'aws-lambda-go/apigw-v2-request-lambda-authorizer.json',
    'aws-lambda-go/apigw-v2-request-no-authorizer.json',
    'aws-lambda-go/lambda-urls-request.json',
    'aws-sam-cli/HttpApi.rendered.json',
    'powertools-lambda-typescript/apigw-http-jwt-authorizer-auth.json',
    'powertools-lambda-typescript/apigw-http-no-auth.json',
  ];
  it.each(v2Samples)('parses %s unchanged (method, path, headers, query, body)', (file) => {
    const event = readReferenceJson<APIGatewayProxyEventV2>('data/aws-lambda-events', file);
    const req = toRequest(event, testContext());
    expect(req.method).toBe(event.requestContext.http.method);
    expect(req.path).toBe(event.rawPath);
    expect(req.routeKey).toBe(event.routeKey);
    for (const [k, v] of Object.entries(event.headers ?? {})) expect(req.headers[k.toLowerCase()]).toBe(v);
    for (const [k, v] of Object.entries(event.queryStringParameters ?? {})) expect(req.query[k]).toBe(v);
    const expectedBody =
      event.body === undefined
        ? undefined
        : event.isBase64Encoded
          ? Buffer.from(event.body, 'base64').toString('utf8')
          : event.body;
    expect(req.rawBody).toBe(expectedBody);
  });

  it('decodes the base64 body of the SAM HttpApi sample', () => {
    const event = readReferenceJson<APIGatewayProxyEventV2>(
      'data/aws-lambda-events/aws-sam-cli/HttpApi.rendered.json',
    );
    expect(toRequest(event, testContext()).rawBody).toBe('{"test":"body"}');
  });

  it('routes the Powertools HTTP API sample to its declared route', async () => {
    const event = readReferenceJson(
      'data/aws-lambda-events/powertools-lambda-typescript/apigw-http-no-auth.json',
    );
    const h = httpHandler({
      functionName: 'kernel-test',
      specs: [spec('POST', '/lambda')],
      routes: { 'POST /lambda': echo },
    });
    const res = await call(h, event);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ method: 'POST', path: '/lambda', routeKey: 'POST /lambda' });
  });

  it.each([
    ['aws-lambda-go/apigw-request.json', 'POST /{proxy+}'],
    ['aws-sam-cli/AwsProxy.rendered.json', 'POST /{proxy+}'],
    ['powertools-lambda-typescript/apigw-rest-no-auth.json', 'POST /no-auth'],
  ])('accepts the REST (v1) sample %s on route %s', async (file, key) => {
    const event = readReferenceJson<{ path: string; body: string | null; isBase64Encoded: boolean }>(
      'data/aws-lambda-events',
      file,
    );
    const [method, path] = key.split(' ') as [RouteSpec['method'], string];
    const h = httpHandler({
      functionName: 'kernel-test',
      specs: [spec(method, path)],
      routes: { [key]: echo },
    });
    const res = await call(h, event);
    expect(res.statusCode).toBe(200);
    const body = JSON.parse(res.body);
    expect(body.routeKey).toBe(key);
    expect(body.path).toBe(event.path);
    if (event.body)
      expect(body.body).toBe(
        event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString() : event.body,
      );
  });

  it.each(['apigw-http-invalid.json', 'apigw-rest-invalid.json'])(
    'answers the invalid sample %s with a clean 404, not a crash',
    async (file) => {
      const event = readReferenceJson('data/aws-lambda-events/powertools-lambda-typescript', file);
      const h = httpHandler({
        functionName: 'kernel-test',
        specs: [spec('POST', '/x')],
        routes: { 'POST /x': echo },
      });
      const res = await call(h, event);
      expect(res.statusCode).toBe(404);
      expect(JSON.parse(res.body).error).toBe('NOT_FOUND');
    },
  );
});

describe('request bodies and errors', () => {
  const bodySchema = z.object({ name: z.string().min(1), quantity: z.number().int().positive() });
  const h = httpHandler({
    functionName: 'kernel-test',
    specs: [spec('POST', '/things'), spec('GET', '/boom')],
    routes: {
      'POST /things': async (req) => json(201, jsonBody(req, bodySchema, { maxBytes: 1024 })),
      'GET /boom': async () => {
        throw new Error('database password is hunter2');
      },
    },
  });

  it('accepts a valid body', async () => {
    const res = await call(
      h,
      apiEvent({ method: 'POST', path: '/things', body: { name: 'a', quantity: 2 } }),
    );
    expect(res.statusCode).toBe(201);
  });
  it('answers malformed JSON with 400 MALFORMED_JSON', async () => {
    const res = await call(
      h,
      apiEvent({
        method: 'POST',
        path: '/things',
        body: '{"name":',
        headers: { 'content-type': 'application/json' },
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).error).toBe('MALFORMED_JSON');
  });
  it('names every invalid field', async () => {
    const res = await call(
      h,
      apiEvent({ method: 'POST', path: '/things', body: { name: '', quantity: -1 } }),
    );
    expect(res.statusCode).toBe(400);
    const fields = JSON.parse(res.body).details.map((d: { field: string }) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'quantity']));
  });
  it('refuses a wrong content type with 415 and an oversized body with 413', async () => {
    const wrongType = await call(
      h,
      apiEvent({
        method: 'POST',
        path: '/things',
        body: 'name=a',
        headers: { 'content-type': 'text/plain' },
      }),
    );
    expect(wrongType.statusCode).toBe(415);
    const big = await call(
      h,
      apiEvent({ method: 'POST', path: '/things', body: { name: 'x'.repeat(2000), quantity: 1 } }),
    );
    expect(big.statusCode).toBe(413);
  });
  it('answers an empty body with 400', async () => {
    const res = await call(
      h,
      apiEvent({ method: 'POST', path: '/things', headers: { 'content-type': 'application/json' } }),
    );
    expect(res.statusCode).toBe(400);
  });
  it('hides unexpected errors behind a generic 500', async () => {
    const res = await call(h, apiEvent({ method: 'GET', path: '/boom' }));
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('hunter2');
    expect(JSON.parse(res.body).error).toBe('INTERNAL_ERROR');
  });
  it('echoes a supplied correlation id and invents one otherwise', async () => {
    const res = await call(
      h,
      apiEvent({
        method: 'POST',
        path: '/things',
        body: { name: 'a', quantity: 1 },
        headers: { 'x-correlation-id': 'abc-123' },
      }),
    );
    expect(res.headers?.['x-correlation-id']).toBe('abc-123');
    const other = await call(
      h,
      apiEvent({ method: 'POST', path: '/things', body: { name: 'a', quantity: 1 } }),
    );
    expect(other.headers?.['x-correlation-id']).toMatch(/[0-9a-f-]{36}/);
  });
  it('refuses at cold start a function whose routes disagree with its specs', () => {
    expect(() =>
      httpHandler({ functionName: 'kernel-test', specs: [spec('GET', '/a')], routes: { 'GET /b': echo } }),
    ).toThrow(/missing \[GET \/a\], undeclared \[GET \/b\]/);
  });
});

describe('bearer tokens and scopes', () => {
  let keys: TestKeys;
  let other: TestKeys;
  let h: ReturnType<typeof httpHandler>;
  beforeAll(async () => {
    keys = await testKeys();
    other = await testKeys();
    h = httpHandler({
      functionName: 'kernel-test',
      verifier: keys.verifier,
      specs: [spec('GET', '/secure', { auth: 'jwt', scopes: ['orders:read'] })],
      routes: { 'GET /secure': async (req) => json(200, { tenant: req.principal?.tenant }) },
    });
  });
  const get = (token?: string) =>
    call(
      h,
      apiEvent({
        method: 'GET',
        path: '/secure',
        headers: token ? { authorization: `Bearer ${token}` } : {},
      }),
    );

  it('gives the tenant from the token to the route', async () => {
    const res = await get(await keys.token({ tenant: 'arrow', scopes: ['orders:read'] }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body).tenant).toBe('arrow');
  });
  it('401 without a token, with a forged one, with an expired one', async () => {
    expect((await get()).statusCode).toBe(401);
    expect((await get(await other.token({ tenant: 'arrow', scopes: ['orders:read'] }))).statusCode).toBe(401);
    const expired = await keys.token({
      tenant: 'arrow',
      scopes: ['orders:read'],
      clock: { now: () => new Date(Date.now() - 3_600_000) },
    });
    const res = await get(expired);
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body).error).toBe('TOKEN_EXPIRED');
    expect(res.headers?.['www-authenticate']).toBe('Bearer');
  });
  it('403 when a scope is missing', async () => {
    const res = await get(await keys.token({ tenant: 'arrow', scopes: ['orders:write'] }));
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(res.body).message).toContain('orders:read');
  });
});
