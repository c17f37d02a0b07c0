import type { Clock } from '../../shared/clock.ts';
import {
  deliveryIdFor,
  dueKeyFor,
  type WebhookDelivery,
  type WebhookDeliveryRepository,
} from '../../shared/db/entities/webhook-deliveries.ts';
import type {
  WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';
import { PermanentError } from '../../shared/errors.ts';
import { CUSTOM_EVENT_PREFIX } from '../../shared/events/catalog/webhooks.ts';
import type { ReceivedEvent } from '../../shared/events/consumer.ts';
import { count } from '../../shared/telemetry.ts';
import type { DeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { matchesAny } from '../../shared/webhooks/event-filter.ts';
import { rearmIfReenabled } from '../../shared/webhooks/replay.ts';

/** Deliveries created in parallel per event. */
export const FAN_OUT_CONCURRENCY = 16;

export interface FanOutDeps {
  /** Listings (through the short cache in the Lambda) and `get`, a fresh read of one endpoint. */
  endpoints: Pick<WebhookEndpointRepository, 'listAll' | 'listAllEvents' | 'get'>;
  deliveries: Pick<WebhookDeliveryRepository, 'createIfAbsent' | 'putDue' | 'transition' | 'deleteDue'>;
  queue: DeliveryQueue;
  clock: Clock;
}

/**
 * The Standard Webhooks body of an event: `{type, timestamp, data}`. Custom events carry their `data`
 * and, beside it, the publishing `tenant`: all-events endpoints receive every tenant's custom events,
 * and the signed body must say whose claim it is (hub events have the tenant in `data` already).
 */
export function webhookPayload(event: ReceivedEvent): string {
  const custom = event.type.startsWith(CUSTOM_EVENT_PREFIX);
  if (custom) {
    return JSON.stringify({
      type: event.type,
      timestamp: occurredAt(event),
      tenant: event.detail.tenant,
      data: event.detail.data,
    });
  }
  return JSON.stringify({ type: event.type, timestamp: occurredAt(event), data: event.detail });
}

/** When the event happened: a custom event's own `occurredAt` (stable across retries), else the envelope time. */
function occurredAt(event: ReceivedEvent): string {
  const own = event.detail.occurredAt;
  return typeof own === 'string' && !Number.isNaN(Date.parse(own)) ? own : event.time;
}

/** Why a delivery to a disabled endpoint was recorded without being sent. */
export const SKIPPED_REASON = 'endpoint disabled';

/**
 * Creates one pending delivery per enabled endpoint that should receive `event`: the event's tenant's
 * endpoints whose filters match, and the matching all-events endpoints. A matching DISABLED endpoint
 * gets a `skipped` delivery (reason `endpoint disabled`, nothing sent) so a replay can deliver it
 * later. Idempotent per event and endpoint (deterministic delivery id + conditional put), so a
 * redelivered event creates nothing new and only re-enqueues deliveries still pending.
 */
export async function fanOut(
  event: ReceivedEvent,
  deps: FanOutDeps,
): Promise<{ matched: number; created: number }> {
  const tenant = event.detail.tenant;
  if (typeof tenant !== 'string' || !tenant) {
    throw new PermanentError(`event ${event.type} has no tenant; it cannot be dispatched`, 'NO_TENANT');
  }
  const candidates = new Map<string, WebhookEndpoint>();
  const [own, everyTenant] = await Promise.all([
    deps.endpoints.listAll(tenant),
    deps.endpoints.listAllEvents(),
  ]);
  for (const ep of [...own, ...everyTenant]) candidates.set(ep.id, ep);
  const matching = [...candidates.values()].filter((ep) => matchesAny(ep.eventTypes, event.type));
  // The listings may be a few seconds old: an endpoint that looks disabled is read again (rare, and
  // it makes a just re-enabled endpoint receive the event rather than skip it).
  const targets = (
    await Promise.all(
      matching.map(async (ep) => (ep.status === 'enabled' ? ep : await deps.endpoints.get(ep.tenant, ep.id))),
    )
  ).filter((ep): ep is WebhookEndpoint => ep !== undefined);
  if (!targets.length) return { matched: 0, created: 0 };

  const now = deps.clock.now();
  const eventId =
    typeof event.detail.eventId === 'string' && event.detail.eventId ? event.detail.eventId : event.id;
  const payload = webhookPayload(event);
  const parsedTime = Date.parse(occurredAt(event));
  const eventTimeMs = Number.isNaN(parsedTime) ? now.getTime() : parsedTime;
  let created = 0;
  const wake: Array<{ deliveryId: string; dueKey: string }> = [];
  // Endpoints are independent: create their deliveries a few at a time (an event can match hundreds).
  const createOne = async (ep: WebhookEndpoint) => {
    const id = deliveryIdFor(eventId, ep.id, eventTimeMs);
    const delivery: WebhookDelivery = {
      id,
      tenant,
      endpointId: ep.id,
      endpointTenant: ep.tenant,
      eventId,
      eventType: event.type,
      payload,
      attemptCount: 0,
      retryIndex: 0,
      attempts: [],
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      ...(ep.status === 'enabled'
        ? { status: 'pending', nextAttemptAt: now.toISOString(), dueKey: dueKeyFor(now, id) }
        : { status: 'skipped', lastError: SKIPPED_REASON, completedAt: now.toISOString() }),
    };
    const result = await deps.deliveries.createIfAbsent(delivery);
    if (result.created) created++;
    if (result.created && delivery.status === 'skipped') {
      // Re-enabled between our read and our write? Its replay may have missed this one.
      await rearmIfReenabled(delivery, deps);
      return;
    }
    if (result.delivery.status === 'pending' && result.delivery.dueKey) {
      wake.push({ deliveryId: id, dueKey: result.delivery.dueKey });
    }
  };
  for (let i = 0; i < targets.length; i += FAN_OUT_CONCURRENCY) {
    await Promise.all(targets.slice(i, i + FAN_OUT_CONCURRENCY).map(createOne));
  }
  await deps.queue.enqueue(wake);
  count('WebhookDeliveriesCreated', created);
  return { matched: targets.length, created };
}
