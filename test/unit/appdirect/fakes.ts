import { randomBytes } from 'node:crypto';
import type { Marketplace } from '../../../shared/appdirect/marketplaces.ts';
import { ZuoraRetryableRefusal } from '../../../shared/clients/zuora.ts';
import type {
  AmendAction,
  SubscriptionAmendmentsPort,
  ZuoraSubscriptionState,
} from '../../../shared/clients/zuora-amendments.ts';
import { PermanentError } from '../../../shared/errors.ts';
import { findProduct } from '../../../shared/orders/catalogue.ts';

/**
 * An in-memory Zuora subscription for the connector's tests: applies amendments, and replays the
 * first outcome of an Idempotency-Key as Zuora does (a refusal included).
 */
export class FakeZuora implements SubscriptionAmendmentsPort {
  subscriptions = new Map<string, ZuoraSubscriptionState>();
  outcomes = new Map<string, Error | 'ok'>();
  applied: Array<{ key: string; actions: AmendAction[] }> = [];
  /** Keys refused on their first use: `retryable` burns the key, `permanent` fails the change. */
  refuse = new Map<string, 'retryable' | 'permanent'>();

  seed(subscriptionNumber: string, accountNumber: string, productCode: string, quantity: number): void {
    const product = findProduct(productCode)!;
    this.subscriptions.set(subscriptionNumber, {
      subscriptionNumber,
      accountNumber,
      status: 'Active',
      ratePlans: [
        {
          ratePlanId: `rp-${randomBytes(4).toString('hex')}`,
          productRatePlanId: product.zuora.productRatePlanId,
          ref: undefined,
          charges: [
            { chargeNumber: 'C-1', productRatePlanChargeId: product.zuora.productRatePlanChargeId, quantity },
          ],
        },
      ],
    });
  }

  async getSubscription(n: string): Promise<ZuoraSubscriptionState> {
    const s = this.subscriptions.get(n);
    if (!s) throw new PermanentError(`no subscription ${n}`, 'ZUORA_REFUSED');
    return structuredClone(s);
  }

  async amend(input: Parameters<SubscriptionAmendmentsPort['amend']>[0]) {
    const replay = this.outcomes.get(input.idempotencyKey);
    if (replay) {
      if (replay !== 'ok') throw replay;
      return { orderNumber: `O-${input.idempotencyKey}` };
    }
    const refusal = this.refuse.get(input.idempotencyKey);
    if (refusal) {
      const error =
        refusal === 'retryable'
          ? new ZuoraRetryableRefusal('lock competition')
          : new PermanentError('Zuora refused the subscription change', 'ZUORA_REFUSED');
      this.outcomes.set(input.idempotencyKey, error);
      throw error;
    }
    const sub = this.subscriptions.get(input.subscriptionNumber)!;
    for (const a of input.actions) {
      if (a.type === 'AddProduct') {
        const p = findProduct(a.productCode)!;
        sub.ratePlans.push({
          ratePlanId: `rp-${randomBytes(4).toString('hex')}`,
          productRatePlanId: p.zuora.productRatePlanId,
          ref: a.ref,
          charges: [
            {
              chargeNumber: `C-${sub.ratePlans.length + 1}`,
              productRatePlanChargeId: p.zuora.productRatePlanChargeId,
              quantity: a.quantity,
            },
          ],
        });
      } else if (a.type === 'UpdateProduct') {
        const c = sub.ratePlans.find((r) => r.ratePlanId === a.ratePlanId)!.charges[0]!;
        c.quantity = a.quantity;
      } else if (a.type === 'RemoveProduct') {
        sub.ratePlans = sub.ratePlans.filter((r) => r.ratePlanId !== a.ratePlanId);
      } else {
        sub.status =
          a.type === 'CancelSubscription' ? 'Cancelled' : a.type === 'Suspend' ? 'Suspended' : 'Active';
      }
    }
    this.applied.push({ key: input.idempotencyKey, actions: input.actions });
    this.outcomes.set(input.idempotencyKey, 'ok');
    return { orderNumber: `O-${input.idempotencyKey}` };
  }
}

export const testMarketplace = (over: Partial<Marketplace> = {}): Marketplace => ({
  id: 'home',
  baseUrl: 'https://market.example.com',
  tenant: 'appdirect',
  fetchAuth: 'oauth1',
  signedNotifications: true,
  currency: 'USD',
  partnerEmail: 'partner@market.example.com',
  partnerName: 'Example marketplace',
  ...over,
});

/** A SUBSCRIPTION_ORDER like the marketplace sends (own sample data). */
export const orderEvent = (
  items: Array<{ unit: string; quantity: number }> = [{ unit: 'USER', quantity: 2 }],
) => ({
  type: 'SUBSCRIPTION_ORDER' as const,
  marketplace: { partner: 'example', baseUrl: 'https://market.example.com' },
  creator: {
    uuid: 'u-creator',
    email: 'ada@northwind.example',
    firstName: 'Ada',
    lastName: 'Byte',
    address: { street1: '1 Harbour Road', city: 'Portsmouth', zip: 'PO1 3AX', country: 'GB' },
  },
  payload: {
    company: { uuid: 'c-1', name: 'Northwind Labs', country: 'GB' },
    order: { editionCode: 'BASIC', pricingDuration: 'MONTHLY', items },
  },
});
