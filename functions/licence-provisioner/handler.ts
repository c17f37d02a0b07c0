import { SESv2Client } from '@aws-sdk/client-sesv2';
import * as z from 'zod';
import { readSecretJson } from '../../shared/clients/credentials.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import { busEventHandler } from '../../shared/events/consumer.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { licenceSigningKeySchema } from '../../shared/orders/licence-keys.ts';
import { awsClient } from '../../shared/telemetry.ts';
import { issueLicence } from './issue-licence.ts';
import { MailClaims } from './mail-claims.ts';
import { createSesMailer } from './ses-mailer.ts';

const env = parseEnv(tableEnvSchema.extend(busEnvSchema.shape).extend({ MAIL_FROM: z.string().min(3) }));
const deps = {
  orders: new OrderRepository(documentClient(), env.TABLE_NAME),
  signingKey: () => readSecretJson('licence-signing-key', licenceSigningKeySchema),
  mailer: createSesMailer(awsClient(SESv2Client, { maxAttempts: 3 }), env.MAIL_FROM),
  mailClaims: new MailClaims(documentClient(), env.TABLE_NAME),
  publisher: publisherFromEnv(),
  clock: systemClock,
};

/** `order.billing.provisioned` → signed licence, e-mailed to buyer and partner (SQS retries, then DLQ). */
export const handler = busEventHandler(async (event) => {
  await issueLicence({ orderId: orderEventDetailSchema.parse(event.detail).orderId }, deps);
});
