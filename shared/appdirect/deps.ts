import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { MarketplaceClient } from '../clients/appdirect.ts';
import { clientCredentialsSchema, readSecretJson } from '../clients/credentials.ts';
import { ZuoraClient } from '../clients/zuora.ts';
import { createSubscriptionAmendments } from '../clients/zuora-amendments.ts';
import { systemClock } from '../clock.ts';
import { documentClient } from '../db/client.ts';
import { AppDirectAccountStore } from '../db/entities/appdirect-accounts.ts';
import { AppDirectEventStore } from '../db/entities/appdirect-events.ts';
import { MarketplaceDirectory, MarketplaceStore } from '../db/entities/appdirect-marketplaces.ts';
import { DynamoRateLimiter } from '../db/entities/appdirect-rate.ts';
import { OrderRepository } from '../db/entities/orders.ts';
import { SubscriptionRegistry } from '../db/entities/subscriptions.ts';
import { baseEnvSchema, busEnvSchema, parseEnv, tableEnvSchema } from '../env.ts';
import { PermanentError } from '../errors.ts';
import { publisherFromEnv } from '../events/publisher.ts';
import { ulidGenerator } from '../ids.ts';
import { createScreeningProviderFromEnv } from '../screening/provider.ts';
import { awsClient } from '../telemetry.ts';
import {
  type AppDirectSecret,
  appDirectSecretSchema,
  credentialsOf,
  homeMarketplace,
  homeMarketplaceEnvSchema,
  type Marketplace,
} from './marketplaces.ts';
import type { ProcessEventDeps } from './process-event.ts';

/**
 * The adapters of the two AppDirect functions (notification URL and notifier), built once per
 * execution environment from the manifest's environment: the table stores, the marketplace
 * directory (home marketplace + registered ones), one signed client per marketplace sharing the
 * table's rate limiter, the order use case's dependencies, Zuora, the bus and the notifier queue.
 */
export const appDirectEnvSchema = baseEnvSchema
  .extend(tableEnvSchema.shape)
  .extend(busEnvSchema.shape)
  .extend(homeMarketplaceEnvSchema.shape)
  .extend({
    ZUORA_BASE_URL: z.url(),
    SCREENING_BUDGET_MS: z.coerce.number().int().positive().default(3000),
    /** Only the notification function sends to the notifier queue. */
    QUEUE_APPDIRECT_NOTIFIER_URL: z.string().url().optional(),
    /** The notification URL exactly as registered with the marketplace (custom domains); else rebuilt from the request. */
    APPDIRECT_NOTIFICATION_URL: z.url().optional(),
  });
export type AppDirectEnv = z.infer<typeof appDirectEnvSchema>;

export interface AppDirectDeps {
  env: AppDirectEnv;
  /** Everything but the order use case, which the functions hand in (`withSubmitOrder`). */
  process: Omit<ProcessEventDeps, 'submitOrder'>;
  /** The dependencies of the order use case (`submitOrder`). */
  orderDeps: {
    orders: OrderRepository;
    publisher: ReturnType<typeof publisherFromEnv>;
    clock: typeof systemClock;
    ids: typeof ulidGenerator;
    screening: ReturnType<typeof createScreeningProviderFromEnv>;
    budgetMs: number;
  };
  events: AppDirectEventStore;
  accounts: AppDirectAccountStore;
  orders: OrderRepository;
  registry: SubscriptionRegistry;
  directory: MarketplaceDirectory;
  secret: () => Promise<AppDirectSecret>;
  clientFor: (marketplace: Marketplace) => MarketplaceClient;
  /** Hands an event to the notifier to finish asynchronously (notification function only). */
  complete: (message: CompleteEventMessage) => Promise<void>;
}

/** The notifier's message asking it to finish an event the notification could not answer at once. */
export const completeEventMessageSchema = z.object({
  kind: z.literal('complete-event'),
  marketplaceId: z.string().min(1),
  eventId: z.string().min(1),
  eventUrl: z.string().min(1),
});
export type CompleteEventMessage = z.infer<typeof completeEventMessageSchema>;

export function appDirectDepsFromEnv(): AppDirectDeps {
  const env = parseEnv(appDirectEnvSchema);
  const doc = documentClient();
  const clock = systemClock;
  const orders = new OrderRepository(doc, env.TABLE_NAME);
  const accounts = new AppDirectAccountStore(doc, env.TABLE_NAME);
  const events = new AppDirectEventStore(doc, env.TABLE_NAME);
  const directory = new MarketplaceDirectory(
    homeMarketplace(env),
    new MarketplaceStore(doc, env.TABLE_NAME),
    clock,
  );
  const limiter = new DynamoRateLimiter(doc, env.TABLE_NAME, clock);
  const secret = () => readSecretJson('appdirect-credentials', appDirectSecretSchema);
  const clients = new Map<string, MarketplaceClient>();
  const clientFor = (marketplace: Marketplace) => {
    const cacheKey = JSON.stringify(marketplace);
    let client = clients.get(cacheKey);
    if (!client) {
      client = new MarketplaceClient({
        marketplace,
        stage: env.STAGE,
        limiter,
        clock,
        credentials: async () => {
          const creds = credentialsOf(await secret(), marketplace.id);
          if (!creds) {
            throw new PermanentError(
              `the appdirect-credentials secret has no credentials for marketplace ${marketplace.id}`,
              'APPDIRECT_CONFIGURATION',
            );
          }
          return creds;
        },
      });
      clients.set(cacheKey, client);
    }
    return client;
  };
  const zuora = new ZuoraClient({
    baseUrl: env.ZUORA_BASE_URL,
    credentials: () => readSecretJson('zuora-credentials', clientCredentialsSchema),
    clock,
  });
  const publisher = publisherFromEnv();
  const sqs = awsClient(SQSClient, {});
  return {
    env,
    events,
    accounts,
    orders,
    registry: new SubscriptionRegistry(doc, env.TABLE_NAME),
    directory,
    secret,
    clientFor,
    complete: async (message) => {
      if (!env.QUEUE_APPDIRECT_NOTIFIER_URL) throw new Error('QUEUE_APPDIRECT_NOTIFIER_URL is not set');
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: env.QUEUE_APPDIRECT_NOTIFIER_URL,
          MessageBody: JSON.stringify(message),
        }),
      );
    },
    process: { orders, accounts, events, zuora: createSubscriptionAmendments(zuora), publisher, clock },
    orderDeps: {
      orders,
      publisher,
      clock,
      ids: ulidGenerator,
      screening: createScreeningProviderFromEnv(),
      budgetMs: env.SCREENING_BUDGET_MS,
    },
  };
}
