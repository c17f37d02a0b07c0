import type { Clock } from '../../shared/clock.ts';
import type {
  LogQuery,
  WebhookDelivery,
  WebhookDeliveryRepository,
} from '../../shared/db/entities/webhook-deliveries.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../../shared/errors.ts';
import type { DeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { REPLAYABLE_STATUSES, rearmDelivery, replayEndpointPage } from '../../shared/webhooks/replay.ts';
import { type Caller, type EndpointDeps, requireEndpoint } from './endpoints.ts';
import { REPLAY_PAGE } from './schema.ts';

export interface DeliveryDeps {
  deliveries: Pick<WebhookDeliveryRepository, 'get' | 'list' | 'transition' | 'putDue' | 'deleteDue'>;
  endpoints: EndpointDeps['endpoints'];
  queue: DeliveryQueue;
  clock: Clock;
}

const summary = (d: WebhookDelivery) => ({
  id: d.id,
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
  ...(d.completedAt ? { completedAt: d.completedAt } : {}),
});

/** The tenant's delivery log, newest first, filtered by endpoint, status and type. */
export async function listDeliveries(q: Omit<LogQuery, 'tenant'>, caller: Caller, deps: DeliveryDeps) {
  const page = await deps.deliveries.list({ ...q, tenant: caller.tenant });
  return { items: page.items.map(summary), ...(page.cursor ? { cursor: page.cursor } : {}) };
}

async function mustGetDelivery(id: string, caller: Caller, deps: DeliveryDeps): Promise<WebhookDelivery> {
  const d = /^msg_[0-9A-Z]{26}$/.test(id) ? await deps.deliveries.get(id) : undefined;
  if (!d || d.endpointTenant !== caller.tenant) {
    throw new NotFoundError(`No webhook delivery ${id}.`, 'DELIVERY_NOT_FOUND');
  }
  return d;
}

/** One delivery with its payload and every attempt (time, status, duration, error, body, next time). */
export async function getDelivery(id: string, caller: Caller, deps: DeliveryDeps) {
  const d = await mustGetDelivery(id, caller, deps);
  return { ...summary(d), payload: d.payload, attempts: d.attempts };
}

async function requireEnabled(endpointId: string, caller: Caller, deps: DeliveryDeps) {
  const ep = await requireEndpoint({ endpoints: deps.endpoints } as EndpointDeps, caller.tenant, endpointId);
  if (ep.status !== 'enabled') {
    throw new UnprocessableError(
      `Endpoint ${endpointId} is disabled; enable it (PATCH status: enabled) before replaying.`,
      'ENDPOINT_DISABLED',
    );
  }
}

export async function replayDelivery(id: string, caller: Caller, deps: DeliveryDeps) {
  const d = await mustGetDelivery(id, caller, deps);
  if (d.status === 'pending' || d.notices?.length) {
    throw new ConflictError(
      `Delivery ${id} is still in progress; it can be replayed once it has finished.`,
      'DELIVERY_IN_PROGRESS',
    );
  }
  await requireEnabled(d.endpointId, caller, deps);
  if (!(await rearmDelivery(d, caller.tenant, deps))) {
    throw new ConflictError(
      `Delivery ${id} changed while being replayed; try again.`,
      'DELIVERY_IN_PROGRESS',
    );
  }
  return summary({ ...d, status: 'pending' });
}

/**
 * Replays the failed, cancelled and skipped deliveries of an endpoint since a time, a page at a
 * time, oldest first (the partner receives them in event order).
 */
export async function replayEndpoint(
  endpointId: string,
  input: { since: string; cursor?: string },
  caller: Caller,
  deps: DeliveryDeps,
) {
  await requireEnabled(endpointId, caller, deps);
  return replayEndpointPage(
    {
      tenant: caller.tenant,
      endpointId,
      statuses: REPLAYABLE_STATUSES,
      since: new Date(input.since),
      limit: REPLAY_PAGE,
      ...(input.cursor ? { cursor: input.cursor } : {}),
    },
    deps,
  );
}

/** Most pages re-enabling with `replaySkipped` re-arms in one request (the rest: POST …/replay). */
export const REPLAY_SKIPPED_MAX_PAGES = 10;

/**
 * Wall time re-enabling with `replaySkipped` spends re-arming, well inside the function's 10 s
 * timeout: the chaos soak found ~1,500 skipped deliveries (15 % of a 30-minute run) taking longer
 * than the timeout on a loaded machine, so every PATCH answered 500 and the replay never finished.
 * Past the budget the answer is `complete: false`; the next PATCH (or `…/replay`) goes on.
 */
export const REPLAY_SKIPPED_BUDGET_MS = 4_000;
/** Re-arms tried by every request whatever the budget, so repeating the PATCH always progresses. */
export const REPLAY_SKIPPED_MINIMUM = 10;

/** Re-arms an endpoint's skipped deliveries, oldest first (re-enabling with `replaySkipped`). */
export async function replaySkipped(
  endpointId: string,
  caller: Caller,
  deps: DeliveryDeps,
  budgetMs = REPLAY_SKIPPED_BUDGET_MS,
  minimum = REPLAY_SKIPPED_MINIMUM,
) {
  // Real elapsed time (the request timeout), not the deps clock, which tests and the local stage move.
  const deadline = performance.now() + budgetMs;
  // The first re-arms are always tried, so each request progresses whatever the machine's load (the
  // skipped deliveries are an index read: GSI2 keys the endpoint's log by status).
  let tried = 0;
  const stop = () => ++tried > minimum && performance.now() > deadline;
  let replayed = 0;
  let cursor: string | undefined;
  let stopped = false;
  for (let page = 0; page < REPLAY_SKIPPED_MAX_PAGES; page++) {
    const res = await replayEndpointPage(
      {
        tenant: caller.tenant,
        endpointId,
        statuses: ['skipped'],
        limit: REPLAY_PAGE,
        stop,
        ...(cursor ? { cursor } : {}),
      },
      deps,
    );
    replayed += res.replayed;
    cursor = res.cursor;
    if (res.stopped) stopped = true;
    if (!cursor || stopped) break;
  }
  return { replayed, complete: !stopped && cursor === undefined };
}
