import { classifyReasons, type ZuoraClient, type ZuoraReason } from '../../shared/clients/zuora.ts';
import type { Order } from '../../shared/db/entities/orders.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { findProduct } from '../../shared/orders/catalogue.ts';

/**
 * The Zuora calls of billing provisioning: one `POST /v1/orders` creating the account (bill-to and
 * sold-to from the Sell To party) and the subscription, sent with `Idempotency-Key` = our order id,
 * then a subscription read for its charge numbers. Zuora answers business failures with HTTP 200
 * and `success:false`; the last two digits of each reason code say whether a retry can help.
 */
export interface ZuoraOrderResult {
  orderNumber: string | undefined;
  accountNumber: string;
  subscriptionNumber: string;
}
export interface ZuoraCharge {
  chargeNumber: string;
  productRatePlanChargeId: string;
  uom: string | undefined;
}

export interface ZuoraOrdersPort {
  /** One `POST /v1/orders` with `idempotencyKey` (default: the order id). */
  createOrder(order: Order, orderDate: string, idempotencyKey?: string): Promise<ZuoraOrderResult>;
  subscriptionCharges(subscriptionNumber: string): Promise<ZuoraCharge[]>;
}

// Moved to the Zuora client core on their second use (AppDirect subscription amendments).
export { classifyReasons, ZuoraRetryableRefusal } from '../../shared/clients/zuora.ts';

const contactOf = (order: Order) => ({
  firstName: order.sellTo.contact.firstName,
  lastName: order.sellTo.contact.lastName,
  workEmail: order.sellTo.contact.email,
  ...(order.sellTo.contact.phone ? { workPhone: order.sellTo.contact.phone } : {}),
  address1: order.sellTo.address.line1,
  ...(order.sellTo.address.line2 ? { address2: order.sellTo.address.line2 } : {}),
  city: order.sellTo.address.city,
  ...(order.sellTo.address.region ? { state: order.sellTo.address.region } : {}),
  ...(order.sellTo.address.postalCode ? { zipCode: order.sellTo.address.postalCode } : {}),
  country: order.sellTo.address.country,
});

/** The `POST /v1/orders` body for a new account with one subscription (one rate plan per line). */
export function zuoraOrderRequest(order: Order, orderDate: string) {
  const termMonths = Math.max(
    ...order.lines.map((l) => l.termMonths ?? findProduct(l.productCode)?.defaultTermMonths ?? 12),
  );
  return {
    orderDate,
    newAccount: {
      name: order.sellTo.company,
      currency: order.currency,
      billCycleDay: 1,
      autoPay: false,
      paymentTerm: 'Net 30',
      customFields: { SwitchboardOrderId__c: order.orderId, ChannelTenant__c: order.tenant },
      billToContact: contactOf(order),
      soldToContact: contactOf(order),
    },
    subscriptions: [
      {
        orderActions: [
          {
            type: 'CreateSubscription',
            triggerDates: [
              { name: 'ContractEffective', triggerDate: orderDate },
              { name: 'ServiceActivation', triggerDate: orderDate },
              { name: 'CustomerAcceptance', triggerDate: orderDate },
            ],
            createSubscription: {
              terms: {
                initialTerm: { period: termMonths, periodType: 'Month', termType: 'TERMED' },
                renewalSetting: 'RENEW_WITH_SPECIFIC_TERM',
                renewalTerms: [{ period: 12, periodType: 'Month' }],
              },
              subscribeToRatePlans: order.lines.map((line) => {
                const product = findProduct(line.productCode);
                if (!product) {
                  throw new PermanentError(
                    `product ${line.productCode} is no longer in the catalogue`,
                    'UNKNOWN_PRODUCT',
                  );
                }
                return {
                  productRatePlanId: product.zuora.productRatePlanId,
                  chargeOverrides: [
                    {
                      productRatePlanChargeId: product.zuora.productRatePlanChargeId,
                      pricing: {
                        recurringPerUnit: {
                          quantity: line.quantity,
                          ...(line.unitPrice !== undefined ? { listPrice: line.unitPrice } : {}),
                        },
                      },
                    },
                  ],
                };
              }),
            },
          },
        ],
      },
    ],
    processingOptions: { runBilling: false, collectPayment: false },
  };
}

interface ZuoraOrderResponse {
  success?: boolean;
  orderNumber?: string;
  accountNumber?: string;
  subscriptionNumbers?: string[];
  subscriptions?: Array<{ subscriptionNumber?: string }>;
  reasons?: ZuoraReason[];
}

export function createZuoraOrders(client: Pick<ZuoraClient, 'request'>): ZuoraOrdersPort {
  return {
    async createOrder(order, orderDate, idempotencyKey = order.orderId) {
      const res = await client.request<ZuoraOrderResponse>('/v1/orders', {
        method: 'POST',
        operation: 'zuora.createOrder',
        body: zuoraOrderRequest(order, orderDate),
        idempotencyKey,
      });
      // A retried Idempotency-Key gets the first result replayed (200). A 409 carrying a successful
      // body is accepted too, for gateways that answer a replay with 409; without success it falls
      // through to the error handling below.
      if ((res.status === 200 || res.status === 201 || res.status === 409) && res.body?.success) {
        const subscriptionNumber =
          res.body.subscriptionNumbers?.[0] ?? res.body.subscriptions?.[0]?.subscriptionNumber;
        if (!res.body.accountNumber || !subscriptionNumber) {
          throw new PermanentError(
            'Zuora created the order but returned no account or subscription number',
            'ZUORA_REFUSED',
          );
        }
        return {
          orderNumber: res.body.orderNumber,
          accountNumber: res.body.accountNumber,
          subscriptionNumber,
        };
      }
      if (res.body && res.body.success === false) classifyReasons('order', res.body.reasons);
      throw new PermanentError(`Zuora answered HTTP ${res.status} to the order`, 'ZUORA_REFUSED');
    },

    async subscriptionCharges(subscriptionNumber) {
      const res = await client.request<{
        success?: boolean;
        reasons?: ZuoraReason[];
        ratePlans?: Array<{
          ratePlanCharges?: Array<{ number?: string; productRatePlanChargeId?: string; uom?: string | null }>;
        }>;
      }>(`/v1/subscriptions/${encodeURIComponent(subscriptionNumber)}`, {
        method: 'GET',
        operation: 'zuora.getSubscription',
      });
      // A subscription we just created not being readable yet is a replication delay: retry later.
      if (res.status === 404)
        throw new TransientError(`Zuora does not show subscription ${subscriptionNumber} yet`);
      if (res.status !== 200 || !res.body?.success) classifyReasons('subscription read', res.body?.reasons);
      return (res.body.ratePlans ?? []).flatMap((rp) =>
        (rp.ratePlanCharges ?? []).flatMap((c) =>
          c.number && c.productRatePlanChargeId
            ? [
                {
                  chargeNumber: c.number,
                  productRatePlanChargeId: c.productRatePlanChargeId,
                  uom: c.uom ?? undefined,
                },
              ]
            : [],
        ),
      );
    },
  };
}
