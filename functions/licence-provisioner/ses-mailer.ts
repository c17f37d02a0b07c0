import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import { type Mailer, mailNotSent } from './issue-licence.ts';

/** SES v2 `SendEmail` (locally the runtime's SES emulation writes it to the `mail` sandbox outbox). */
export function createSesMailer(client: SESv2Client, from: string): Mailer {
  return {
    async send({ to, subject, text }) {
      try {
        const sent = await client.send(
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
        return sent.MessageId;
      } catch (error) {
        const name = (error as { name?: string }).name ?? '';
        // SES answered (an HTTP status): the copy was not sent. No answer (network, timeout): unknown.
        const answered =
          typeof (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ===
          'number';
        const mark = <E extends Error>(e: E) => (answered ? mailNotSent(e) : e);
        // A rejected address or an unverified sender will not fix itself; throttling and 5xx will.
        if (
          [
            'MessageRejected',
            'MailFromDomainNotVerifiedException',
            'BadRequestException',
            'NotFoundException',
          ].includes(name)
        ) {
          throw mark(
            new PermanentError(`SES refused the licence e-mail (${name})`, 'MAIL_REFUSED', { cause: error }),
          );
        }
        throw mark(new TransientError(`SES SendEmail failed (${name || 'network'})`, { cause: error }));
      }
    },
  };
}
