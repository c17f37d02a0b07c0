import {
  type OutgoingMarketplaceEvent,
  SAASHOP_EVENT_TYPES,
  SaashopAnswerError,
  type SaashopClient,
  type SaashopEventType,
  type SaashopStatusCode,
} from '../../shared/clients/saashop.ts';
import { type Clock, epochSeconds } from '../../shared/clock.ts';
import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import type { SaashopEventRepository } from '../../shared/db/entities/saashop-events.ts';
import type { SaashopReportRepository } from '../../shared/db/entities/saashop-reports.ts';
import { TransientError } from '../../shared/errors.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import {
  saashopEventFailedSchema,
  saashopReportRequestedSchema,
} from '../../shared/events/catalog/saashop.ts';
import type { ReceivedEvent } from '../../shared/events/consumer.ts';
import { logger } from '../../shared/logger.ts';
import { owedReports } from '../../shared/saashop/owed-reports.ts';

/**
 * Status back to SaaShop, from the hub's own events: `order.accepted` → ProvisioningStarted,
 * `order.fulfilled` → ProvisioningCompleted (licence id, Zuora account and subscription),
 * `order.rejected` / `order.failed` → ProvisioningFailed, `saashop.event.failed` (an event that
 * never became an order) → ProvisioningFailed with its reason, and `saashop.report.requested` (the
 * poller found a report missing) → whatever the order is owed.
 *
 * Each (order, status) is claimed in the table before the post, so a redelivered or duplicated bus
 * event reports once. Reports are sent in lifecycle order: Completed (and a Failed after acceptance)
 * first makes sure Started went out, so SaaShop never sees Completed without Started even when the
 * two events arrive out of order. What SaaShop reads never includes screening evidence or partner
 * error detail: those stay with operators.
 */
export interface ReportDeps {
  saashop: Pick<SaashopClient, 'postEvent'>;
  orders: Pick<OrderRepository, 'get'>;
  events: Pick<SaashopEventRepository, 'get'>;
  reports: Pick<SaashopReportRepository, 'claim' | 'finish'>;
  clock: Clock;
  /** How long one notifier owns a report it is posting (shorter than the queue's visibility timeout). */
  leaseMs: number;
}

interface Planned {
  subject: string;
  statusCode: SaashopStatusCode;
  saashopOrderId?: string;
  body: Omit<OutgoingMarketplaceEvent, 'eventId' | 'eventTime'>;
}

export type ReportOutcome = 'sent' | 'already' | 'refused';

const ORDER_TYPE_EVENTS: Record<string, SaashopEventType> = {
  Purchase: 'ServicePurchased',
  Trial: 'Trial',
  Evaluation: 'Evaluation',
};

const isEventType = (v: unknown): v is SaashopEventType =>
  typeof v === 'string' && (SAASHOP_EVENT_TYPES as readonly string[]).includes(v);

const orderProperty = (saashopOrderId: string) => ({
  name: 'orderId',
  value: saashopOrderId,
  description: 'Unique identifier of the order.',
});

/** Handles one bus event; returns what happened to each report it implies (for logs and tests). */
export async function reportToSaashop(
  event: ReceivedEvent,
  deps: ReportDeps,
): Promise<Array<{ statusCode: SaashopStatusCode; outcome: ReportOutcome }>> {
  const plan =
    event.type === 'saashop.event.failed' ? await failedEventPlan(event, deps) : await orderPlan(event, deps);
  const results: Array<{ statusCode: SaashopStatusCode; outcome: ReportOutcome }> = [];
  for (const step of plan) results.push({ statusCode: step.statusCode, outcome: await send(step, deps) });
  return results;
}

/**
 * The reports an order event (or the poller's `saashop.report.requested`) calls for: everything the
 * order is owed in its CURRENT status, so a late or repeated event, or one that arrives before an
 * earlier one, still leads to the right reports in the right order (each sent once).
 */
async function orderPlan(event: ReceivedEvent, deps: ReportDeps): Promise<Planned[]> {
  const detail =
    event.type === 'saashop.report.requested'
      ? { ...saashopReportRequestedSchema.parse(event.detail), channel: 'saashop' }
      : orderEventDetailSchema.parse(event.detail);
  if (detail.channel !== 'saashop') return [];
  const order = await deps.orders.get(detail.orderId);
  if (!order) throw new Error(`order ${detail.orderId} of a ${event.type} event is not in the table`);
  const saashopOrderId = order.channelRef?.saashopOrderId ?? order.channelOrderId;
  const eventTypeCode = isEventType(order.channelRef?.saashopEventType)
    ? order.channelRef.saashopEventType
    : (ORDER_TYPE_EVENTS[order.orderType] ?? 'ServicePurchased');
  const base = { subject: order.orderId, saashopOrderId };
  const hubId = { name: 'sellerOrderId', value: order.orderId, description: "The seller's order reference." };
  return owedReports(order).map((statusCode): Planned => {
    if (statusCode === 'ProvisioningCompleted') return completed(order, saashopOrderId, eventTypeCode, hubId);
    if (statusCode === 'ProvisioningStarted') {
      return {
        ...base,
        statusCode,
        body: {
          eventTypeCode,
          statusCode,
          description: 'Provisioning has been started',
          detailedDescription: 'The seller accepted the order and is provisioning the service.',
          additionalProperties: [orderProperty(saashopOrderId), hubId],
        },
      };
    }
    return {
      ...base,
      statusCode,
      body: {
        eventTypeCode,
        statusCode,
        description: 'Provisioning failed',
        // Deliberately generic: the reason (screening evidence, partner errors) is for operators only.
        detailedDescription:
          order.status === 'REJECTED'
            ? 'The seller could not accept this order. The seller will contact the buyer.'
            : 'Provisioning stopped on a technical problem. The seller has been alerted and will follow up.',
        additionalProperties: [orderProperty(saashopOrderId), hubId],
      },
    };
  });
}

function completed(
  order: Order,
  saashopOrderId: string,
  eventTypeCode: SaashopEventType,
  hubId: { name: string; value: string; description: string },
): Planned {
  const props = [orderProperty(saashopOrderId), hubId];
  if (order.licence)
    props.push({
      name: 'licenseId',
      value: order.licence.licenceId,
      description: 'Licence issued to the buyer.',
    });
  if (order.billing) {
    props.push({
      name: 'accountNumber',
      value: order.billing.accountNumber,
      description: "The buyer's account with the seller.",
    });
    props.push({
      name: 'subscriptionNumber',
      value: order.billing.subscriptionNumber,
      description: "The buyer's subscription with the seller.",
    });
  }
  return {
    subject: order.orderId,
    saashopOrderId,
    statusCode: 'ProvisioningCompleted',
    body: {
      eventTypeCode,
      statusCode: 'ProvisioningCompleted',
      description: 'Provisioning has been completed',
      detailedDescription: order.licence
        ? `The service is ready: licence ${order.licence.licenceId} was e-mailed to the buyer.`
        : 'The service is ready.',
      additionalProperties: props,
    },
  };
}

async function failedEventPlan(event: ReceivedEvent, deps: ReportDeps): Promise<Planned[]> {
  const detail = saashopEventFailedSchema.parse(event.detail);
  const record = await deps.events.get(detail.eventId);
  if (!record)
    throw new Error(`SaaShop event ${detail.eventId} of a saashop.event.failed event is not in the table`);
  const reason = record.reason ?? 'the order could not be processed';
  const props = [
    ...(record.saashopOrderId ? [orderProperty(record.saashopOrderId)] : []),
    { name: 'marketplaceEventId', value: record.eventId, description: 'The marketplace event this answers.' },
  ];
  return [
    {
      subject: `EVENT#${record.eventId}`,
      ...(record.saashopOrderId ? { saashopOrderId: record.saashopOrderId } : {}),
      statusCode: 'ProvisioningFailed',
      body: {
        eventTypeCode: isEventType(record.eventTypeCode) ? record.eventTypeCode : 'ServicePurchased',
        statusCode: 'ProvisioningFailed',
        description:
          record.status === 'UNSUPPORTED' ? 'Event not supported by the seller' : 'Provisioning failed',
        detailedDescription: reason.slice(0, 2000),
        additionalProperties: props,
      },
    },
  ];
}

/** Claims the (subject, status) report, posts it once, and records the outcome. */
async function send(step: Planned, deps: ReportDeps): Promise<ReportOutcome> {
  const claim = await deps.reports.claim(
    {
      subject: step.subject,
      statusCode: step.statusCode,
      ...(step.saashopOrderId ? { saashopOrderId: step.saashopOrderId } : {}),
    },
    deps.clock.now(),
    deps.leaseMs,
  );
  if (claim.kind === 'done') return 'already';
  if (claim.kind === 'busy') {
    // Another notifier is posting it now; SQS brings this message back after the visibility timeout.
    throw new TransientError(
      `SaaShop report ${step.statusCode} of ${step.subject} is being sent by another worker`,
    );
  }
  try {
    await deps.saashop.postEvent({
      ...step.body,
      eventId: claim.report.eventId,
      eventTime: epochSeconds(deps.clock.now()),
    });
  } catch (error) {
    if (!(error instanceof SaashopAnswerError)) throw error; // temporary: retried, then the DLQ
    // SaaShop refused it for good (4xx): retrying the same body cannot help. Kept for operators.
    await deps.reports.finish(claim.report, { state: 'FAILED', reason: error.message }, deps.clock.now());
    logger.error('SaaShop refused a status report', {
      subject: step.subject,
      statusCode: step.statusCode,
      status: error.status,
    });
    return 'refused';
  }
  await deps.reports.finish(claim.report, { state: 'SENT' }, deps.clock.now());
  logger.info('status reported to SaaShop', { subject: step.subject, statusCode: step.statusCode });
  return 'sent';
}
