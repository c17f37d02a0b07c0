import {
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { type SecretStore, type SigningKeyResult, signingKeyLifecycle } from './signing-key.ts';

/**
 * onEvent handler of the signing-key custom resource (CDK Provider framework): generates the ES256
 * key pair on Create (and on Update when `keyVersion` changes), stores the private JWK in the
 * `auth-signing-key` secret and returns the public JWK as the `PublicJwk` attribute.
 */
const client = new SecretsManagerClient({});

const store: SecretStore = {
  async read(secretId) {
    const out = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    return out.SecretString;
  },
  async write(secretId, value) {
    await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
  },
};

export const handler = (event: CloudFormationCustomResourceEvent): Promise<SigningKeyResult> =>
  signingKeyLifecycle(event, { store });
