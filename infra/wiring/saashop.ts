import { schedulerInputTemplate } from '../../shared/events/scheduled.ts';
import type { WiringPart } from '../wiring-types.ts';

/**
 * SaaShop marketplace channel: the poller (every minute) claims marketplace events and hands their
 * orders to the order use case under the `saashop` tenant; the notifier reports status back to
 * SaaShop from the orders' own events (one consumer per marketplace partner: its own queue, DLQ,
 * concurrency cap and failure isolation).
 */
const POLLER_TIMEOUT_SECONDS = 60;
const NOTIFIER_TIMEOUT_SECONDS = 30;

export const saashopWiring: WiringPart = {
  functions: {
    'saashop-poller': {
      description:
        'Polls SaaShop marketplace events; each claimed order runs the order use case (saashop tenant)',
      entry: 'functions/saashop-poller/handler.ts',
      memoryMb: 512,
      timeoutSeconds: POLLER_TIMEOUT_SECONDS,
      // The schedule plus a manual run at most; overlapping polls are safe (claims), not useful.
      reservedConcurrency: 2,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'partner', name: 'saashop' },
        { kind: 'partner', name: 'screening' },
      ],
      environment: {
        SCREENING_BUDGET_MS: '3000',
        SAASHOP_TENANT: 'saashop',
        SAASHOP_PAGE_SIZE: '50',
        SAASHOP_MAX_PAGES: '20',
        SAASHOP_MAX_ATTEMPTS: '5',
        // Three times the timeout: a claimed event is resumed only once its poll is surely gone.
        SAASHOP_LEASE_SECONDS: String(POLLER_TIMEOUT_SECONDS * 3),
        SAASHOP_RETRY_BASE_SECONDS: '60',
        SAASHOP_CONCURRENCY: '4',
        // Status reports are confirmed 15 min after the order is handed over, then with backoff.
        SAASHOP_REPORT_CHECK_SECONDS: '900',
        SAASHOP_MAX_REPORT_CHECKS: '12',
        SAASHOP_CURRENCIES: 'USD,EUR,GBP',
        SAASHOP_PARTNER_NAME: 'SaaShop',
        SAASHOP_PARTNER_EMAIL: 'marketplace-orders@saashop.example.com',
      },
    },
    'saashop-notifier': {
      description: 'Reports ProvisioningStarted / Completed / Failed of SaaShop orders back to SaaShop',
      entry: 'functions/saashop-notifier/handler.ts',
      memoryMb: 256,
      timeoutSeconds: NOTIFIER_TIMEOUT_SECONDS,
      reservedConcurrency: 2,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'partner', name: 'saashop' },
      ],
      environment: { SAASHOP_REPORT_LEASE_SECONDS: String(NOTIFIER_TIMEOUT_SECONDS * 2) },
    },
  },

  queues: {
    'saashop-notifier': {
      consumer: 'saashop-notifier',
      visibilityTimeoutSeconds: NOTIFIER_TIMEOUT_SECONDS * 6,
      maxReceiveCount: 10,
      batchSize: 5,
      maxBatchingWindowSeconds: 1,
      // SaaShop's rate limit is the partner's: two batches at a time at most.
      maxConcurrency: 2,
    },
  },

  rules: [
    {
      name: 'saashop-order-status',
      description: 'Lifecycle events of SaaShop orders are reported back to SaaShop',
      pattern: {
        source: ['switchboard'],
        'detail-type': ['order.accepted', 'order.fulfilled', 'order.rejected', 'order.failed'],
        detail: { channel: ['saashop'] },
      },
      queue: 'saashop-notifier',
    },
    {
      name: 'saashop-channel-events',
      description: 'Marketplace events that did not become orders, and reports the poller found missing',
      pattern: {
        source: ['switchboard'],
        'detail-type': ['saashop.event.failed', 'saashop.report.requested'],
      },
      queue: 'saashop-notifier',
    },
  ],

  schedules: [
    {
      name: 'saashop-poller',
      description: 'Every minute: read new SaaShop marketplace events and submit their orders',
      expression: 'rate(1 minute)',
      function: 'saashop-poller',
      input: schedulerInputTemplate('saashop-poller'),
    },
  ],

  secrets: {
    'saashop-credentials': {
      description: 'SaaShop seller API client {clientId, clientSecret} (Basic auth for POST /auth/v1/tokens)',
    },
  },
};
