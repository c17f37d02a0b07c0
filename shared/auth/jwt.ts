import { importJWK, type JWK, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
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

/** Builds a verifier for the public JWK (imported once, reused for every request). */
export function createVerifier(options: {
  publicJwk: JWK;
  issuer: string;
  audience: string;
  clock: Clock;
}): Verifier {
  const keyPromise = importJWK(options.publicJwk, ALG);
  return {
    async verify(token: string): Promise<AccessClaims> {
      try {
        const { payload } = await jwtVerify(token, await keyPromise, {
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
