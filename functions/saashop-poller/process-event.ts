import { createHash } from 'node:crypto';
import * as z from 'zod';
import {
  SAASHOP_EVENT_TYPES,
  SAASHOP_STATUS_CODES,
  SaashopAnswerError,
} from '../../shared/clients/saashop.ts';
import type { FirstResponse } from '../../shared/db/entities/orders.ts';
import type { EventFailure, SaashopEventRecord } from '../../shared/db/entities/saashop-events.ts';
import { ConflictError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { normaliseSaashopOrder } from './normalise.ts';
import type { PollDeps } from './poll.ts';

/**
 * One claimed marketplace event, taken as far as it goes: an order event is fetched, normalised and
 * handed to the order use case; status echoes and repeats are ignored; unsupported types and
 * anything that cannot become an order are FAILED with the reason; temporary failures are deferred
 * with backoff, a bounded number of times.
 */

/** A token of the feed we can use as a key and as an order id (SaaShop uses UUIDs). */
const idSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, 'must be 1-100 letters, digits or . _ : -');

/** The fields of a feed event the poller relies on; anything else is kept raw for operators. */
const feedEventSchema = z
  .object({
    eventId: idSchema,
    eventTypeCode: z.string().min(1).max(60),
    statusCode: z.string().max(60).nullish(),
    additionalProperties: z
      .array(z.object({ name: z.string(), value: z.unknown() }).loose())
      .max(50)
      .nullish(),
  })
  .loose();

const ORDER_EVENT_TYPES = new Set(['ServicePurchased', 'Evaluation', 'Trial']);
/** Statuses a seller reports: when they show up in the feed they describe provisioning, not a new order. */
const REPORTED_STATUSES = new Set<string>(SAASHOP_STATUS_CODES.filter((s) => s !== 'ProvisioningStarted'));

/** What the claim stores about a feed event, read leniently: a malformed event is still claimed once. */
export function describeFeedEvent(raw: unknown, offset: number) {
  const rawEvent = JSON.stringify(raw) ?? 'null';
  const o = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const eventId = idSchema.safeParse(o.eventId).success
    ? (o.eventId as string)
    : // No usable id: a content hash keys it, so re-reading the same event still claims it once.
      `invalid-${createHash('sha256').update(rawEvent).digest('hex').slice(0, 32)}`;
  const str = (v: unknown) => (typeof v === 'string' && v.length <= 100 ? v : undefined);
  const props = Array.isArray(o.additionalProperties) ? o.additionalProperties : [];
  const orderProp = props.find(
    (p) => p && typeof p === 'object' && (p as { name?: unknown }).name === 'orderId',
  );
  const orderId = orderProp ? (orderProp as { value?: unknown }).value : undefined;
  return {
    eventId,
    ...(str(o.eventTypeCode) ? { eventTypeCode: str(o.eventTypeCode) } : {}),
    ...(str(o.statusCode) ? { statusCode: str(o.statusCode) } : {}),
    ...(idSchema.safeParse(orderId).success ? { saashopOrderId: orderId as string } : {}),
    rawEvent,
    feedOffset: offset,
  };
}

export type Step =
  | { kind: 'submitted' }
  | { kind: 'ignored' }
  | { kind: 'failed'; record: SaashopEventRecord }
  | { kind: 'deferred' }
  | { kind: 'lost' };

/** Takes one PENDING event as far as it goes: submitted, ignored, failed, or deferred for a retry. */
export async function processEvent(record: SaashopEventRecord, deps: PollDeps): Promise<Step> {
  const { settings } = deps;
  const now = () => deps.clock.now();
  const failWith = async (failure: EventFailure): Promise<Step> => {
    const failed = await deps.events.fail(record.eventId, failure, now(), settings.leaseMs);
    if (!failed) return { kind: 'lost' };
    logger.warn('saashop event failed', {
      eventId: record.eventId,
      code: failure.code,
      status: failure.status,
    });
    return { kind: 'failed', record: failed };
  };
  const retryOrFail = async (stage: string, error: unknown): Promise<Step> => {
    const message = (error as Error).message ?? String(error);
    if (record.attempts >= settings.maxAttempts) {
      return failWith({
        status: 'FAILED',
        code: stage === 'fetch' ? 'FETCH_FAILED' : 'SUBMIT_FAILED',
        reason: `gave up after ${record.attempts} attempts: ${message}`,
      });
    }
    const delay = Math.min(settings.retryBaseMs * 2 ** (record.attempts - 1), 3_600_000);
    const moved = await deps.events.defer(record, new Date(now().getTime() + delay), message, now());
    logger.warn('saashop event retried later', { eventId: record.eventId, stage, attempt: record.attempts });
    return moved ? { kind: 'deferred' } : { kind: 'lost' };
  };

  const parsed = feedEventSchema.safeParse(JSON.parse(record.rawEvent));
  if (!parsed.success) {
    return failWith({
      status: 'FAILED',
      code: 'MALFORMED_EVENT',
      reason: `the marketplace event is malformed: ${parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`)
        .join('; ')}`,
    });
  }
  const event = parsed.data;
  if (event.statusCode && REPORTED_STATUSES.has(event.statusCode)) {
    const done = await deps.events.complete(
      record.eventId,
      { status: 'IGNORED', reason: `a ${event.statusCode} status event, not a new order` },
      now(),
    );
    return done ? { kind: 'ignored' } : { kind: 'lost' };
  }
  if (!ORDER_EVENT_TYPES.has(event.eventTypeCode)) {
    const known = (SAASHOP_EVENT_TYPES as readonly string[]).includes(event.eventTypeCode);
    return failWith({
      status: 'UNSUPPORTED',
      code: 'UNSUPPORTED_EVENT_TYPE',
      reason: known
        ? `${event.eventTypeCode} events are not supported by the seller's integration (the SaaShop API does not define their payload); the seller will handle this one by hand`
        : `unknown event type ${JSON.stringify(event.eventTypeCode.slice(0, 60))}`,
    });
  }
  const saashopOrderId = record.saashopOrderId;
  if (!saashopOrderId) {
    return failWith({
      status: 'FAILED',
      code: 'MALFORMED_EVENT',
      reason: 'the marketplace event has no usable orderId additional property',
    });
  }

  // The same order announced again by another event (a repeat, or our own status echoed): nothing to
  // fetch. This event's own earlier attempt (a crash inside or after the submit) goes on below: the
  // order use case is idempotent by the SaaShop order id and finishes whatever intake step was cut.
  const existing = await deps.events.findHubOrder(settings.tenant, saashopOrderId);
  if (existing?.saashopEventId && existing.saashopEventId !== record.eventId) {
    const done = await deps.events.complete(
      record.eventId,
      {
        status: 'IGNORED',
        hubOrderId: existing.orderId,
        reason: 'the order was received through an earlier event',
      },
      now(),
    );
    return done ? { kind: 'ignored' } : { kind: 'lost' };
  }

  let raw: Record<string, unknown>;
  try {
    raw = await deps.saashop.getOrder(saashopOrderId);
  } catch (error) {
    if (error instanceof SaashopAnswerError) {
      return failWith({
        status: 'FAILED',
        code: `ORDER_${error.problem}`,
        reason: error.message,
        ...(error.raw !== undefined ? { rawOrder: error.raw } : {}),
      });
    }
    return retryOrFail('fetch', error);
  }

  const rawOrder = JSON.stringify(raw);
  const normalised = normaliseSaashopOrder(raw, settings.normalise);
  if (!normalised.ok) {
    return failWith({ status: 'FAILED', code: normalised.code, reason: normalised.reason, rawOrder });
  }
  if (normalised.order.channelOrderId !== saashopOrderId) {
    return failWith({
      status: 'FAILED',
      code: 'MALFORMED_ORDER',
      reason: `SaaShop answered order ${saashopOrderId} with an order whose orderId differs`,
      rawOrder,
    });
  }

  let answer: FirstResponse;
  try {
    answer = await deps.submit({
      tenant: settings.tenant,
      order: normalised.order,
      idempotencyKey: undefined,
      channel: 'saashop',
      channelRef: {
        saashopOrderId,
        saashopEventId: record.eventId,
        saashopEventType: event.eventTypeCode,
      },
    });
  } catch (error) {
    if (error instanceof ConflictError) {
      return failWith({
        status: 'FAILED',
        code: 'ORDER_CONFLICT',
        reason: `SaaShop order ${saashopOrderId} was submitted before with different content`,
        rawOrder,
      });
    }
    return retryOrFail('submit', error);
  }
  const body = answer.body as { orderId?: string; status?: string };
  const done = await deps.events.complete(
    record.eventId,
    {
      status: 'SUBMITTED',
      ...(body.orderId ? { hubOrderId: body.orderId } : {}),
      ...(body.status ? { hubStatus: body.status } : {}),
      checkAt: new Date(now().getTime() + settings.reportCheckMs),
    },
    now(),
  );
  return done ? { kind: 'submitted' } : { kind: 'lost' };
}
