import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { AccessClaims } from '../auth/jwt.ts';

export interface HttpRequest {
  method: string;
  path: string;
  /** `POST /v1/orders/{orderId}`, as API Gateway sets it. */
  routeKey: string;
  pathParameters: Record<string, string>;
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Decoded body text (base64 bodies are decoded), or undefined. */
  rawBody: string | undefined;
  correlationId: string;
  /** Set on routes with `auth: 'jwt'` once the token is verified. */
  principal: AccessClaims | undefined;
  event: APIGatewayProxyEventV2;
  context: Context;
}

export interface HttpResponse {
  statusCode: number;
  /** Serialised as JSON unless `rawBody` is given. */
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export type RouteHandler = (req: HttpRequest) => Promise<HttpResponse>;

/** Request with a verified principal (routes declared `auth: 'jwt'`). */
export type AuthedRequest = HttpRequest & { principal: AccessClaims };

export const json = (
  statusCode: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse => ({
  statusCode,
  body,
  headers,
});
