import { createHash } from 'node:crypto';
import type { JWK } from 'jose';
import * as z from 'zod';
import { signAccessToken } from '../../shared/auth/jwt.ts';
import {
  CODE_TTL_SECONDS,
  CONSOLE_CLIENT_ID,
  OPERATOR_TENANT,
  type OperatorRepository,
  randomToken,
  SESSION_TTL_SECONDS,
  tokenHash,
} from '../../shared/auth/operators.ts';
import type { Clock } from '../../shared/clock.ts';
import { opsScopes } from '../../shared/contracts/oauth.ts';
import { mediaType, readBody } from '../../shared/http/body.ts';
import type { HttpRequest, HttpResponse } from '../../shared/http/types.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { logger } from '../../shared/logger.ts';
import type { TokenResponse } from './issue-token.ts';
import { invalidClient, NO_STORE, OAuthError } from './schema.ts';

/**
 * Operator sign-in: the OAuth 2.0 authorization code grant with PKCE (RFC 6749 §4.1, RFC 7636 S256
 * only) for the console, a public client that holds no secret. `GET /oauth/authorize` shows the
 * login page, `POST /oauth/authorize` checks the operator's password (scrypt) and redirects back
 * with a one-time code (60 s), `POST /oauth/token` exchanges it (and later a refresh token, rotated
 * at each use) for a short-lived access token, and `POST /oauth/revoke` (RFC 7009) ends the sign-in.
 * The redirect URI must be exactly one of the console's (`CONSOLE_ORIGINS` + `/console/`), so
 * neither a bad client id nor a bad redirect URI is ever redirected to (no open redirect).
 */
export interface OperatorAuthDeps {
  operators: Pick<
    OperatorRepository,
    | 'get'
    | 'recordFailure'
    | 'update'
    | 'putCode'
    | 'redeemCode'
    | 'linkCode'
    | 'putSession'
    | 'getSession'
    | 'rotateSession'
    | 'revokeSession'
  >;
  verifySecret(secret: string, hash: string): Promise<boolean>;
  dummyHash(): Promise<string>;
  signingKey(): Promise<JWK>;
  clock: Clock;
  ids: IdGenerator;
  /** Operator access tokens live shorter than clients' (default 600 s). */
  ttlSeconds: number;
  issuer: string;
  audience: string;
  consoleOrigins: string[];
}

const FORM = 'application/x-www-form-urlencoded';
/** RFC 7636 §4.1: 43-128 characters of the unreserved set. */
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export const redirectUris = (origins: string[]) => origins.map((o) => `${o.replace(/\/+$/, '')}/console/`);

const authorizeSchema = z.object({
  response_type: z.string(),
  client_id: z.string(),
  redirect_uri: z.string(),
  code_challenge: z.string().regex(CHALLENGE, 'must be the base64url SHA-256 of the code verifier'),
  code_challenge_method: z.literal('S256', 'must be S256'),
  state: z.string().min(8).max(512),
  scope: z.string().max(500).optional(),
});
type AuthorizeParams = z.infer<typeof authorizeSchema>;

function formOf(req: HttpRequest, maxBytes = 8 * 1024): Record<string, string> {
  const text = readBody(req, { contentTypes: [FORM], maxBytes });
  const out: Record<string, string> = {};
  const params = new URLSearchParams(text);
  for (const name of new Set(params.keys())) {
    if (params.getAll(name).length > 1)
      throw new OAuthError('invalid_request', `Parameter ${name} is repeated.`);
    out[name] = params.get(name)!;
  }
  return out;
}

/**
 * The authorization request. A bad client or redirect URI is answered on the page itself (never a
 * redirect); any other problem is sent back to the (known good) redirect URI as `error`.
 */
function readAuthorize(
  raw: Record<string, string>,
  deps: OperatorAuthDeps,
): { ok: AuthorizeParams & { scopes: string[] } } | { page: string } | { redirect: string } {
  if (raw.client_id !== CONSOLE_CLIENT_ID) return { page: 'Unknown client.' };
  if (!raw.redirect_uri || !redirectUris(deps.consoleOrigins).includes(raw.redirect_uri)) {
    return { page: 'This redirect address is not registered for the console.' };
  }
  const back = (error: string, description: string) => {
    const url = new URL(raw.redirect_uri!);
    url.searchParams.set('error', error);
    url.searchParams.set('error_description', description);
    if (raw.state) url.searchParams.set('state', raw.state.slice(0, 512));
    return { redirect: url.toString() };
  };
  if (raw.response_type !== 'code') return back('unsupported_response_type', 'response_type must be code');
  const parsed = authorizeSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return back('invalid_request', `${String(issue.path[0] ?? 'request')} ${issue.message}`);
  }
  const requested = parsed.data.scope?.split(' ').filter(Boolean) ?? [...opsScopes];
  if (requested.some((s) => !(opsScopes as string[]).includes(s))) {
    return back('invalid_scope', `the console may ask for ${opsScopes.join(' ')}`);
  }
  return { ok: { ...parsed.data, scopes: requested } };
}

const STYLE =
  'body{font:16px system-ui,sans-serif;background:#f4f5f7;color:#1b1f24;display:grid;place-items:center;min-height:100vh;margin:0}' +
  'main{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(22rem,90vw)}' +
  'h1{font-size:1.3rem;margin:0 0 1rem}label{display:block;margin:.8rem 0 .2rem;font-weight:600}' +
  'input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #767676;border-radius:4px;font:inherit}' +
  'input:focus,button:focus{outline:3px solid #2b6cb0;outline-offset:1px}' +
  'button{margin-top:1.2rem;width:100%;padding:.6rem;border:0;border-radius:4px;background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer}' +
  '[role=alert]{background:#fde8e8;color:#8a1c1c;padding:.6rem;border-radius:4px}';
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(status: number, body: string, deps: OperatorAuthDeps): HttpResponse {
  return {
    statusCode: status,
    rawBody: `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sign in · Switchboard operations</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      ...NO_STORE,
      // No script at all; the form may only post here and be redirected to the console.
      'content-security-policy': `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; form-action 'self' ${deps.consoleOrigins.join(' ')}; frame-ancestors 'none'; base-uri 'none'`,
      'x-frame-options': 'DENY',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    },
  };
}

function loginForm(p: AuthorizeParams, deps: OperatorAuthDeps, error?: string, username = ''): string {
  const hidden = (
    [
      'response_type',
      'client_id',
      'redirect_uri',
      'code_challenge',
      'code_challenge_method',
      'state',
      'scope',
    ] as const
  )
    .filter((k) => p[k] !== undefined)
    .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(String(p[k]))}">`)
    .join('');
  void deps;
  return (
    `<h1>Switchboard operations</h1>` +
    (error ? `<p role="alert" id="login-error">${escapeHtml(error)}</p>` : '') +
    `<form method="post" action="/oauth/authorize"${error ? ' aria-describedby="login-error"' : ''}>${hidden}` +
    `<label for="username">Username</label><input id="username" name="username" autocomplete="username" required autofocus value="${escapeHtml(username)}">` +
    `<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>` +
    `<button type="submit">Sign in</button></form>`
  );
}

const redirect = (location: string): HttpResponse => ({
  statusCode: 302,
  headers: { location, ...NO_STORE, 'referrer-policy': 'no-referrer' },
});

/** `GET /oauth/authorize`: the login page (or an error page / error redirect). */
export function showLogin(req: HttpRequest, deps: OperatorAuthDeps): HttpResponse {
  const read = readAuthorize(req.query, deps);
  if ('page' in read)
    return page(400, `<h1>Sign-in refused</h1><p role="alert">${escapeHtml(read.page)}</p>`, deps);
  if ('redirect' in read) return redirect(read.redirect);
  return page(200, loginForm(read.ok, deps), deps);
}

/** `POST /oauth/authorize`: checks the password, then redirects back with a one-time code. */
export async function submitLogin(req: HttpRequest, deps: OperatorAuthDeps): Promise<HttpResponse> {
  const form = formOf(req);
  const read = readAuthorize(form, deps);
  if ('page' in read)
    return page(400, `<h1>Sign-in refused</h1><p role="alert">${escapeHtml(read.page)}</p>`, deps);
  if ('redirect' in read) return redirect(read.redirect);
  const now = deps.clock.now();
  const username = (form.username ?? '').trim().toLowerCase();
  const operator = await deps.operators.get(username);
  // Same scrypt work whether or not the operator exists, so timing does not tell.
  const ok = await deps.verifySecret(form.password ?? '', operator?.passwordHash ?? (await deps.dummyHash()));
  const locked = operator?.lockedUntil !== undefined && Date.parse(operator.lockedUntil) > now.getTime();
  if (!operator || !ok || operator.status !== 'enabled' || locked) {
    if (operator && !ok) await deps.operators.recordFailure(username, now);
    logger.info('operator sign-in refused', { reason: locked ? 'locked' : 'credentials' });
    return page(
      401,
      loginForm(
        read.ok,
        deps,
        locked ? 'Too many failed attempts; try again in 15 minutes.' : 'Incorrect username or password.',
        username,
      ),
      deps,
    );
  }
  if (operator.failures > 0 || operator.lockedUntil) {
    await deps.operators.update(username, { failures: 0, lockedUntil: undefined }, now);
  }
  const code = randomToken();
  await deps.operators.putCode(tokenHash(code), {
    username,
    clientId: read.ok.client_id,
    redirectUri: read.ok.redirect_uri,
    codeChallenge: read.ok.code_challenge,
    scopes: read.ok.scopes.filter((s) => (operator.scopes as string[]).includes(s)),
    createdAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + CODE_TTL_SECONDS,
  });
  const url = new URL(read.ok.redirect_uri);
  url.searchParams.set('code', code);
  url.searchParams.set('state', read.ok.state);
  logger.info('operator signed in');
  return redirect(url.toString());
}

/**
 * The operator grants of `POST /oauth/token` (`authorization_code`, `refresh_token`); undefined
 * for any other grant, which the client grants handle.
 */
export async function operatorGrant(
  req: HttpRequest,
  deps: OperatorAuthDeps,
): Promise<TokenResponse | undefined> {
  if (mediaType(req) !== FORM) return undefined;
  const peek = new URLSearchParams(req.rawBody ?? '').get('grant_type');
  if (peek !== 'authorization_code' && peek !== 'refresh_token') return undefined;
  const form = formOf(req);
  if (form.client_id !== CONSOLE_CLIENT_ID || form.client_secret !== undefined || req.headers.authorization) {
    throw new OAuthError(
      'unauthorized_client',
      `Only the operator console (a public client, no secret) uses the ${peek} grant.`,
    );
  }
  const now = deps.clock.now();
  if (peek === 'authorization_code') {
    for (const k of ['code', 'redirect_uri', 'code_verifier'] as const) {
      if (!form[k]) throw new OAuthError('invalid_request', `${k} is required.`);
    }
    if (!VERIFIER.test(form.code_verifier!)) {
      throw new OAuthError(
        'invalid_request',
        'code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~.',
      );
    }
    const hash = tokenHash(form.code!);
    const redeemed = await deps.operators.redeemCode(hash, now);
    if (!redeemed) throw new OAuthError('invalid_grant', 'The authorization code is invalid or expired.');
    if ('replayed' in redeemed) {
      // RFC 6749 §4.1.2: a code used twice revokes what it issued.
      if (redeemed.replayed.sessionId)
        await deps.operators.revokeSession(redeemed.replayed.sessionId, 'code replayed', now);
      logger.warn('authorization code replayed');
      throw new OAuthError('invalid_grant', 'The authorization code was already used.');
    }
    const code = redeemed.code;
    const challenge = createHash('sha256').update(form.code_verifier!).digest('base64url');
    if (
      code.expiresAt * 1000 < now.getTime() ||
      code.clientId !== form.client_id ||
      code.redirectUri !== form.redirect_uri ||
      challenge !== code.codeChallenge
    ) {
      throw new OAuthError(
        'invalid_grant',
        'The authorization code is invalid or expired, or the code_verifier does not match.',
      );
    }
    const operator = await deps.operators.get(code.username);
    if (operator?.status !== 'enabled') throw new OAuthError('invalid_grant', 'The operator is disabled.');
    const refresh = randomToken();
    const sessionId = deps.ids.next('ses');
    await deps.operators.putSession({
      id: sessionId,
      username: code.username,
      clientId: code.clientId,
      scopes: code.scopes,
      tokenHash: tokenHash(refresh),
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + SESSION_TTL_SECONDS,
    });
    await deps.operators.linkCode(hash, sessionId);
    return issue(code.username, code.scopes, `${sessionId}.${refresh}`, deps);
  }
  if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required.');
  const [sessionId = '', secret = ''] = form.refresh_token.split('.');
  const session = await deps.operators.getSession(sessionId);
  const presented = tokenHash(secret);
  if (
    !session ||
    session.revokedAt ||
    session.expiresAt * 1000 < now.getTime() ||
    session.clientId !== form.client_id
  ) {
    throw new OAuthError('invalid_grant', 'The sign-in has ended; sign in again.');
  }
  if (session.tokenHash !== presented) {
    // An old refresh token came back: someone else may hold this sign-in's tokens. End it.
    await deps.operators.revokeSession(session.id, 'refresh token reused', now);
    logger.warn('refresh token reused; session revoked');
    throw new OAuthError('invalid_grant', 'The sign-in has ended; sign in again.');
  }
  const operator = await deps.operators.get(session.username);
  if (operator?.status !== 'enabled') throw new OAuthError('invalid_grant', 'The operator is disabled.');
  const next = randomToken();
  if (!(await deps.operators.rotateSession(session.id, presented, tokenHash(next)))) {
    throw new OAuthError('invalid_grant', 'The sign-in has ended; sign in again.');
  }
  const scopes = session.scopes.filter((s) => (operator.scopes as string[]).includes(s));
  return issue(session.username, scopes, `${session.id}.${next}`, deps);
}

async function issue(
  username: string,
  scopes: string[],
  refreshToken: string,
  deps: OperatorAuthDeps,
): Promise<TokenResponse & { refresh_token: string }> {
  const accessToken = await signAccessToken(
    { sub: username, tenant: OPERATOR_TENANT, scopes, username, jti: deps.ids.next() },
    {
      privateJwk: await deps.signingKey(),
      issuer: deps.issuer,
      audience: deps.audience,
      ttlSeconds: deps.ttlSeconds,
      clock: deps.clock,
    },
  );
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: deps.ttlSeconds,
    scope: scopes.join(' '),
    refresh_token: refreshToken,
  };
}

/** `POST /oauth/revoke` (RFC 7009): ends the sign-in of a refresh token; 200 whatever it was. */
export async function revokeToken(req: HttpRequest, deps: OperatorAuthDeps): Promise<HttpResponse> {
  const form = formOf(req);
  if (form.client_id !== CONSOLE_CLIENT_ID) throw invalidClient('Unknown client.', false);
  if (!form.token) throw new OAuthError('invalid_request', 'token is required.');
  const [sessionId = '', secret = ''] = form.token.split('.');
  const session = await deps.operators.getSession(sessionId);
  if (session && session.tokenHash === tokenHash(secret)) {
    await deps.operators.revokeSession(session.id, 'signed out', deps.clock.now());
    logger.info('operator signed out');
  }
  return { statusCode: 200, headers: { ...NO_STORE } };
}
