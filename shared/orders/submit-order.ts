import { createHash } from 'node:crypto';
import type { Clock } from '../clock.ts';
import type { FirstResponse, Order, OrderRepository } from '../db/entities/orders.ts';
import { ConflictError } from '../errors.ts';
import type { IdGenerator } from '../ids.ts';
import type { OrderChannel, OrderRequest } from './contract.ts';
import { type ScreenOrderDeps, screenOrder, submissionResponse } from './screen-order.ts';

/**
 * `POST /v1/orders`: claims the idempotency values (the `Idempotency-Key`, and always the channel
 * order id, unique per tenant), stores the order, screens the buyer within the budget and answers.
 * Every step is conditional and resumable, so a retry — sequential, concurrent, or after a crash —
 * continues the first attempt and gets its answer; the same key with another body is a 409.
 */
export interface SubmitOrderDeps extends ScreenOrderDeps {
  orders: Pick<
    OrderRepository,
    'claim' | 'setClaim' | 'create' | 'get' | 'transition' | 'settle' | 'recordStep'
  >;
  ids: IdGenerator;
  clock: Clock;
  /** How long a duplicate waits for the first attempt's answer (ms), and how often it looks. */
  duplicateWait?: { totalMs: number; intervalMs: number };
  sleep?: (ms: number) => Promise<void>;
}

export interface SubmitOrderInput {
  tenant: string;
  order: OrderRequest;
  idempotencyKey: string | undefined;
  /** Marketplace connectors name their channel (default `api`) and keep their own references. */
  channel?: OrderChannel;
  channelRef?: Record<string, string>;
}

/** Hash of the canonical JSON (sorted keys) of the validated body: "same request" means same hash. */
export function requestHash(tenant: string, order: OrderRequest): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.entries(v as Record<string, unknown>)
              .filter(([, x]) => x !== undefined)
              .sort(([a], [b]) => (a < b ? -1 : 1))
              .map(([k, x]) => [k, canonical(x)]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify([tenant, canonical(order)]))
    .digest('base64url');
}

export async function submitOrder(input: SubmitOrderInput, deps: SubmitOrderDeps): Promise<FirstResponse> {
  const { tenant, order: body, idempotencyKey } = input;
  const hash = requestHash(tenant, body);
  let orderId = deps.ids.next('ord');
  let claimedKey = false;

  if (idempotencyKey) {
    const existing = await deps.orders.claim(
      tenant,
      'key',
      idempotencyKey,
      { orderId, requestHash: hash },
      deps.clock.now(),
    );
    if (existing) {
      if (existing.requestHash !== hash) {
        throw new ConflictError(
          'This Idempotency-Key was already used with a different request body.',
          'IDEMPOTENCY_KEY_REUSED',
          [{ field: 'Idempotency-Key', message: 'reused with a different body' }],
        );
      }
      orderId = existing.orderId;
    } else {
      claimedKey = true;
    }
  }

  const channel = await deps.orders.claim(
    tenant,
    'channel',
    body.channelOrderId,
    { orderId, requestHash: hash },
    deps.clock.now(),
  );
  if (channel && channel.orderId !== orderId) {
    if (channel.requestHash !== hash) {
      // Bad input changes nothing: release the key claim this request made.
      if (claimedKey && idempotencyKey) await deps.orders.setClaim(tenant, 'key', idempotencyKey, undefined);
      throw new ConflictError(
        `Channel order ${body.channelOrderId} was already submitted with a different body.`,
        'DUPLICATE_CHANNEL_ORDER_ID',
        [{ field: 'channelOrderId', message: 'already used by another order of this tenant' }],
      );
    }
    // The same order retried under a new key: both keys answer with the first order.
    if (claimedKey && idempotencyKey) {
      await deps.orders.setClaim(tenant, 'key', idempotencyKey, {
        orderId: channel.orderId,
        requestHash: hash,
      });
    }
    orderId = channel.orderId;
  }

  // This request made the channel claim: no order can exist yet (the create is conditional anyway).
  return resume(orderId, input, hash, deps, { fresh: channel === undefined });
}

async function resume(
  orderId: string,
  input: SubmitOrderInput,
  hash: string,
  deps: SubmitOrderDeps,
  options: { fresh: boolean } = { fresh: false },
): Promise<FirstResponse> {
  const { tenant, order: body } = input;
  let order = options.fresh ? undefined : await deps.orders.get(orderId);
  if (order?.firstResponse) return order.firstResponse;
  if (!order) {
    const now = deps.clock.now().toISOString();
    const fresh: Order = {
      orderId,
      tenant,
      channel: input.channel ?? 'api',
      ...(input.channelRef ? { channelRef: input.channelRef } : {}),
      ...body,
      requestHash: hash,
      status: 'SCREENING',
      history: [
        { at: now, status: 'RECEIVED' },
        { at: now, status: 'SCREENING' },
      ],
      redrives: 0,
      zuoraKeys: 0,
      createdAt: now,
      updatedAt: now,
    };
    const created = await deps.orders.create(fresh);
    order = created ? fresh : await deps.orders.get(orderId);
    if (!created) return waitForAnswer(orderId, body.channelOrderId, deps);
  }
  if (!order) return waitForAnswer(orderId, body.channelOrderId, deps);
  if (order.status !== 'SCREENING' && order.status !== 'RECEIVED') {
    return submissionResponse(order, order.status) as FirstResponse;
  }
  const outcome = await screenOrder(order, deps, { recordFirstResponse: true });
  return (
    outcome.order.firstResponse ?? (submissionResponse(outcome.order, outcome.order.status) as FirstResponse)
  );
}

/**
 * A concurrent duplicate lost the race to create the order: wait briefly for the winner's answer
 * rather than screening twice. If it does not come (the winner crashed), answer with the current
 * state; the reconciler finishes the order.
 */
async function waitForAnswer(
  orderId: string,
  channelOrderId: string,
  deps: SubmitOrderDeps,
): Promise<FirstResponse> {
  const { totalMs, intervalMs } = deps.duplicateWait ?? { totalMs: 5_000, intervalMs: 50 };
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (let waited = 0; ; waited += intervalMs) {
    const order = await deps.orders.get(orderId);
    if (order?.firstResponse) return order.firstResponse;
    if (waited >= totalMs) {
      return order
        ? (submissionResponse(order, order.status) as FirstResponse)
        : (submissionResponse({ orderId, channelOrderId }, 'RECEIVED') as FirstResponse);
    }
    await sleep(intervalMs);
  }
}
