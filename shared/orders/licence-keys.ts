import { createPrivateKey, sign } from 'node:crypto';
import { importJWK, type JWK, jwtVerify } from 'jose';
import * as z from 'zod';

/**
 * Licence keys are compact JWS (EdDSA / Ed25519) whose payload carries the licence: products,
 * quantities, term and customer. The product verifies them offline with the public key served at
 * `GET /v1/licences/public-key`. Shared by the licence provisioner (signs) and order intake (serves
 * the public key).
 */
export const licenceSigningKeySchema = z.object({
  keyId: z.string().min(1),
  privateJwk: z.object({ kty: z.literal('OKP'), crv: z.literal('Ed25519'), d: z.string(), x: z.string() }),
});
export type LicenceSigningKey = z.infer<typeof licenceSigningKeySchema>;

export const LICENCE_ALG = 'EdDSA';
export const LICENCE_ISSUER = 'switchboard-licensing';

/** The public half, as a JWK Set the product can pin. */
export function publicJwks(key: LicenceSigningKey) {
  const { d: _private, ...pub } = key.privateJwk;
  return { keys: [{ ...pub, kid: key.keyId, alg: LICENCE_ALG, use: 'sig' }] };
}

export const licenceClaimsSchema = z.object({
  lid: z.string(),
  orderId: z.string(),
  customer: z.object({ company: z.string(), country: z.string() }),
  products: z.array(
    z.object({
      productCode: z.string(),
      name: z.string(),
      quantity: z.number(),
      unit: z.string(),
      termMonths: z.number(),
    }),
  ),
  orderType: z.string(),
});
export type LicenceClaims = z.infer<typeof licenceClaimsSchema>;

/**
 * Signs a licence as a compact JWS with Node's own Ed25519 (no JOSE library in the provisioner's
 * bundle); `verifyLicence` (jose, what a product would use) checks the result in the tests.
 */
export async function signLicence(
  claims: LicenceClaims,
  key: LicenceSigningKey,
  times: { issuedAt: Date; expiresAt: Date },
): Promise<string> {
  const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
  const header = { alg: LICENCE_ALG, kid: key.keyId, typ: 'licence+jwt' };
  const payload = {
    ...claims,
    iss: LICENCE_ISSUER,
    sub: claims.lid,
    iat: seconds(times.issuedAt),
    nbf: seconds(times.issuedAt),
    exp: seconds(times.expiresAt),
  };
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(payload)}`;
  const privateKey = createPrivateKey({ key: key.privateJwk, format: 'jwk' });
  return `${signingInput}.${sign(null, Buffer.from(signingInput), privateKey).toString('base64url')}`;
}

/** Verifies a licence key with a public JWK (what the product does offline). */
export async function verifyLicence(
  token: string,
  publicJwk: JWK,
  currentDate?: Date,
): Promise<LicenceClaims> {
  const key = await importJWK(publicJwk, LICENCE_ALG);
  const { payload } = await jwtVerify(token, key, {
    issuer: LICENCE_ISSUER,
    algorithms: [LICENCE_ALG],
    ...(currentDate ? { currentDate } : {}),
  });
  return licenceClaimsSchema.parse(payload);
}
