import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import type { WebhookDeliveryRepository } from '../../shared/db/entities/webhook-deliveries.ts';
import { NotFoundError, ValidationError } from '../../shared/errors.ts';
import type { OrderChannel, OrderStatus } from '../../shared/orders/contract.ts';
import type { LifecycleDeps } from '../../shared/orders/lifecycle.ts';
import { reviewOrder } from '../../shared/orders/review-order.ts';

export interface OpsOrderDeps extends LifecycleDeps {
  orders: LifecycleDeps['orders'] & Pick<OrderRepository, 'listAll'>;
  deliveries: Pick<WebhookDeliveryRepository, 'listForOrder'>;
}

/** A row of the order list: what an operator scans for (no contact details). */
export const orderRow = (o: Order) => ({
  orderId: o.orderId,
  tenant: o.tenant,
  channel: o.channel,
  channelOrderId: o.channelOrderId,
  company: o.sellTo.company,
  country: o.sellTo.address.country,
  status: o.status,
  orderType: o.orderType,
  createdAt: o.createdAt,
  updatedAt: o.updatedAt,
  ...(o.error ? { error: o.error } : {}),
});

const dayBound = (value: string | undefined, end: boolean) => {
  if (!value) return undefined;
  // A bare date means the whole day.
  const d = new Date(
    /^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T${end ? '23:59:59.999' : '00:00:00.000'}Z` : value,
  );
  return d;
};

/** Orders across tenants and channels, from the indexes (see `OrderRepository.listAll`). */
export async function listOpsOrders(
  q: {
    status?: OrderStatus;
    channel?: OrderChannel;
    tenant?: string;
    from?: string;
    to?: string;
    q?: string;
    limit: number;
    cursor?: string;
    oldestFirst?: boolean;
  },
  deps: Pick<OpsOrderDeps, 'orders'>,
) {
  const from = dayBound(q.from, false);
  const to = dayBound(q.to, true);
  if (from && to && from > to) {
    throw new ValidationError('from is after to.', [{ field: 'from', message: 'must not be after to' }]);
  }
  const { from: _f, to: _t, ...rest } = q;
  const page = await deps.orders.listAll({ ...rest, ...(from ? { from } : {}), ...(to ? { to } : {}) });
  return {
    items: page.orders.map(orderRow),
    ...(page.cursor ? { cursor: page.cursor } : {}),
    ...(page.partial ? { partial: true } : {}),
  };
}

const EVENT_OF: Partial<Record<OrderStatus, string>> = {
  RECEIVED: 'order.received',
  ACCEPTED: 'order.accepted',
  NEEDS_REVIEW: 'order.needs-review',
  REJECTED: 'order.rejected',
  BILLING_PROVISIONED: 'order.billing.provisioned',
  FULFILLED: 'order.fulfilled',
  ERROR: 'order.failed',
};

/**
 * An order's whole story for operators: every status change with its reason, the screening outcome
 * WITH its evidence (channels see the outcome only), the ids created downstream, the events its
 * transitions published, and the webhook deliveries about it. Never the licence key.
 */
export async function orderTimeline(orderId: string, deps: Pick<OpsOrderDeps, 'orders' | 'deliveries'>) {
  const order = /^[\w-]{1,64}$/.test(orderId) ? await deps.orders.get(orderId) : undefined;
  if (!order) throw new NotFoundError(`Order ${orderId} was not found.`);
  const deliveries = await deps.deliveries.listForOrder(order.orderId, 100);
  return {
    ...orderRow(order),
    currency: order.currency,
    lines: order.lines,
    sellTo: {
      company: order.sellTo.company,
      contact: {
        name: `${order.sellTo.contact.firstName} ${order.sellTo.contact.lastName}`,
        email: order.sellTo.contact.email,
      },
      city: order.sellTo.address.city,
      country: order.sellTo.address.country,
    },
    partner: { name: order.partner.name },
    ...(order.channelRef ? { channelRef: order.channelRef } : {}),
    history: order.history,
    ...(order.screening ? { screening: order.screening } : {}),
    downstream: {
      ...(order.billing
        ? {
            zuoraAccountNumber: order.billing.accountNumber,
            zuoraSubscriptionNumber: order.billing.subscriptionNumber,
            ...(order.billing.orderNumber ? { zuoraOrderNumber: order.billing.orderNumber } : {}),
          }
        : {}),
      ...(order.crm
        ? {
            salesforceContactId: order.crm.contactId,
            salesforceOpportunityId: order.crm.opportunityId,
            salesforceQuoteId: order.crm.quoteId,
          }
        : {}),
      ...(order.licence
        ? { licenceId: order.licence.licenceId, licenceExpiresAt: order.licence.expiresAt }
        : {}),
    },
    events: order.history
      .filter((h) => EVENT_OF[h.status])
      .map((h) => ({ at: h.at, type: EVENT_OF[h.status]!, ...(h.reason ? { reason: h.reason } : {}) })),
    ...(order.lastEvent ? { lastEvent: order.lastEvent } : {}),
    redrives: order.redrives,
    deliveries: deliveries.map((d) => ({
      id: d.id,
      tenant: d.endpointTenant,
      endpointId: d.endpointId,
      eventType: d.eventType,
      status: d.status,
      attemptCount: d.attemptCount,
      ...(d.lastStatusCode !== undefined ? { lastStatusCode: d.lastStatusCode } : {}),
      ...(d.lastError ? { lastError: d.lastError } : {}),
      updatedAt: d.updatedAt,
    })),
  };
}

/** Clear or reject an order in review, in the operator's name, with their reason. */
export async function decideOrder(
  input: { orderId: string; decision: 'clear' | 'reject'; reason: string; operator: string },
  deps: OpsOrderDeps,
) {
  return orderRow(await reviewOrder(input, deps));
}
