import {
  startRunSchema,
  submissionResponseSchema,
  summaryQuerySchema,
  summaryResponseSchema,
  usageBatchSchema,
} from '../../functions/usage-submission/schema.ts';
import { schedulerInputTemplate } from '../../shared/events/scheduled.ts';
import type { WiringPart } from '../wiring-types.ts';

/**
 * Usage part of the manifest: submission and summary (API), billing runs started by the schedule or
 * the API (through the `usage-billing-runs` queue), planned into (period, subscription shard) slices
 * billed by `usage-billing-worker` (the `usage-billing-slices` queue), billed to Zuora usage import or AppDirect
 * Billing Usage V2. Settings shared by both functions live in `usageSettings`.
 */
export const USAGE_BILLING_SCHEDULE = process.env.USAGE_BILLING_SCHEDULE ?? 'cron(0 17 * * ? *)';

export const usageSettings = {
  USAGE_LATE_WINDOW_DAYS: '35',
  USAGE_RETENTION_DAYS: '400',
  USAGE_GROUP_SHARDS: '8',
  USAGE_PERIOD_SHARDS: '32',
};

const BILLING_TIMEOUT_SECONDS = 900;

export const usageWiring: WiringPart = {
  functions: {
    'usage-submission': {
      description: 'Usage records (exactly once), usage summary, billing runs on demand',
      entry: 'functions/usage-submission/handler.ts',
      memoryMb: 1024,
      timeoutSeconds: 29,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'authVerify' },
        { kind: 'queue', name: 'usage-billing-runs', access: 'send' },
      ],
      environment: usageSettings,
    },
    'usage-billing': {
      description: 'Usage billing run planner: records the run, fans its (period, shard) slices out',
      entry: 'functions/usage-billing/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      reservedConcurrency: 2,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'queue', name: 'usage-billing-slices', access: 'send' },
      ],
      environment: usageSettings,
    },
    'usage-billing-worker': {
      description:
        'Usage billing worker: bills one slice of a run, every usage delta once, to Zuora or AppDirect',
      entry: 'functions/usage-billing/worker.ts',
      memoryMb: 1024,
      timeoutSeconds: BILLING_TIMEOUT_SECONDS,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'partner', name: 'zuora' },
        { kind: 'partner', name: 'appdirect' },
      ],
      environment: {
        ...usageSettings,
        USAGE_ZUORA_DATE_FORMAT: 'MM/DD/YYYY',
        USAGE_POLL_ATTEMPTS: '20',
        USAGE_POLL_INTERVAL_MS: '2000',
        // Longer than the function timeout: a submission untouched this long belongs to a dead run.
        USAGE_LEASE_SECONDS: String(BILLING_TIMEOUT_SECONDS * 2),
        USAGE_RETRY_BASE_SECONDS: '900',
        // Subscriptions billed through AppDirect until the AppDirect channel registers them as such.
        USAGE_APPDIRECT_SUBSCRIPTIONS: process.env.USAGE_APPDIRECT_SUBSCRIPTIONS ?? '',
      },
    },
  },

  routes: [
    {
      method: 'POST',
      path: '/v1/usage',
      function: 'usage-submission',
      auth: 'jwt',
      scopes: ['usage:write'],
      summary: 'Submit up to 500 usage records (JSON or a CloudEvents batch); per-record results',
      throttle: { rateLimit: 200, burstLimit: 1000 },
      request: {
        body: usageBatchSchema,
        contentTypes: [
          'application/json',
          'application/cloudevents-batch+json',
          'application/cloudevents+json',
        ],
      },
      responses: {
        202: {
          description: 'Per-record results: accepted, duplicate or rejected',
          body: submissionResponseSchema,
        },
        400: { description: 'Malformed body, or every record rejected (details name each record)' },
        413: { description: 'Body over 256 KB' },
        415: { description: 'Unsupported content type' },
      },
    },
    {
      method: 'GET',
      path: '/v1/usage/summary',
      function: 'usage-submission',
      auth: 'jwt',
      scopes: ['usage:read'],
      summary: 'Usage totals of a subscription and period per charge and unit: billed and pending',
      request: { query: summaryQuerySchema },
      responses: {
        200: { description: 'Totals', body: summaryResponseSchema },
        404: { description: 'Not a subscription of this tenant' },
      },
    },
    {
      method: 'POST',
      path: '/v1/usage/billing-runs',
      function: 'usage-submission',
      auth: 'jwt',
      scopes: ['usage:admin'],
      summary: 'Start a usage billing run now',
      request: { body: startRunSchema },
      responses: { 202: { description: 'Run queued; poll GET /v1/usage/billing-runs/{id}' } },
    },
    {
      method: 'GET',
      path: '/v1/usage/billing-runs/{id}',
      function: 'usage-submission',
      auth: 'jwt',
      scopes: ['usage:admin'],
      summary: 'Outcome of a usage billing run',
      responses: { 200: { description: 'The run' }, 404: { description: 'Unknown run' } },
    },
  ],

  queues: {
    'usage-billing-runs': {
      consumer: 'usage-billing',
      visibilityTimeoutSeconds: 6 * 60,
      maxReceiveCount: 3,
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      maxConcurrency: 2,
    },
    // One (period, subscription shard) slice per message. A slice whose worker died comes back after
    // the visibility timeout (longer than the worker's timeout) and is re-done idempotently.
    'usage-billing-slices': {
      consumer: 'usage-billing-worker',
      visibilityTimeoutSeconds: BILLING_TIMEOUT_SECONDS * 6,
      maxReceiveCount: 5,
      batchSize: 1,
      maxBatchingWindowSeconds: 0,
      // Partners' rate limits: at most this many slices billed at once.
      maxConcurrency: 16,
    },
  },

  schedules: [
    {
      name: 'usage-billing-daily',
      description:
        'Daily usage billing, before AppDirect processes usage at 18:00 UTC (USAGE_BILLING_SCHEDULE overrides)',
      expression: USAGE_BILLING_SCHEDULE,
      function: 'usage-billing',
      input: schedulerInputTemplate('usage-billing-daily'),
    },
  ],
};
