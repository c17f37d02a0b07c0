import { APIGatewayProxyEventV2Schema } from '@aws-lambda-powertools/parser/schemas/api-gatewayv2';
import { describe, expect, it } from 'vitest';
import type { RouteSpec } from '../../../infra/wiring-types.ts';
import {
  buildEvent,
  compileRoutes,
  isTextContent,
  mapResult,
  matchRoute,
} from '../../../local/api-gateway.ts';

const r = (method: RouteSpec['method'], path: string): RouteSpec => ({
  method,
  path,
  function: 'f',
  auth: 'none',
  scopes: [],
  summary: '',
});

describe('route matching', () => {
  const routes = compileRoutes([
    r('GET', '/v1/orders/{orderId}'),
    r('GET', '/v1/orders/summary'),
    r('POST', '/v1/orders'),
    r('GET', '/files/{proxy+}'),
    r('POST', '/v1/webhooks/endpoints/{id}/rotate-secret'),
  ]);
  it('prefers static segments to parameters, whatever the declaration order', () => {
    const m = matchRoute(routes, 'GET', '/v1/orders/summary');
    expect(m.kind === 'match' && m.route.routeKey).toBe('GET /v1/orders/summary');
    const p = matchRoute(routes, 'GET', '/v1/orders/ord_1');
    expect(p.kind === 'match' && p.pathParameters).toEqual({ orderId: 'ord_1' });
  });
  it('matches greedy paths and nested parameters, and decodes them', () => {
    const g = matchRoute(routes, 'GET', '/files/a/b/c.txt');
    expect(g.kind === 'match' && g.pathParameters).toEqual({ proxy: 'a/b/c.txt' });
    const n = matchRoute(routes, 'POST', '/v1/webhooks/endpoints/ep%201/rotate-secret');
    expect(n.kind === 'match' && n.pathParameters).toEqual({ id: 'ep 1' });
  });
  it('does not match another method or an unknown path', () => {
    expect(matchRoute(routes, 'DELETE', '/v1/orders').kind).toBe('not-found');
    expect(matchRoute(routes, 'GET', '/v2/orders').kind).toBe('not-found');
  });
});

describe('HTTP API v2 events built by the runtime', () => {
  const route = compileRoutes([r('POST', '/v1/things/{id}')])[0]!;
  const build = (contentType: string | undefined, body: string, extraHeaders: string[] = []) =>
    buildEvent({
      route,
      pathParameters: { id: 't1' },
      method: 'POST',
      path: '/v1/things/t1',
      rawQueryString: 'a=1&a=2&b=x',
      rawHeaders: [
        ...(contentType ? ['Content-Type', contentType] : []),
        'Host',
        'localhost:3000',
        'Cookie',
        'c1=v1; c2=v2',
        'X-Multi',
        'one',
        'X-Multi',
        'two',
        ...extraHeaders,
      ],
      body: Buffer.from(body),
      sourceIp: '127.0.0.1',
      now: new Date('2026-11-23T11:30:00Z'),
    });

  it('parses with the Powertools APIGatewayProxyEventV2Schema', () => {
    const event = build('application/json', '{"a":1}');
    expect(() => APIGatewayProxyEventV2Schema.parse(event)).not.toThrow();
    expect(event.routeKey).toBe('POST /v1/things/{id}');
    expect(event.requestContext.time).toBe('23/Nov/2026:11:30:00 +0000');
  });
  it('lower-cases and comma-joins headers, splits cookies, comma-joins repeated query parameters', () => {
    const event = build('application/json', '{}');
    expect(event.headers['x-multi']).toBe('one,two');
    expect(event.cookies).toEqual(['c1=v1', 'c2=v2']);
    expect(event.queryStringParameters).toEqual({ a: '1,2', b: 'x' });
    expect(event.pathParameters).toEqual({ id: 't1' });
  });
  it('passes text bodies as they are and base64-encodes forms and binaries, as API Gateway does', () => {
    expect(build('application/json', '{"a":1}').isBase64Encoded).toBe(false);
    const form = build('application/x-www-form-urlencoded', 'a=1');
    expect(form.isBase64Encoded).toBe(true);
    expect(Buffer.from(form.body!, 'base64').toString()).toBe('a=1');
    expect(isTextContent('application/cloudevents-batch+json')).toBe(true);
    expect(isTextContent('application/octet-stream')).toBe(false);
    expect(build(undefined, '').body).toBeUndefined();
  });
});

describe('result mapping', () => {
  it('uses structured results as given and infers 200 JSON otherwise', () => {
    const structured = mapResult({
      statusCode: 201,
      headers: { 'X-A': 'b' },
      body: '{"ok":true}',
      cookies: ['s=1'],
    });
    expect(structured).toMatchObject({ status: 201, headers: { 'x-a': 'b' }, cookies: ['s=1'] });
    expect(structured.body.toString()).toBe('{"ok":true}');
    const inferred = mapResult({ hello: 'world' });
    expect(inferred.status).toBe(200);
    expect(JSON.parse(inferred.body.toString())).toEqual({ hello: 'world' });
    expect(
      mapResult({
        statusCode: 200,
        body: Buffer.from('hi').toString('base64'),
        isBase64Encoded: true,
      }).body.toString(),
    ).toBe('hi');
  });
});
