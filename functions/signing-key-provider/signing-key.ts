import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import * as z from 'zod';

/** Narrow view of Secrets Manager: the provider only reads and writes one secret string. */
export interface SecretStore {
  read(secretId: string): Promise<string | undefined>;
  write(secretId: string, value: string): Promise<void>;
}

/** What the Provider framework expects back from `onEvent`. */
export interface SigningKeyResult {
  PhysicalResourceId: string;
  Data?: { PublicJwk: string; Kid: string };
}

const propsSchema = z.object({
  SecretArn: z.string().min(1),
  KeyVersion: z.string().min(1),
});

/** The secret's shape, as the token function reads it: `{privateJwk}`. */
const secretSchema = z.object({
  privateJwk: z
    .object({ kty: z.literal('EC'), crv: z.literal('P-256'), x: z.string(), y: z.string(), d: z.string() })
    .loose(),
});

/** Generates an ES256 key pair; the `kid` is the RFC 7638 thumbprint so verifiers can pick keys. */
export async function generateSigningKey(): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  return { privateJwk, publicJwk: publicHalf(privateJwk) };
}

/** Public half of a private EC JWK, with a fixed member order so the attribute is stable. */
export function publicHalf(privateJwk: JWK): JWK {
  const { kty, crv, x, y, kid, alg, use } = privateJwk;
  return { kty, crv, x, y, kid, alg, use };
}

const result = (secretArn: string, version: string, publicJwk: JWK): SigningKeyResult => ({
  PhysicalResourceId: `${secretArn}#v${version}`,
  Data: { PublicJwk: JSON.stringify(publicJwk), Kid: String(publicJwk.kid ?? '') },
});

const parseJson = (text: string | undefined): unknown => {
  try {
    return JSON.parse(text ?? 'null');
  } catch {
    return null;
  }
};

/**
 * Create: new key. Update: a new key only when `KeyVersion` changed (a new physical id makes
 * CloudFormation send Delete for the old one, which is a no-op); otherwise the existing key's public
 * half is returned so the attribute stays available. Delete: nothing — the secret belongs to the
 * stateful stack and outlives this resource.
 */
export async function signingKeyLifecycle(
  event: CloudFormationCustomResourceEvent,
  deps: { store: SecretStore },
): Promise<SigningKeyResult> {
  if (event.RequestType === 'Delete') return { PhysicalResourceId: event.PhysicalResourceId };
  const props = propsSchema.parse(event.ResourceProperties);
  if (event.RequestType === 'Update') {
    const old = propsSchema.safeParse(event.OldResourceProperties);
    const unchanged =
      old.success && old.data.KeyVersion === props.KeyVersion && old.data.SecretArn === props.SecretArn;
    if (unchanged) {
      const current = secretSchema.safeParse(parseJson(await deps.store.read(props.SecretArn)));
      // A secret overwritten by hand with something else is repaired by generating a new key.
      if (current.success) {
        return result(props.SecretArn, props.KeyVersion, publicHalf(current.data.privateJwk as JWK));
      }
    }
  }
  const { privateJwk, publicJwk } = await generateSigningKey();
  await deps.store.write(props.SecretArn, JSON.stringify({ privateJwk }));
  return result(props.SecretArn, props.KeyVersion, publicJwk);
}
