import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OpsAuditLog } from '../../shared/db/entities/ops-audit.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { UsageRecordStore } from '../../shared/db/entities/usage-records.ts';
import { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../shared/db/entities/webhook-endpoints.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { awsClient } from '../../shared/telemetry.ts';
import { usageEnvSchema, usageShards } from '../../shared/usage/config.ts';
import { sqsDeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { deadLetterQueuesSchema } from './dead-letters.ts';
import { opsRoutes } from './routes.ts';

const env = parseEnv(
  tableEnvSchema
    .extend(busEnvSchema.shape)
    .extend(usageEnvSchema.shape)
    .extend({
      DEAD_LETTER_QUEUES: z.string().min(2),
      QUEUE_USAGE_BILLING_RUNS_URL: z.string().url(),
      QUEUE_WEBHOOK_DELIVERY_URL: z.string().url(),
    }),
);
const doc = documentClient();
const sqs = awsClient(SQSClient, { maxAttempts: 4 });
const billing = new UsageBillingStore(doc, env.TABLE_NAME);

/** `/v1/ops/…`: the operations API behind the console (routes, auth and `ops:*` scopes from the manifest). */
export const handler = httpHandler({
  functionName: 'ops-api',
  routes: opsRoutes({
    orders: new OrderRepository(doc, env.TABLE_NAME),
    deliveries: new WebhookDeliveryRepository(doc, env.TABLE_NAME),
    endpoints: new WebhookEndpointRepository(doc, env.TABLE_NAME),
    queue: sqsDeliveryQueue(env.QUEUE_WEBHOOK_DELIVERY_URL, sqs),
    runQueue: {
      send: async (m) => {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: env.QUEUE_USAGE_BILLING_RUNS_URL,
            MessageBody: JSON.stringify(m),
          }),
        );
      },
    },
    publisher: publisherFromEnv(),
    billing,
    runs: billing,
    registry: new SubscriptionRegistry(doc, env.TABLE_NAME),
    records: new UsageRecordStore(doc, env.TABLE_NAME, usageShards(env)),
    audit: new OpsAuditLog(doc, env.TABLE_NAME),
    saashopEvents: new SaashopEventRepository(doc, env.TABLE_NAME),
    deadLetterQueues: deadLetterQueuesSchema.parse(JSON.parse(env.DEAD_LETTER_QUEUES)),
    sqs,
    cloudwatch: awsClient(CloudWatchClient, { maxAttempts: 2 }),
    clock: systemClock,
    ids: ulidGenerator,
  }),
});
