import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import type { Mailer } from './issue-licence.ts';

/** SES v2 `SendEmail` (locally the runtime's SES emulation writes it to the `mail` sandbox outbox). */
export function createSesMailer(client: SESv2Client, from: string): Mailer {
  return {
    async send({ to, subject, text }) {
      try {
        await client.send(
          new SendEmailCommand({
            FromEmailAddress: from,
            Destination: { ToAddresses: [to] },
            Content: {
              Simple: {
                Subject: { Data: subject, Charset: 'UTF-8' },
                Body: { Text: { Data: text, Charset: 'UTF-8' } },
              },
            },
          }),
        );
      } catch (error) {
        const name = (error as { name?: string }).name ?? '';
        // A rejected address or an unverified sender will not fix itself; throttling and 5xx will.
        if (
          [
            'MessageRejected',
            'MailFromDomainNotVerifiedException',
            'BadRequestException',
            'NotFoundException',
          ].includes(name)
        ) {
          throw new PermanentError(`SES refused the licence e-mail (${name})`, 'MAIL_REFUSED', {
            cause: error,
          });
        }
        throw new TransientError(`SES SendEmail failed (${name || 'network'})`, { cause: error });
      }
    },
  };
}
