import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  SAASHOP_EVENT_TYPES,
  SAASHOP_STATUS_CODES,
  SaashopAnswerError,
  type SaashopClient,
  type SaashopStatusCode,
} from '../../shared/clients/saashop.ts';
import type { Clock } from '../../shared/clock.ts';
import type { FirstResponse, OrderRepository } from '../../shared/db/entities/orders.ts';
import type {
  EventFailure,
  SaashopEventRecord,
  SaashopEventRepository,
} from '../../shared/db/entities/saashop-events.ts';
import type { SaashopReportRepository } from '../../shared/db/entities/saashop-reports.ts';
import { ConflictError } from '../../shared/errors.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import { logger } from '../../shared/logger.ts';
import { TERMINAL_STATUSES } from '../../shared/orders/contract.ts';
import type { SubmitOrderInput } from '../../shared/orders/submit-order.ts';
import { owedReports } from '../../shared/saashop/owed-reports.ts';
import { type NormaliseSettings, normaliseSaashopOrder } from './normalise.ts';

/**
 * One poll of the SaaShop marketplace: first the work left due by earlier polls (events whose lease
 * ran out after a crash, temporary failures whose retry is due, failures not yet announced), then
 * the feed from the persisted cursor, page by page.
 *
 * Each feed event is claimed with one conditional put keyed by its id before anything else happens,
 * and the cursor moves only forward, after the page's claims: overlapping polls and re-read pages
 * process an event once. A claimed order event is fetched, normalised and handed to the same order
 * use case as `POST /v1/orders` (`submitOrder`: screening, then Zuora, Salesforce, licence through
 * the bus) under the SaaShop channel tenant; the order use case is itself idempotent by the SaaShop
 * order id, so a retry after a crash between its steps continues rather than duplicates.
 *
 * An event that cannot become an order is stored FAILED (or UNSUPPORTED) with the reason and the raw
 * event and order, and `saashop.event.failed` is published so the notifier reports
 * `ProvisioningFailed`. Temporary failures (SaaShop down, throttling, timeouts) are retried on later
 * polls with backoff, at most `maxAttempts` times, then FAILED the same way: never retried forever.
 */

export interface PollSettings {
  /** Channel tenant the orders belong to. */
  tenant: string;
  pageSize: number;
  /** Feed pages read per poll at most. */
  maxPages: number;
  /** Attempts per event (fetch + submit) before it is FAILED. */
  maxAttempts: number;
  /** How long a claimed event belongs to one poll (longer than a poll can run). */
  leaseMs: number;
  /** First retry delay; doubled per attempt (capped at an hour). */
  retryBaseMs: number;
  /** Events processed in parallel. */
  concurrency: number;
  /** Due records resumed per poll at most. */
  resumeLimit: number;
  /** Stop starting new work when less than this remains of the invocation. */
  reserveMs: number;
  /** First confirmation that SaaShop got an event's status reports; doubled per check (≤ 24 h). */
  reportCheckMs: number;
  /** Confirmations before the record is closed anyway (an order left in review, a report refused). */
  maxReportChecks: number;
  normalise: NormaliseSettings;
}

export interface PollDeps {
  saashop: Pick<SaashopClient, 'listEvents' | 'getOrder'>;
  events: Pick<
    SaashopEventRepository,
    | 'claim'
    | 'listDue'
    | 'takeLease'
    | 'defer'
    | 'complete'
    | 'fail'
    | 'markAnnounced'
    | 'recheck'
    | 'close'
    | 'findHubOrder'
    | 'getCursor'
    | 'advanceCursor'
    | 'recordPoll'
  >;
  /** The order use case (`submitOrder` bound to its dependencies). */
  submit: (input: SubmitOrderInput) => Promise<FirstResponse>;
  orders: Pick<OrderRepository, 'get'>;
  reports: Pick<SaashopReportRepository, 'listFor'>;
  publisher: Publisher;
  clock: Clock;
  settings: PollSettings;
  /** Milliseconds left in this invocation (Lambda context); unlimited when absent. */
  remainingMs?: () => number;
}

export interface PollReport {
  resumed: number;
  read: number;
  claimed: number;
  /** Feed events another poll had claimed already. */
  alreadyClaimed: number;
  submitted: number;
  failed: number;
  unsupported: number;
  ignored: number;
  deferred: number;
  announced: number;
  /** Records whose status reports were confirmed (and closed). */
  confirmed: number;
  /** Missing reports requested again from the notifier. */
  requested: number;
  /** Events left for a later poll (an unexpected error, or the invocation ran out of time). */
  leftDue: number;
  offset: number;
  feedError?: string;
}

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
function describeFeedEvent(raw: unknown, offset: number) {
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

type Step =
  | { kind: 'submitted' }
  | { kind: 'ignored' }
  | { kind: 'failed'; record: SaashopEventRecord }
  | { kind: 'deferred' }
  | { kind: 'lost' };

export async function pollSaashop(deps: PollDeps): Promise<PollReport> {
  const { settings } = deps;
  const report: PollReport = {
    resumed: 0,
    read: 0,
    claimed: 0,
    alreadyClaimed: 0,
    submitted: 0,
    failed: 0,
    unsupported: 0,
    ignored: 0,
    deferred: 0,
    announced: 0,
    confirmed: 0,
    requested: 0,
    leftDue: 0,
    offset: 0,
  };
  const timeLeft = () => (deps.remainingMs ? deps.remainingMs() > settings.reserveMs : true);
  const tally = (step: Step) => {
    if (step.kind === 'submitted') report.submitted++;
    else if (step.kind === 'ignored') report.ignored++;
    else if (step.kind === 'deferred') report.deferred++;
    else if (step.kind === 'lost') report.leftDue++;
    else if (step.record.status === 'FAILED') report.failed++;
    else report.unsupported++;
  };
  const run = async (record: SaashopEventRecord) => {
    if (!timeLeft()) {
      report.leftDue++;
      return;
    }
    try {
      if (record.status === 'PENDING') {
        const step = await processEvent(record, deps);
        tally(step);
        // This worker holds the failed record's lease: it announces it (a crash leaves it due).
        if (step.kind === 'failed' && (await announceRecord(step.record, deps))) report.announced++;
      } else if (record.status !== 'SUBMITTED' && !record.announcedAt) {
        if (await announceRecord(record, deps)) report.announced++;
      } else {
        const outcome = await confirmReports(record, deps);
        if (outcome === 'confirmed') report.confirmed++;
        if (outcome === 'requested') report.requested++;
      }
    } catch (error) {
      // Never lets one event stop the poll: it stays due and a later poll takes it again.
      report.leftDue++;
      logger.error('saashop event left for a later poll', { eventId: record.eventId, error });
    }
  };

  // 1. Work earlier polls left due.
  const due = await deps.events.listDue(deps.clock.now(), settings.resumeLimit);
  await inParallel(due, settings.concurrency, async (record) => {
    const leased = await deps.events.takeLease(record, deps.clock.now(), settings.leaseMs);
    if (!leased) return; // another poll took it
    report.resumed++;
    await run(leased);
  });

  // 2. The feed, from the cursor.
  let offset = (await deps.events.getCursor()).offset;
  for (let page = 0; page < settings.maxPages && timeLeft(); page++) {
    let events: unknown[];
    let hasMore: boolean;
    try {
      ({ marketplaceEvents: events, hasMore } = await deps.saashop.listEvents(offset, settings.pageSize));
    } catch (error) {
      report.feedError = (error as Error).message;
      logger.error('saashop feed could not be read; the next poll tries again', {
        offset,
        error: (error as Error).message,
      });
      break;
    }
    report.read += events.length;
    const claimed: SaashopEventRecord[] = [];
    for (const [i, raw] of events.entries()) {
      const record = await deps.events.claim(
        describeFeedEvent(raw, offset + i),
        deps.clock.now(),
        settings.leaseMs,
      );
      if (record) claimed.push(record);
      else report.alreadyClaimed++;
    }
    report.claimed += claimed.length;
    offset += events.length;
    // The claims are durable: past this point a crash loses nothing (the due index has them).
    if (events.length) await deps.events.advanceCursor(offset, deps.clock.now());
    await inParallel(claimed, settings.concurrency, run);
    if (!hasMore || events.length === 0) break;
  }
  report.offset = offset;
  await deps.events.recordPoll(deps.clock.now(), report.feedError);
  return report;
}

/** Takes one PENDING event as far as it goes: submitted, ignored, failed, or deferred for a retry. */
async function processEvent(record: SaashopEventRecord, deps: PollDeps): Promise<Step> {
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

/** Publishes a failure for the SaaShop report, then takes it out of the due index. */
async function announceRecord(record: SaashopEventRecord, deps: PollDeps): Promise<boolean> {
  if (record.status !== 'FAILED' && record.status !== 'UNSUPPORTED') return false;
  await deps.publisher.publish([failedEvent(record, deps.settings.tenant)]);
  const checkAt = new Date(deps.clock.now().getTime() + deps.settings.reportCheckMs);
  return deps.events.markAnnounced(record.eventId, deps.clock.now(), checkAt);
}

const failedEvent = (record: SaashopEventRecord, tenant: string) => ({
  type: 'saashop.event.failed',
  detail: {
    tenant,
    eventId: record.eventId,
    ...(record.saashopOrderId ? { saashopOrderId: record.saashopOrderId } : {}),
    ...(record.eventTypeCode ? { eventTypeCode: record.eventTypeCode } : {}),
    status: record.status,
    code: record.code ?? 'FAILED',
  },
});

/**
 * The safety net behind the notifier's queue: confirms that SaaShop was sent every status the event
 * is owed (its order's, or the failure's). A report never claimed (a message lost or dead-lettered)
 * is requested again on the bus; the record closes once its order is final and every report is
 * sent (or refused for good), or after `maxReportChecks` confirmations with backoff.
 */
async function confirmReports(
  record: SaashopEventRecord,
  deps: PollDeps,
): Promise<'confirmed' | 'requested' | 'waiting' | 'closed'> {
  const { settings } = deps;
  const now = deps.clock.now();
  let owed: SaashopStatusCode[] = ['ProvisioningFailed'];
  let final = true;
  let subject = `EVENT#${record.eventId}`;
  if (record.status === 'SUBMITTED') {
    const order = record.hubOrderId ? await deps.orders.get(record.hubOrderId) : undefined;
    owed = order ? owedReports(order) : [];
    final = order ? TERMINAL_STATUSES.has(order.status) : false;
    subject = record.hubOrderId ?? subject;
  }
  const done = new Set(
    (await deps.reports.listFor(subject)).filter((r) => r.state !== 'SENDING').map((r) => r.statusCode),
  );
  const missing = owed.filter((s) => !done.has(s));
  if (final && missing.length === 0) {
    await deps.events.close(record, 'status reports confirmed', now);
    return 'confirmed';
  }
  const checks = record.reportChecks ?? 0;
  if (checks >= settings.maxReportChecks) {
    const log = final ? logger.error : logger.warn;
    log.call(logger, 'saashop status reports no longer watched', {
      eventId: record.eventId,
      missing: missing.join(','),
      final,
    });
    await deps.events.close(
      record,
      final ? `reports never confirmed: ${missing.join(', ')}` : 'no final status yet',
      now,
    );
    return 'closed';
  }
  if (missing.length > 0) {
    await deps.publisher.publish([
      record.status === 'SUBMITTED' && record.hubOrderId
        ? {
            type: 'saashop.report.requested',
            detail: { tenant: settings.tenant, orderId: record.hubOrderId },
          }
        : failedEvent(record, settings.tenant),
    ]);
  }
  const delay = Math.min(settings.reportCheckMs * 2 ** (checks + 1), 86_400_000);
  await deps.events.recheck(record, new Date(now.getTime() + delay));
  return missing.length > 0 ? 'requested' : 'waiting';
}

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
