import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { PermanentError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { findProduct } from '../../shared/orders/catalogue.ts';
import { type LicenceSigningKey, signLicence } from '../../shared/orders/licence-keys.ts';
import { completeStep, failOrder, type LifecycleDeps, orderEvent } from '../../shared/orders/lifecycle.ts';
import { orderFailure } from '../../shared/orders/public-reason.ts';

/**
 * `order.billing.provisioned` → a signed licence key (EdDSA JWS carrying products, quantities, term
 * and customer), stored on the order BEFORE it is e-mailed (so a retry re-sends the same key, never
 * a second licence), then e-mailed to the Sell To contact and the partner, then the fulfilment join.
 * Each copy is recorded once sent; SES has no idempotency key, so only a crash between a send and
 * its record re-sends that one copy.
 */
export interface Mailer {
  send(message: { to: string; subject: string; text: string }): Promise<void>;
}

export interface IssueLicenceDeps extends LifecycleDeps {
  orders: Pick<OrderRepository, 'get' | 'transition' | 'settle' | 'recordStep'>;
  signingKey: () => Promise<LicenceSigningKey>;
  mailer: Mailer;
}

const addMonths = (date: Date, months: number) => {
  const d = new Date(date);
  d.setUTCMonth(d.getUTCMonth() + months);
  return d;
};

export async function buildLicence(order: Order, key: LicenceSigningKey, issuedAt: Date) {
  const products = order.lines.map((l) => {
    const product = findProduct(l.productCode);
    return {
      productCode: l.productCode,
      name: product?.name ?? l.productCode,
      quantity: l.quantity,
      unit: l.unit,
      termMonths: l.termMonths ?? product?.defaultTermMonths ?? 12,
    };
  });
  const expiresAt = addMonths(issuedAt, Math.max(...products.map((p) => p.termMonths)));
  // Deterministic id: one licence per order, whatever the number of attempts.
  const licenceId = `lic_${order.orderId.replace(/^ord_/, '')}`;
  const token = await signLicence(
    {
      lid: licenceId,
      orderId: order.orderId,
      orderType: order.orderType,
      customer: { company: order.sellTo.company, country: order.sellTo.address.country },
      products,
    },
    key,
    { issuedAt, expiresAt },
  );
  return {
    licenceId,
    key: token,
    keyId: key.keyId,
    issuedAt: issuedAt.toISOString(),
    expiresAt: expiresAt.toISOString(),
  };
}

function licenceMail(order: Order, licence: NonNullable<Order['licence']>, audience: 'buyer' | 'partner') {
  const lines = order.lines
    .map((l) => `  - ${findProduct(l.productCode)?.name ?? l.productCode}: ${l.quantity} ${l.unit}`)
    .join('\n');
  const greeting =
    audience === 'buyer'
      ? `Hello ${order.sellTo.contact.firstName},\n\nyour licence for ${order.sellTo.company} is ready.`
      : `Hello ${order.partner.contact.firstName},\n\nthe licence of your customer ${order.sellTo.company} (order ${order.channelOrderId}) is issued.`;
  return {
    subject: `Your Switchboard licence ${licence.licenceId} (order ${order.channelOrderId})`,
    text: `${greeting}\n\nProducts:\n${lines}\nValid until: ${licence.expiresAt.slice(0, 10)}\n\nLicence key:\n${licence.key}\n\nVerify it offline with the public key at /v1/licences/public-key (key id ${licence.keyId}).\n`,
  };
}

export async function issueLicence(
  input: { orderId: string },
  deps: IssueLicenceDeps,
): Promise<'issued' | 'failed' | 'skipped'> {
  let order = await deps.orders.get(input.orderId);
  if (order?.status !== 'BILLING_PROVISIONED') {
    logger.info('order not awaiting a licence; nothing to do', {
      orderId: input.orderId,
      status: order?.status,
    });
    return 'skipped';
  }
  const subject = order;
  try {
    if (!order.licence) {
      const licence = await buildLicence(order, await deps.signingKey(), deps.clock.now());
      order =
        (await deps.orders.recordStep(
          order.orderId,
          'licence',
          licence,
          ['BILLING_PROVISIONED'],
          deps.clock.now(),
        )) ?? (await deps.orders.get(order.orderId));
      if (!order?.licence || order.status !== 'BILLING_PROVISIONED') return 'skipped';
    }
    if (!order.licenceEmailedAt) {
      const licence = order.licence;
      if (!order.licenceBuyerMailedAt) {
        await deps.mailer.send({ to: order.sellTo.contact.email, ...licenceMail(order, licence, 'buyer') });
        await deps.orders.recordStep(
          order.orderId,
          'licenceBuyerMailedAt',
          deps.clock.now().toISOString(),
          ['BILLING_PROVISIONED'],
          deps.clock.now(),
        );
      }
      await deps.mailer.send({ to: order.partner.contact.email, ...licenceMail(order, licence, 'partner') });
      await deps.publisher.publish([orderEvent('order.licence.issued', order, 'BILLING_PROVISIONED')]);
    }
    await completeStep(
      order.orderId,
      'licenceEmailedAt',
      order.licenceEmailedAt ?? deps.clock.now().toISOString(),
      deps,
    );
    return 'issued';
  } catch (error) {
    if (!(error instanceof PermanentError)) throw error;
    await failOrder(subject, 'licence', orderFailure('licence', error), deps);
    return 'failed';
  }
}
