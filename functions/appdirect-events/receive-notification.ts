import { type EventOutcome, pendingBody } from '../../shared/appdirect/answers.ts';
import type { CompleteEventMessage } from '../../shared/appdirect/deps.ts';
import { type AppDirectEvent, parseEvent } from '../../shared/appdirect/events.ts';
import {
  type AppDirectSecret,
  credentialsOf,
  type Marketplace,
  pinEventUrl,
} from '../../shared/appdirect/marketplaces.ts';
import type { EventContext } from '../../shared/appdirect/process-event.ts';
import type { MarketplaceResponse } from '../../shared/clients/appdirect.ts';
import { verifyRequest } from '../../shared/clients/appdirect-oauth1.ts';
import type { Clock } from '../../shared/clock.ts';
import type { AppDirectEventStore, StoredAnswer } from '../../shared/db/entities/appdirect-events.ts';
import type { Stage } from '../../shared/env.ts';
import { TransientError, UnauthorizedError, ValidationError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';

/**
 * The notification URL. In order, and refusing with nothing fetched at the first failure:
 *  1. the `eventUrl` is pinned to a configured marketplace (host, port, scheme, path) — 400;
 *  2. the call's OAuth 1.0a signature is verified when that marketplace signs — 401;
 *  3. an event already answered gets its first answer back (exactly once per event id);
 *  4. the event is fetched with a signed GET; a malformed event is a 400 in AppDirect's shape;
 *  5. the event is handled: answered now (200) or accepted for later (202, result posted by the
 *     notifier). A partner outage at any step after pinning becomes a 202 and the notifier finishes
 *     the event, so a well-formed event never gets a 5xx.
 */
export interface ReceiveNotificationDeps {
  stage: Stage;
  clock: Clock;
  marketplaces: () => Promise<Marketplace[]>;
  secret: () => Promise<AppDirectSecret>;
  fetchEvent: (marketplace: Marketplace, eventUrl: string) => Promise<MarketplaceResponse>;
  process: (event: AppDirectEvent, ctx: EventContext) => Promise<EventOutcome>;
  events: Pick<AppDirectEventStore, 'get' | 'recordAnswer'>;
  complete: (message: CompleteEventMessage) => Promise<void>;
}

export interface NotificationInput {
  eventUrl: string;
  /** The URL the marketplace called (with its query string), as it signed it. */
  requestUrl: string;
  method: string;
  authorization: string | undefined;
}

/** Refuses an `eventUrl` that is not pinned to a marketplace: nothing is fetched or signed. */
export class EventUrlRefusedError extends ValidationError {
  constructor(message: string) {
    super(message, [{ field: 'eventUrl', message }], 'EVENT_URL_REFUSED');
  }
}

const MAX_SKEW_SECONDS = 300;

export async function receiveNotification(
  input: NotificationInput,
  deps: ReceiveNotificationDeps,
): Promise<StoredAnswer> {
  const pinned = pinEventUrl(input.eventUrl, await deps.marketplaces(), deps.stage);
  if (!pinned.ok) {
    logger.warn('appdirect eventUrl refused', { reason: pinned.reason });
    throw new EventUrlRefusedError(pinned.message);
  }
  const { marketplace, eventId, url } = pinned;
  if (marketplace.signedNotifications) {
    const secret = await deps.secret();
    const creds = credentialsOf(secret, marketplace.id);
    const verdict = verifyRequest({
      method: input.method,
      url: input.requestUrl,
      authorization: input.authorization,
      secretOf: (key) => (creds && key === creds.consumerKey ? creds.consumerSecret : undefined),
      nowSeconds: Math.floor(deps.clock.now().getTime() / 1000),
      maxSkewSeconds: MAX_SKEW_SECONDS,
    });
    if (!verdict.ok) {
      logger.warn('appdirect notification signature refused', {
        reason: verdict.reason,
        marketplace: marketplace.id,
      });
      throw new UnauthorizedError(
        verdict.reason === 'missing'
          ? 'The notification must be signed (OAuth 1.0a HMAC-SHA1 with the product consumer key).'
          : `The notification signature is not valid (${verdict.reason}).`,
        'INVALID_SIGNATURE',
      );
    }
  }
  logger.appendKeys({ marketplace: marketplace.id, appdirect_event: eventId });
  try {
    const known = await deps.events.get(marketplace.id, eventId);
    if (known?.answer) return known.answer;
    const store = async (answer: StoredAnswer, type?: string) =>
      (
        await deps.events.recordAnswer(
          { marketplaceId: marketplace.id, eventId, eventUrl: url, ...(type ? { type } : {}), answer },
          deps.clock.now(),
        )
      ).answer!;
    const later = async (reason: string, type?: string) => {
      logger.warn('appdirect event finishes asynchronously', { reason });
      await deps.complete({ kind: 'complete-event', marketplaceId: marketplace.id, eventId, eventUrl: url });
      return store(
        {
          statusCode: 202,
          body: pendingBody('Accepted; the result will be posted when the event is processed.'),
        },
        type,
      );
    };

    let fetched: MarketplaceResponse;
    try {
      fetched = await deps.fetchEvent(marketplace, url);
    } catch (error) {
      if (error instanceof TransientError) return later(`fetch: ${error.message}`);
      throw error;
    }
    if (fetched.status === 404) {
      throw new ValidationError(
        'The marketplace has no such event.',
        [{ field: 'eventUrl', message: 'the marketplace answered 404' }],
        'EVENT_NOT_FOUND',
      );
    }
    if (fetched.status !== 200) return later(`fetch answered ${fetched.status}`);
    const event = parseEvent(fetched.body);
    let outcome: EventOutcome;
    try {
      outcome = await deps.process(event, { marketplace, eventId });
    } catch (error) {
      if (error instanceof TransientError) return later(`process: ${error.message}`, event.type);
      throw error;
    }
    logger.info('appdirect event handled', {
      type: event.type,
      outcome:
        outcome.kind === 'pending'
          ? 'pending'
          : outcome.result.success
            ? 'success'
            : outcome.result.errorCode,
    });
    return outcome.kind === 'pending'
      ? store({ statusCode: 202, body: pendingBody(outcome.message) }, event.type)
      : store({ statusCode: 200, body: outcome.result }, event.type);
  } finally {
    logger.removeKeys(['marketplace', 'appdirect_event']);
  }
}
