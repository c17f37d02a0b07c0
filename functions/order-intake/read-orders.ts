import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { NotFoundError } from '../../shared/errors.ts';
import type { OrderStatus } from '../../shared/orders/contract.ts';
import { channelError, channelHistoryEntry } from '../../shared/orders/public-reason.ts';

/**
 * What a channel sees of its order: status, history and the ids created downstream (no secrets).
 * Outcomes only: the screening outcome without its evidence (list, entry, score — operators see those
 * in the ops API), failures as a code and a fixed sentence, never a partner's text.
 */
export function orderView(order: Order) {
  return {
    orderId: order.orderId,
    channel: order.channel,
    channelOrderId: order.channelOrderId,
    orderType: order.orderType,
    currency: order.currency,
    status: order.status,
    history: order.history.map((h) => channelHistoryEntry(h, order)),
    lines: order.lines,
    ...(order.screening
      ? {
          screening: {
            outcome: order.screening.outcome,
            provider: order.screening.provider,
            screenedAt: order.screening.screenedAt,
          },
        }
      : {}),
    ...(order.billing
      ? {
          billing: {
            zuoraAccountNumber: order.billing.accountNumber,
            zuoraSubscriptionNumber: order.billing.subscriptionNumber,
            zuoraOrderNumber: order.billing.orderNumber,
          },
        }
      : {}),
    ...(order.crm
      ? {
          crm: {
            salesforceContactId: order.crm.contactId,
            salesforceOpportunityId: order.crm.opportunityId,
            salesforceQuoteId: order.crm.quoteId,
          },
        }
      : {}),
    ...(order.licence
      ? { licence: { licenceId: order.licence.licenceId, expiresAt: order.licence.expiresAt } }
      : {}),
    ...(order.seats
      ? {
          seats: Object.entries(order.seats)
            .map(([userId, seat]) => ({ userId, assignedAt: seat.assignedAt }))
            .sort((a, b) => (a.assignedAt < b.assignedAt ? -1 : 1)),
        }
      : {}),
    ...(order.error ? { error: channelError(order.error) } : {}),
    createdAt: order.createdAt,
    updatedAt: order.updatedAt,
  };
}

/** `GET /v1/orders/{orderId}`: another tenant's order is a 404 (its existence is not revealed). */
export async function getOrder(
  input: { tenant: string; orderId: string },
  deps: { orders: Pick<OrderRepository, 'get'> },
) {
  const order = /^[\w-]{1,64}$/.test(input.orderId) ? await deps.orders.get(input.orderId) : undefined;
  if (!order || order.tenant !== input.tenant)
    throw new NotFoundError(`Order ${input.orderId} was not found.`);
  return orderView(order);
}

/** `GET /v1/orders`: the tenant's orders, oldest first, optional status filter, opaque cursor. */
export async function listOrders(
  input: { tenant: string; status?: OrderStatus; cursor?: string; limit: number },
  deps: { orders: Pick<OrderRepository, 'listByTenant'> },
) {
  const page = await deps.orders.listByTenant(input.tenant, input);
  return { orders: page.orders.map(orderView), ...(page.cursor ? { cursor: page.cursor } : {}) };
}
