import { parseRetryAfter } from '../../shared/clients/http.ts';
import type { Clock } from '../../shared/clock.ts';
import {
  type Attempt,
  dueKeyFor,
  MAX_ATTEMPTS_KEPT,
  type Notice,
  type WebhookDelivery,
  type WebhookDeliveryRepository,
} from '../../shared/db/entities/webhook-deliveries.ts';
import {
  signingSecrets,
  type WebhookEndpoint,
  type WebhookEndpointRepository,
} from '../../shared/db/entities/webhook-endpoints.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import { count, milliseconds } from '../../shared/telemetry.ts';
import type { DeliveryMessage, DeliveryQueue } from '../../shared/webhooks/delivery-queue.ts';
import { rearmIfReenabled } from '../../shared/webhooks/replay.ts';
import type { SecretBox } from '../../shared/webhooks/secret-box.ts';
import { webhookHeaders } from '../../shared/webhooks/signing.ts';
import type { Sender } from './http-sender.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { type AttemptOutcome, nextRetryDelayMs } from './retry-policy.ts';

/** An attempt in flight holds the delivery this long; a crashed worker's attempt is retried after it. */
export const ATTEMPT_LEASE_MS = 90_000;
/** Continuous failure for this long disables the endpoint. */
export const FAILING_DISABLE_MS = 5 * 24 * 3_600_000;
/** Send rate of an endpoint that is currently failing. */
export const FAILING_RATE_PER_SECOND = 1;
export const USER_AGENT = 'Switchboard-Webhooks/1.0 (+https://www.standardwebhooks.com)';

export interface DelivererDeps {
  deliveries: Pick<
    WebhookDeliveryRepository,
    'get' | 'claim' | 'transition' | 'putDue' | 'deleteDue' | 'clearNotices'
  >;
  endpoints: Pick<WebhookEndpointRepository, 'get' | 'update' | 'markFailing' | 'clearFailing'>;
  queue: DeliveryQueue;
  publisher: Publisher;
  send: Sender;
  rateLimiter: RateLimiter;
  clock: Clock;
  random: () => number;
  newClaimId: () => string;
  /** Opens the sealed endpoint secrets (KMS envelope, bound to tenant + endpoint id). */
  secrets: SecretBox;
}

export type DeliverOutcome =
  | 'missing'
  | 'stale'
  | 'finished'
  | 'notified'
  | 'not-due'
  | 'throttled'
  | 'lost-claim'
  | 'cancelled'
  | 'skipped'
  | 'rearmed'
  | 'succeeded'
  | 'retry-scheduled'
  | 'failed';

const dueTime = (dueKey: string) => Date.parse(dueKey.slice(0, dueKey.indexOf('#')));

/**
 * Handles one delivery queue message: works out from the stored delivery whether an attempt is due,
 * takes it (one worker only), sends it signed, and records the outcome with the next due time.
 * Every step is idempotent and ordered so that a crash at any line leaves a due item behind:
 * the delivery is retried (same `webhook-id`), never lost.
 */
export async function deliver(msg: DeliveryMessage, deps: DelivererDeps): Promise<DeliverOutcome> {
  const d = await deps.deliveries.get(msg.deliveryId);
  const now = deps.clock.now();
  if (!d) {
    await deps.deliveries.deleteDue(msg.dueKey);
    return 'missing';
  }
  if (d.dueKey !== msg.dueKey) {
    // A wake-up that is no longer current. Delete its due item only when it is certainly an orphan:
    // older than the current one, or long past (a fresh one may belong to a transition in progress).
    const older = d.dueKey !== undefined && msg.dueKey < d.dueKey;
    if (older || dueTime(msg.dueKey) < now.getTime() - 60_000) await deps.deliveries.deleteDue(msg.dueKey);
    return 'stale';
  }
  if (d.status !== 'pending') {
    if (d.notices?.length) {
      await finishNotices(d, msg.dueKey, deps);
      return 'notified';
    }
    await deps.deliveries.deleteDue(msg.dueKey);
    return 'finished';
  }
  const dueAt = Date.parse(d.nextAttemptAt ?? now.toISOString());
  if (dueAt > now.getTime()) {
    await deps.queue.enqueue([{ ...msg, delaySeconds: Math.ceil((dueAt - now.getTime()) / 1000) }]);
    return 'not-due';
  }
  const endpoint = await deps.endpoints.get(d.endpointTenant, d.endpointId);
  if (endpoint?.status === 'enabled') {
    // A failing endpoint (often slow: each timeout holds a worker 15 s) gets the slow lane, so its
    // backlog cannot fill the deliverer's concurrency; the first success restores its rate.
    const perSecond = endpoint.failingSince
      ? Math.min(endpoint.rateLimitPerSecond, FAILING_RATE_PER_SECOND)
      : endpoint.rateLimitPerSecond;
    const allowed = await deps.rateLimiter.tryAcquire(endpoint.id, perSecond, now);
    if (!allowed) {
      // Back to the queue, not a sleep: a busy endpoint never holds a worker other endpoints need.
      // Repeated refusals back off (1-2 s, 2-4 s … up to a minute) so a large backlog does not
      // spin through the queue every second.
      const throttled = (msg.throttled ?? 0) + 1;
      const ceiling = Math.min(60, 2 ** throttled);
      const delaySeconds = Math.max(1, Math.ceil(ceiling * (0.5 + deps.random() / 2)));
      await deps.queue.enqueue([{ deliveryId: msg.deliveryId, dueKey: msg.dueKey, throttled, delaySeconds }]);
      return 'throttled';
    }
  }
  // Key trouble (KMS unreachable, a secret not sealed for this endpoint) surfaces before the claim,
  // so it cannot leave an attempt leased for nothing.
  const secrets =
    endpoint?.status === 'enabled'
      ? await Promise.all(
          signingSecrets(endpoint, now).map((sealed) =>
            deps.secrets.open(sealed, { tenant: endpoint.tenant, endpointId: endpoint.id }),
          ),
        )
      : [];
  const claimId = deps.newClaimId();
  if (
    !(await deps.deliveries.claim(
      d.id,
      d.nextAttemptAt!,
      claimId,
      new Date(now.getTime() + ATTEMPT_LEASE_MS),
    ))
  ) {
    return 'lost-claim';
  }
  if (endpoint?.status !== 'enabled') {
    // Disabled (by an operator, by 410 Gone, by 5 days of failures; or fan-out saw it enabled a
    // moment before, through its short cache): not sent, recorded `skipped` with the attempts made so
    // far, exactly like an event published while disabled — re-enabling with replaySkipped, or
    // "replay since T", delivers it. A deleted endpoint cancels it. (Deliveries in the middle of their
    // retries used to be cancelled: the chaos soak found order.fulfilled events that no re-enabling
    // ever delivered.)
    const skipped = endpoint !== undefined;
    const moved = await deps.deliveries.transition(
      d.id,
      {
        status: skipped ? 'skipped' : 'cancelled',
        updatedAt: now.toISOString(),
        completedAt: now.toISOString(),
        lastError: endpoint ? 'endpoint disabled' : 'endpoint deleted',
      },
      { claimId },
      ['nextAttemptAt', 'dueKey', 'claimId'],
    );
    await deps.deliveries.deleteDue(msg.dueKey);
    // Re-enabled since we read it? Its replay may have missed this one.
    if (moved && skipped && (await rearmIfReenabled(d, deps))) return 'rearmed';
    return skipped ? 'skipped' : 'cancelled';
  }

  const timestampSeconds = Math.floor(now.getTime() / 1000);
  const result = await deps.send({
    url: endpoint.url,
    body: d.payload,
    headers: {
      ...webhookHeaders({
        msgId: d.id,
        timestampSeconds,
        payload: d.payload,
        secrets,
      }),
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    },
  });
  const finishedAt = deps.clock.now();
  milliseconds('WebhookDeliveryLatency', result.durationMs);
  const attempt: Attempt = {
    n: d.attemptCount + 1,
    at: now.toISOString(),
    durationMs: result.durationMs,
    ...(result.statusCode !== undefined ? { statusCode: result.statusCode } : {}),
    ...(result.error ? { error: result.error } : {}),
    ...(result.responseBody ? { responseBody: result.responseBody } : {}),
  };
  const ok = result.kind === 'response' && result.statusCode! >= 200 && result.statusCode! < 300;
  const base = {
    updatedAt: finishedAt.toISOString(),
    attemptCount: d.attemptCount + 1,
    ...(result.statusCode !== undefined ? { lastStatusCode: result.statusCode } : {}),
  };

  if (ok) {
    await deps.deliveries.transition(
      d.id,
      {
        ...base,
        status: 'succeeded',
        attempts: keep(d.attempts, attempt),
        completedAt: finishedAt.toISOString(),
      },
      { claimId },
      ['nextAttemptAt', 'dueKey', 'claimId', 'notices'],
    );
    await deps.deliveries.deleteDue(msg.dueKey);
    if (endpoint.failingSince) await deps.endpoints.clearFailing(endpoint.tenant, endpoint.id);
    count('WebhookDeliveriesSucceeded');
    milliseconds('WebhookDeliveryAge', finishedAt.getTime() - Date.parse(d.createdAt));
    return 'succeeded';
  }

  const lastError = result.error ?? `HTTP ${result.statusCode}`;
  const notices: Notice[] = [];
  if (result.statusCode === 410) notices.push('endpoint-gone');
  else {
    const failing = await deps.endpoints.markFailing(endpoint.tenant, endpoint.id, finishedAt);
    if (
      failing?.failingSince &&
      finishedAt.getTime() - Date.parse(failing.failingSince) >= FAILING_DISABLE_MS
    ) {
      notices.push('endpoint-failing');
    }
  }
  const outcome: AttemptOutcome =
    result.kind === 'response'
      ? {
          kind: 'response',
          statusCode: result.statusCode!,
          retryAfterMs: parseRetryAfter(result.retryAfter ?? null, finishedAt.getTime()),
        }
      : { kind: result.kind };
  const delayMs = notices.length ? undefined : nextRetryDelayMs(d.retryIndex + 1, outcome, deps.random);

  if (delayMs === undefined) {
    if (!notices.length) notices.push('exhausted');
    // Terminal, but the due item stays until the notices are done: it is their outbox.
    const written = await deps.deliveries.transition(
      d.id,
      {
        ...base,
        status: 'failed',
        attempts: keep(d.attempts, attempt),
        lastError,
        notices,
        completedAt: finishedAt.toISOString(),
      },
      { claimId },
      ['nextAttemptAt', 'claimId'],
    );
    if (!written) return 'lost-claim';
    count('WebhookDeliveriesFailed');
    await finishNotices({ ...d, ...base, status: 'failed', notices, lastError }, msg.dueKey, deps, endpoint);
    return 'failed';
  }

  const nextAt = new Date(finishedAt.getTime() + delayMs);
  const nextDueKey = dueKeyFor(nextAt, d.id);
  await deps.deliveries.putDue(nextDueKey);
  const written = await deps.deliveries.transition(
    d.id,
    {
      ...base,
      status: 'pending',
      retryIndex: d.retryIndex + 1,
      nextAttemptAt: nextAt.toISOString(),
      dueKey: nextDueKey,
      lastError,
      attempts: keep(d.attempts, { ...attempt, nextAttemptAt: nextAt.toISOString() }),
    },
    { claimId },
    ['claimId'],
  );
  if (!written) {
    await deps.deliveries.deleteDue(nextDueKey);
    return 'lost-claim';
  }
  await deps.deliveries.deleteDue(msg.dueKey);
  await deps.queue.enqueue([
    { deliveryId: d.id, dueKey: nextDueKey, delaySeconds: Math.ceil(delayMs / 1000) },
  ]);
  count('WebhookDeliveryRetries');
  return 'retry-scheduled';
}

function keep(attempts: Attempt[], next: Attempt): Attempt[] {
  return [...attempts, next].slice(-MAX_ATTEMPTS_KEPT);
}

/**
 * Side effects of a terminal failure, each safe to repeat: disable the endpoint and publish
 * `webhook.endpoint.disabled` once (flag on the endpoint), publish `webhook.delivery.exhausted`;
 * then drop the notices and the due item that kept them alive.
 */
async function finishNotices(
  d: WebhookDelivery,
  dueKey: string,
  deps: DelivererDeps,
  knownEndpoint?: WebhookEndpoint,
): Promise<void> {
  const now = deps.clock.now();
  for (const notice of d.notices ?? []) {
    if (notice === 'exhausted') {
      await deps.publisher.publish([
        {
          type: 'webhook.delivery.exhausted',
          detail: {
            tenant: d.endpointTenant,
            endpointId: d.endpointId,
            deliveryId: d.id,
            eventType: d.eventType,
            attempts: d.attemptCount,
            ...(d.lastStatusCode !== undefined ? { lastStatusCode: d.lastStatusCode } : {}),
            ...(d.lastError ? { lastError: d.lastError.slice(0, 500) } : {}),
          },
        },
      ]);
      continue;
    }
    const reason = notice === 'endpoint-gone' ? 'gone' : 'failing';
    await deps.endpoints.update(
      d.endpointTenant,
      d.endpointId,
      {
        status: 'disabled',
        disabledReason: reason,
        disabledAt: now.toISOString(),
        disabledNotified: false,
        updatedAt: now.toISOString(),
      },
      { expectStatus: 'enabled' },
    );
    const endpoint = (await deps.endpoints.get(d.endpointTenant, d.endpointId)) ?? knownEndpoint;
    if (
      endpoint &&
      endpoint.status === 'disabled' &&
      endpoint.disabledReason === reason &&
      !endpoint.disabledNotified
    ) {
      await deps.publisher.publish([
        {
          type: 'webhook.endpoint.disabled',
          detail: {
            tenant: endpoint.tenant,
            endpointId: endpoint.id,
            reason,
            host: new URL(endpoint.url).host,
            disabledAt: endpoint.disabledAt ?? now.toISOString(),
          },
        },
      ]);
      await deps.endpoints.update(endpoint.tenant, endpoint.id, {
        disabledNotified: true,
        updatedAt: now.toISOString(),
      });
    }
  }
  await deps.deliveries.clearNotices(d.id, dueKey);
  await deps.deliveries.deleteDue(dueKey);
}
