import type { SaashopClient } from '../../shared/clients/saashop.ts';
import type { Clock } from '../../shared/clock.ts';
import type { FirstResponse, OrderRepository } from '../../shared/db/entities/orders.ts';
import type { SaashopEventRecord, SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';
import type { SaashopReportRepository } from '../../shared/db/entities/saashop-reports.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import { logger } from '../../shared/logger.ts';
import type { SubmitOrderInput } from '../../shared/orders/submit-order.ts';
import { announceRecord, confirmReports } from './confirm-reports.ts';
import type { NormaliseSettings } from './normalise.ts';
import { describeFeedEvent, processEvent, type Step } from './process-event.ts';

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
  /**
   * Events this poll did not finish: an unexpected error, the invocation ran out of time, or another
   * poll finished them first. Whatever is unfinished stays due.
   */
  leftDue: number;
  offset: number;
  feedError?: string;
}

/** Runs one poll (due work, then the feed) and returns what it did; never throws for SaaShop's answers. */
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

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
