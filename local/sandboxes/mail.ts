import { Sandbox, type SandboxContext } from './kit.ts';

export interface OutboundMail {
  messageId: string;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  text: string | undefined;
  html: string | undefined;
}

/**
 * The SES outbox. The runtime's SESv2 emulation (`SendEmail`) appends every message here; it is
 * served at `GET /_sandbox/mail/_records` so tests and demos can read what would have been sent.
 * Faults configured here make `SendEmail` fail (so e-mail retries can be exercised).
 */
export function createMailSandbox(ctx: SandboxContext): Sandbox {
  return new Sandbox('mail', ctx, () => ({}));
}
