import { createHash } from 'node:crypto';
import type * as z from 'zod';
import { ZuoraRetryableRefusal } from '../clients/zuora.ts';
import type {
  AmendAction,
  SubscriptionAmendmentsPort,
  ZuoraSubscriptionState,
} from '../clients/zuora-amendments.ts';
import type { Clock } from '../clock.ts';
import type {
  AccountLine,
  AccountStatus,
  AppDirectAccount,
  AppDirectAccountStore,
} from '../db/entities/appdirect-accounts.ts';
import type { AppDirectEventStore } from '../db/entities/appdirect-events.ts';
import type { FirstResponse, OrderRepository } from '../db/entities/orders.ts';
import { AppError, PermanentError } from '../errors.ts';
import type { subscriptionChangeSchema } from '../events/catalog/appdirect.ts';
import type { Publisher } from '../events/publisher.ts';
import { logger } from '../logger.ts';
import { findProduct } from '../orders/catalogue.ts';
import { type OrderRequest, orderRequestSchema } from '../orders/contract.ts';
import { type AppDirectResult, type EventOutcome, failure, success } from './answers.ts';
import { linesForOrder, type MappedLine, seatLimit } from './editions.ts';
import { type AppDirectEvent, type AppDirectUser, isStateless } from './events.ts';
import type { Marketplace } from './marketplaces.ts';

/**
 * What the hub does with each AppDirect event, shared by the notification function (synchronous
 * answers) and the notifier (events completed asynchronously). Every effect is keyed by the event
 * id, so handling the same event again — a redelivered notification, a retry after a crash, a
 * concurrent duplicate — finds what the first attempt did instead of doing it twice:
 *  - SUBSCRIPTION_ORDER goes to the same order use case as `POST /v1/orders` (screening included),
 *    idempotent by channel order id = event id; its result is posted when the order settles;
 *  - subscription and add-on changes are Zuora orders whose Idempotency-Key is the event id;
 *  - seats, add-ons and bindings are conditional writes carrying the event id.
 * A well-formed event the hub cannot honour gets `{success: false, errorCode, message}`; partner
 * outages escape as TransientError (the caller answers 202 and completes the event later).
 */
/**
 * The order use case of `POST /v1/orders` (`shared/orders/submit-order.ts`), handed in by
 * the functions so that shared code does not import a function's module.
 */
export type SubmitOrderPort = (input: {
  tenant: string;
  order: OrderRequest;
  idempotencyKey: undefined;
  channel: 'appdirect';
  channelRef: Record<string, string>;
}) => Promise<FirstResponse>;

export interface ProcessEventDeps {
  submitOrder: SubmitOrderPort;
  orders: Pick<OrderRepository, 'get'>;
  accounts: Pick<
    AppDirectAccountStore,
    | 'get'
    | 'create'
    | 'patch'
    | 'setSynced'
    | 'getAddon'
    | 'putAddon'
    | 'getBinding'
    | 'putBinding'
    | 'deleteBinding'
    | 'assignSeat'
    | 'unassignSeat'
    | 'seats'
  >;
  events: Pick<AppDirectEventStore, 'markStarted'>;
  zuora: SubscriptionAmendmentsPort;
  publisher: Publisher;
  clock: Clock;
}

export interface EventContext {
  marketplace: Marketplace;
  eventId: string;
}

/** Deterministic ids derived from (marketplace, event): a redelivery derives the same one. */
export function derivedId(prefix: string, marketplaceId: string, eventId: string): string {
  return `${prefix}-${createHash('sha256').update(`${marketplaceId}\u0000${eventId}`).digest('hex').slice(0, 24)}`;
}

/** Zuora Idempotency-Keys of an event's amendment: a retryable refusal burns a key, the next is tried. */
const MAX_ZUORA_KEYS = 5;
const zuoraKey = (eventId: string, n: number) => (n === 0 ? `ad-${eventId}` : `ad-${eventId}.${n}`);

type Change = z.infer<typeof subscriptionChangeSchema>;

export async function processEvent(
  event: AppDirectEvent,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  if (isStateless(event)) {
    return answer(
      success(
        'STATELESS test event: nothing was done.',
        event.type === 'SUBSCRIPTION_ORDER' ? { accountIdentifier: 'stateless' } : {},
      ),
    );
  }
  const accountIdentifier = event.payload?.account?.accountIdentifier ?? undefined;
  if (event.type === 'SUBSCRIPTION_ORDER') {
    const parent = event.payload?.account?.parentAccountIdentifier;
    return parent ? orderAddonSubscription(event, parent, ctx, deps) : orderSubscription(event, ctx, deps);
  }
  const account = accountIdentifier ? await deps.accounts.get(accountIdentifier) : undefined;
  // Another marketplace's account is not found here: accounts never cross marketplaces.
  if (!account || account.marketplaceId !== ctx.marketplace.id) {
    return answer(
      failure('ACCOUNT_NOT_FOUND', `No account ${accountIdentifier ?? '(none)'} on this marketplace.`),
    );
  }
  switch (event.type) {
    case 'SUBSCRIPTION_CHANGE':
      return changeSubscription(event, account, ctx, deps);
    case 'SUBSCRIPTION_CANCEL':
      return cancelSubscription(account, ctx, deps);
    case 'SUBSCRIPTION_NOTICE':
      return notice(event, account, ctx, deps);
    case 'USER_ASSIGNMENT':
    case 'USER_LINK':
      return assignUser(event.payload?.user ?? undefined, account, ctx, deps, event.type === 'USER_LINK');
    case 'USER_UNASSIGNMENT':
      return unassignUser(event.payload?.user ?? undefined, account, ctx, deps);
    case 'USER_SYNC':
      return syncUser(event.payload?.user ?? undefined, account, deps);
    case 'ACCOUNT_SYNC':
    case 'ACCOUNT_UNSYNC': {
      const company = event.payload?.company?.uuid ?? event.creator?.uuid ?? ctx.eventId;
      await deps.accounts.setSynced(
        account.accountIdentifier,
        company,
        event.type === 'ACCOUNT_SYNC',
        deps.clock.now(),
      );
      return answer(
        success(event.type === 'ACCOUNT_SYNC' ? 'The account is linked.' : 'The account is unlinked.', {
          accountIdentifier: account.accountIdentifier,
        }),
      );
    }
    case 'ADDON_ORDER':
      return orderAddon(event, account, ctx, deps);
    case 'ADDON_CHANGE':
      return changeAddon(event, account, ctx, deps);
    case 'ADDON_CANCEL':
      return cancelAddon(event, account, ctx, deps);
    case 'ADDON_BIND':
      return bindAddon(event, account, ctx, deps);
    case 'ADDON_UNBIND':
      return unbindAddon(event, account, ctx, deps);
  }
}

const answer = (result: AppDirectResult): EventOutcome => ({ kind: 'answer', result });

// ---- orders ---------------------------------------------------------------------------------------

/** The buyer contact of an order: its creator, else its user, else the company's own address. */
function buyerOf(event: AppDirectEvent): { firstName: string; lastName: string; email: string } | undefined {
  const company = event.payload?.company;
  for (const u of [event.creator, event.payload?.user]) {
    if (u?.email && (u.firstName || u.lastName)) {
      return { firstName: u.firstName || '-', lastName: u.lastName || '-', email: u.email };
    }
  }
  if (company?.email && company.name)
    return { firstName: 'Accounts', lastName: company.name, email: company.email };
  return undefined;
}

/** The normalised order a SUBSCRIPTION_ORDER becomes (or a sentence saying why it cannot). */
export function toOrderRequest(
  event: AppDirectEvent,
  ctx: EventContext,
  lines: MappedLine[],
):
  | { ok: true; order: OrderRequest }
  | { ok: false; code: 'USER_NOT_FOUND' | 'CONFIGURATION_ERROR'; message: string } {
  const company = event.payload?.company;
  const buyer = buyerOf(event);
  if (!buyer) {
    return {
      ok: false,
      code: 'USER_NOT_FOUND',
      message: 'The order names no buyer: no creator, user or company e-mail.',
    };
  }
  const address = event.creator?.address ?? event.payload?.user?.address ?? undefined;
  const country = (address?.country || company?.country || '').toUpperCase();
  const channelOrderId = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$/.test(ctx.eventId)
    ? ctx.eventId
    : derivedId('ad', ctx.marketplace.id, ctx.eventId);
  const candidate = {
    channelOrderId,
    orderType: 'Purchase',
    currency: ctx.marketplace.currency,
    sellTo: {
      company: company?.name || `${buyer.firstName} ${buyer.lastName}`,
      contact: buyer,
      address: {
        // AppDirect often sends no street address; Zuora and the licence need one, screening does not.
        line1: address?.street1 || '(not provided by the marketplace)',
        ...(address?.street2 ? { line2: address.street2 } : {}),
        city: address?.city || '(not provided)',
        ...(address?.state ? { region: address.state } : {}),
        ...(address?.zip ? { postalCode: address.zip } : {}),
        country,
      },
    },
    partner: {
      id: ctx.marketplace.id,
      name: ctx.marketplace.partnerName,
      contact: {
        firstName: 'Marketplace',
        lastName: ctx.marketplace.partnerName.slice(0, 80),
        email: ctx.marketplace.partnerEmail,
      },
    },
    lines: lines.map((l) => ({ productCode: l.productCode, quantity: l.quantity, unit: l.unit })),
  };
  const parsed = orderRequestSchema.safeParse(candidate);
  if (!parsed.success) {
    // Field paths only: the values are the customer's data.
    const fields = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    return {
      ok: false,
      code: 'CONFIGURATION_ERROR',
      message: `The order cannot be accepted: invalid ${fields}.`,
    };
  }
  return { ok: true, order: parsed.data };
}

async function orderSubscription(
  event: AppDirectEvent,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const mapped = linesForOrder(event.payload?.order ?? {});
  if (!mapped.ok) return answer(failure('CONFIGURATION_ERROR', mapped.message));
  const request = toOrderRequest(event, ctx, mapped.lines);
  if (!request.ok) return answer(failure(request.code, request.message));
  const accountIdentifier = derivedId('sb', ctx.marketplace.id, ctx.eventId);
  const now = deps.clock.now().toISOString();
  const companyUuid = event.payload?.company?.uuid ?? undefined;
  await deps.accounts.create({
    accountIdentifier,
    marketplaceId: ctx.marketplace.id,
    tenant: ctx.marketplace.tenant,
    kind: 'subscription',
    eventId: ctx.eventId,
    ...(companyUuid ? { companyUuid } : {}),
    ...(event.payload?.order?.editionCode ? { editionCode: event.payload.order.editionCode } : {}),
    lines: mapped.lines,
    status: 'PENDING',
    createdAt: now,
    updatedAt: now,
  });
  let orderId: string | undefined;
  try {
    const first = await deps.submitOrder({
      tenant: ctx.marketplace.tenant,
      order: request.order,
      idempotencyKey: undefined,
      channel: 'appdirect',
      channelRef: {
        eventId: ctx.eventId,
        marketplaceId: ctx.marketplace.id,
        marketplaceBaseUrl: ctx.marketplace.baseUrl,
        accountIdentifier,
        ...(companyUuid ? { companyUuid } : {}),
      },
    });
    orderId = (first.body as { orderId?: string }).orderId;
  } catch (error) {
    if (!(error instanceof AppError) || error.status >= 500) throw error;
    await deps.accounts.patch(accountIdentifier, { status: 'FAILED' }, deps.clock.now());
    return answer(failure('UNKNOWN_ERROR', error.message));
  }
  if (orderId) await deps.accounts.patch(accountIdentifier, { orderId }, deps.clock.now());
  // Screening and provisioning settle the order; its terminal event posts the result.
  return {
    kind: 'pending',
    message: 'The order is being screened and provisioned; the result will be posted.',
  };
}

// ---- Zuora ---------------------------------------------------------------------------------------

/** The Zuora subscription (and account) an account's changes go to, once provisioned. */
async function zuoraTarget(
  account: AppDirectAccount,
  deps: ProcessEventDeps,
): Promise<{ subscriptionNumber: string; accountNumber: string; root: AppDirectAccount } | undefined> {
  const root =
    account.kind === 'addon' && account.parentAccountIdentifier
      ? ((await deps.accounts.get(account.parentAccountIdentifier)) ?? account)
      : account;
  let subscriptionNumber = root.subscriptionNumber;
  let accountNumber = root.zuoraAccountNumber;
  if ((!subscriptionNumber || !accountNumber) && root.orderId) {
    const order = await deps.orders.get(root.orderId);
    subscriptionNumber ??= order?.billing?.subscriptionNumber;
    accountNumber ??= order?.billing?.accountNumber;
  }
  return subscriptionNumber && accountNumber ? { subscriptionNumber, accountNumber, root } : undefined;
}

/**
 * Sends one Zuora amendment for an event. Zuora replays each key's first answer, so walking the
 * key chain from the first key finds what earlier attempts did before any new key is used.
 */
async function amend(
  target: { subscriptionNumber: string; accountNumber: string },
  actions: AmendAction[],
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<void> {
  const orderDate = deps.clock.now().toISOString().slice(0, 10);
  for (let n = 0; n < MAX_ZUORA_KEYS; n++) {
    try {
      await deps.zuora.amend({ ...target, actions, idempotencyKey: zuoraKey(ctx.eventId, n), orderDate });
      return;
    } catch (error) {
      if (!(error instanceof ZuoraRetryableRefusal)) throw error;
    }
  }
  throw new PermanentError(
    `Zuora refused the change ${MAX_ZUORA_KEYS} times with retryable reasons`,
    'ZUORA_REFUSED',
  );
}

/** Runs an amendment; a Zuora refusal becomes the event's failure answer (the cause stays in the logs). */
async function tryAmend(
  target: { subscriptionNumber: string; accountNumber: string },
  actions: AmendAction[],
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome | undefined> {
  if (actions.length === 0) return undefined;
  try {
    await amend(target, actions, ctx, deps);
    return undefined;
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    logger.warn('zuora refused an appdirect change', {
      eventId: ctx.eventId,
      code: error.code,
      reason: error.message,
    });
    return answer(
      failure('UNKNOWN_ERROR', 'The billing system refused the change; our team has been notified.'),
    );
  }
}

/** Rate plans of the subscription that belong to `ref` (untagged ones belong to the base account). */
const plansOf = (state: ZuoraSubscriptionState, ref: string | undefined) =>
  state.ratePlans.filter((rp) => rp.ref === ref);

const subscriptionState = (subscriptionNumber: string, deps: ProcessEventDeps) =>
  deps.zuora.getSubscription(subscriptionNumber);

/**
 * The actions that take `plans` (the rate plans an account owns) to `lines`: quantities updated in
 * place, products added (tagged with `ref`) or removed.
 */
function diffActions(
  plans: Array<{
    ratePlanId: string;
    productRatePlanId: string;
    charges: Array<{ chargeNumber: string; quantity: number | undefined }>;
  }>,
  lines: readonly AccountLine[],
  ref: string,
): Array<AmendAction & { ref?: string }> {
  const actions: Array<AmendAction & { ref?: string }> = [];
  const used = new Set<string>();
  for (const line of lines) {
    const product = findProduct(line.productCode);
    const plan = plans.find(
      (p) => p.productRatePlanId === product?.zuora.productRatePlanId && !used.has(p.ratePlanId),
    );
    if (plan) {
      used.add(plan.ratePlanId);
      const charge = plan.charges[0];
      if (charge && charge.quantity !== line.quantity) {
        actions.push({
          type: 'UpdateProduct',
          ratePlanId: plan.ratePlanId,
          chargeNumber: charge.chargeNumber,
          quantity: line.quantity,
        });
      }
    } else {
      actions.push({ type: 'AddProduct', productCode: line.productCode, quantity: line.quantity, ref });
    }
  }
  for (const plan of plans)
    if (!used.has(plan.ratePlanId)) actions.push({ type: 'RemoveProduct', ratePlanId: plan.ratePlanId });
  return actions;
}

async function announce(
  change: Change,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
  extra: { subscriptionNumber?: string; lines?: AccountLine[] } = {},
): Promise<void> {
  await deps.publisher.publish([
    {
      type: 'subscription.changed',
      detail: {
        tenant: account.tenant,
        channel: 'appdirect',
        accountIdentifier: account.accountIdentifier,
        eventId: ctx.eventId,
        change,
        ...(account.orderId ? { orderId: account.orderId } : {}),
        ...(extra.subscriptionNumber ? { subscriptionNumber: extra.subscriptionNumber } : {}),
        ...(extra.lines ? { lines: extra.lines } : {}),
      },
    },
  ]);
}

const notProvisioned = () =>
  answer(failure('PENDING', 'The subscription is still being provisioned; send the event again later.'));

const CLOSED_STATES: readonly AccountStatus[] = ['CANCELLED', 'CLOSED', 'FAILED'];

// ---- subscription changes ------------------------------------------------------------------------

async function changeSubscription(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  if (CLOSED_STATES.includes(account.status)) {
    return answer(failure('OPERATION_CANCELED', `The subscription is ${account.status.toLowerCase()}.`));
  }
  const mapped = linesForOrder(event.payload?.order ?? {});
  if (!mapped.ok) return answer(failure('CONFIGURATION_ERROR', mapped.message));
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  const state = await subscriptionState(target.subscriptionNumber, deps);
  const ref = account.kind === 'addon' ? account.accountIdentifier : undefined;
  const owned = [
    ...plansOf(state, ref),
    ...(ref === undefined ? plansOf(state, account.accountIdentifier) : []),
  ];
  const refused = await tryAmend(
    target,
    diffActions(owned, mapped.lines, account.accountIdentifier),
    ctx,
    deps,
  );
  if (refused) return refused;
  const updated =
    (await deps.accounts.patch(
      account.accountIdentifier,
      {
        lines: mapped.lines,
        ...(event.payload?.order?.editionCode ? { editionCode: event.payload.order.editionCode } : {}),
      },
      deps.clock.now(),
    )) ?? account;
  await announce('changed', updated, ctx, deps, {
    subscriptionNumber: target.subscriptionNumber,
    lines: mapped.lines,
  });
  return answer(success('The subscription was changed.', { accountIdentifier: account.accountIdentifier }));
}

async function cancelSubscription(
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  if (account.status === 'CANCELLED' || account.status === 'CLOSED') {
    return answer(
      success('The subscription was already cancelled.', { accountIdentifier: account.accountIdentifier }),
    );
  }
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  let actions: AmendAction[] = [{ type: 'CancelSubscription' }];
  if (account.kind === 'addon') {
    const state = await subscriptionState(target.subscriptionNumber, deps);
    actions = plansOf(state, account.accountIdentifier).map((rp) => ({
      type: 'RemoveProduct',
      ratePlanId: rp.ratePlanId,
    }));
  }
  const refused = await tryAmend(target, actions, ctx, deps);
  if (refused) return refused;
  const updated =
    (await deps.accounts.patch(account.accountIdentifier, { status: 'CANCELLED' }, deps.clock.now())) ??
    account;
  await announce(account.kind === 'addon' ? 'addon-removed' : 'cancelled', updated, ctx, deps, {
    subscriptionNumber: target.subscriptionNumber,
  });
  return answer(success('The subscription was cancelled.', { accountIdentifier: account.accountIdentifier }));
}

async function notice(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const type = event.payload?.notice?.type;
  const done = (message: string) =>
    answer(success(message, { accountIdentifier: account.accountIdentifier }));
  if (type === 'UPCOMING_INVOICE') {
    await announce('upcoming-invoice', account, ctx, deps);
    return done('Noted: an invoice is coming.');
  }
  const plan: Record<
    'DEACTIVATED' | 'REACTIVATED' | 'CLOSED',
    { from: AccountStatus[]; to: AccountStatus; action: AmendAction; change: Change }
  > = {
    DEACTIVATED: { from: ['ACTIVE'], to: 'SUSPENDED', action: { type: 'Suspend' }, change: 'suspended' },
    REACTIVATED: { from: ['SUSPENDED'], to: 'ACTIVE', action: { type: 'Resume' }, change: 'resumed' },
    CLOSED: {
      from: ['ACTIVE', 'SUSPENDED', 'CANCELLED'],
      to: 'CLOSED',
      action: { type: 'CancelSubscription' },
      change: 'closed',
    },
  };
  const step = type ? plan[type] : undefined;
  if (!step) return answer(failure('CONFIGURATION_ERROR', `Notice ${type ?? '(none)'} is not supported.`));
  if (account.status === step.to) return done(`The subscription is already ${step.to.toLowerCase()}.`);
  if (!step.from.includes(account.status)) {
    if (account.status === 'PENDING') return notProvisioned();
    return answer(failure('OPERATION_CANCELED', `The subscription is ${account.status.toLowerCase()}.`));
  }
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  // Add-on subscriptions follow their parent's Zuora subscription; a cancelled one is already ended.
  const zuoraNeeded =
    account.kind === 'subscription' && !(type === 'CLOSED' && account.status === 'CANCELLED');
  if (zuoraNeeded) {
    const refused = await tryAmend(target, [step.action], ctx, deps);
    if (refused) return refused;
  }
  const updated =
    (await deps.accounts.patch(account.accountIdentifier, { status: step.to }, deps.clock.now())) ?? account;
  await announce(step.change, updated, ctx, deps, { subscriptionNumber: target.subscriptionNumber });
  return done(`The subscription is ${step.to.toLowerCase()}.`);
}

// ---- seats ---------------------------------------------------------------------------------------

async function seatOrder(account: AppDirectAccount, deps: ProcessEventDeps) {
  const root =
    account.kind === 'addon' && account.parentAccountIdentifier
      ? await deps.accounts.get(account.parentAccountIdentifier)
      : account;
  return root?.orderId ? { root, orderId: root.orderId } : undefined;
}

async function publishSeat(
  type: 'licence.seat.assigned' | 'licence.seat.unassigned',
  root: AppDirectAccount,
  orderId: string,
  userId: string,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<void> {
  const seats = Object.keys(await deps.accounts.seats(orderId)).length;
  const limit = seatLimit(root.lines);
  await deps.publisher.publish([
    {
      type,
      detail: {
        tenant: root.tenant,
        channel: 'appdirect',
        accountIdentifier: root.accountIdentifier,
        eventId: ctx.eventId,
        orderId,
        userId,
        seatsAssigned: seats,
        ...(limit !== undefined ? { seatLimit: limit } : {}),
      },
    },
  ]);
}

async function assignUser(
  user: AppDirectUser | undefined,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
  link: boolean,
): Promise<EventOutcome> {
  const userId = user?.uuid ?? '';
  if (CLOSED_STATES.includes(account.status)) {
    return answer(
      failure('FORBIDDEN', `The subscription is ${account.status.toLowerCase()}; no seat can be assigned.`),
    );
  }
  const target = await seatOrder(account, deps);
  if (!target) return notProvisioned();
  const outcome = await deps.accounts.assignSeat(
    target.orderId,
    userId,
    { assignedAt: deps.clock.now().toISOString(), eventId: ctx.eventId },
    seatLimit(target.root.lines),
  );
  if (outcome === 'no-order') return notProvisioned();
  if (outcome === 'limit-reached') {
    return answer(
      failure(
        'MAX_USERS_REACHED',
        `All ${seatLimit(target.root.lines)} seats of the subscription are assigned.`,
      ),
    );
  }
  if (outcome === 'already-assigned') {
    const seat = (await deps.accounts.seats(target.orderId))[userId];
    // A seat this very event assigned (before a crash) is this event's success, not a conflict.
    if (!link && seat?.eventId !== ctx.eventId) {
      return answer(failure('USER_ALREADY_EXISTS', 'The user already holds a seat of this subscription.'));
    }
    if (seat?.eventId !== ctx.eventId)
      return answer(success('The user is linked.', { userIdentifier: userId }));
  }
  await publishSeat('licence.seat.assigned', target.root, target.orderId, userId, ctx, deps);
  return answer(success(link ? 'The user is linked.' : 'The user has a seat.', { userIdentifier: userId }));
}

async function unassignUser(
  user: AppDirectUser | undefined,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const userId = user?.uuid ?? '';
  const target = await seatOrder(account, deps);
  if (!target) return answer(failure('USER_NOT_FOUND', 'The user holds no seat of this subscription.'));
  const earlier = await deps.events.markStarted(ctx.marketplace.id, ctx.eventId, deps.clock.now());
  const removed = await deps.accounts.unassignSeat(target.orderId, userId);
  // Not found after an earlier attempt of this same event began: that attempt removed it.
  if (!removed && !earlier)
    return answer(failure('USER_NOT_FOUND', 'The user holds no seat of this subscription.'));
  await publishSeat('licence.seat.unassigned', target.root, target.orderId, userId, ctx, deps);
  return answer(success('The seat is free.', { userIdentifier: userId }));
}

async function syncUser(
  user: AppDirectUser | undefined,
  account: AppDirectAccount,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const target = await seatOrder(account, deps);
  const seats = target ? await deps.accounts.seats(target.orderId) : {};
  // Names and e-mails are not kept here, so there is nothing to update; the seat must exist.
  if (!user?.uuid || !Object.hasOwn(seats, user.uuid)) {
    return answer(failure('USER_NOT_FOUND', 'The user holds no seat of this subscription.'));
  }
  return answer(success('The user is in sync.', { userIdentifier: user.uuid }));
}

// ---- add-ons -------------------------------------------------------------------------------------

/** Adds `lines` to the parent's Zuora subscription tagged with `ref`; returns the new rate plan id. */
async function addTagged(
  target: { subscriptionNumber: string; accountNumber: string },
  lines: MappedLine[],
  ref: string,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<{ ratePlanId: string | undefined } | EventOutcome> {
  const before = await subscriptionState(target.subscriptionNumber, deps);
  const owned = plansOf(before, ref);
  // A redelivery finds its rate plans by their tag instead of adding them twice.
  if (owned.length === 0) {
    const refused = await tryAmend(
      target,
      lines.map((l) => ({
        type: 'AddProduct' as const,
        productCode: l.productCode,
        quantity: l.quantity,
        ref,
      })),
      ctx,
      deps,
    );
    if (refused) return refused;
  }
  const after = owned.length ? before : await subscriptionState(target.subscriptionNumber, deps);
  return { ratePlanId: plansOf(after, ref)[0]?.ratePlanId };
}

async function orderAddonSubscription(
  event: AppDirectEvent,
  parentIdentifier: string,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const parent = await deps.accounts.get(parentIdentifier);
  if (!parent || parent.marketplaceId !== ctx.marketplace.id) {
    return answer(failure('ACCOUNT_NOT_FOUND', `No account ${parentIdentifier} on this marketplace.`));
  }
  if (CLOSED_STATES.includes(parent.status)) {
    return answer(
      failure('OPERATION_CANCELED', `The parent subscription is ${parent.status.toLowerCase()}.`),
    );
  }
  const mapped = linesForOrder(event.payload?.order ?? {});
  if (!mapped.ok) return answer(failure('CONFIGURATION_ERROR', mapped.message));
  const target = await zuoraTarget(parent, deps);
  if (!target) return notProvisioned();
  const accountIdentifier = derivedId('sb', ctx.marketplace.id, ctx.eventId);
  const now = deps.clock.now().toISOString();
  await deps.accounts.create({
    accountIdentifier,
    marketplaceId: ctx.marketplace.id,
    tenant: parent.tenant,
    kind: 'addon',
    parentAccountIdentifier: parent.accountIdentifier,
    eventId: ctx.eventId,
    ...(parent.orderId ? { orderId: parent.orderId } : {}),
    ...(event.payload?.company?.uuid ? { companyUuid: event.payload.company.uuid } : {}),
    ...(event.payload?.order?.editionCode ? { editionCode: event.payload.order.editionCode } : {}),
    lines: mapped.lines,
    status: 'PENDING',
    createdAt: now,
    updatedAt: now,
  });
  const added = await addTagged(target, mapped.lines, accountIdentifier, ctx, deps);
  if ('kind' in added) {
    await deps.accounts.patch(accountIdentifier, { status: 'FAILED' }, deps.clock.now());
    return added;
  }
  const account =
    (await deps.accounts.patch(
      accountIdentifier,
      {
        status: 'ACTIVE',
        subscriptionNumber: target.subscriptionNumber,
        zuoraAccountNumber: target.accountNumber,
        ...(added.ratePlanId ? { ratePlanId: added.ratePlanId } : {}),
      },
      deps.clock.now(),
    )) ?? parent;
  await announce('addon-added', account, ctx, deps, {
    subscriptionNumber: target.subscriptionNumber,
    lines: mapped.lines,
  });
  return answer(success('The add-on is active.', { accountIdentifier }));
}

async function orderAddon(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  if (CLOSED_STATES.includes(account.status)) {
    return answer(failure('OPERATION_CANCELED', `The subscription is ${account.status.toLowerCase()}.`));
  }
  const mapped = linesForOrder(event.payload?.order ?? {});
  if (!mapped.ok) return answer(failure('CONFIGURATION_ERROR', mapped.message));
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  const addonId = derivedId('sba', ctx.marketplace.id, ctx.eventId);
  const added = await addTagged(target, mapped.lines.slice(0, 1), addonId, ctx, deps);
  if ('kind' in added) return added;
  const line = mapped.lines[0]!;
  const now = deps.clock.now().toISOString();
  await deps.accounts.putAddon(account.accountIdentifier, {
    addonId,
    eventId: ctx.eventId,
    productCode: line.productCode,
    quantity: line.quantity,
    unit: line.unit,
    ...(added.ratePlanId ? { ratePlanId: added.ratePlanId } : {}),
    status: 'ACTIVE',
    createdAt: now,
    updatedAt: now,
  });
  await announce('addon-added', account, ctx, deps, {
    subscriptionNumber: target.subscriptionNumber,
    lines: [line],
  });
  return answer(success('The add-on is active.', { id: addonId }));
}

async function changeAddon(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const addonId = event.payload?.addonInstance?.id ?? '';
  const addon = await deps.accounts.getAddon(account.accountIdentifier, addonId);
  if (addon?.status !== 'ACTIVE')
    return answer(failure('UNKNOWN_ERROR', `No active add-on ${addonId} on this account.`));
  const mapped = linesForOrder({
    editionCode: event.payload?.order?.editionCode,
    addonOfferingCode: event.payload?.order?.addonOfferingCode,
    items: event.payload?.order?.items ?? [],
  } as Parameters<typeof linesForOrder>[0]);
  if (!mapped.ok) return answer(failure('CONFIGURATION_ERROR', mapped.message));
  const line = mapped.lines[0]!;
  if (line.productCode !== addon.productCode) {
    return answer(
      failure('CONFIGURATION_ERROR', 'An add-on cannot change product; cancel it and order the other one.'),
    );
  }
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  const state = await subscriptionState(target.subscriptionNumber, deps);
  const refused = await tryAmend(target, diffActions(plansOf(state, addonId), [line], addonId), ctx, deps);
  if (refused) return refused;
  await deps.accounts.putAddon(account.accountIdentifier, {
    ...addon,
    quantity: line.quantity,
    updatedAt: deps.clock.now().toISOString(),
  });
  await announce('addon-changed', account, ctx, deps, {
    subscriptionNumber: target.subscriptionNumber,
    lines: [line],
  });
  return answer(success('The add-on was changed.', { id: addonId }));
}

async function cancelAddon(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const addonId = event.payload?.addonInstance?.id ?? '';
  const addon = await deps.accounts.getAddon(account.accountIdentifier, addonId);
  if (!addon) return answer(failure('UNKNOWN_ERROR', `No add-on ${addonId} on this account.`));
  if (addon.status === 'CANCELLED')
    return answer(success('The add-on was already cancelled.', { id: addonId }));
  const target = await zuoraTarget(account, deps);
  if (!target) return notProvisioned();
  const state = await subscriptionState(target.subscriptionNumber, deps);
  const actions: AmendAction[] = plansOf(state, addonId).map((rp) => ({
    type: 'RemoveProduct',
    ratePlanId: rp.ratePlanId,
  }));
  const refused = await tryAmend(target, actions, ctx, deps);
  if (refused) return refused;
  await deps.accounts.putAddon(account.accountIdentifier, {
    ...addon,
    status: 'CANCELLED',
    updatedAt: deps.clock.now().toISOString(),
  });
  await announce('addon-removed', account, ctx, deps, { subscriptionNumber: target.subscriptionNumber });
  return answer(success('The add-on was cancelled.', { id: addonId }));
}

async function bindAddon(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const addonId = event.payload?.addonInstance?.id ?? '';
  const addon = await deps.accounts.getAddon(account.accountIdentifier, addonId);
  if (addon?.status !== 'ACTIVE')
    return answer(failure('UNKNOWN_ERROR', `No active add-on ${addonId} on this account.`));
  const userUuid = event.payload?.user?.uuid ?? event.creator?.uuid ?? '';
  if (!userUuid) return answer(failure('USER_NOT_FOUND', 'The event names no user to bind.'));
  const bindingId = derivedId('sbb', ctx.marketplace.id, ctx.eventId);
  await deps.accounts.putBinding(account.accountIdentifier, {
    bindingId,
    addonId,
    userUuid,
    eventId: ctx.eventId,
    createdAt: deps.clock.now().toISOString(),
  });
  return answer(success('The user is bound to the add-on.', { id: bindingId }));
}

async function unbindAddon(
  event: AppDirectEvent,
  account: AppDirectAccount,
  ctx: EventContext,
  deps: ProcessEventDeps,
): Promise<EventOutcome> {
  const bindingId = event.payload?.addonBinding?.id ?? '';
  const earlier = await deps.events.markStarted(ctx.marketplace.id, ctx.eventId, deps.clock.now());
  const removed = await deps.accounts.deleteBinding(account.accountIdentifier, bindingId);
  if (!removed && !earlier)
    return answer(failure('BINDING_NOT_FOUND', `No binding ${bindingId} on this account.`));
  return answer(success('The user is unbound from the add-on.'));
}
