import type { Order, OrderRepository } from '../../shared/db/entities/orders.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { logger } from '../../shared/logger.ts';
import { findProduct } from '../../shared/orders/catalogue.ts';
import { type LicenceSigningKey, signLicence } from '../../shared/orders/licence-keys.ts';
import { completeStep, failOrder, type LifecycleDeps, orderEvent } from '../../shared/orders/lifecycle.ts';
import { orderFailure } from '../../shared/orders/public-reason.ts';
import type { MailClaimStore, MailCopy } from './mail-claims.ts';

/**
 * `order.billing.provisioned` → a signed licence key (EdDSA JWS carrying products, quantities, term
 * and customer), stored on the order BEFORE it is e-mailed (so a retry re-sends the same key, never
 * a second licence), then e-mailed to the Sell To contact and the partner, then the fulfilment join.
 * Each copy is claimed in DynamoDB before SES is called and its SES MessageId recorded after
 * (`mail-claims.ts`): a copy with a recorded message id is never sent again; a claim still under
 * its lease makes a redelivery retry later; only after a crash between SES accepting a copy and the
 * record, and only once the lease has expired, is that copy sent a second time (SES has no
 * idempotency key) — the claim counts the attempts and a warning is logged.
 */
export interface Mailer {
  /** Resolves with SES's MessageId. Throws an error marked with `mailNotSent` when SES refused it. */
  send(message: { to: string; subject: string; text: string }): Promise<string | undefined>;
}

/** Outlasts one attempt (the function's 30 s timeout) and ends before the queue's 180 s redelivery. */
export const MAIL_CLAIM_LEASE_MS = 90_000;

export interface IssueLicenceDeps extends LifecycleDeps {
  orders: Pick<OrderRepository, 'get' | 'transition' | 'settle' | 'recordStep'>;
  signingKey: () => Promise<LicenceSigningKey>;
  mailer: Mailer;
  mailClaims: MailClaimStore;
  /** Default `MAIL_CLAIM_LEASE_MS`. */
  mailClaimLeaseMs?: number;
}

const NOT_SENT = Symbol.for('switchboard.mailNotSent');

/** Marks a mailer error as certainly not sent (SES answered with an error), so the claim is released. */
export function mailNotSent<E extends Error>(error: E): E {
  (error as unknown as Record<symbol, boolean>)[NOT_SENT] = true;
  return error;
}

const isNotSent = (error: unknown) =>
  typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[NOT_SENT] === true;

/** Claim → send → record for one copy; see the interface comment for what is guaranteed. */
async function sendCopy(
  order: Order,
  licence: NonNullable<Order['licence']>,
  copy: MailCopy,
  deps: IssueLicenceDeps,
): Promise<void> {
  const claim = await deps.mailClaims.claim(
    order.orderId,
    copy,
    deps.clock.now(),
    deps.mailClaimLeaseMs ?? MAIL_CLAIM_LEASE_MS,
  );
  if (claim.kind === 'sent') return;
  if (claim.kind === 'held') {
    throw new TransientError(
      `licence e-mail (${copy}) of order ${order.orderId} is claimed by an attempt that has not recorded it; retry after ${claim.leaseUntil}`,
    );
  }
  if (claim.attempt > 1) {
    logger.warn('re-sending a licence e-mail after an expired claim; an earlier attempt may have sent it', {
      orderId: order.orderId,
      copy,
      attempt: claim.attempt,
    });
  }
  const to = copy === 'buyer' ? order.sellTo.contact.email : order.partner.contact.email;
  let messageId: string | undefined;
  try {
    messageId = await deps.mailer.send({ to, ...licenceMail(order, licence, copy) });
  } catch (error) {
    if (isNotSent(error)) await deps.mailClaims.release(order.orderId, copy, claim.token);
    throw error;
  }
  await deps.mailClaims.recordSent(
    order.orderId,
    copy,
    claim.token,
    messageId || `unknown:${claim.token}`,
    deps.clock.now(),
  );
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
        await sendCopy(order, licence, 'buyer', deps);
        await deps.orders.recordStep(
          order.orderId,
          'licenceBuyerMailedAt',
          deps.clock.now().toISOString(),
          ['BILLING_PROVISIONED'],
          deps.clock.now(),
        );
      }
      await sendCopy(order, licence, 'partner', deps);
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
