import type { EventOutcome } from '../../shared/appdirect/answers.ts';
import { type AppDirectResult, failure, success } from '../../shared/appdirect/answers.ts';
import type { CompleteEventMessage } from '../../shared/appdirect/deps.ts';
import { type AppDirectEvent, parseEvent } from '../../shared/appdirect/events.ts';
import type { Marketplace } from '../../shared/appdirect/marketplaces.ts';
import type { EventContext } from '../../shared/appdirect/process-event.ts';
import type { MarketplaceResponse } from '../../shared/clients/appdirect.ts';
import type { Clock } from '../../shared/clock.ts';
import type { AppDirectAccountStore } from '../../shared/db/entities/appdirect-accounts.ts';
import type { AppDirectEventStore } from '../../shared/db/entities/appdirect-events.ts';
import type { OrderRepository } from '../../shared/db/entities/orders.ts';
import type { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { AppError, TransientError } from '../../shared/errors.ts';
import type { OrderEventDetail } from '../../shared/events/catalog/orders.ts';
import { logger } from '../../shared/logger.ts';

/**
 * The AppDirect notifier: the one consumer of the channel's asynchronous work (its queue is fed by
 * the rule matching order events with `detail.channel: appdirect`, and by the notification function
 * for events it could not finish at once). It posts each event's result to the marketplace exactly
 * once: the result is stored on the event's claim item first (the first result wins), and the post
 * is skipped once the marketplace has it. Failures escape so SQS retries with backoff, then the DLQ.
 */
export interface NotifierDeps {
  clock: Clock;
  marketplace: (id: string) => Promise<Marketplace | undefined>;
  fetchEvent: (marketplace: Marketplace, eventUrl: string) => Promise<MarketplaceResponse>;
  postResult: (
    marketplace: Marketplace,
    eventId: string,
    result: AppDirectResult,
  ) => Promise<MarketplaceResponse>;
  process: (event: AppDirectEvent, ctx: EventContext) => Promise<EventOutcome>;
  events: Pick<AppDirectEventStore, 'get' | 'recordResult' | 'markResultPosted' | 'markResultRefused'>;
  orders: Pick<OrderRepository, 'get'>;
  accounts: Pick<AppDirectAccountStore, 'patch'>;
  registry: Pick<SubscriptionRegistry, 'setAppDirectAccount'>;
}

/** An order's result may be posted before its notification was answered only after this long. */
const ANSWER_GRACE_MS = 120_000;

/**
 * Stores `result` as the event's result (unless one is stored) and posts the stored one, unless the
 * marketplace already has it. A result is not posted before the notification's 202 was given (the
 * marketplace would not expect it yet), except for events older than a grace period.
 */
export async function postEventResult(
  input: {
    marketplace: Marketplace;
    eventId: string;
    eventUrl?: string;
    result: AppDirectResult;
    since?: string;
  },
  deps: NotifierDeps,
): Promise<'posted' | 'already-posted' | 'refused'> {
  const { marketplace, eventId } = input;
  const record = await deps.events.recordResult(
    {
      marketplaceId: marketplace.id,
      eventId,
      ...(input.eventUrl ? { eventUrl: input.eventUrl } : {}),
      result: input.result,
    },
    deps.clock.now(),
  );
  if (record.resultPostedAt) return 'already-posted';
  if (record.resultRefused) return 'refused';
  const since = Date.parse(input.since ?? record.createdAt);
  if (!record.answer && deps.clock.now().getTime() - since < ANSWER_GRACE_MS) {
    throw new TransientError(`event ${eventId} is not answered yet; its result waits`);
  }
  if (record.answer && record.answer.statusCode !== 202) {
    // Answered synchronously: the marketplace has the outcome and expects no result.
    await deps.events.markResultPosted(marketplace.id, eventId, deps.clock.now());
    return 'already-posted';
  }
  const res = await deps.postResult(marketplace, eventId, record.result!);
  if (res.status >= 200 && res.status < 300) {
    await deps.events.markResultPosted(marketplace.id, eventId, deps.clock.now());
    logger.info('appdirect result posted', { eventId, success: record.result!.success });
    return 'posted';
  }
  if (res.status === 409) {
    // The marketplace already holds a result for this event (a post whose answer was lost).
    await deps.events.markResultPosted(marketplace.id, eventId, deps.clock.now());
    return 'already-posted';
  }
  if (res.status === 401 || res.status === 403) {
    throw new TransientError(
      `the marketplace refused our credentials when posting a result (HTTP ${res.status})`,
    );
  }
  await deps.events.markResultRefused(marketplace.id, eventId, `HTTP ${res.status}`, deps.clock.now());
  logger.error('appdirect result refused by the marketplace', { eventId, status: res.status });
  return 'refused';
}

/** Finishes an event the notification function answered with 202 (fetch, handle, post the result). */
export async function completeEvent(message: CompleteEventMessage, deps: NotifierDeps): Promise<void> {
  const marketplace = await deps.marketplace(message.marketplaceId);
  if (!marketplace) {
    logger.error('appdirect event of an unknown marketplace dropped', { marketplace: message.marketplaceId });
    return;
  }
  const known = await deps.events.get(marketplace.id, message.eventId);
  if (known?.resultPostedAt || known?.resultRefused) return;
  const post = (result: AppDirectResult) =>
    postEventResult({ marketplace, eventId: message.eventId, eventUrl: message.eventUrl, result }, deps);
  if (known?.result) {
    await post(known.result);
    return;
  }
  const fetched = await deps.fetchEvent(marketplace, message.eventUrl);
  if (fetched.status === 404) {
    await deps.events.markResultRefused(
      marketplace.id,
      message.eventId,
      'the marketplace has no such event',
      deps.clock.now(),
    );
    return;
  }
  if (fetched.status !== 200) throw new TransientError(`event fetch answered ${fetched.status}`);
  let event: AppDirectEvent;
  try {
    event = parseEvent(fetched.body);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await post(failure('INVALID_RESPONSE', error.message));
    return;
  }
  const outcome = await deps.process(event, { marketplace, eventId: message.eventId });
  // An order's result is posted when the order settles (its order event arrives here too).
  if (outcome.kind === 'answer') await post(outcome.result);
}

/** Order events of the appdirect channel: keep the account in step and post the order's result. */
export async function onOrderEvent(
  type: string,
  detail: OrderEventDetail,
  deps: NotifierDeps,
): Promise<void> {
  const order = await deps.orders.get(detail.orderId);
  const ref = order?.channelRef;
  if (!order || !ref?.eventId || !ref.marketplaceId || !ref.accountIdentifier) {
    logger.warn('appdirect order event without marketplace references', { orderId: detail.orderId, type });
    return;
  }
  const marketplace = await deps.marketplace(ref.marketplaceId);
  if (!marketplace) {
    logger.error('appdirect order of an unknown marketplace', {
      orderId: order.orderId,
      marketplace: ref.marketplaceId,
    });
    return;
  }
  const accountIdentifier = ref.accountIdentifier;
  const now = deps.clock.now();
  let result: AppDirectResult | undefined;
  switch (type) {
    case 'order.billing.provisioned': {
      if (!order.billing) return;
      await deps.accounts.patch(
        accountIdentifier,
        {
          orderId: order.orderId,
          subscriptionNumber: order.billing.subscriptionNumber,
          zuoraAccountNumber: order.billing.accountNumber,
        },
        now,
      );
      // Usage of this subscription is billed to the marketplace that holds the account.
      await deps.registry.setAppDirectAccount(
        order.billing.subscriptionNumber,
        {
          accountIdentifier,
          marketplaceId: marketplace.id,
          baseUrl: ref.marketplaceBaseUrl ?? marketplace.baseUrl,
        },
        now,
      );
      return;
    }
    case 'order.fulfilled':
      await deps.accounts.patch(accountIdentifier, { status: 'ACTIVE' }, now, ['PENDING']);
      result = success('The subscription is active.', { accountIdentifier });
      break;
    case 'order.rejected':
      await deps.accounts.patch(accountIdentifier, { status: 'FAILED' }, now, ['PENDING']);
      result = failure('FORBIDDEN', 'The order was refused by export-compliance screening.');
      break;
    case 'order.failed':
      await deps.accounts.patch(accountIdentifier, { status: 'FAILED' }, now, ['PENDING']);
      result = failure(
        'UNKNOWN_ERROR',
        'The subscription could not be provisioned; our team has been notified.',
      );
      break;
    default:
      return;
  }
  await postEventResult({ marketplace, eventId: ref.eventId, result, since: order.createdAt }, deps);
}
