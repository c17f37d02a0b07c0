import { randomBytes } from 'node:crypto';
import { productByRatePlan } from '../../../shared/orders/catalogue.ts';
import type { SandboxRequest, SandboxResponse } from '../kit.ts';
import { type AmendBody, amendSubscriptions } from './amendments.ts';
import { requireZuoraToken, type ZuoraSandbox } from './index.ts';

/**
 * Zuora orders API of the sandbox: `POST /v1/orders` (new account + CreateSubscription, honouring
 * `Idempotency-Key`: a repeat gets the first result back with its status, as Zuora documents),
 * `GET /v1/accounts/{key}` and `GET /v1/subscriptions/{key}`. Business failures answer HTTP 200
 * with `success:false` and `reasons` (Zuora's shape); the rate plans known are the catalogue's.
 * Records: `order.created` (one per account+subscription really created), `order.replayed`,
 * `order.refused`; orders on existing subscriptions are `amendments.ts`'s (`order.amended`). A Sell To company name containing `[zuora-lock]` gets one lock-contention
 * failure (code …50) per idempotency key first, to exercise the retry path.
 */
interface ZuoraOrdersState {
  accounts: Record<string, Record<string, unknown>>;
  subscriptions: Record<string, Record<string, unknown>>;
  /** Idempotency key → first response (kept 24 h in Zuora; for the sandbox's life here). */
  idempotency: Record<string, { status: number; body: unknown }>;
  lockFailed: Record<string, boolean>;
  counters: { account: number; subscription: number; order: number; charge: number };
}

const hex32 = () => randomBytes(16).toString('hex');

function ordersState(sandbox: ZuoraSandbox): ZuoraOrdersState {
  sandbox.state.orders ??= {
    accounts: {},
    subscriptions: {},
    idempotency: {},
    lockFailed: {},
    counters: { account: 0, subscription: 0, order: 0, charge: 0 },
  } satisfies ZuoraOrdersState;
  return sandbox.state.orders as ZuoraOrdersState;
}

const refused = (code: number, message: string): SandboxResponse => ({
  status: 200,
  body: { success: false, processId: hex32().slice(0, 16).toUpperCase(), reasons: [{ code, message }] },
});

const notFound = (what: string): SandboxResponse => ({
  status: 404,
  body: {
    success: false,
    processId: hex32().slice(0, 16).toUpperCase(),
    reasons: [{ code: 50000040, message: `${what} not found` }],
  },
});

interface OrderBody {
  orderDate?: string;
  newAccount?: {
    name?: string;
    currency?: string;
    billToContact?: { firstName?: string; lastName?: string; country?: string };
    soldToContact?: Record<string, unknown>;
    [k: string]: unknown;
  };
  existingAccountNumber?: string;
  subscriptions?: Array<{
    orderActions?: Array<{
      type?: string;
      createSubscription?: {
        subscribeToRatePlans?: Array<{
          productRatePlanId?: string;
          chargeOverrides?: Array<{
            productRatePlanChargeId?: string;
            pricing?: { recurringPerUnit?: { quantity?: number; listPrice?: number } };
          }>;
        }>;
      };
    }>;
  }>;
}

function createOrder(sandbox: ZuoraSandbox, req: SandboxRequest): SandboxResponse {
  const state = ordersState(sandbox);
  let body: OrderBody;
  try {
    body = req.json<OrderBody>();
  } catch {
    return {
      status: 400,
      body: {
        success: false,
        processId: hex32().slice(0, 16).toUpperCase(),
        reasons: [{ code: 50000090, message: 'Malformed JSON request' }],
      },
    };
  }
  const key = req.headers['idempotency-key'];
  // Orders on existing subscriptions (amendments) have their own module.
  const amended = amendSubscriptions(sandbox, body as AmendBody, key);
  if (amended) return amended;
  if (!body.orderDate) return refused(53100322, "'orderDate' may not be null");
  const account = body.newAccount;
  if (!account && !body.existingAccountNumber)
    return refused(53100322, 'Either newAccount or existingAccountNumber is required');
  if (account) {
    if (!account.name) return refused(53100322, "'newAccount.name' may not be null");
    if (!account.currency) return refused(53100322, "'newAccount.currency' may not be null");
    if (!account.billToContact?.firstName || !account.billToContact.lastName) {
      return refused(53100322, "'newAccount.billToContact.lastName' may not be null");
    }
    if (account.name.includes('[zuora-lock]') && !state.lockFailed[account.name]) {
      state.lockFailed[account.name] = true;
      sandbox.changed();
      sandbox.record('order.refused', { idempotencyKey: key, code: 50000050 });
      return refused(50000050, 'Operation failed due to a lock competition, please retry later.');
    }
  } else if (!state.accounts[body.existingAccountNumber!]) {
    return refused(50000040, `Account ${body.existingAccountNumber} not found`);
  }
  const actions = (body.subscriptions ?? []).flatMap((s) => s.orderActions ?? []);
  const creates = actions.filter((a) => a.type === 'CreateSubscription');
  if (creates.length === 0)
    return refused(53100320, 'At least one CreateSubscription order action is required');
  for (const action of creates) {
    for (const rp of action.createSubscription?.subscribeToRatePlans ?? []) {
      if (!rp.productRatePlanId || !productByRatePlan(rp.productRatePlanId)) {
        return refused(50000040, `Product rate plan ${rp.productRatePlanId ?? '(none)'} not found`);
      }
    }
  }

  const c = state.counters;
  const accountNumber = body.existingAccountNumber ?? `A${String(++c.account).padStart(8, '0')}`;
  if (account) {
    state.accounts[accountNumber] = {
      id: hex32(),
      accountNumber,
      name: account.name,
      currency: account.currency,
      status: 'Active',
      billToContact: account.billToContact,
      soldToContact: account.soldToContact ?? account.billToContact,
    };
  }
  const subscriptionNumbers: string[] = [];
  for (const action of creates) {
    const subscriptionNumber = `A-S${String(++c.subscription).padStart(8, '0')}`;
    subscriptionNumbers.push(subscriptionNumber);
    state.subscriptions[subscriptionNumber] = {
      id: hex32(),
      subscriptionNumber,
      accountNumber,
      status: 'Active',
      contractEffectiveDate: body.orderDate,
      ratePlans: (action.createSubscription?.subscribeToRatePlans ?? []).map((rp) => {
        const product = productByRatePlan(rp.productRatePlanId!)!;
        const override = rp.chargeOverrides?.[0]?.pricing?.recurringPerUnit;
        return {
          id: hex32(),
          productRatePlanId: rp.productRatePlanId,
          ratePlanName: product.name,
          productName: product.name,
          ratePlanCharges: [
            {
              id: hex32(),
              number: `C-${String(++c.charge).padStart(8, '0')}`,
              productRatePlanChargeId: product.zuora.productRatePlanChargeId,
              name: product.name,
              type: 'Recurring',
              model: 'PerUnit',
              uom: product.zuora.uom,
              quantity: override?.quantity ?? 1,
              ...(override?.listPrice !== undefined ? { price: override.listPrice } : {}),
            },
          ],
        };
      }),
    };
  }
  const orderNumber = `O-${String(++c.order).padStart(8, '0')}`;
  const response = {
    success: true,
    orderNumber,
    accountNumber,
    status: 'Completed',
    subscriptionNumbers,
    subscriptions: subscriptionNumbers.map((subscriptionNumber) => ({
      subscriptionNumber,
      subscriptionOwnerId: String(state.accounts[accountNumber]?.id ?? hex32()),
      subscriptionOwnerNumber: accountNumber,
      status: 'Active',
    })),
  };
  if (key) state.idempotency[key] = { status: 200, body: response };
  sandbox.changed();
  sandbox.record('order.created', { idempotencyKey: key, orderNumber, accountNumber, subscriptionNumbers });
  return { status: 200, body: response };
}

export function registerZuoraOrderRoutes(sandbox: ZuoraSandbox): void {
  sandbox.route('POST', '/v1/orders', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    const key = req.headers['idempotency-key'];
    const first = key ? ordersState(sandbox).idempotency[key] : undefined;
    if (key && first) {
      // Zuora replays the saved status, headers and body of the first request (409 is reserved for
      // a concurrent request with the same key still in progress).
      sandbox.record('order.replayed', { idempotencyKey: key });
      return { status: first.status, body: first.body };
    }
    const answer = createOrder(sandbox, req);
    // Zuora keeps the answer to a key for 24 h whether it succeeded or failed (idempotent-requests.md).
    if (key && answer.status === 200 && !ordersState(sandbox).idempotency[key]) {
      ordersState(sandbox).idempotency[key] = { status: answer.status, body: answer.body };
      sandbox.changed();
    }
    return answer;
  });

  sandbox.route('GET', '/v1/accounts/:key', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    const account = ordersState(sandbox).accounts[req.params.key!];
    if (!account) return notFound(`Account ${req.params.key}`);
    return {
      status: 200,
      body: {
        success: true,
        basicInfo: {
          id: account.id,
          accountNumber: account.accountNumber,
          name: account.name,
          status: account.status,
          currency: account.currency,
        },
        billToContact: account.billToContact,
        soldToContact: account.soldToContact,
      },
    };
  });

  sandbox.route('GET', '/v1/subscriptions/:key', (req) => {
    const denied = requireZuoraToken(sandbox, req);
    if (denied) return denied;
    const subscription = ordersState(sandbox).subscriptions[req.params.key!];
    if (!subscription) return notFound(`Subscription ${req.params.key}`);
    return { status: 200, body: { success: true, ...subscription } };
  });
}
