import { PermanentError, TransientError } from '../errors.ts';
import { findProduct } from '../orders/catalogue.ts';
import { classifyReasons, type ZuoraClient, type ZuoraReason } from './zuora.ts';

/**
 * Changes to an existing Zuora subscription through the Orders API (`POST /v1/orders` with
 * `existingAccountNumber` and the subscription's order actions): add, update and remove products,
 * cancel, suspend and resume. Each call carries an `Idempotency-Key` chosen by the caller (the
 * marketplace event id), so a redelivered event replays Zuora's first answer instead of amending
 * twice. The subscription read gives the rate plans and charges the actions refer to.
 */
/** Zuora custom field on the rate plans the connector adds: which account or add-on owns it. */
export const RATE_PLAN_REF_FIELD = 'SwitchboardRef__c';

export interface ZuoraRatePlan {
  ratePlanId: string;
  productRatePlanId: string;
  /** The connector's tag (`SwitchboardRef__c`); undefined on the plans the order created. */
  ref: string | undefined;
  charges: Array<{ chargeNumber: string; productRatePlanChargeId: string; quantity: number | undefined }>;
}

export interface ZuoraSubscriptionState {
  subscriptionNumber: string;
  accountNumber: string | undefined;
  status: string | undefined;
  ratePlans: ZuoraRatePlan[];
}

export type AmendAction =
  | { type: 'AddProduct'; productCode: string; quantity: number; ref?: string }
  | { type: 'UpdateProduct'; ratePlanId: string; chargeNumber: string; quantity: number }
  | { type: 'RemoveProduct'; ratePlanId: string }
  | { type: 'CancelSubscription' }
  | { type: 'Suspend' }
  | { type: 'Resume' };

export interface SubscriptionAmendmentsPort {
  getSubscription(subscriptionNumber: string): Promise<ZuoraSubscriptionState>;
  amend(input: {
    accountNumber: string;
    subscriptionNumber: string;
    actions: AmendAction[];
    idempotencyKey: string;
    orderDate: string;
  }): Promise<{ orderNumber: string | undefined }>;
}

/** The Zuora order action of one amendment, triggered on `orderDate`. */
export function orderAction(action: AmendAction, orderDate: string): Record<string, unknown> {
  const triggerDates = ['ContractEffective', 'ServiceActivation', 'CustomerAcceptance'].map((name) => ({
    name,
    triggerDate: orderDate,
  }));
  switch (action.type) {
    case 'AddProduct': {
      const product = findProduct(action.productCode);
      if (!product)
        throw new PermanentError(`product ${action.productCode} is not in the catalogue`, 'UNKNOWN_PRODUCT');
      return {
        type: 'AddProduct',
        triggerDates,
        addProduct: {
          productRatePlanId: product.zuora.productRatePlanId,
          ...(action.ref ? { customFields: { [RATE_PLAN_REF_FIELD]: action.ref } } : {}),
          chargeOverrides: [
            {
              productRatePlanChargeId: product.zuora.productRatePlanChargeId,
              pricing: { recurringPerUnit: { quantity: action.quantity } },
            },
          ],
        },
      };
    }
    case 'UpdateProduct':
      return {
        type: 'UpdateProduct',
        triggerDates,
        updateProduct: {
          ratePlanId: action.ratePlanId,
          chargeUpdates: [
            {
              chargeNumber: action.chargeNumber,
              pricing: { recurringPerUnit: { quantity: action.quantity } },
            },
          ],
        },
      };
    case 'RemoveProduct':
      return { type: 'RemoveProduct', triggerDates, removeProduct: { ratePlanId: action.ratePlanId } };
    case 'CancelSubscription':
      return {
        type: 'CancelSubscription',
        triggerDates,
        cancelSubscription: { cancellationPolicy: 'SpecificDate', cancellationEffectiveDate: orderDate },
      };
    case 'Suspend':
      return { type: 'Suspend', triggerDates, suspend: { suspendPolicy: 'Today' } };
    case 'Resume':
      return { type: 'Resume', triggerDates, resume: { resumePolicy: 'Today', extendsTerm: true } };
  }
}

export function createSubscriptionAmendments(
  client: Pick<ZuoraClient, 'request'>,
): SubscriptionAmendmentsPort {
  return {
    async getSubscription(subscriptionNumber) {
      const res = await client.request<{
        success?: boolean;
        reasons?: ZuoraReason[];
        accountNumber?: string;
        status?: string;
        ratePlans?: Array<{
          id?: string;
          productRatePlanId?: string;
          customFields?: Record<string, unknown>;
          ratePlanCharges?: Array<{ number?: string; productRatePlanChargeId?: string; quantity?: number }>;
        }>;
      }>(`/v1/subscriptions/${encodeURIComponent(subscriptionNumber)}`, {
        method: 'GET',
        operation: 'zuora.getSubscription',
      });
      if (res.status === 404)
        throw new TransientError(`Zuora does not show subscription ${subscriptionNumber} yet`);
      if (res.status !== 200 || !res.body?.success) classifyReasons('subscription read', res.body?.reasons);
      return {
        subscriptionNumber,
        accountNumber: res.body.accountNumber,
        status: res.body.status,
        ratePlans: (res.body.ratePlans ?? []).flatMap((rp) =>
          rp.id && rp.productRatePlanId
            ? [
                {
                  ratePlanId: rp.id,
                  productRatePlanId: rp.productRatePlanId,
                  ref:
                    typeof rp.customFields?.[RATE_PLAN_REF_FIELD] === 'string'
                      ? (rp.customFields[RATE_PLAN_REF_FIELD] as string)
                      : undefined,
                  charges: (rp.ratePlanCharges ?? []).flatMap((c) =>
                    c.number && c.productRatePlanChargeId
                      ? [
                          {
                            chargeNumber: c.number,
                            productRatePlanChargeId: c.productRatePlanChargeId,
                            quantity: c.quantity,
                          },
                        ]
                      : [],
                  ),
                },
              ]
            : [],
        ),
      };
    },

    async amend(input) {
      const res = await client.request<{ success?: boolean; orderNumber?: string; reasons?: ZuoraReason[] }>(
        '/v1/orders',
        {
          method: 'POST',
          operation: 'zuora.amendSubscription',
          idempotencyKey: input.idempotencyKey,
          body: {
            orderDate: input.orderDate,
            existingAccountNumber: input.accountNumber,
            subscriptions: [
              {
                subscriptionNumber: input.subscriptionNumber,
                orderActions: input.actions.map((a) => orderAction(a, input.orderDate)),
              },
            ],
            processingOptions: { runBilling: false, collectPayment: false },
          },
        },
      );
      if ((res.status === 200 || res.status === 201 || res.status === 409) && res.body?.success) {
        return { orderNumber: res.body.orderNumber };
      }
      if (res.body && res.body.success === false) classifyReasons('subscription change', res.body.reasons);
      throw new PermanentError(
        `Zuora answered HTTP ${res.status} to the subscription change`,
        'ZUORA_REFUSED',
      );
    },
  };
}
