import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { findProduct } from '../../shared/orders/catalogue.ts';
import { completeStep, failOrder, type LifecycleDeps, orderEvent } from '../../shared/orders/lifecycle.ts';
import { orderFailure } from '../../shared/orders/public-reason.ts';
import {
  type CompositeSubrequest,
  type CompositeSubresponse,
  isErrorArray,
  SALESFORCE_API_VERSION,
  type SalesforceClient,
  type SalesforceError,
  throwForErrors,
} from './salesforce-client.ts';

/**
 * `order.billing.provisioned` → Salesforce contact, opportunity and quote in ONE composite request.
 * Each record is an upsert on the external id `Switchboard_Order_Id__c` = our order id, so a retry
 * (after a timeout, a crash or a duplicate message) updates the same three records instead of
 * creating new ones. Records the ids on the order and runs the fulfilment join.
 */
export const EXTERNAL_ID_FIELD = 'Switchboard_Order_Id__c';

export interface SyncCrmDeps extends LifecycleDeps {
  orders: Pick<OrderRepository, 'get' | 'transition' | 'settle' | 'recordStep'>;
  salesforce: Pick<SalesforceClient, 'composite'>;
}

const upsertUrl = (sobject: string, orderId: string) =>
  `/services/data/${SALESFORCE_API_VERSION}/sobjects/${sobject}/${EXTERNAL_ID_FIELD}/${encodeURIComponent(orderId)}`;

export function crmCompositeRequest(order: Order, closeDate: string): CompositeSubrequest[] {
  const amount = order.lines.reduce((sum, l) => sum + (l.unitPrice ?? 0) * l.quantity, 0);
  const products = order.lines
    .map((l) => `${l.quantity} ${l.unit} ${findProduct(l.productCode)?.name ?? l.productCode}`)
    .join(', ');
  return [
    {
      method: 'PATCH',
      url: upsertUrl('Contact', order.orderId),
      referenceId: 'contact',
      body: {
        FirstName: order.sellTo.contact.firstName,
        LastName: order.sellTo.contact.lastName,
        Email: order.sellTo.contact.email,
        ...(order.sellTo.contact.phone ? { Phone: order.sellTo.contact.phone } : {}),
        MailingStreet: order.sellTo.address.line1,
        MailingCity: order.sellTo.address.city,
        MailingCountryCode: order.sellTo.address.country,
        ...(order.sellTo.address.postalCode ? { MailingPostalCode: order.sellTo.address.postalCode } : {}),
        Description: `Buyer at ${order.sellTo.company}`,
      },
    },
    {
      method: 'PATCH',
      url: upsertUrl('Opportunity', order.orderId),
      referenceId: 'opportunity',
      body: {
        Name: `${order.sellTo.company} – ${order.channelOrderId}`.slice(0, 120),
        StageName: 'Closed Won',
        CloseDate: closeDate,
        Type: order.orderType === 'Purchase' ? 'New Customer' : order.orderType,
        CurrencyIsoCode: order.currency,
        ...(amount > 0 ? { Amount: amount } : {}),
        ContactId: '@{contact.id}',
        Description: `${products}; partner ${order.partner.name}; Zuora ${order.billing?.subscriptionNumber ?? ''}`,
      },
    },
    {
      method: 'PATCH',
      url: upsertUrl('Quote', order.orderId),
      referenceId: 'quote',
      body: {
        Name: `Quote ${order.channelOrderId}`.slice(0, 120),
        OpportunityId: '@{opportunity.id}',
        ContactId: '@{contact.id}',
        Status: 'Accepted',
        Email: order.sellTo.contact.email,
      },
    },
  ];
}

function idOf(results: CompositeSubresponse[], referenceId: string): string {
  const result = results.find((r) => r.referenceId === referenceId);
  const body = result?.body as { id?: string } | SalesforceError[] | undefined;
  if (!result || result.httpStatusCode >= 300 || isErrorArray(body) || !body?.id) {
    // With allOrNone, the failing subrequest carries the cause; the others say PROCESSING_HALTED.
    const errors = results
      .flatMap((r) =>
        isErrorArray(r.body) ? r.body.map((e) => ({ ...e, message: `${r.referenceId}: ${e.message}` })) : [],
      )
      .filter((e) => e.errorCode !== 'PROCESSING_HALTED');
    throwForErrors(
      'CRM sync',
      errors.length ? errors : [{ errorCode: 'UNKNOWN', message: `no id for ${referenceId}` }],
    );
  }
  return body.id;
}

export async function syncCrm(
  input: { orderId: string },
  deps: SyncCrmDeps,
): Promise<'synced' | 'failed' | 'skipped'> {
  const order = await deps.orders.get(input.orderId);
  if (order?.status !== 'BILLING_PROVISIONED') {
    logger.info('order not awaiting CRM sync; nothing to do', {
      orderId: input.orderId,
      status: order?.status,
    });
    return 'skipped';
  }
  if (order.crm) {
    // Already synced (a redelivery): only the fulfilment join may still be pending.
    await completeStep(order.orderId, 'crm', order.crm, deps);
    return 'skipped';
  }
  try {
    const now = deps.clock.now();
    const results = await deps.salesforce.composite(
      'CRM sync',
      crmCompositeRequest(order, now.toISOString().slice(0, 10)),
    );
    const crm = {
      contactId: idOf(results, 'contact'),
      opportunityId: idOf(results, 'opportunity'),
      quoteId: idOf(results, 'quote'),
      syncedAt: now.toISOString(),
    };
    await deps.publisher.publish([orderEvent('order.crm.synced', order, 'BILLING_PROVISIONED')]);
    await completeStep(order.orderId, 'crm', crm, deps);
    return 'synced';
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    // Our credentials being refused is a configuration fault, not this order's: retry (then DLQ and
    // reconciler) until it is fixed, rather than failing every order.
    if (error.code === 'SALESFORCE_AUTH') throw new TransientError(error.message, { cause: error });
    await failOrder(order, 'crm', orderFailure('crm', error), deps);
    return 'failed';
  }
}
