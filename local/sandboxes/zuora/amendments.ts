import { randomBytes } from 'node:crypto';
import { productByRatePlan } from '../../../shared/orders/catalogue.ts';
import type { SandboxResponse } from '../kit.ts';
import type { ZuoraSandbox } from './index.ts';

/**
 * Orders on existing subscriptions in the Zuora sandbox (`POST /v1/orders` with
 * `existingAccountNumber` and `subscriptions[{subscriptionNumber, orderActions}]`): AddProduct
 * (rate plan custom fields kept), UpdateProduct (charge quantity), RemoveProduct, CancelSubscription,
 * Suspend and Resume. All actions of an order apply or none does (a refusal changes nothing); the
 * answer is Zuora's order shape, and `order.amended` records each applied order.
 */
interface RatePlan {
  id: string;
  productRatePlanId: string;
  customFields?: Record<string, unknown>;
  ratePlanCharges: Array<{
    number: string;
    productRatePlanChargeId: string;
    quantity: number;
    [k: string]: unknown;
  }>;
  [k: string]: unknown;
}
interface Subscription {
  subscriptionNumber: string;
  accountNumber: string;
  status: string;
  ratePlans: RatePlan[];
  [k: string]: unknown;
}
interface State {
  accounts: Record<string, unknown>;
  subscriptions: Record<string, Subscription>;
  counters: { order: number; charge: number };
}

export interface AmendBody {
  orderDate?: string;
  existingAccountNumber?: string;
  subscriptions?: Array<{ subscriptionNumber?: string; orderActions?: Array<Record<string, unknown>> }>;
}

const hex32 = () => randomBytes(16).toString('hex');
const refused = (code: number, message: string): SandboxResponse => ({
  status: 200,
  body: { success: false, processId: hex32().slice(0, 16).toUpperCase(), reasons: [{ code, message }] },
});

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' ? (v as Obj) : {});

/** Applies an order on existing subscriptions; undefined when the body is not one (a new subscription). */
export function amendSubscriptions(
  sandbox: ZuoraSandbox,
  body: AmendBody,
  key: string | undefined,
): SandboxResponse | undefined {
  const subs = body.subscriptions ?? [];
  if (subs.length === 0 || !subs.every((s) => s.subscriptionNumber)) return undefined;
  const state = sandbox.state.orders as State;
  if (!body.orderDate) return refused(53100322, "'orderDate' may not be null");
  const accountNumber = body.existingAccountNumber;
  if (!accountNumber || !state.accounts[accountNumber])
    return refused(50000040, `Account ${accountNumber ?? '(none)'} not found`);
  const changed: Subscription[] = [];
  const applied: Array<{ subscriptionNumber: string; actions: string[] }> = [];
  for (const s of subs) {
    const current = state.subscriptions[s.subscriptionNumber!];
    if (!current || current.accountNumber !== accountNumber) {
      return refused(50000040, `Subscription ${s.subscriptionNumber} not found`);
    }
    const next = structuredClone(current);
    for (const action of s.orderActions ?? []) {
      const problem = apply(next, action, state, body.orderDate);
      if (problem) return refused(53100320, problem);
    }
    changed.push(next);
    applied.push({
      subscriptionNumber: next.subscriptionNumber,
      actions: (s.orderActions ?? []).map((a) => String(a.type)),
    });
  }
  for (const next of changed) state.subscriptions[next.subscriptionNumber] = next;
  const orderNumber = `O-${String(++state.counters.order).padStart(8, '0')}`;
  sandbox.changed();
  for (const a of applied) sandbox.record('order.amended', { idempotencyKey: key, orderNumber, ...a });
  return {
    status: 200,
    body: {
      success: true,
      orderNumber,
      accountNumber,
      status: 'Completed',
      subscriptionNumbers: changed.map((s) => s.subscriptionNumber),
      subscriptions: changed.map((s) => ({ subscriptionNumber: s.subscriptionNumber, status: s.status })),
    },
  };
}

/** Applies one order action to `sub` in place; returns Zuora's message when it cannot. */
function apply(sub: Subscription, action: Obj, state: State, orderDate: string): string | undefined {
  const type = action.type;
  const live = sub.status === 'Active' || sub.status === 'Suspended';
  switch (type) {
    case 'AddProduct': {
      const add = obj(action.addProduct);
      const product =
        typeof add.productRatePlanId === 'string' ? productByRatePlan(add.productRatePlanId) : undefined;
      if (!product) return `Product rate plan ${String(add.productRatePlanId)} not found`;
      if (!live) return `Subscription ${sub.subscriptionNumber} is ${sub.status}`;
      const override = obj(
        obj(obj((add.chargeOverrides as unknown[] | undefined)?.[0]).pricing).recurringPerUnit,
      );
      sub.ratePlans.push({
        id: hex32(),
        productRatePlanId: product.zuora.productRatePlanId,
        ratePlanName: product.name,
        productName: product.name,
        ...(add.customFields ? { customFields: obj(add.customFields) } : {}),
        ratePlanCharges: [
          {
            id: hex32(),
            number: `C-${String(++state.counters.charge).padStart(8, '0')}`,
            productRatePlanChargeId: product.zuora.productRatePlanChargeId,
            name: product.name,
            type: 'Recurring',
            model: 'PerUnit',
            uom: product.zuora.uom,
            quantity: typeof override.quantity === 'number' ? override.quantity : 1,
          },
        ],
      });
      return undefined;
    }
    case 'UpdateProduct': {
      const update = obj(action.updateProduct);
      const plan = sub.ratePlans.find((rp) => rp.id === update.ratePlanId);
      if (!plan) return `Rate plan ${String(update.ratePlanId)} not found in ${sub.subscriptionNumber}`;
      for (const u of (update.chargeUpdates as unknown[] | undefined) ?? []) {
        const charge = plan.ratePlanCharges.find((c) => c.number === obj(u).chargeNumber);
        if (!charge) return `Charge ${String(obj(u).chargeNumber)} not found`;
        const quantity = obj(obj(obj(u).pricing).recurringPerUnit).quantity;
        if (typeof quantity !== 'number' || quantity < 0) return 'quantity must be a non-negative number';
        charge.quantity = quantity;
      }
      return undefined;
    }
    case 'RemoveProduct': {
      const id = obj(action.removeProduct).ratePlanId;
      const at = sub.ratePlans.findIndex((rp) => rp.id === id);
      if (at < 0) return `Rate plan ${String(id)} not found in ${sub.subscriptionNumber}`;
      sub.ratePlans.splice(at, 1);
      return undefined;
    }
    case 'CancelSubscription':
      if (sub.status === 'Cancelled') return `Subscription ${sub.subscriptionNumber} is already cancelled`;
      sub.status = 'Cancelled';
      sub.cancelledDate = obj(action.cancelSubscription).cancellationEffectiveDate ?? orderDate;
      return undefined;
    case 'Suspend':
      if (sub.status !== 'Active') return `Only an active subscription can be suspended (${sub.status})`;
      sub.status = 'Suspended';
      sub.suspendedDate = orderDate;
      return undefined;
    case 'Resume':
      if (sub.status !== 'Suspended') return `Only a suspended subscription can be resumed (${sub.status})`;
      sub.status = 'Active';
      sub.resumedDate = orderDate;
      return undefined;
    default:
      return `Order action ${String(type)} is not supported by the sandbox`;
  }
}
