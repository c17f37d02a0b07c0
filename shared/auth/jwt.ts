import {
  decodeProtectedHeader,
  importJWK,
  type JWK,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Clock } from '../clock.ts';

/** Claims the hub puts in every access token. The tenant comes from the credential, never the body. */
export interface AccessClaims {
  /** OAuth client id. */
  sub: string;
  tenant: string;
  scopes: string[];
  /** Set for the password grant. */
  username?: string;
  jti: string;
  exp: number;
  iat: number;
}

export const ALG = 'ES256';

export interface SignOptions {
  privateJwk: JWK;
  issuer: string;
  audience: string;
  ttlSeconds: number;
  clock: Clock;
}

export async function signAccessToken(
  claims: { sub: string; tenant: string; scopes: string[]; username?: string; jti: string },
  options: SignOptions,
): Promise<string> {
  const key = await importJWK(options.privateJwk, ALG);
  const iat = Math.floor(options.clock.now().getTime() / 1000);
  const payload: JWTPayload = { tenant: claims.tenant, scope: claims.scopes.join(' ') };
  if (claims.username) payload.username = claims.username;
  return new SignJWT(payload)
    .setProtectedHeader({
      alg: ALG,
      typ: 'at+jwt',
      ...(options.privateJwk.kid ? { kid: options.privateJwk.kid } : {}),
    })
    .setSubject(claims.sub)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + options.ttlSeconds)
    .setJti(claims.jti)
    .sign(key);
}

export class TokenInvalidError extends Error {
  constructor(
    readonly reason: 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
    this.name = 'TokenInvalidError';
  }
}

export interface Verifier {
  verify(token: string): Promise<AccessClaims>;
}

/** Builds a verifier for one public JWK (tests and single-key setups; `kid` is not required). */
export function createVerifier(options: {
  publicJwk: JWK;
  issuer: string;
  audience: string;
  clock: Clock;
}): Verifier {
  const keyPromise = importJWK(options.publicJwk, ALG);
  return verifierWith(async () => keyPromise, options);
}

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

/** Where a verifier gets the published keys from (`GET /.well-known/jwks.json`). */
export type JwksSource = () => Promise<{ keys: JWK[] }>;

export interface JwksVerifierOptions {
  jwks: JwksSource;
  issuer: string;
  audience: string;
  clock: Clock;
  /** How long a fetched key set is used before it is fetched again (default 300 s). */
  cacheSeconds?: number;
  /** A token with a kid the cached set lacks refetches the set at most this often (default 30 s). */
  refetchSeconds?: number;
}

/**
 * A verifier over the published key set: the token's `kid` selects the key; a token without a kid,
 * or whose kid is not in the set (a removed or unknown key), is refused. The set is cached
 * `cacheSeconds`; an unknown kid refetches it at most once per `refetchSeconds`, so a flood of forged
 * kids cannot turn into a flood of fetches. A failed refresh keeps using the set already held.
 */
export function createJwksVerifier(options: JwksVerifierOptions): Verifier {
  const cacheMs = (options.cacheSeconds ?? 300) * 1000;
  const refetchMs = (options.refetchSeconds ?? 30) * 1000;
  let held: { at: number; keys: Map<string, Promise<ImportedKey>> } | undefined;
  let inflight: Promise<void> | undefined;
  const now = () => options.clock.now().getTime();
  const refresh = (): Promise<void> => {
    inflight ??= (async () => {
      try {
        const { keys } = await options.jwks();
        const map = new Map<string, Promise<ImportedKey>>();
        for (const jwk of keys) {
          if (!jwk.kid || jwk.kty !== 'EC') continue;
          const imported = importJWK(jwk, ALG) as Promise<ImportedKey>;
          imported.catch(() => undefined);
          map.set(jwk.kid, imported);
        }
        held = { at: now(), keys: map };
      } catch (error) {
        if (!held) throw error;
        held = { ...held, at: now() }; // keep the stale set; try again after refetchSeconds
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  };
  return verifierWith(async (token) => {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new TokenInvalidError('invalid', 'token signature or claims are invalid');
    }
    if (typeof kid !== 'string' || !kid) throw new TokenInvalidError('invalid', 'token has no key id (kid)');
    if (!held || now() - held.at >= cacheMs) await refresh();
    else if (!held.keys.has(kid) && now() - held.at >= refetchMs) await refresh();
    const key = held?.keys.get(kid);
    if (!key) throw new TokenInvalidError('invalid', 'token is signed by a key that is not published');
    return key;
  }, options);
}

/** A JWKS source over HTTP (`AUTH_JWKS_URL`), with a timeout so a stuck fetch cannot hold a request. */
export function httpJwks(url: string, timeoutMs = 3000): JwksSource {
  return async () => {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`);
    const body = (await res.json()) as { keys?: unknown };
    if (!Array.isArray(body.keys)) throw new Error(`JWKS ${url} has no keys array`);
    return { keys: body.keys as JWK[] };
  };
}

function verifierWith(
  keyFor: (token: string) => Promise<ImportedKey>,
  options: { issuer: string; audience: string; clock: Clock },
): Verifier {
  return {
    async verify(token: string): Promise<AccessClaims> {
      try {
        const { payload } = await jwtVerify(token, await keyFor(token), {
          algorithms: [ALG],
          issuer: options.issuer,
          audience: options.audience,
          currentDate: options.clock.now(),
          requiredClaims: ['sub', 'exp', 'iat', 'jti'],
        });
        if (typeof payload.tenant !== 'string' || typeof payload.scope !== 'string') {
          throw new TokenInvalidError('invalid', 'token lacks tenant or scope');
        }
        return {
          sub: payload.sub as string,
          tenant: payload.tenant,
          scopes: payload.scope.split(' ').filter(Boolean),
          ...(typeof payload.username === 'string' ? { username: payload.username } : {}),
          jti: payload.jti as string,
          exp: payload.exp as number,
          iat: payload.iat as number,
        };
      } catch (error) {
        if (error instanceof TokenInvalidError) throw error;
        if (error instanceof joseErrors.JWTExpired)
          throw new TokenInvalidError('expired', 'token has expired');
        throw new TokenInvalidError('invalid', 'token signature or claims are invalid');
      }
    },
  };
}
