import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { awsClient, instrumented } from '../../shared/telemetry.ts';
import { type SecretStore, type SigningKeyResult, signingKeyLifecycle } from './signing-key.ts';

/**
 * onEvent handler of the signing-key custom resource (CDK Provider framework): generates the ES256
 * key pair on Create (and on Update when `keyVersion` changes), stores the private JWK in the
 * `auth-signing-key` secret and returns the public JWK as the `PublicJwk` attribute.
 */
const client = awsClient(SecretsManagerClient, {});

const store: SecretStore = {
  async read(secretId) {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return out.SecretString;
  },
  async write(secretId, value) {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  },
};

export const handler = instrumented(
  (event: CloudFormationCustomResourceEvent, _context: Context): Promise<SigningKeyResult> =>
    signingKeyLifecycle(event, { store }),
);
