import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as z from 'zod';

/**
 * The token signing keys, as the `auth-signing-key` secret holds them: `current` signs new tokens,
 * `next` is already published so verifiers know it before it signs anything, `previous` stays
 * published so tokens it signed keep verifying until they expire. Every key is an ES256 private JWK
 * whose `kid` is its RFC 7638 thumbprint. Rotation (functions/signing-key-rotator) shifts
 * next → current → previous and mints a new next.
 */
const privateJwkSchema = z.looseObject({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
  kid: z.string().min(1),
});

export const keySetSchema = z.object({
  current: privateJwkSchema,
  next: privateJwkSchema,
  previous: privateJwkSchema.optional(),
  /** When `current` started signing (ISO 8601). */
  rotatedAt: z.string().min(1),
});
export type KeySet = z.infer<typeof keySetSchema>;
export type PrivateSigningJwk = KeySet['current'];

/** The pre-rotation secret shape (`{privateJwk}`), read once so its tokens survive the first rotation. */
export const legacySecretSchema = z.object({ privateJwk: privateJwkSchema.partial({ kid: true }) });

/**
 * What the token function accepts in the secret: a key set, or (until the first rotation after the
 * upgrade, which the rotation schedule runs at deploy) the legacy `{privateJwk}` as the only key.
 */
export const signingSecretSchema = z.union([
  keySetSchema,
  legacySecretSchema.transform(
    (legacy): KeySet => ({ current: legacy.privateJwk, next: legacy.privateJwk, rotatedAt: '' }) as KeySet,
  ),
]);

/** Generates an ES256 private JWK with `kid` = thumbprint, `alg` and `use`. */
export async function generateSigningJwk(): Promise<PrivateSigningJwk> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  return privateJwkSchema.parse({ ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' });
}

/** The public half of a signing key, as published in the JWKS (never `d`). */
export function publicJwkOf(privateJwk: JWK): JWK {
  const { kty, crv, x, y, kid } = privateJwk;
  return { kty, crv, x, y, ...(kid ? { kid } : {}), alg: 'ES256', use: 'sig' };
}

/** The JWKS document: previous (if any), current and next, public halves only. */
export function publicKeySet(set: KeySet): { keys: JWK[] } {
  const keys = new Map<string | undefined, JWK>();
  for (const k of [set.previous, set.current, set.next])
    if (k && !keys.has(k.kid)) keys.set(k.kid, publicJwkOf(k));
  return { keys: [...keys.values()] };
}

/**
 * The key set after one rotation of `old` (whatever the secret held: a key set, the legacy
 * `{privateJwk}`, or the random string Secrets Manager generated at creation).
 */
export async function rotateKeySet(old: unknown, now: Date): Promise<KeySet> {
  const rotatedAt = now.toISOString();
  const set = keySetSchema.safeParse(old);
  if (set.success) {
    return {
      previous: set.data.current,
      current: set.data.next,
      next: await generateSigningJwk(),
      rotatedAt,
    };
  }
  const legacy = legacySecretSchema.safeParse(old);
  const fresh = await generateSigningJwk();
  const next = await generateSigningJwk();
  if (legacy.success) {
    const jwk = legacy.data.privateJwk;
    const kid = jwk.kid ?? (await calculateJwkThumbprint(publicJwkOf(jwk)));
    return { previous: { ...jwk, kid }, current: fresh, next, rotatedAt };
  }
  return { current: fresh, next, rotatedAt };
}

export const parseJsonOrUndefined = (text: string | undefined): unknown => {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
};
