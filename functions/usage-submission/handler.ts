import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { queryParams } from '../../shared/http/body.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { type AuthedRequest, json } from '../../shared/http/types.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { usageEnvSchema, usageShards } from '../../shared/usage/config.ts';
import { getBillingRun, startBillingRun } from './billing-runs.ts';
import { readUsageRequest } from './read-usage-request.ts';
import { summaryQuerySchema } from './schema.ts';
import { submitUsage } from './submit-usage.ts';
import { summarizeUsage } from './summarize-usage.ts';

const env = parseEnv(
  tableEnvSchema.extend(usageEnvSchema.shape).extend({ QUEUE_USAGE_BILLING_RUNS_URL: z.string().url() }),
);
const doc = documentClient();
const registry = new SubscriptionRegistry(doc, env.TABLE_NAME);
const records = new UsageRecordStore(doc, env.TABLE_NAME, usageShards(env));
const billing = new UsageBillingStore(doc, env.TABLE_NAME);
const sqs = new SQSClient({});
const queue = {
  send: async (m: { runId: string }) => {
    await sqs.send(
      new SendMessageCommand({ QueueUrl: env.QUEUE_USAGE_BILLING_RUNS_URL, MessageBody: JSON.stringify(m) }),
    );
  },
};
const config = {
  lateWindowDays: env.USAGE_LATE_WINDOW_DAYS,
  retentionDays: env.USAGE_RETENTION_DAYS,
  futureSkewSeconds: 300,
  writeConcurrency: 32,
};
const deps = {
  registry,
  records,
  billing,
  runs: billing,
  queue,
  ids: ulidGenerator,
  clock: systemClock,
  config,
};

export const handler = httpHandler({
  functionName: 'usage-submission',
  routes: {
    'POST /v1/usage': async (req) =>
      json(
        202,
        await submitUsage(
          { tenant: (req as AuthedRequest).principal.tenant, records: readUsageRequest(req) },
          deps,
        ),
      ),
    'GET /v1/usage/summary': async (req) =>
      json(
        200,
        await summarizeUsage(
          { tenant: (req as AuthedRequest).principal.tenant, ...queryParams(req, summaryQuerySchema) },
          deps,
        ),
      ),
    'POST /v1/usage/billing-runs': async (req) =>
      json(202, await startBillingRun({ requestedBy: (req as AuthedRequest).principal.tenant }, deps)),
    'GET /v1/usage/billing-runs/{id}': async (req) =>
      json(200, await getBillingRun(req.pathParameters.id ?? '', deps)),
  },
});
