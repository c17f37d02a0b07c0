import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import {
  appDirectSecretSchema,
  baseUrlProblem,
  credentialsOf,
  HOME_MARKETPLACE_ID,
} from '../../shared/appdirect/marketplaces.ts';
import { clientCredentialsSchema, readSecretJson } from '../../shared/clients/credentials.ts';
import { ZuoraClient } from '../../shared/clients/zuora.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { type SubmissionLine, UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { baseEnvSchema, busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { PermanentError } from '../../shared/errors.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { awsClient } from '../../shared/telemetry.ts';
import { usageEnvSchema, usageShards } from '../../shared/usage/config.ts';
import { AppDirectClient, AppDirectUsageBiller } from './appdirect-usage.ts';
import type { PlanDeps, RunBillingDeps } from './run-billing.ts';
import { ZuoraUsageBiller, zuoraDateFormats } from './zuora-usage.ts';

/** The planner's adapters: the run store, the slices queue and the usage settings. */
export function planDepsFromEnv(): PlanDeps {
  const env = parseEnv(
    baseEnvSchema
      .extend(tableEnvSchema.shape)
      .extend(usageEnvSchema.shape)
      .extend({ QUEUE_USAGE_BILLING_SLICES_URL: z.string().url() }),
  );
  const sqs = awsClient(SQSClient, {});
  return {
    billing: new UsageBillingStore(documentClient(), env.TABLE_NAME),
    slices: {
      send: async (messages) => {
        for (let i = 0; i < messages.length; i += 10) {
          const batch = messages.slice(i, i + 10);
          const res = await sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: env.QUEUE_USAGE_BILLING_SLICES_URL,
              Entries: batch.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
            }),
          );
          if (res.Failed?.length) throw new Error(`could not queue ${res.Failed.length} billing slices`);
        }
      },
    },
    periodShards: usageShards(env).period,
    clock: systemClock,
    ids: ulidGenerator,
    config: { lateWindowDays: env.USAGE_LATE_WINDOW_DAYS },
  };
}

/**
 * The billing worker's adapters, built once per execution environment from its environment
 * (table, bus, partner base URLs and credentials secrets, usage settings from the manifest).
 */
export function billingDepsFromEnv(): RunBillingDeps {
  const env = parseEnv(
    baseEnvSchema
      .extend(tableEnvSchema.shape)
      .extend(busEnvSchema.shape)
      .extend(usageEnvSchema.shape)
      .extend({
        ZUORA_BASE_URL: z.string().url(),
        APPDIRECT_BASE_URL: z.string().url(),
        USAGE_ZUORA_DATE_FORMAT: z.enum(zuoraDateFormats).default('MM/DD/YYYY'),
        USAGE_POLL_ATTEMPTS: z.coerce.number().int().min(1).default(20),
        USAGE_POLL_INTERVAL_MS: z.coerce.number().int().min(0).default(5000),
        USAGE_LEASE_SECONDS: z.coerce.number().int().min(0).default(1800),
        USAGE_RETRY_BASE_SECONDS: z.coerce.number().int().min(0).default(900),
        /** Comma-separated subscription numbers billed through AppDirect whatever the registry says. */
        USAGE_APPDIRECT_SUBSCRIPTIONS: z.string().default(''),
      }),
  );
  const doc = documentClient();
  const poll = { pollAttempts: env.USAGE_POLL_ATTEMPTS, pollIntervalMs: env.USAGE_POLL_INTERVAL_MS };
  const zuora = new ZuoraClient({
    baseUrl: env.ZUORA_BASE_URL,
    clock: systemClock,
    credentials: () => readSecretJson('zuora-credentials', clientCredentialsSchema),
  });
  // One OAuth 2.0 client per marketplace: usage goes to the marketplace that holds the account.
  const appdirectClients = new Map<string, AppDirectClient>();
  const appdirectFor = (line: SubmissionLine | undefined) => {
    const marketplaceId = line?.marketplaceId ?? HOME_MARKETPLACE_ID;
    const baseUrl = line?.marketplaceBaseUrl ?? env.APPDIRECT_BASE_URL;
    const problem = baseUrlProblem(baseUrl, env.STAGE);
    if (problem)
      throw new PermanentError(`AppDirect marketplace base URL ${problem}`, 'APPDIRECT_CONFIGURATION');
    const cacheKey = `${marketplaceId}|${baseUrl}`;
    let client = appdirectClients.get(cacheKey);
    if (!client) {
      client = new AppDirectClient({
        baseUrl,
        clock: systemClock,
        credentials: async () => {
          const secret = await readSecretJson('appdirect-credentials', appDirectSecretSchema);
          const own = credentialsOf(secret, marketplaceId);
          return own?.clientId && own.clientSecret
            ? { clientId: own.clientId, clientSecret: own.clientSecret }
            : { clientId: secret.clientId, clientSecret: secret.clientSecret };
        },
      });
      appdirectClients.set(cacheKey, client);
    }
    return client;
  };
  return {
    records: new UsageRecordStore(doc, env.TABLE_NAME, usageShards(env)),
    billing: new UsageBillingStore(doc, env.TABLE_NAME),
    registry: new SubscriptionRegistry(doc, env.TABLE_NAME),
    billers: {
      zuora: new ZuoraUsageBiller(zuora, { dateFormat: env.USAGE_ZUORA_DATE_FORMAT, ...poll }),
      appdirect: new AppDirectUsageBiller(appdirectFor, poll),
    },
    publisher: publisherFromEnv(),
    clock: systemClock,
    ids: ulidGenerator,
    config: {
      lateWindowDays: env.USAGE_LATE_WINDOW_DAYS,
      leaseSeconds: env.USAGE_LEASE_SECONDS,
      retryBaseSeconds: env.USAGE_RETRY_BASE_SECONDS,
      retryMaxSeconds: 86_400,
      submissionConcurrency: 4,
      billerOverrides: Object.fromEntries(
        env.USAGE_APPDIRECT_SUBSCRIPTIONS.split(',')
          .map((n) => n.trim())
          .filter(Boolean)
          .map((n) => [n, 'appdirect' as const]),
      ),
    },
  };
}
