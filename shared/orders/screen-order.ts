import type { FirstResponse, Order } from '../db/entities/orders.ts';
import { logger } from '../logger.ts';
import {
  type ScreeningProvider,
  type ScreeningResult,
  ScreeningUnavailableError,
} from '../screening/provider.ts';
import { count } from '../telemetry.ts';
import { announce, type LifecycleDeps, orderEvent } from './lifecycle.ts';
import { SCREENING_BLOCKED_REASON, SCREENING_REVIEW_REASON } from './public-reason.ts';

/**
 * Screens an order's Sell To party and applies the outcome: blocked → REJECTED, review →
 * NEEDS_REVIEW, clear → ACCEPTED; unavailable (error or over budget) → the order stays RECEIVED and
 * `order.received` asks for a retry. Used synchronously by intake (3 s budget) and asynchronously
 * by the screening retry consumer. Never accepts unscreened.
 */
export interface ScreenOrderDeps extends LifecycleDeps {
  screening: ScreeningProvider;
  /** Time budget of one screening call. */
  budgetMs: number;
}

export type ScreenOutcome = { kind: 'screened'; order: Order } | { kind: 'unavailable'; order: Order };

/** The answer `POST /v1/orders` gives for an order in `status` (stored as the first answer). */
export function submissionResponse(
  order: Pick<Order, 'orderId' | 'channelOrderId'>,
  status: Order['status'],
) {
  const base = { orderId: order.orderId, channelOrderId: order.channelOrderId, status };
  switch (status) {
    case 'ACCEPTED':
      return { statusCode: 201, body: { ...base, message: 'The order is accepted and being provisioned.' } };
    case 'NEEDS_REVIEW':
      return {
        statusCode: 202,
        body: { ...base, message: 'The buyer needs a compliance review; the order waits for an operator.' },
      };
    case 'REJECTED':
      return {
        statusCode: 422,
        body: {
          error: 'RESTRICTED_PARTY',
          message: 'The Sell To party is a restricted party; the order is refused.',
          details: [{ field: 'sellTo', message: 'matches a restricted-party list entry' }],
          ...base,
        },
      };
    default:
      return {
        statusCode: 202,
        body: { ...base, message: 'The order is stored; screening will complete asynchronously.' },
      };
  }
}

async function screenWithin(
  provider: ScreeningProvider,
  order: Order,
  budgetMs: number,
): Promise<ScreeningResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ScreeningUnavailableError(`screening took longer than ${budgetMs} ms`));
    }, budgetMs);
  });
  try {
    return await Promise.race([
      provider.screen(
        {
          name: order.sellTo.company,
          country: order.sellTo.address.country,
          address: order.sellTo.address,
        },
        { signal: controller.signal },
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function screenOrder(
  order: Order,
  deps: ScreenOrderDeps,
  options: { recordFirstResponse: boolean },
): Promise<ScreenOutcome> {
  let result: ScreeningResult;
  try {
    result = await screenWithin(deps.screening, order, deps.budgetMs);
  } catch (error) {
    if (!(error instanceof ScreeningUnavailableError)) throw error;
    logger.warn('screening unavailable; order kept RECEIVED', {
      orderId: order.orderId,
      reason: error.message,
    });
    const response = submissionResponse(order, 'RECEIVED') as FirstResponse;
    const received =
      order.status === 'RECEIVED' && !options.recordFirstResponse
        ? order
        : await deps.orders.transition(order.orderId, {
            from: ['SCREENING', 'RECEIVED'],
            to: 'RECEIVED',
            reason: 'screening service unavailable; screening will be retried',
            event: orderEvent('order.received', order, 'RECEIVED'),
            ...(options.recordFirstResponse ? { firstResponse: response } : {}),
            now: deps.clock.now(),
          });
    const current = received ?? (await deps.orders.get(order.orderId)) ?? order;
    if (received && received !== order) {
      count('OrdersReceived');
      await announce(received, deps);
    }
    return { kind: 'unavailable', order: current };
  }

  const to =
    result.outcome === 'blocked' ? 'REJECTED' : result.outcome === 'review' ? 'NEEDS_REVIEW' : 'ACCEPTED';
  const best = result.evidence[0];
  const reason =
    to === 'REJECTED'
      ? `RESTRICTED_PARTY: ${best ? `${best.list} entry ${best.entryId} (score ${best.score.toFixed(2)})` : 'listed'}`
      : to === 'NEEDS_REVIEW'
        ? `possible restricted-party match${best ? `: ${best.list} entry ${best.entryId} (score ${best.score.toFixed(2)})` : ''}`
        : undefined;
  // The history keeps the evidence for operators; the event (channels, webhooks) carries the outcome.
  const publicReason =
    to === 'REJECTED'
      ? SCREENING_BLOCKED_REASON
      : to === 'NEEDS_REVIEW'
        ? SCREENING_REVIEW_REASON
        : undefined;
  const type =
    to === 'REJECTED' ? 'order.rejected' : to === 'NEEDS_REVIEW' ? 'order.needs-review' : 'order.accepted';
  const moved = await deps.orders.transition(order.orderId, {
    from: ['SCREENING', 'RECEIVED'],
    to,
    ...(reason ? { reason } : {}),
    set: {
      screening: {
        outcome: result.outcome,
        provider: result.provider,
        screenedAt: result.screenedAt,
        evidence: result.evidence,
        ...(result.listVersion ? { listVersion: result.listVersion } : {}),
      },
    },
    event: orderEvent(type, order, to, publicReason),
    ...(options.recordFirstResponse ? { firstResponse: submissionResponse(order, to) as FirstResponse } : {}),
    now: deps.clock.now(),
  });
  if (!moved) {
    // Another worker (a concurrent duplicate, the retry consumer) screened it first: use its result.
    return { kind: 'screened', order: (await deps.orders.get(order.orderId)) ?? order };
  }
  count(
    to === 'REJECTED' ? 'OrdersRejected' : to === 'NEEDS_REVIEW' ? 'OrdersNeedsReview' : 'OrdersAccepted',
  );
  await announce(moved, deps);
  return { kind: 'screened', order: moved };
}
