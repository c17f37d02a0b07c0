import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import * as z from 'zod';
import { Sandbox, type SandboxContext, type SandboxResponse } from './kit.ts';

/**
 * The webhook receiver sandbox: `POST /_sandbox/receiver/{name}` is a partner's webhook endpoint.
 * Every delivery is verified with the official `standardwebhooks` library against the secret given
 * to that receiver name, and recorded (verified or not, webhook-id, type, attempt timestamp). It can
 * be told to fail — a status for the next N deliveries or always, with Retry-After and a delay — so
 * retries can be exercised by hand and in tests:
 *
 *   PUT /_sandbox/receiver/{name}/_config {secret, failStatus?, failTimes?, retryAfter?, delayMs?}
 *   GET /_sandbox/receiver/{name}/_config
 */
export const receiverConfigSchema = z
  .object({
    secret: z.string().startsWith('whsec_').optional(),
    failStatus: z.number().int().min(300).max(599).optional(),
    /** How many deliveries fail with `failStatus` (absent: every delivery while failStatus is set). */
    failTimes: z.number().int().min(0).optional(),
    retryAfter: z.string().max(64).optional(),
    delayMs: z.number().int().min(0).max(60_000).optional(),
  })
  .strict();
export type ReceiverConfig = z.infer<typeof receiverConfigSchema>;

interface ReceiverState {
  receivers: Record<string, ReceiverConfig & { failed: number }>;
  [k: string]: unknown;
}

/** Same tolerance as the library (5 min), measured on the hub clock (which tests move forward). */
const TOLERANCE_SECONDS = 5 * 60;

export function verifyDelivery(
  secret: string,
  body: string,
  headers: Record<string, string>,
  nowMs: number,
): { verified: boolean; error?: string } {
  try {
    const webhook = new Webhook(secret);
    // The library checks the timestamp against the wall clock; the local hub clock can be advanced,
    // so the same check is done against it. The signature check itself is the library's.
    (webhook as unknown as { verifyTimestamp: (h: string) => Date }).verifyTimestamp = (header: string) => {
      const now = Math.floor(nowMs / 1000);
      const ts = Number.parseInt(header, 10);
      if (Number.isNaN(ts)) throw new WebhookVerificationError('Invalid Signature Headers');
      if (now - ts > TOLERANCE_SECONDS) throw new WebhookVerificationError('Message timestamp too old');
      if (ts > now + TOLERANCE_SECONDS) throw new WebhookVerificationError('Message timestamp too new');
      return new Date(ts * 1000);
    };
    webhook.verify(body, headers);
    return { verified: true };
  } catch (error) {
    return { verified: false, error: (error as Error).message };
  }
}

export function createReceiverSandbox(ctx: SandboxContext): Sandbox<ReceiverState> {
  const sandbox = new Sandbox<ReceiverState>('receiver', ctx, () => ({ receivers: {} }));

  sandbox.route('PUT', '/:name/_config', (req) => {
    let raw: unknown;
    try {
      raw = req.json();
    } catch {
      return { status: 400, body: { error: 'MALFORMED_JSON', message: 'The body is not valid JSON.' } };
    }
    const parsed = receiverConfigSchema.safeParse(raw);
    if (!parsed.success) {
      return {
        status: 400,
        body: {
          error: 'VALIDATION_FAILED',
          message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
        },
      };
    }
    // A PUT without a secret keeps the one already set (changing failStatus must not stop verification).
    const previousSecret = sandbox.state.receivers[req.params.name!]?.secret;
    const config: ReceiverConfig = { ...(previousSecret ? { secret: previousSecret } : {}), ...parsed.data };
    sandbox.state.receivers[req.params.name!] = { ...config, failed: 0 };
    sandbox.changed();
    return {
      status: 200,
      body: { name: req.params.name, ...redactConfig(config) },
    };
  });

  sandbox.route('GET', '/:name/_config', (req) => {
    const config = sandbox.state.receivers[req.params.name!];
    return config
      ? { status: 200, body: { name: req.params.name, ...redactConfig(config), failed: config.failed } }
      : { status: 404, body: { error: 'NOT_FOUND', message: `no receiver ${req.params.name}` } };
  });

  sandbox.route('POST', '/:name', async (req): Promise<SandboxResponse> => {
    const name = req.params.name!;
    const config = sandbox.state.receivers[name];
    const body = req.text();
    const check = config?.secret
      ? verifyDelivery(config.secret, body, req.headers, ctx.clock.now().getTime())
      : { verified: false, error: 'no secret configured for this receiver' };
    let type: string | undefined;
    try {
      type = (JSON.parse(body) as { type?: string }).type;
    } catch {
      type = undefined;
    }
    if (config?.delayMs) await new Promise((r) => setTimeout(r, config.delayMs));
    const failing =
      config?.failStatus !== undefined &&
      (config.failTimes === undefined || config.failed < config.failTimes);
    const status = failing ? config!.failStatus! : 200;
    if (failing) {
      config!.failed++;
      sandbox.changed();
    }
    sandbox.record('delivery', {
      receiver: name,
      webhookId: req.headers['webhook-id'],
      webhookTimestamp: req.headers['webhook-timestamp'],
      signatures: (req.headers['webhook-signature'] ?? '').split(' ').filter(Boolean).length,
      userAgent: req.headers['user-agent'],
      type,
      verified: check.verified,
      ...(check.error ? { verifyError: check.error } : {}),
      answered: status,
    });
    return {
      status,
      headers: failing && config?.retryAfter ? { 'retry-after': config.retryAfter } : {},
      body: failing ? { message: `receiver ${name} told to fail` } : { received: true },
    };
  });

  return sandbox;
}

function redactConfig(config: ReceiverConfig) {
  const { secret, ...rest } = config;
  return { ...rest, hasSecret: Boolean(secret) };
}
