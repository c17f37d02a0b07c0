import * as z from 'zod';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { baseEnvSchema, busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { metricsRecorder } from './metrics.ts';
import { DynamoZuoraStore } from './model.ts';
import { receiveZuoraEvent } from './receive-event.ts';
import { zuoraEventRoute } from './route.ts';

const env = parseEnv(
  baseEnvSchema
    .extend(tableEnvSchema.shape)
    .extend(busEnvSchema.shape)
    .extend({ PLATFORM_TENANT: z.string().min(1).default('platform') }),
);
const doc = documentClient();
const deps = {
  store: new DynamoZuoraStore(doc, env.TABLE_NAME, new SubscriptionRegistry(doc, env.TABLE_NAME), [
    env.PLATFORM_TENANT,
  ]),
  publisher: publisherFromEnv(),
  clock: systemClock,
  ids: ulidGenerator,
  platformTenant: env.PLATFORM_TENANT,
  observe: metricsRecorder(),
};
const route = zuoraEventRoute((input) => receiveZuoraEvent(input, deps));

export const handler = httpHandler({
  functionName: 'zuora-event',
  routes: { 'POST /v1/zuora/events': route, 'POST /api/billing/events': route },
});
