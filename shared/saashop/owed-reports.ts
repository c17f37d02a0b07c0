import type { SaashopStatusCode } from '../clients/saashop.ts';
import type { Order } from '../db/entities/orders.ts';

/**
 * The provisioning statuses SaaShop is owed for an order, in the order they must reach it: Started
 * once the order was accepted, then Completed when FULFILLED, or Failed when REJECTED / ERROR (after
 * Started if it had been accepted). Nothing while it is being screened or reviewed. The notifier
 * posts what is missing; the poller uses the same list to confirm nothing was left unreported.
 */
export function owedReports(order: Pick<Order, 'status' | 'history'>): SaashopStatusCode[] {
  const accepted = order.history.some((h) => h.status === 'ACCEPTED');
  switch (order.status) {
    case 'ACCEPTED':
    case 'BILLING_PROVISIONED':
      return ['ProvisioningStarted'];
    case 'FULFILLED':
      return ['ProvisioningStarted', 'ProvisioningCompleted'];
    case 'REJECTED':
    case 'ERROR':
      return accepted ? ['ProvisioningStarted', 'ProvisioningFailed'] : ['ProvisioningFailed'];
    default:
      return [];
  }
}
