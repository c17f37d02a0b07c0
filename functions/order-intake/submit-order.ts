/**
 * The order use case moved to `shared/orders/submit-order.ts` on its second use (the SaaShop poller
 * runs it too); this module keeps the order-intake import path working.
 */
export * from '../../shared/orders/submit-order.ts';
