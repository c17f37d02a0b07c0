import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import type { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { catalogue } from '../../shared/orders/catalogue.ts';
import { announce, failOrder, type LifecycleDeps, orderEvent } from '../../shared/orders/lifecycle.ts';
import { orderFailure } from '../../shared/orders/public-reason.ts';
import { type ZuoraOrdersPort, ZuoraRetryableRefusal } from './zuora-orders.ts';

/**
 * `order.accepted` → Zuora account + subscription, registered in the subscription registry (usage
 * may then be submitted by the channel and the platform), then ACCEPTED → BILLING_PROVISIONED and
 * `order.billing.provisioned`. Safe to repeat at any line: Zuora replays the first result for the
 * same Idempotency-Key (see `createInZuora`), registry writes are upserts and the status change is
 * conditional.
 * A Zuora refusal fails the order (ERROR + `order.failed`); transient errors escape for SQS to retry.
 */
export interface ProvisionBillingDeps extends LifecycleDeps {
  orders: Pick<OrderRepository, 'get' | 'transition' | 'settle' | 'recordStep' | 'claimZuoraKey'>;
  zuora: ZuoraOrdersPort;
  registry: Pick<SubscriptionRegistry, 'register' | 'putCharge'>;
  platformTenant: string;
}

/** Retryable Zuora refusals tolerated before the order fails (each costs one Idempotency-Key). */
export const MAX_ZUORA_KEYS = 8;

const zuoraKey = (orderId: string, n: number) => (n === 0 ? orderId : `${orderId}.${n}`);

/**
 * Creates the Zuora account and subscription exactly once. Zuora keeps the answer to an
 * Idempotency-Key for 24 h *including failures*, so a lock-contention refusal cannot be retried with
 * the same key: each fresh attempt takes the next key in the chain `<orderId>`, `<orderId>.1`, …,
 * claimed on the order first. Every delivery replays the keys already used (no side effect), so a
 * success that a crash left unrecorded is found before any new key is tried.
 */
async function createInZuora(order: Order, now: Date, deps: ProvisionBillingDeps) {
  const orderDate = now.toISOString().slice(0, 10);
  for (let n = 0; n < order.zuoraKeys; n++) {
    try {
      return await deps.zuora.createOrder(order, orderDate, zuoraKey(order.orderId, n));
    } catch (error) {
      // Only a replayed retryable refusal means "this key did not create it": try the next one.
      if (!(error instanceof ZuoraRetryableRefusal)) throw error;
    }
  }
  if (order.zuoraKeys >= MAX_ZUORA_KEYS) {
    throw new PermanentError(
      `Zuora refused the order ${order.zuoraKeys} times with retryable reasons`,
      'ZUORA_REFUSED',
    );
  }
  if (!(await deps.orders.claimZuoraKey(order.orderId, order.zuoraKeys, now))) {
    throw new TransientError('another delivery is creating this order in Zuora; retrying later');
  }
  return deps.zuora.createOrder(order, orderDate, zuoraKey(order.orderId, order.zuoraKeys));
}

export async function provisionBilling(
  input: { orderId: string },
  deps: ProvisionBillingDeps,
): Promise<'provisioned' | 'failed' | 'skipped'> {
  const order = await deps.orders.get(input.orderId);
  if (order?.status !== 'ACCEPTED') {
    logger.info('order not awaiting billing; nothing to do', {
      orderId: input.orderId,
      status: order?.status,
    });
    return 'skipped';
  }
  try {
    const now = deps.clock.now();
    const created = await createInZuora(order, now, deps);
    const charges = await deps.zuora.subscriptionCharges(created.subscriptionNumber);
    await deps.registry.register({
      subscriptionNumber: created.subscriptionNumber,
      accountNumber: created.accountNumber,
      tenants: [...new Set([order.tenant, deps.platformTenant])],
      source: 'order',
      biller: 'zuora',
      now,
    });
    for (const charge of charges) {
      const product = Object.values(catalogue).find(
        (p) => p.zuora.productRatePlanChargeId === charge.productRatePlanChargeId,
      );
      await deps.registry.putCharge(
        {
          subscriptionNumber: created.subscriptionNumber,
          chargeNumber: charge.chargeNumber,
          ...((charge.uom ?? product?.zuora.uom) ? { unit: charge.uom ?? product?.zuora.uom } : {}),
          ...(product ? { productCode: product.productCode } : {}),
        },
        now,
      );
    }
    const moved = await deps.orders.transition(order.orderId, {
      from: ['ACCEPTED'],
      to: 'BILLING_PROVISIONED',
      set: {
        billing: {
          accountNumber: created.accountNumber,
          subscriptionNumber: created.subscriptionNumber,
          ...(created.orderNumber ? { orderNumber: created.orderNumber } : {}),
          chargeNumbers: charges.map((c) => c.chargeNumber),
          provisionedAt: now.toISOString(),
        },
      },
      event: orderEvent('order.billing.provisioned', order, 'BILLING_PROVISIONED'),
      now,
    });
    if (!moved) return 'skipped';
    await announce(moved, deps);
    return 'provisioned';
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    // Our credentials being refused is a configuration fault, not this order's: retry (then DLQ and
    // reconciler) until it is fixed, rather than failing every order.
    if (error.code === 'ZUORA_AUTH') throw new TransientError(error.message, { cause: error });
    await failOrder(order, 'billing', orderFailure('billing', error), deps);
    return 'failed';
  }
}
