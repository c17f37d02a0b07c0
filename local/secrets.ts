import type { SecretName } from '../infra/wiring-types.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from './sandboxes/appdirect-credentials.ts';
import { LOCAL_LICENCE_SIGNING_KEY, LOCAL_SALESFORCE_CREDENTIALS } from './sandboxes/order-credentials.ts';
import { LOCAL_SAASHOP_CREDENTIALS } from './sandboxes/saashop-credentials.ts';
import { LOCAL_SCREENING_CREDENTIALS } from './sandboxes/screening-credentials.ts';
import { LOCAL_ZUORA_CREDENTIALS } from './sandboxes/zuora/credentials.ts';

/**
 * What each manifest secret holds on the local stage: the sandbox credentials and local keys. They
 * live here, under `local/`, and never in the manifest, so no deployable bundle can carry them
 * (`auth-signing-key` is generated per data folder by `local/signing-key.ts`). A capability that adds
 * a secret adds its local value here; `<data>/secrets.json` overrides any of them.
 */
export const localSecretValues: Partial<Record<SecretName, () => Record<string, unknown>>> = {
  'zuora-credentials': () => ({ ...LOCAL_ZUORA_CREDENTIALS }),
  'screening-credentials': () => ({ ...LOCAL_SCREENING_CREDENTIALS }),
  'salesforce-credentials': () => ({ ...LOCAL_SALESFORCE_CREDENTIALS }),
  'licence-signing-key': () => ({
    keyId: LOCAL_LICENCE_SIGNING_KEY.keyId,
    privateJwk: { ...LOCAL_LICENCE_SIGNING_KEY.privateJwk },
  }),
  'appdirect-credentials': () => ({ ...LOCAL_APPDIRECT_CREDENTIALS }),
  'saashop-credentials': () => ({ ...LOCAL_SAASHOP_CREDENTIALS }),
  'webhook-secrets-key': () => ({ key: 'local-only-webhook-secrets-key' }),
};
