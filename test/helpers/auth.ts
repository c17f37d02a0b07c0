import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createVerifier, signAccessToken, type Verifier } from '../../shared/auth/jwt.ts';
import { type Clock, systemClock } from '../../shared/clock.ts';

export interface TestKeys {
  privateJwk: JWK;
  publicJwk: JWK;
  verifier: Verifier;
  /** Signs a token as the token function would. */
  token(claims: {
    tenant: string;
    scopes: string[];
    sub?: string;
    username?: string;
    ttlSeconds?: number;
    clock?: Clock;
  }): Promise<string>;
  /** Sets AUTH_PUBLIC_JWK so handlers built from env verify these tokens. */
  applyEnv(): void;
}

export async function testKeys(): Promise<TestKeys> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), kid: 'test', alg: 'ES256' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'test', alg: 'ES256' };
  const verifier = createVerifier({
    publicJwk,
    issuer: 'switchboard',
    audience: 'switchboard-api',
    clock: systemClock,
  });
  return {
    privateJwk,
    publicJwk,
    verifier,
    token: (c) =>
      signAccessToken(
        {
          sub: c.sub ?? `${c.tenant}-client`,
          tenant: c.tenant,
          scopes: c.scopes,
          jti: crypto.randomUUID(),
          ...(c.username ? { username: c.username } : {}),
        },
        {
          privateJwk,
          issuer: 'switchboard',
          audience: 'switchboard-api',
          ttlSeconds: c.ttlSeconds ?? 900,
          clock: c.clock ?? systemClock,
        },
      ),
    applyEnv() {
      process.env.AUTH_PUBLIC_JWK = JSON.stringify(publicJwk);
    },
  };
}

/** A minimal but complete API Gateway HTTP API v2 event for a route (as the local runtime builds). */
export function apiEvent(options: {
  method: string;
  path: string;
  routeKey?: string;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | object;
}): APIGatewayProxyEventV2 {
  const body =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  const headers: Record<string, string> = {
    ...(typeof options.body === 'object' ? { 'content-type': 'application/json' } : {}),
    ...Object.fromEntries(Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
  };
  const rawQueryString = new URLSearchParams(options.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: options.routeKey ?? `${options.method} ${options.path}`,
    rawPath: options.path,
    rawQueryString,
    headers,
    ...(options.query ? { queryStringParameters: options.query } : {}),
    ...(options.pathParameters ? { pathParameters: options.pathParameters } : {}),
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: {
        method: options.method,
        path: options.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: crypto.randomUUID(),
      routeKey: options.routeKey ?? `${options.method} ${options.path}`,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
    ...(body !== undefined ? { body } : {}),
  };
}

/** A Lambda context good enough for handlers invoked directly in tests. */
export function testContext(functionName = 'test', timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: crypto.randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'test',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
