import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { awsClient } from '../../shared/telemetry.ts';
import { usageEnvSchema, usageShards } from '../../shared/usage/config.ts';

/**
 * The submission function's adapters, built once per execution environment: registry, record and
 * billing stores on the table, the billing-run queue, and the usage settings of the manifest.
 */
export function submissionDepsFromEnv() {
  const env = parseEnv(
    tableEnvSchema.extend(usageEnvSchema.shape).extend({ QUEUE_USAGE_BILLING_RUNS_URL: z.string().url() }),
  );
  const doc = documentClient();
  const registry = new SubscriptionRegistry(doc, env.TABLE_NAME);
  const records = new UsageRecordStore(doc, env.TABLE_NAME, usageShards(env));
  const billing = new UsageBillingStore(doc, env.TABLE_NAME);
  const sqs = awsClient(SQSClient, {});
  const queue = {
    send: async (m: { runId: string }) => {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: env.QUEUE_USAGE_BILLING_RUNS_URL,
          MessageBody: JSON.stringify(m),
        }),
      );
    },
  };
  const config = {
    lateWindowDays: env.USAGE_LATE_WINDOW_DAYS,
    retentionDays: env.USAGE_RETENTION_DAYS,
    futureSkewSeconds: 300,
    writeConcurrency: 32,
  };
  return {
    registry,
    records,
    billing,
    runs: billing,
    queue,
    ids: ulidGenerator,
    clock: systemClock,
    config,
  };
}
