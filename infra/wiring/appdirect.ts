import {
  appDirectAnswerSchema,
  appDirectErrorDoc,
  notificationQuerySchema,
} from '../../functions/appdirect-events/schema.ts';
import type { WiringPart } from '../wiring-types.ts';

/**
 * AppDirect channel (ISV connector) part of the manifest: the public notification URL the
 * marketplace calls, and the notifier that finishes asynchronous events and posts their results
 * (fed by the order events of the `appdirect` channel and by the notification function). The
 * marketplace credentials secret is declared here; usage billing reads it too.
 */
const NOTIFIER_TIMEOUT_SECONDS = 30;

/** The stage's home marketplace (its base URL is the `appdirect` partner URL of the stage). */
const appdirectSettings = {
  APPDIRECT_TENANT: 'appdirect',
  APPDIRECT_FETCH_AUTH: 'oauth1',
  APPDIRECT_SIGNED_NOTIFICATIONS: 'true',
  APPDIRECT_CURRENCY: 'USD',
  APPDIRECT_PARTNER_EMAIL: 'appdirect-partner@switchboard.example.com',
  APPDIRECT_PARTNER_NAME: 'AppDirect marketplace',
  SCREENING_BUDGET_MS: '3000',
};

const uses = [
  { kind: 'table', access: 'readWrite' },
  { kind: 'bus' },
  { kind: 'partner', name: 'appdirect' },
  { kind: 'partner', name: 'zuora' },
  { kind: 'partner', name: 'screening' },
] as const;

export const appdirectWiring: WiringPart = {
  functions: {
    'appdirect-events': {
      description: 'AppDirect notification URL: pins, verifies, fetches and answers marketplace events',
      entry: 'functions/appdirect-events/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 20,
      uses: [...uses, { kind: 'queue', name: 'appdirect-notifier', access: 'send' }],
      environment: appdirectSettings,
    },
    'appdirect-notifier': {
      description: 'AppDirect notifier: finishes asynchronous events and posts their results, once each',
      entry: 'functions/appdirect-notifier/handler.ts',
      memoryMb: 512,
      timeoutSeconds: NOTIFIER_TIMEOUT_SECONDS,
      // The marketplace's rate limit (20 burst, 4/s) is shared with the notification function.
      reservedConcurrency: 2,
      uses: [...uses],
      environment: appdirectSettings,
    },
  },

  routes: [
    {
      method: 'GET',
      path: '/v1/channels/appdirect/events',
      function: 'appdirect-events',
      // The marketplace signs the call (OAuth 1.0a); the function verifies it.
      auth: 'none',
      scopes: [],
      summary: 'AppDirect notification URL (?eventUrl=…): the event is fetched, handled and answered',
      throttle: { rateLimit: 20, burstLimit: 40 },
      request: { query: notificationQuerySchema },
      errorBody: appDirectErrorDoc,
      responses: {
        200: {
          description: 'Answered: {success, accountIdentifier?} or {success: false, errorCode, message}',
          body: appDirectAnswerSchema,
        },
        202: {
          description: 'Accepted; the result is posted to the marketplace later',
          body: appDirectAnswerSchema,
        },
        400: {
          description: 'eventUrl missing, not pinned to a configured marketplace, or the event is malformed',
        },
        401: { description: 'The notification is not correctly signed' },
      },
    },
  ],

  queues: {
    'appdirect-notifier': {
      consumer: 'appdirect-notifier',
      visibilityTimeoutSeconds: NOTIFIER_TIMEOUT_SECONDS * 6,
      maxReceiveCount: 10,
      batchSize: 5,
      maxBatchingWindowSeconds: 1,
      maxConcurrency: 2,
    },
  },

  rules: [
    {
      name: 'appdirect-order-status',
      description: 'Orders of the AppDirect channel: account updates and results posted to the marketplace',
      pattern: {
        source: ['switchboard'],
        'detail-type': ['order.billing.provisioned', 'order.fulfilled', 'order.rejected', 'order.failed'],
        detail: { channel: ['appdirect'] },
      },
      queue: 'appdirect-notifier',
    },
  ],

  secrets: {
    'appdirect-credentials': {
      description:
        'AppDirect: {clientId, clientSecret} (OAuth 2.0, ROLE_PARTNER), {consumerKey, consumerSecret} (product OAuth 1.0a) of the home marketplace; marketplaces.<id> for others',
    },
  },
};
