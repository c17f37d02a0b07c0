import { randomBytes, randomUUID } from 'node:crypto';
import { LOCAL_APPDIRECT_CREDENTIALS } from './appdirect-credentials.ts';
import { registerMarketplaceRoutes } from './appdirect-marketplace.ts';
import { Sandbox, type SandboxContext, type SandboxRequest, type SandboxResponse } from './kit.ts';

/**
 * AppDirect marketplace sandbox: OAuth 2.0 client credentials (`POST /oauth2/token`, HTTP Basic or
 * form fields, scopes ROLE_PARTNER / ROLE_PARTNER_READ, 12-hour tokens) and Billing Usage V2
 * (`POST /api/integration/v2/billing/usage` → 202 `{requestId, idempotencyKey, queryUsageStatus}`;
 * a reused idempotency key → 409; `GET …/usage/requests/{requestId}` → PROCESSING, then COMPLETED
 * on the next poll). Limits of the guide are enforced: 250 preconfigured / 850 events / 262,144
 * bytes per request; units listed in `state.volumeUnits` must not be mixed with others.
 * Accepted usage is recorded as `usage.received` (one record per request, with its events).
 * The marketplace side of the ISV connector protocol (events emitted to the hub, served signed,
 * results received) is registered by `appdirect-marketplace.ts`.
 */
export interface AppDirectState {
  tokens: Record<string, { expiresAtMs: number; scope: string }>;
  usageRequests: Record<string, { requestId: string; idempotencyKey: string; polls: number; events: number }>;
  idempotencyKeys: Record<string, string>;
  volumeUnits: string[];
  [area: string]: unknown;
}

export type AppDirectSandbox = Sandbox<AppDirectState>;

const USAGE = '/api/integration/v2/billing/usage';
const LIMITS = { preconfigured: 250, custom: 850, bytes: 262_144 };

/**
 * AppDirect's result shape `{success: false, errorCode, message}` (see its API results); `code`
 * repeats `errorCode` for callers written against the sandbox's earlier shape.
 */
const error = (status: number, code: string, message: string): SandboxResponse => ({
  status,
  body: { success: false, errorCode: code, message, code },
});

export function bearer(
  sandbox: AppDirectSandbox,
  req: SandboxRequest,
  write: boolean,
): SandboxResponse | undefined {
  const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const t = token ? sandbox.state.tokens[token] : undefined;
  if (!t || t.expiresAtMs < sandbox.ctx.clock.now().getTime()) {
    return { status: 401, body: { error: 'invalid_token', error_description: 'Invalid access token' } };
  }
  if (write && t.scope !== 'ROLE_PARTNER') return error(403, 'ACCESS_DENIED', 'Access Denied');
  return undefined;
}

export function createAppDirectSandbox(ctx: SandboxContext): AppDirectSandbox {
  const sandbox = new Sandbox<AppDirectState>('appdirect', ctx, () => ({
    tokens: {},
    usageRequests: {},
    idempotencyKeys: {},
    volumeUnits: [],
  }));

  sandbox.route('POST', '/oauth2/token', (req) => {
    const form = new URLSearchParams(req.text());
    for (const [k, v] of req.query) if (!form.has(k)) form.set(k, v);
    let id = form.get('client_id');
    let secret = form.get('client_secret');
    const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (basic) [id, secret] = Buffer.from(basic, 'base64').toString('utf8').split(':') as [string, string];
    if (form.get('grant_type') !== 'client_credentials') {
      return {
        status: 400,
        body: { error: 'unsupported_grant_type', error_description: 'Unsupported grant type' },
      };
    }
    if (id !== LOCAL_APPDIRECT_CREDENTIALS.clientId || secret !== LOCAL_APPDIRECT_CREDENTIALS.clientSecret) {
      return { status: 401, body: { error: 'invalid_client', error_description: 'Bad client credentials' } };
    }
    const scope = form.get('scope') ?? 'ROLE_PARTNER_READ';
    if (scope !== 'ROLE_PARTNER' && scope !== 'ROLE_PARTNER_READ') {
      return { status: 400, body: { error: 'invalid_scope', error_description: `Invalid scope: ${scope}` } };
    }
    const token = randomBytes(16).toString('hex');
    const expiresIn = 43_199;
    sandbox.state.tokens[token] = { expiresAtMs: ctx.clock.now().getTime() + expiresIn * 1000, scope };
    sandbox.changed();
    sandbox.record('oauth.token', { clientId: id, scope });
    return { status: 200, body: { access_token: token, token_type: 'bearer', expires_in: expiresIn, scope } };
  });

  sandbox.route('POST', USAGE, (req) => {
    const denied = bearer(sandbox, req, true);
    if (denied) return denied;
    if (req.body.length > LIMITS.bytes)
      return error(400, 'PAYLOAD_TOO_LARGE', `The request exceeds ${LIMITS.bytes} bytes`);
    let body: {
      idempotencyKey?: unknown;
      requestGroupId?: unknown;
      billable?: unknown;
      usages?: Array<{ accountId?: unknown; usageList?: Array<Record<string, unknown>> }>;
    };
    try {
      body = req.json();
    } catch {
      return error(400, 'BAD_REQUEST', 'Malformed JSON');
    }
    if (typeof body.idempotencyKey !== 'string' || !body.idempotencyKey)
      return error(400, 'BAD_REQUEST', 'idempotencyKey is required');
    if (typeof body.billable !== 'boolean') return error(400, 'BAD_REQUEST', 'billable is required');
    if (!Array.isArray(body.usages) || body.usages.length === 0)
      return error(400, 'BAD_REQUEST', 'usages is required');
    const known = sandbox.state.idempotencyKeys[body.idempotencyKey];
    if (known) {
      sandbox.record('usage.duplicate', { idempotencyKey: body.idempotencyKey, requestId: known });
      return error(
        409,
        'DUPLICATE_IDEMPOTENCY_KEY',
        `Usage with idempotencyKey ${body.idempotencyKey} was already received`,
      );
    }
    const events: Array<Record<string, unknown>> = [];
    let pre = 0;
    let volume = 0;
    for (const [u, usage] of body.usages.entries()) {
      if (typeof usage.accountId !== 'string' || !usage.accountId)
        return error(400, 'BAD_REQUEST', `usages[${u}].accountId is required`);
      if (!Array.isArray(usage.usageList) || !usage.usageList.length)
        return error(400, 'BAD_REQUEST', `usages[${u}].usageList is required`);
      for (const [i, item] of usage.usageList.entries()) {
        const where = `usages[${u}].usageList[${i}]`;
        const unit = item.pricingUnit ?? item.customUnit;
        if (typeof unit !== 'string' || !unit)
          return error(400, 'BAD_REQUEST', `${where}: pricingUnit or customUnit is required`);
        if (!/^\d+(\.\d+)?$/.test(String(item.quantity ?? '')))
          return error(400, 'BAD_REQUEST', `${where}.quantity must be a non-negative number`);
        if (typeof item.eventDate !== 'string' || Number.isNaN(Date.parse(item.eventDate)))
          return error(400, 'BAD_REQUEST', `${where}.eventDate must be a date-time`);
        if (item.pricingUnit !== undefined) pre++;
        if (typeof item.pricingUnit === 'string' && sandbox.state.volumeUnits.includes(item.pricingUnit))
          volume++;
        events.push({ accountId: usage.accountId, ...item });
      }
    }
    if (pre > LIMITS.preconfigured)
      return error(
        400,
        'TOO_MANY_EVENTS',
        `At most ${LIMITS.preconfigured} preconfigured usage events per request`,
      );
    if (events.length > LIMITS.custom)
      return error(400, 'TOO_MANY_EVENTS', `At most ${LIMITS.custom} usage events per request`);
    if (volume > 0 && volume < events.length) {
      return error(
        400,
        'MIXED_PRICING_MODELS',
        'Volume-priced usage must not be sent with usage for other pricing models',
      );
    }
    const requestId = randomUUID();
    sandbox.state.idempotencyKeys[body.idempotencyKey] = requestId;
    sandbox.state.usageRequests[requestId] = {
      requestId,
      idempotencyKey: body.idempotencyKey,
      polls: 0,
      events: events.length,
    };
    sandbox.changed();
    sandbox.record('usage.received', {
      requestId,
      idempotencyKey: body.idempotencyKey,
      requestGroupId: body.requestGroupId ?? null,
      billable: body.billable,
      events,
    });
    return {
      status: 202,
      body: {
        requestId,
        idempotencyKey: body.idempotencyKey,
        queryUsageStatus: `${USAGE}/requests/${requestId}`,
      },
    };
  });

  sandbox.route('GET', `${USAGE}/requests/:requestId`, (req) => {
    const denied = bearer(sandbox, req, false);
    if (denied) return denied;
    const r = sandbox.state.usageRequests[req.params.requestId!];
    if (!r) return error(404, 'NOT_FOUND', `No usage request ${req.params.requestId}`);
    r.polls++;
    sandbox.changed();
    return {
      status: 200,
      body: {
        requestId: r.requestId,
        idempotencyKey: r.idempotencyKey,
        status: r.polls >= 2 ? 'COMPLETED' : 'PROCESSING',
        processedCount: r.polls >= 2 ? r.events : 0,
        errors: [],
      },
    };
  });

  registerMarketplaceRoutes(sandbox);
  return sandbox;
}
