import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClient, instrumented } from '../../shared/telemetry.ts';
import { rotationEventSchema, rotationStep } from './rotation.ts';

/**
 * Rotation function of the `auth-signing-key` secret, called by Secrets Manager on its schedule
 * (RotationSchedule in infra/constructs/signing-key.ts) once per step. No API, no manifest entry.
 */
const sm = awsClient(SecretsManagerClient, {});

export const handler = instrumented(async (event: unknown): Promise<void> => {
  await rotationStep(rotationEventSchema.parse(event), { sm, now: () => new Date() });
});
