import { randomBytes } from 'node:crypto';
import { Sandbox, type SandboxContext, type SandboxRequest, type SandboxResponse } from '../kit.ts';
import { LOCAL_ZUORA_CREDENTIALS } from './credentials.ts';
import { registerZuoraOrderRoutes } from './orders.ts';
import { registerZuoraUsageRoutes } from './usage.ts';

export { LOCAL_ZUORA_CREDENTIALS };

export interface ZuoraState {
  tokens: Record<string, number>;
  [area: string]: unknown;
}

export type ZuoraSandbox = Sandbox<ZuoraState>;

/** Zuora's error body for an unauthenticated call (v1 REST). */
const unauthorized = (): SandboxResponse => ({
  status: 401,
  body: { success: false, reasons: [{ code: 90000011, message: 'Authentication error' }] },
});

/**
 * Answers 401 unless the request carries a bearer token this sandbox issued and that has not expired
 * (by the hub clock). Returns undefined when authorised.
 */
export function requireZuoraToken(sandbox: ZuoraSandbox, req: SandboxRequest): SandboxResponse | undefined {
  const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const expires = token ? sandbox.state.tokens[token] : undefined;
  if (!expires || expires < sandbox.ctx.clock.now().getTime()) return unauthorized();
  return undefined;
}

/**
 * Zuora sandbox: `POST /oauth/token` (client credentials, form-encoded, Zuora's response shape), plus
 * the order and usage-import APIs registered by their modules.
 */
export function createZuoraSandbox(ctx: SandboxContext): ZuoraSandbox {
  const sandbox = new Sandbox<ZuoraState>('zuora', ctx, () => ({ tokens: {} }));
  sandbox.route('POST', '/oauth/token', (req) => {
    const form = new URLSearchParams(req.text());
    if (form.get('grant_type') !== 'client_credentials') {
      return { status: 400, body: { message: 'unsupported_grant_type' } };
    }
    if (
      form.get('client_id') !== LOCAL_ZUORA_CREDENTIALS.clientId ||
      form.get('client_secret') !== LOCAL_ZUORA_CREDENTIALS.clientSecret
    ) {
      return { status: 401, body: { message: 'invalid_client' } };
    }
    const token = randomBytes(16).toString('hex');
    const expiresIn = 3599;
    sandbox.state.tokens[token] = ctx.clock.now().getTime() + expiresIn * 1000;
    sandbox.changed();
    sandbox.record('oauth.token', { clientId: form.get('client_id') });
    return {
      status: 200,
      body: {
        access_token: token,
        expires_in: expiresIn,
        jti: randomBytes(16).toString('hex'),
        scope: 'entity.local tenant.local',
        token_type: 'bearer',
      },
    };
  });
  registerZuoraOrderRoutes(sandbox);
  registerZuoraUsageRoutes(sandbox);
  return sandbox;
}
