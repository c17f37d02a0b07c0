import { envName, type PartnerName, type SecretName, type Wiring } from '../infra/wiring-types.ts';
import { LOCAL_KMS_KEY_ARN } from './kms.ts';
import { DEMO_LIST_PATH } from './screening/demo-list.ts';

export const LOCAL_TABLE = 'switchboard';
export const LOCAL_BUS = 'switchboard-local';
export const LOCAL_MAIL_FROM = 'licences@switchboard.local';

export const localSecretArn = (name: SecretName) =>
  `arn:aws:secretsmanager:us-east-1:000000000000:secret:switchboard/local/${name}`;
export const localQueueUrl = (runtimeUrl: string, name: string) => `${runtimeUrl}/_aws/000000000000/${name}`;
/** Locally a queue's DLQ is its own dead-letter list, addressed as the queue `<name>-dlq`. */
export const localDlqName = (name: string) => `${name}-dlq`;
export const localQueueArn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;
/** The console is served by the runtime itself: both loopback spellings may sign in. */
export const localConsoleOrigins = (runtimeUrl: string) => {
  const port = new URL(runtimeUrl).port;
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
};
export const localPartnerUrl = (runtimeUrl: string, name: PartnerName) => `${runtimeUrl}/_sandbox/${name}`;

/**
 * The environment every function sees locally: the same variable names the CDK construct sets
 * (derived from the same manifest uses), with values pointing at the runtime's emulated AWS APIs and
 * sandboxes. Each function's own `environment` from the manifest is layered on top per invocation
 * (see `functionEnvironment` and `local/lambda.ts`).
 */
export function localEnvironment(input: {
  wiring: Wiring;
  runtimeUrl: string;
  dynamoEndpoint: string;
}): Record<string, string> {
  const { wiring, runtimeUrl } = input;
  const env: Record<string, string> = {
    STAGE: 'local',
    SERVICE_NAME: 'switchboard',
    POWERTOOLS_SERVICE_NAME: 'switchboard',
    POWERTOOLS_METRICS_NAMESPACE: 'Switchboard',
    // EMF lines belong in CloudWatch; locally they only drown the request log (set it to false to see them).
    POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? 'true',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_ENDPOINT_URL_DYNAMODB: input.dynamoEndpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: `${runtimeUrl}/_aws`,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `${runtimeUrl}/_aws`,
    AWS_ENDPOINT_URL_SQS: `${runtimeUrl}/_aws`,
    AWS_ENDPOINT_URL_SESV2: `${runtimeUrl}/_aws`,
    AWS_ENDPOINT_URL_CLOUDWATCH: `${runtimeUrl}/_aws`,
    AWS_ENDPOINT_URL_KMS: `${runtimeUrl}/_aws`,
    CONSOLE_ORIGINS: localConsoleOrigins(runtimeUrl).join(','),
    DEAD_LETTER_QUEUES: JSON.stringify(
      Object.keys(wiring.queues).map((name) => ({
        name,
        url: localQueueUrl(runtimeUrl, localDlqName(name)),
        arn: localQueueArn(localDlqName(name)),
        sourceArn: localQueueArn(name),
      })),
    ),
    TABLE_NAME: LOCAL_TABLE,
    EVENT_BUS_NAME: LOCAL_BUS,
    AUTH_JWKS_URL: `${runtimeUrl}/.well-known/jwks.json`,
    AUTH_ISSUER: 'switchboard',
    AUTH_AUDIENCE: 'switchboard-api',
    MAIL_FROM: LOCAL_MAIL_FROM,
    // Used when SCREENING_PROVIDER=csl; in Lambda a packaged list must be named explicitly.
    SCREENING_LIST_PATH: process.env.SCREENING_LIST_PATH?.trim() || DEMO_LIST_PATH,
  };
  for (const name of Object.keys(wiring.secrets) as SecretName[])
    env[envName.secretArn(name)] = localSecretArn(name);
  for (const name of Object.keys(wiring.queues))
    env[envName.queueUrl(name)] = localQueueUrl(runtimeUrl, name);
  // One local KMS key (local/kms.ts) stands for every manifest key.
  for (const fn of Object.values(wiring.functions))
    for (const use of fn.uses)
      if (use.kind === 'kmsKey') env[envName.kmsKeyArn(use.name)] = LOCAL_KMS_KEY_ARN;
  const partners: PartnerName[] = ['zuora', 'salesforce', 'saashop', 'appdirect', 'screening'];
  for (const p of partners) env[envName.partnerBaseUrl(p)] = localPartnerUrl(runtimeUrl, p);
  return env;
}

/** Each function's own variables from the manifest (applied only while that function runs). */
export function functionEnvironments(wiring: Wiring): Record<string, Record<string, string>> {
  return Object.fromEntries(
    Object.entries(wiring.functions).map(([name, spec]) => [name, { ...(spec.environment ?? {}) }]),
  );
}
