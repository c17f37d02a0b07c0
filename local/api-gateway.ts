import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { type RouteSpec, routeKey } from '../infra/wiring-types.ts';

/**
 * API Gateway HTTP API emulation: the manifest's routes, matched as API Gateway matches them (static
 * segments beat `{param}`, `{proxy+}` is greedy and last), turned into payload-format-2.0 events,
 * and the Lambda result mapped back to an HTTP response the way API Gateway does.
 */
export interface LocalRoute {
  spec: RouteSpec;
  routeKey: string;
  method: string;
  regex: RegExp;
  params: string[];
  specificity: number[];
}

export function compileRoutes(routes: RouteSpec[]): LocalRoute[] {
  const compiled = routes.map((spec) => {
    const params: string[] = [];
    const segments = spec.path.split('/').filter(Boolean);
    const specificity = segments.map((s) => (s.endsWith('+}') ? 0 : s.startsWith('{') ? 1 : 2));
    const pattern = segments
      .map((s) => {
        const greedy = /^\{(\w+)\+\}$/.exec(s);
        if (greedy) {
          params.push(greedy[1]!);
          return '(.+)';
        }
        const param = /^\{(\w+)\}$/.exec(s);
        if (param) {
          params.push(param[1]!);
          return '([^/]+)';
        }
        return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    return {
      spec,
      routeKey: routeKey(spec),
      method: spec.method,
      regex: new RegExp(`^/${pattern}/?$`),
      params,
      specificity,
    };
  });
  // Most specific first: compare segment by segment (static > param > greedy), then longer first.
  compiled.sort((a, b) => {
    for (let i = 0; i < Math.max(a.specificity.length, b.specificity.length); i++) {
      const d = (b.specificity[i] ?? -1) - (a.specificity[i] ?? -1);
      if (d !== 0) return d;
    }
    return 0;
  });
  return compiled;
}

export type RouteMatch =
  | { kind: 'match'; route: LocalRoute; pathParameters: Record<string, string> }
  | { kind: 'bad-parameter'; route: LocalRoute; name: string; raw: string }
  | { kind: 'not-found' };

export function matchRoute(routes: LocalRoute[], method: string, path: string): RouteMatch {
  for (const route of routes) {
    if (route.method !== method) continue;
    const m = route.regex.exec(path);
    if (!m) continue;
    const pathParameters: Record<string, string> = {};
    for (const [i, name] of route.params.entries()) {
      const raw = m[i + 1]!;
      try {
        pathParameters[name] = decodeURIComponent(raw);
      } catch {
        // A malformed percent-escape (`%ZZ`, a lone `%`, invalid UTF-8) is the caller's mistake.
        return { kind: 'bad-parameter', route, name, raw };
      }
    }
    return { kind: 'match', route, pathParameters };
  }
  return { kind: 'not-found' };
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|[\w.+-]+\+(json|xml))\b)/i;

/** API Gateway passes text bodies as-is and base64-encodes the rest (forms and binary included). */
export function isTextContent(contentType: string | undefined): boolean {
  return !contentType || TEXT_TYPES.test(contentType.trim());
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** `23/Nov/2026:11:30:00 +0000`, API Gateway's requestContext.time format. */
function requestTime(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

export function buildEvent(input: {
  route: LocalRoute;
  pathParameters: Record<string, string>;
  method: string;
  path: string;
  rawQueryString: string;
  /** Raw header pairs as Node gives them (`req.rawHeaders`). */
  rawHeaders: string[];
  body: Buffer;
  sourceIp: string;
  now: Date;
}): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (let i = 0; i < input.rawHeaders.length; i += 2) {
    const name = input.rawHeaders[i]!.toLowerCase();
    const value = input.rawHeaders[i + 1]!;
    if (name === 'cookie') {
      cookies.push(
        ...value
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(input.rawQueryString))
    query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const requestId = randomUUID();
  headers['x-amzn-trace-id'] ??=
    `Root=1-${Math.floor(input.now.getTime() / 1000).toString(16)}-${requestId.replace(/-/g, '').slice(0, 24)}`;
  headers['x-forwarded-for'] ??= input.sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  const hasBody = input.body.length > 0;
  const text = isTextContent(headers['content-type']);
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: input.route.routeKey,
    rawPath: input.path,
    rawQueryString: input.rawQueryString,
    headers,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: (headers.host ?? 'localhost').split('.')[0]!.split(':')[0]!,
      http: {
        method: input.method,
        path: input.path,
        protocol: 'HTTP/1.1',
        sourceIp: input.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: input.route.routeKey,
      stage: '$default',
      time: requestTime(input.now),
      timeEpoch: input.now.getTime(),
    },
    isBase64Encoded: hasBody && !text,
  };
  if (cookies.length) event.cookies = cookies;
  if (Object.keys(query).length) event.queryStringParameters = query;
  if (Object.keys(input.pathParameters).length) event.pathParameters = input.pathParameters;
  if (hasBody) event.body = text ? input.body.toString('utf8') : input.body.toString('base64');
  return event;
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  cookies: string[];
  body: Buffer;
}

/**
 * Payload format 2.0 response mapping: a result with `statusCode` is used as given; any other value
 * (string, object) is a 200 with that value as a JSON body, as API Gateway infers.
 */
export function mapResult(result: unknown): HttpResult {
  if (result && typeof result === 'object' && 'statusCode' in result) {
    const r = result as APIGatewayProxyStructuredResultV2;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = String(v);
    const body =
      r.body === undefined
        ? Buffer.alloc(0)
        : r.isBase64Encoded
          ? Buffer.from(r.body, 'base64')
          : Buffer.from(r.body, 'utf8');
    return { status: r.statusCode ?? 200, headers, cookies: r.cookies ?? [], body };
  }
  const body = result === undefined ? '' : typeof result === 'string' ? result : JSON.stringify(result);
  return {
    status: 200,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(body),
  };
}

/** API Gateway's own answers when the integration fails or no route matches. */
export const gatewayAnswer = {
  notFound: (): HttpResult => plain(404, 'Not Found'),
  internal: (): HttpResult => plain(500, 'Internal Server Error'),
  timeout: (): HttpResult => plain(503, 'Service Unavailable'),
  tooLarge: (): HttpResult => plain(413, 'Request Entity Too Large'),
  /** A path parameter that is not valid percent-encoding, in the handlers' `{error, message, details}` shape. */
  badPathParameter: (name: string): HttpResult => ({
    status: 400,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(
      JSON.stringify({
        error: 'VALIDATION_FAILED',
        message: `The path parameter ${name} is not valid percent-encoding.`,
        details: [{ field: `path.${name}`, message: 'malformed percent-escape' }],
      }),
    ),
  }),
};

function plain(status: number, message: string): HttpResult {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    cookies: [],
    body: Buffer.from(JSON.stringify({ message })),
  };
}
