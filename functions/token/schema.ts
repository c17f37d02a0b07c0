import * as z from 'zod';
import {
  type GrantType,
  grantTypes,
  type OAuthErrorCode,
  tokenRequestSchema,
} from '../../shared/contracts/oauth.ts';
import { authEnvSchema, tableEnvSchema } from '../../shared/env.ts';
import { AppError, zodDetails } from '../../shared/errors.ts';
import { mediaType, parseJsonText, readBody } from '../../shared/http/body.ts';
import type { HttpRequest, HttpResponse } from '../../shared/http/types.ts';
import { logger } from '../../shared/logger.ts';

export const tokenEnvSchema = tableEnvSchema.extend({
  /** Lifetime of access tokens; short, because they cannot be revoked before they expire. */
  TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(900),
  AUTH_ISSUER: authEnvSchema.shape.AUTH_ISSUER,
  AUTH_AUDIENCE: authEnvSchema.shape.AUTH_AUDIENCE,
});

/** Token responses and errors carry credentials: never cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  invalid_scope: 400,
};

/** An RFC 6749 §5.2 error; `code` is the OAuth error code. */
export class OAuthError extends AppError {
  constructor(code: OAuthErrorCode, description: string, headers: Record<string, string> = {}) {
    super(STATUS[code], code, description, [], headers);
  }
}

/** invalid_client, with the Basic challenge when the client tried Basic or sent no credentials. */
export function invalidClient(description: string, challenge: boolean): OAuthError {
  return new OAuthError(
    'invalid_client',
    description,
    challenge ? { 'www-authenticate': 'Basic realm="switchboard", charset="UTF-8"' } : {},
  );
}

/**
 * `formatError` of the token route: every refusal, including the kernel's 400/413/415 for malformed,
 * oversized or mistyped bodies, answers `{error, error_description}` (RFC 6749 §5.2) and no-store.
 */
export function formatOAuthError(error: AppError): HttpResponse {
  const code =
    error instanceof OAuthError ? error.code : error.status >= 500 ? 'server_error' : 'invalid_request';
  if (error.status < 500) logger.info('token request refused', { status: error.status, code });
  return {
    statusCode: error.status,
    body: { error: code, error_description: error.message },
    headers: { ...NO_STORE },
  };
}

export interface ClientAuth {
  clientId: string;
  clientSecret: string;
  method: 'basic' | 'body';
}

/** A token request that is well-formed; whether it is allowed is the use case's business. */
export interface TokenCommand {
  grantType: GrantType;
  client: ClientAuth;
  /** Password grant only. */
  username?: string;
  password?: string;
  /** Requested scopes, deduplicated; undefined means "every scope of the client". */
  scopes?: string[];
}

const FORM = 'application/x-www-form-urlencoded';
/** A token request is a handful of short parameters. */
const MAX_BODY_BYTES = 8 * 1024;
/** RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

function formParams(text: string): Record<string, string> {
  const params = new URLSearchParams(text);
  const out: Record<string, string> = {};
  for (const name of new Set(params.keys())) {
    // RFC 6749 §3.2: parameters MUST NOT be included more than once.
    if (params.getAll(name).length > 1)
      throw new OAuthError('invalid_request', `Parameter ${name} is repeated.`);
    out[name] = params.get(name)!;
  }
  return out;
}

function jsonParams(text: string): Record<string, unknown> {
  const value = parseJsonText(text);
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new OAuthError('invalid_request', 'The body must be a JSON object of token request parameters.');
  }
  return value as Record<string, unknown>;
}

/** Parses `Authorization: Basic` (RFC 6749 §2.3.1: id and secret are form-urlencoded first). */
export function basicCredentials(header: string | undefined): Omit<ClientAuth, 'method'> | undefined {
  if (header === undefined) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/=._~-]+)\s*$/i.exec(header.trim());
  if (!match) {
    throw invalidClient('Client authentication must use HTTP Basic or client_id/client_secret.', true);
  }
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) throw invalidClient('The Basic credentials are malformed.', true);
  const formDecode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return {
    clientId: formDecode(decoded.slice(0, colon)),
    clientSecret: formDecode(decoded.slice(colon + 1)),
  };
}

/**
 * Reads and checks the shape of a token request (RFC 6749 §4.3, §4.4): form-encoded or JSON body,
 * client authentication by Basic or body (not both), parameters the grant needs. Throws OAuthError.
 */
export function readTokenCommand(req: HttpRequest): TokenCommand {
  const text = readBody(req, { contentTypes: [FORM, 'application/json'], maxBytes: MAX_BODY_BYTES });
  const raw = mediaType(req) === FORM ? formParams(text) : jsonParams(text);
  // RFC 6749 §3.1: parameters sent without a value are treated as omitted.
  const present = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== '' && v !== null));
  const parsed = tokenRequestSchema.safeParse(present);
  if (!parsed.success) {
    const first = zodDetails(parsed.error.issues)[0];
    const problem =
      first?.field === 'grant_type' && present.grant_type === undefined
        ? 'grant_type is required.'
        : `Parameter ${first?.field ?? 'body'} is invalid: ${first?.message ?? 'malformed'}.`;
    throw new OAuthError('invalid_request', problem);
  }
  const p = parsed.data;
  const grantType = grantTypes.find((g) => g === p.grant_type);
  if (!grantType) {
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type ${p.grant_type} is not supported; use ${grantTypes.join(' or ')}.`,
    );
  }

  const basic = basicCredentials(req.headers.authorization);
  let client: ClientAuth;
  if (basic) {
    if (p.client_secret !== undefined || (p.client_id !== undefined && p.client_id !== basic.clientId)) {
      throw new OAuthError(
        'invalid_request',
        'Use one client authentication method: HTTP Basic or client_id/client_secret in the body, not both.',
      );
    }
    client = { ...basic, method: 'basic' };
  } else {
    if (p.client_id === undefined) {
      throw invalidClient('Client authentication is required: HTTP Basic or client_id/client_secret.', true);
    }
    if (p.client_secret === undefined) throw invalidClient('client_secret is required.', false);
    client = { clientId: p.client_id, clientSecret: p.client_secret, method: 'body' };
  }

  if (grantType === 'password') {
    const missing = (['username', 'password'] as const).filter((k) => p[k] === undefined);
    if (missing.length) {
      throw new OAuthError('invalid_request', `The password grant requires ${missing.join(' and ')}.`);
    }
  }

  let scopes: string[] | undefined;
  if (p.scope !== undefined) {
    const tokens = p.scope.split(' ').filter(Boolean);
    if (tokens.length === 0 || tokens.some((t) => !SCOPE_TOKEN.test(t))) {
      throw new OAuthError('invalid_scope', 'scope must be a space-separated list of scope names.');
    }
    scopes = [...new Set(tokens)];
  }
  return {
    grantType,
    client,
    ...(grantType === 'password' ? { username: p.username!, password: p.password! } : {}),
    ...(scopes ? { scopes } : {}),
  };
}
