import { schedulerInputTemplate } from '../../shared/events/scheduled.ts';
import {
  listOrdersQuerySchema,
  orderAcceptedResponseSchema,
  orderRequestSchema,
  orderViewSchema,
  reviewDecisionSchema,
} from '../../shared/orders/contract.ts';
import type { QueueSpec, WiringPart } from '../wiring-types.ts';

/**
 * Orders part of the manifest: intake API, the screening retry consumer, the three provisioning
 * integrations (each behind its own queue and DLQ), and the reconciler schedule.
 */
const api = { memoryMb: 512, timeoutSeconds: 10 } as const;

/** Visibility timeout = 6 × the consumer timeout (AWS guidance); it is also the retry backoff. */
const integrationQueue = (consumer: string, timeoutSeconds: number, maxReceiveCount: number): QueueSpec => ({
  consumer,
  visibilityTimeoutSeconds: timeoutSeconds * 6,
  maxReceiveCount,
  batchSize: 5,
  maxBatchingWindowSeconds: 1,
  maxConcurrency: 5,
});

const errors = {
  400: { description: 'Invalid input; details name each field' },
  401: { description: 'Missing or invalid token' },
  403: { description: 'Missing scope' },
};

export const ordersWiring: WiringPart = {
  functions: {
    'order-intake': {
      description: 'Distributor order intake: validation, idempotency, synchronous screening, reads, review',
      entry: 'functions/order-intake/handler.ts',
      ...api,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'authVerify' },
        { kind: 'partner', name: 'screening' },
        // Only the public half is served (GET /v1/licences/public-key).
        { kind: 'secret', name: 'licence-signing-key', access: 'read' },
      ],
      environment: { SCREENING_BUDGET_MS: '3000' },
    },
    'order-screening': {
      description: 'Retries screening of orders stored while the screening service was unavailable',
      entry: 'functions/order-screening/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 20,
      reservedConcurrency: 5,
      uses: [{ kind: 'table', access: 'readWrite' }, { kind: 'bus' }, { kind: 'partner', name: 'screening' }],
      environment: { SCREENING_BUDGET_MS: '15000' },
    },
    'billing-provisioner': {
      description: 'Creates the Zuora account and subscription of an accepted order (one POST /v1/orders)',
      entry: 'functions/billing-provisioner/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 10,
      uses: [{ kind: 'table', access: 'readWrite' }, { kind: 'bus' }, { kind: 'partner', name: 'zuora' }],
      environment: { PLATFORM_TENANT: 'platform' },
    },
    'crm-sync': {
      description: 'Upserts the Salesforce contact, opportunity and quote of a provisioned order',
      entry: 'functions/crm-sync/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 5,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'partner', name: 'salesforce' },
      ],
    },
    'licence-provisioner': {
      description: 'Issues the signed licence of a provisioned order and e-mails it to the buyer and partner',
      entry: 'functions/licence-provisioner/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 30,
      reservedConcurrency: 5,
      uses: [
        { kind: 'table', access: 'readWrite' },
        { kind: 'bus' },
        { kind: 'mail' },
        { kind: 'secret', name: 'licence-signing-key', access: 'read' },
      ],
    },
    'order-reconciler': {
      description: 'Re-drives orders stuck in a stage (re-publishes their last event)',
      entry: 'functions/order-reconciler/handler.ts',
      memoryMb: 512,
      timeoutSeconds: 60,
      reservedConcurrency: 1,
      uses: [{ kind: 'table', access: 'readWrite' }, { kind: 'bus' }],
      environment: {
        ORDER_STUCK_AFTER_SECONDS: '900',
        ORDER_RECONCILE_LIMIT: '500',
        ORDER_MAX_REDRIVES: '20',
      },
    },
  },

  routes: [
    {
      method: 'POST',
      path: '/v1/orders',
      function: 'order-intake',
      auth: 'jwt',
      scopes: ['orders:write'],
      summary: 'Submit an order (screened synchronously; idempotent by Idempotency-Key or channelOrderId)',
      throttle: { rateLimit: 50, burstLimit: 100 },
      request: { body: orderRequestSchema, contentTypes: ['application/json'] },
      responses: {
        201: { description: 'Accepted; provisioning runs asynchronously', body: orderAcceptedResponseSchema },
        202: {
          description: 'NEEDS_REVIEW, or RECEIVED while screening is unavailable',
          body: orderAcceptedResponseSchema,
        },
        ...errors,
        409: { description: 'Same Idempotency-Key or channelOrderId with a different body' },
        422: { description: 'RESTRICTED_PARTY: the Sell To party is restricted; the order is REJECTED' },
      },
    },
    {
      method: 'GET',
      path: '/v1/orders',
      function: 'order-intake',
      auth: 'jwt',
      scopes: ['orders:read'],
      summary: "List the tenant's orders (status filter, cursor)",
      request: { query: listOrdersQuerySchema },
      responses: { 200: { description: 'A page of orders' }, ...errors },
    },
    {
      method: 'GET',
      path: '/v1/orders/{orderId}',
      function: 'order-intake',
      auth: 'jwt',
      scopes: ['orders:read'],
      summary: 'An order: status, history and the ids created downstream',
      responses: {
        200: {
          description:
            'The order as its channel sees it: outcomes only (screening outcome without evidence; a failure as a stable code, the partner code and a fixed sentence, never partner text)',
          body: orderViewSchema,
        },
        ...errors,
        404: { description: 'No such order' },
      },
    },
    {
      method: 'POST',
      path: '/v1/orders/{orderId}/clear',
      function: 'order-intake',
      auth: 'jwt',
      scopes: ['orders:admin'],
      summary: 'Operator: clear an order in NEEDS_REVIEW (it is accepted)',
      request: { body: reviewDecisionSchema, contentTypes: ['application/json'] },
      responses: {
        200: { description: 'Accepted' },
        ...errors,
        404: { description: 'No such order' },
        409: { description: 'Not in review' },
      },
    },
    {
      method: 'POST',
      path: '/v1/orders/{orderId}/reject',
      function: 'order-intake',
      auth: 'jwt',
      scopes: ['orders:admin'],
      summary: 'Operator: reject an order in NEEDS_REVIEW',
      request: { body: reviewDecisionSchema, contentTypes: ['application/json'] },
      responses: {
        200: { description: 'Rejected' },
        ...errors,
        404: { description: 'No such order' },
        409: { description: 'Not in review' },
      },
    },
    {
      method: 'GET',
      path: '/v1/licences/public-key',
      function: 'order-intake',
      auth: 'none',
      scopes: [],
      summary: 'JWK Set that verifies licence keys offline (EdDSA)',
    },
  ],

  queues: {
    'order-screening': integrationQueue('order-screening', 20, 20),
    'billing-provisioner': integrationQueue('billing-provisioner', 30, 8),
    'crm-sync': integrationQueue('crm-sync', 30, 8),
    'licence-provisioner': integrationQueue('licence-provisioner', 30, 8),
  },

  rules: [
    {
      name: 'order-received-to-screening',
      description: 'Unscreened orders are screened again when the service is back',
      pattern: { source: ['switchboard'], 'detail-type': ['order.received'] },
      queue: 'order-screening',
    },
    {
      name: 'order-accepted-to-billing',
      description: 'Accepted orders get a Zuora account and subscription',
      pattern: { source: ['switchboard'], 'detail-type': ['order.accepted'] },
      queue: 'billing-provisioner',
    },
    {
      name: 'order-billing-provisioned-to-crm',
      description: 'Provisioned orders are synced to Salesforce',
      pattern: { source: ['switchboard'], 'detail-type': ['order.billing.provisioned'] },
      queue: 'crm-sync',
    },
    {
      name: 'order-billing-provisioned-to-licence',
      description: 'Provisioned orders get their licence',
      pattern: { source: ['switchboard'], 'detail-type': ['order.billing.provisioned'] },
      queue: 'licence-provisioner',
    },
  ],

  schedules: [
    {
      name: 'order-reconciler',
      description: 'Every 5 minutes: re-drive orders stuck in a stage',
      expression: 'rate(5 minutes)',
      function: 'order-reconciler',
      input: schedulerInputTemplate('order-reconciler'),
    },
  ],

  secrets: {
    'screening-credentials': {
      description: 'trade.gov Consolidated Screening List API subscription key',
    },
    'salesforce-credentials': {
      description: 'Salesforce connected app {clientId, clientSecret} (OAuth client credentials flow)',
    },
    'licence-signing-key': {
      description: 'Ed25519 private JWK {keyId, privateJwk} that signs licence keys',
    },
  },
};
