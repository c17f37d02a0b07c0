import type { Clock } from '../../shared/clock.ts';
import type {
  LogQuery,
  WebhookDelivery,
  WebhookDeliveryRepository,
} from '../../shared/db/entities/webhook-deliveries.ts';
import type {
  WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../../shared/errors.ts';
import type { DeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { rearmDelivery } from '../../shared/webhooks/replay.ts';

export interface OpsWebhookDeps {
  endpoints: Pick<WebhookEndpointRepository, 'get' | 'listEvery'>;
  deliveries: Pick<WebhookDeliveryRepository, 'get' | 'listAll' | 'putDue' | 'transition' | 'deleteDue'>;
  queue: DeliveryQueue;
  clock: Clock;
}

/** An endpoint as operators see it: never its secrets. */
const endpointRow = (e: WebhookEndpoint) => ({
  id: e.id,
  tenant: e.tenant,
  url: e.url,
  eventTypes: e.eventTypes,
  status: e.status,
  ...(e.disabledReason ? { disabledReason: e.disabledReason } : {}),
  ...(e.failingSince ? { failingSince: e.failingSince } : {}),
  allEvents: e.allEvents,
  rateLimitPerSecond: e.rateLimitPerSecond,
  createdAt: e.createdAt,
});

const deliveryRow = (d: WebhookDelivery) => ({
  id: d.id,
  tenant: d.endpointTenant,
  endpointId: d.endpointId,
  eventId: d.eventId,
  eventType: d.eventType,
  status: d.status,
  attemptCount: d.attemptCount,
  ...(d.nextAttemptAt && d.status === 'pending' ? { nextAttemptAt: d.nextAttemptAt } : {}),
  ...(d.lastStatusCode !== undefined ? { lastStatusCode: d.lastStatusCode } : {}),
  ...(d.lastError ? { lastError: d.lastError } : {}),
  createdAt: d.createdAt,
  updatedAt: d.updatedAt,
});

export async function listOpsEndpoints(
  q: { tenant?: string; limit: number; cursor?: string },
  deps: OpsWebhookDeps,
) {
  const page = await deps.endpoints.listEvery(q);
  return { items: page.items.map(endpointRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

export async function listOpsDeliveries(
  q: Omit<LogQuery, 'tenant' | 'since' | 'statuses'> & { tenant?: string },
  deps: OpsWebhookDeps,
) {
  const page = await deps.deliveries.listAll(q);
  return { items: page.items.map(deliveryRow), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

async function mustGet(id: string, deps: OpsWebhookDeps) {
  const d = /^msg_[0-9A-Z]{26}$/.test(id) ? await deps.deliveries.get(id) : undefined;
  if (!d) throw new NotFoundError(`No webhook delivery ${id}.`, 'DELIVERY_NOT_FOUND');
  return d;
}

/** One delivery with every attempt (the payload is the partner's business, shown as sent). */
export async function getOpsDelivery(id: string, deps: OpsWebhookDeps) {
  const d = await mustGet(id, deps);
  return { ...deliveryRow(d), payload: d.payload, attempts: d.attempts };
}

/** Re-sends a finished delivery of any tenant (same `webhook-id`, fresh retry schedule). */
export async function replayOpsDelivery(id: string, deps: OpsWebhookDeps) {
  const d = await mustGet(id, deps);
  if (d.status === 'pending' || d.notices?.length) {
    throw new ConflictError(
      `Delivery ${id} is still in progress; replay it once it has finished.`,
      'DELIVERY_IN_PROGRESS',
    );
  }
  const endpoint = await deps.endpoints.get(d.endpointTenant, d.endpointId);
  if (endpoint?.status !== 'enabled') {
    throw new UnprocessableError(
      `Endpoint ${d.endpointId} is ${endpoint ? 'disabled' : 'deleted'}; its owner must enable it before a replay.`,
      'ENDPOINT_DISABLED',
    );
  }
  if (!(await rearmDelivery(d, d.endpointTenant, deps))) {
    throw new ConflictError(
      `Delivery ${id} changed while being replayed; try again.`,
      'DELIVERY_IN_PROGRESS',
    );
  }
  return deliveryRow({ ...d, status: 'pending' });
}
