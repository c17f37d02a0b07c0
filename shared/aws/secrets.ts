import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsClient } from '../telemetry.ts';

let provider: SecretsProvider | undefined;

/**
 * Powertools Parameters' Secrets Manager provider over a traced client (`awsClient`), one per
 * execution environment, created on first use. Callers pass `maxAge` so values are cached.
 */
export function secretsProvider(): SecretsProvider {
  provider ??= new SecretsProvider({ awsSdkV3Client: awsClient(SecretsManagerClient, {}) });
  return provider;
}

/**
 * Forgets every cached secret value of this execution environment (Powertools' `clearCaches` only
 * clears its default providers, not this one). The local runtime calls it after rotating a secret so
 * the next read sees the new version at once.
 */
export function clearSecretsCache(): void {
  provider?.clearCache();
}
