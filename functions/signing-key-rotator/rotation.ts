import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { importJWK, jwtVerify, SignJWT } from 'jose';
import * as z from 'zod';
import { keySetSchema, parseJsonOrUndefined, publicJwkOf, rotateKeySet } from '../../shared/auth/keyset.ts';

/** The event Secrets Manager sends a rotation function, once per step. */
export const rotationEventSchema = z.object({
  SecretId: z.string().min(1),
  ClientRequestToken: z.string().min(1),
  Step: z.enum(['createSecret', 'setSecret', 'testSecret', 'finishSecret']),
});
export type RotationEvent = z.infer<typeof rotationEventSchema>;

export interface RotationDeps {
  sm: Pick<SecretsManagerClient, 'send'>;
  now: () => Date;
  /**
   * A rotation drops `previous`: refused until this long after it stopped signing (token lifetime at
   * most 3600 s + 300 s the token function may keep signing from its cached secret).
   */
  minIntervalSeconds?: number;
}

/** Default `minIntervalSeconds`: the longest token lifetime plus the secret cache. */
export const MIN_ROTATION_INTERVAL_SECONDS = 3600 + 300;

/** A rotation asked for while tokens signed by the key it would drop may still be valid. */
export class RotationTooSoonError extends Error {
  constructor(readonly retryAt: Date) {
    super(
      `the signing keys rotated less than a token lifetime ago: rotating again before ${retryAt.toISOString()} would drop a key whose tokens may still be valid`,
    );
    this.name = 'RotationTooSoonError';
  }
}

/**
 * Secrets Manager rotation of the token signing key set (the four-step protocol, each step
 * idempotent because Secrets Manager retries them): createSecret stores the rotated set
 * (next → current → previous, a new next) as the AWSPENDING version under the request token;
 * setSecret has nothing to do (no external system holds the keys); testSecret checks the pending set
 * signs and verifies; finishSecret moves AWSCURRENT to it. Readers cache the secret, so the token
 * function keeps signing with the old current (now `previous`, still published) for a few minutes.
 */
export async function rotationStep(event: RotationEvent, deps: RotationDeps): Promise<void> {
  const { SecretId: id, ClientRequestToken: token, Step: step } = event;
  const meta = await deps.sm.send(new DescribeSecretCommand({ SecretId: id }));
  const stages = meta.VersionIdsToStages ?? {};
  const ours = stages[token];
  if (!ours) throw new Error(`version ${token} of the signing key secret does not exist`);
  if (ours.includes('AWSCURRENT')) return; // finished already (a retried step)
  if (!ours.includes('AWSPENDING')) throw new Error(`version ${token} is not pending rotation`);

  if (step === 'createSecret') {
    if (await pendingValue(deps, id, token)) return; // created by an earlier attempt
    const current = await deps.sm.send(
      new GetSecretValueCommand({ SecretId: id, VersionStage: 'AWSCURRENT' }),
    );
    const held = parseJsonOrUndefined(current.SecretString);
    const set = keySetSchema.safeParse(held);
    if (set.success && set.data.previous) {
      const retryAt = new Date(
        Date.parse(set.data.rotatedAt) + (deps.minIntervalSeconds ?? MIN_ROTATION_INTERVAL_SECONDS) * 1000,
      );
      if (deps.now() < retryAt) throw new RotationTooSoonError(retryAt);
    }
    const next = await rotateKeySet(held, deps.now());
    await deps.sm.send(
      new PutSecretValueCommand({
        SecretId: id,
        ClientRequestToken: token,
        SecretString: JSON.stringify(next),
        VersionStages: ['AWSPENDING'],
      }),
    );
    return;
  }
  if (step === 'setSecret') return;
  if (step === 'testSecret') {
    const set = keySetSchema.parse(parseJsonOrUndefined(await pendingValue(deps, id, token)));
    for (const jwk of [set.current, set.next]) {
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: jwk.kid })
        .sign(await importJWK(jwk, 'ES256'));
      await jwtVerify(jwt, await importJWK(publicJwkOf(jwk), 'ES256'), { algorithms: ['ES256'] });
    }
    return;
  }
  const currentVersion = Object.entries(stages).find(([, s]) => s.includes('AWSCURRENT'))?.[0];
  await deps.sm.send(
    new UpdateSecretVersionStageCommand({
      SecretId: id,
      VersionStage: 'AWSCURRENT',
      MoveToVersionId: token,
      ...(currentVersion ? { RemoveFromVersionId: currentVersion } : {}),
    }),
  );
}

async function pendingValue(deps: RotationDeps, id: string, token: string): Promise<string | undefined> {
  try {
    const out = await deps.sm.send(
      new GetSecretValueCommand({ SecretId: id, VersionId: token, VersionStage: 'AWSPENDING' }),
    );
    return out.SecretString;
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}
