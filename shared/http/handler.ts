import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { JWK } from 'jose';
import { type RouteAuth, type RouteSpec, routeKey } from '../../infra/wiring-types.ts';
import {
  type AccessClaims,
  createJwksVerifier,
  createVerifier,
  httpJwks,
  TokenInvalidError,
  type Verifier,
} from '../auth/jwt.ts';
import { systemClock } from '../clock.ts';
import { authEnvSchema, parseEnv } from '../env.ts';
import { AppError, ForbiddenError, NotFoundError, UnauthorizedError } from '../errors.ts';
import { logger } from '../logger.ts';
import { annotate, instrumented } from '../telemetry.ts';
import { routeTable } from './route-table.ts';
import type { HttpRequest, HttpResponse, RouteHandler } from './types.ts';

export interface RouteOptions {
  /** Partner contracts with their own error shape (Zuora KO body, RFC 6749) format errors here. */
  formatError?: (error: AppError, req: HttpRequest) => HttpResponse | undefined;
}

export interface HttpHandlerOptions {
  /** Name of this function in the manifest; its routes (and their scopes) come from there (`routeTable`). */
  functionName: string;
  routes: Record<string, RouteHandler | { handler: RouteHandler; options: RouteOptions }>;
  /** Override the verifier (tests); defaults to one built from `AUTH_JWKS_URL`. */
  verifier?: Verifier;
  /** Route specs to serve instead of the manifest's (tests of the kernel only). */
  specs?: Array<RouteSpec | RouteAuth>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function lowerHeaders(headers: APIGatewayProxyEventV2['headers'] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) out[k.toLowerCase()] = v;
  return out;
}

/** A REST API (payload format 1.0) event, accepted too so a REST API or a v1 test event works unchanged. */
interface RestEvent {
  httpMethod: string;
  path: string;
  resource: string;
  headers?: Record<string, string | undefined> | null;
  queryStringParameters?: Record<string, string | undefined> | null;
  pathParameters?: Record<string, string | undefined> | null;
  body?: string | null;
  isBase64Encoded?: boolean;
  requestContext?: { requestId?: string };
}

const isRestEvent = (event: unknown): event is RestEvent =>
  typeof event === 'object' && event !== null && 'httpMethod' in event && !('routeKey' in event);

/** Normalises an API Gateway event (HTTP API v2 or REST v1) into the request our routes see. */
export function toRequest(event: APIGatewayProxyEventV2 | RestEvent, context: Context): HttpRequest {
  const rest = isRestEvent(event) ? event : undefined;
  const v2 = rest ? undefined : (event as APIGatewayProxyEventV2);
  const headers = lowerHeaders(event.headers ?? undefined);
  const body = event.body ?? undefined;
  const rawBody =
    body === undefined
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(body, 'base64').toString('utf8')
        : body;
  const query: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.queryStringParameters ?? {}))
    if (v !== undefined && v !== null) query[k] = v;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.pathParameters ?? {}))
    if (v !== undefined && v !== null) params[k] = v;
  const supplied = headers['x-correlation-id'];
  const requestId = event.requestContext?.requestId ?? context.awsRequestId;
  return {
    method: rest ? rest.httpMethod : (v2!.requestContext?.http?.method ?? 'GET'),
    path: rest ? rest.path : (v2!.rawPath ?? v2!.requestContext?.http?.path ?? '/'),
    routeKey: rest ? `${rest.httpMethod} ${rest.resource}` : v2!.routeKey,
    pathParameters: params,
    query,
    headers,
    rawBody,
    correlationId: supplied && /^[\w.:-]{1,128}$/.test(supplied) ? supplied : requestId,
    principal: undefined,
    event: event as APIGatewayProxyEventV2,
    context,
  };
}

export function toResult(res: HttpResponse, correlationId: string): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = { 'x-correlation-id': correlationId, ...(res.headers ?? {}) };
  if (res.rawBody !== undefined) return { statusCode: res.statusCode, headers, body: res.rawBody };
  if (res.body === undefined) return { statusCode: res.statusCode, headers };
  headers['content-type'] ??= JSON_TYPE;
  return { statusCode: res.statusCode, headers, body: JSON.stringify(res.body) };
}

/** Maps any thrown value to a response: AppErrors keep their status; the rest are a bare 500. */
export function errorResponse(error: unknown, req: HttpRequest, options?: RouteOptions): HttpResponse {
  if (error instanceof AppError) {
    const custom = options?.formatError?.(error, req);
    if (custom) return { ...custom, headers: { ...error.headers, ...(custom.headers ?? {}) } };
    if (error.status >= 500) logger.error('request failed', { error, code: error.code });
    else logger.info('request refused', { status: error.status, code: error.code, reason: error.message });
    return { statusCode: error.status, body: error.toBody(), headers: error.headers };
  }
  logger.error('unexpected error', { error });
  const internal = new AppError(500, 'INTERNAL_ERROR', 'An unexpected error occurred; it has been logged.');
  return {
    statusCode: 500,
    body: internal.toBody(),
    ...(options?.formatError ? (options.formatError(internal, req) ?? {}) : {}),
  };
}

/** Reads `Authorization: Bearer …` and verifies it; 401 missing/invalid/expired, 403 missing scope. */
export async function authenticate(
  req: HttpRequest,
  route: RouteAuth,
  verifier: Verifier,
): Promise<AccessClaims> {
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim()) : null;
  if (!match)
    throw new UnauthorizedError('A bearer token is required: Authorization: Bearer <access_token>.');
  let claims: AccessClaims;
  try {
    claims = await verifier.verify(match[1]!);
  } catch (error) {
    if (error instanceof TokenInvalidError) {
      throw new UnauthorizedError(
        error.reason === 'expired' ? 'The access token has expired.' : 'The access token is invalid.',
        error.reason === 'expired' ? 'TOKEN_EXPIRED' : 'INVALID_TOKEN',
      );
    }
    throw error;
  }
  const missing = route.scopes.filter((s) => !claims.scopes.includes(s));
  if (missing.length) {
    throw new ForbiddenError(
      `The token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`,
      'INSUFFICIENT_SCOPE',
    );
  }
  return claims;
}

let defaultVerifier: Verifier | undefined;
function verifierFromEnv(): Verifier {
  if (!defaultVerifier) {
    const env = parseEnv(authEnvSchema);
    const common = { issuer: env.AUTH_ISSUER, audience: env.AUTH_AUDIENCE, clock: systemClock };
    if (env.AUTH_JWKS_URL) {
      defaultVerifier = createJwksVerifier({ jwks: httpJwks(env.AUTH_JWKS_URL), ...common });
    } else if (env.AUTH_PUBLIC_JWK) {
      defaultVerifier = createVerifier({ publicJwk: JSON.parse(env.AUTH_PUBLIC_JWK) as JWK, ...common });
    } else {
      throw new Error('Invalid environment configuration: set AUTH_JWKS_URL (or AUTH_PUBLIC_JWK)');
    }
  }
  return defaultVerifier;
}

/**
 * Builds an API Gateway (HTTP API v2) handler for one function of the manifest. Routes, their auth and
 * scopes come from `infra/wiring.ts`; a route declared there without an implementation (or the
 * reverse) fails at cold start. Stack: Powertools logger context → correlation id → auth → route →
 * error mapping (4xx keep their message; anything unexpected is a bare 500).
 */
export function httpHandler(options: HttpHandlerOptions) {
  const specs = options.specs ?? routeTable(options.functionName);
  const declared = new Set(specs.map(routeKey));
  const implemented = new Set(Object.keys(options.routes));
  const missing = [...declared].filter((k) => !implemented.has(k));
  const extra = [...implemented].filter((k) => !declared.has(k));
  if (missing.length || extra.length) {
    throw new Error(
      `Routes of ${options.functionName} disagree with the manifest: missing [${missing.join(', ')}], undeclared [${extra.join(', ')}]`,
    );
  }
  const table = new Map(
    specs.map((spec) => {
      const impl = options.routes[routeKey(spec)]!;
      return [
        routeKey(spec),
        typeof impl === 'function' ? { spec, handler: impl, options: {} } : { spec, ...impl },
      ];
    }),
  );
  const needsAuth = specs.some((s) => s.auth === 'jwt');
  const verifier = options.verifier ?? (needsAuth ? verifierFromEnv() : undefined);

  const base = async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const req = toRequest(event, context);
    logger.appendKeys({ correlation_id: req.correlationId, route: req.routeKey });
    annotate({ route: req.routeKey, orderId: req.pathParameters.orderId });
    const entry = table.get(req.routeKey);
    let result: APIGatewayProxyStructuredResultV2;
    try {
      if (!entry) throw new NotFoundError(`No route ${req.routeKey} in ${options.functionName}.`);
      if (entry.spec.auth === 'jwt') {
        req.principal = await authenticate(req, entry.spec, verifier!);
        logger.appendKeys({ tenant: req.principal.tenant, client_id: req.principal.sub });
        annotate({ tenant: req.principal.tenant });
      }
      const res = await entry.handler(req);
      result = toResult(res, req.correlationId);
    } catch (error) {
      result = toResult(errorResponse(error, req, entry?.options), req.correlationId);
    } finally {
      logger.removeKeys(['correlation_id', 'route', 'tenant', 'client_id']);
    }
    annotate({ statusCode: result.statusCode });
    return result;
  };

  // Logger context (the event is never logged), tracer subsegment and metrics: shared/telemetry.ts.
  return instrumented(base);
}
