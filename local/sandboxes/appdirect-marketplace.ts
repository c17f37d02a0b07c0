import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { signRequest, verifyRequest } from '../../shared/clients/appdirect-oauth1.ts';
import type { AppDirectSandbox } from './appdirect.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from './appdirect-credentials.ts';
import type { SandboxRequest, SandboxResponse } from './kit.ts';

/**
 * The marketplace side of AppDirect's ISV connector protocol, so the hub's connector can be driven
 * end to end on one machine:
 *  - `POST /_emit` `{"fixture": "subscription-order", "payload": {…deep-merged overrides…}, "eventId"?}`
 *    stores an event built from `events/appdirect/<fixture>.json` (the SDK fixtures' names), calls
 *    the hub's notification URL signed as a marketplace signs it (OAuth 1.0a, the product's consumer
 *    key), and answers `{eventId, status, answer}` with the hub's reply. Placeholders in the samples:
 *    `{{baseUrl}}` (this marketplace), `{{accountIdentifier}}` and `{{addonAccountIdentifier}}` (the
 *    last ones the hub returned, so the samples can be emitted one after the other in a demo).
 *  - `POST /_events/{eventId}/_notify` calls the notification URL again (a redelivery).
 *  - `GET|PUT /_config` `{notificationUrl?, signNotifications?}`.
 *  - Partner API (fault injection applies): `GET /api/integration/v1/events/{eventId}` serves the
 *    event only to a correctly signed request (OAuth 1.0a or a bearer token of `/oauth2/token`);
 *    `POST /api/integration/v1/events/{eventId}/result` takes the result of an asynchronous event
 *    once (a second one is a 409), recorded as `event.result`.
 * Records: `event.emitted`, `notification.answered`, `event.fetched`, `event.result`, `result.refused`.
 */
interface StoredEvent {
  eventId: string;
  fixture: string;
  type: string | undefined;
  parentAccountIdentifier: string | undefined;
  body: unknown;
  createdAt: string;
  resolved?: { at: string; result: unknown };
}

interface MarketplaceState {
  events: Record<string, StoredEvent>;
  config: { notificationUrl?: string; signNotifications: boolean };
  last: { accountIdentifier?: string; addonAccountIdentifier?: string };
}

const SAMPLES_DIR = fileURLToPath(new URL('../../events/appdirect/', import.meta.url));
const EVENTS_PATH = '/api/integration/v1/events';
const FIXTURE = /^[a-z0-9][a-z0-9-]{0,79}$/;
const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function market(sandbox: AppDirectSandbox): MarketplaceState {
  sandbox.state.marketplace ??= {
    events: {},
    config: { signNotifications: true },
    last: {},
  } satisfies MarketplaceState;
  return sandbox.state.marketplace as MarketplaceState;
}

const error = (status: number, errorCode: string, message: string): SandboxResponse => ({
  status,
  body: { success: false, errorCode, message },
});

const isObject = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v);

/** Objects merge key by key; arrays, scalars and null replace. */
export function deepMerge(base: unknown, overrides: unknown): unknown {
  if (!isObject(base) || !isObject(overrides)) return overrides === undefined ? base : overrides;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) out[k] = k in base ? deepMerge(base[k], v) : v;
  return out;
}

export function registerMarketplaceRoutes(sandbox: AppDirectSandbox): void {
  const ctx = sandbox.ctx;
  const eventUrl = (id: string) => `${ctx.baseUrl}${EVENTS_PATH}/${id}`;

  /** Who signed a call from the hub: its OAuth 1.0a signature or a bearer token; undefined if neither holds. */
  const caller = (req: SandboxRequest): 'oauth1' | 'oauth2' | undefined => {
    const auth = req.headers.authorization;
    const bearer = /^Bearer (.+)$/i.exec(auth ?? '')?.[1];
    if (bearer) {
      const token = sandbox.state.tokens[bearer];
      return token && token.expiresAtMs > ctx.clock.now().getTime() ? 'oauth2' : undefined;
    }
    const query = req.query.toString();
    const verdict = verifyRequest({
      method: req.method,
      url: `${ctx.baseUrl}${req.path}${query ? `?${query}` : ''}`,
      authorization: auth,
      secretOf: (key) =>
        key === LOCAL_APPDIRECT_CREDENTIALS.consumerKey
          ? LOCAL_APPDIRECT_CREDENTIALS.consumerSecret
          : undefined,
      nowSeconds: Math.floor(ctx.clock.now().getTime() / 1000),
    });
    return verdict.ok ? 'oauth1' : undefined;
  };

  /** Learns the account identifiers the hub hands out, for the samples' placeholders. */
  const learn = (stored: StoredEvent, answer: unknown) => {
    if (stored.type !== 'SUBSCRIPTION_ORDER' || !isObject(answer) || answer.success !== true) return;
    if (typeof answer.accountIdentifier !== 'string' || answer.accountIdentifier === 'stateless') return;
    const last = market(sandbox).last;
    if (stored.parentAccountIdentifier) last.addonAccountIdentifier = answer.accountIdentifier;
    else last.accountIdentifier = answer.accountIdentifier;
    sandbox.changed();
  };

  const notify = async (stored: StoredEvent): Promise<{ status: number; answer: unknown }> => {
    const state = market(sandbox);
    const base = state.config.notificationUrl ?? `${ctx.runtimeUrl}/v1/channels/appdirect/events`;
    const url = `${base}?eventUrl=${encodeURIComponent(eventUrl(stored.eventId))}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (state.config.signNotifications) {
      headers.authorization = signRequest({
        method: 'GET',
        url,
        credentials: LOCAL_APPDIRECT_CREDENTIALS,
        timestampSeconds: Math.floor(ctx.clock.now().getTime() / 1000),
      });
    }
    let status: number;
    let answer: unknown;
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
      status = res.status;
      const text = await res.text();
      try {
        answer = text ? JSON.parse(text) : undefined;
      } catch {
        answer = text;
      }
    } catch (e) {
      status = 503;
      answer = {
        success: false,
        errorCode: 'TRANSPORT_ERROR',
        message: `the hub did not answer: ${(e as Error).name}`,
      };
    }
    sandbox.record('notification.answered', { eventId: stored.eventId, type: stored.type, status, answer });
    if (status === 200) learn(stored, answer);
    return { status, answer };
  };

  const emit = async (req: SandboxRequest): Promise<SandboxResponse> => {
    let body: { fixture?: unknown; payload?: unknown; eventId?: unknown };
    try {
      body = req.json();
    } catch {
      return error(400, 'BAD_REQUEST', 'Malformed JSON');
    }
    if (!isObject(body)) return error(400, 'BAD_REQUEST', 'The body must be {"fixture": …, "payload"?: {…}}');
    const fixture = body.fixture;
    if (
      typeof fixture !== 'string' ||
      !FIXTURE.test(fixture) ||
      !existsSync(`${SAMPLES_DIR}${fixture}.json`)
    ) {
      return error(
        400,
        'BAD_REQUEST',
        `fixture must name a sample of events/appdirect/ (e.g. subscription-order)`,
      );
    }
    if (body.payload !== undefined && !isObject(body.payload)) {
      return error(400, 'BAD_REQUEST', 'payload must be an object of overrides');
    }
    const eventId = body.eventId === undefined ? randomUUID() : body.eventId;
    if (typeof eventId !== 'string' || !EVENT_ID.test(eventId)) {
      return error(400, 'BAD_REQUEST', 'eventId must be 1-128 letters, digits, . _ or -');
    }
    const state = market(sandbox);
    if (state.events[eventId])
      return error(409, 'CONFLICT', `event ${eventId} exists; use /_events/${eventId}/_notify`);
    const text = readFileSync(`${SAMPLES_DIR}${fixture}.json`, 'utf8')
      .replaceAll('{{baseUrl}}', ctx.baseUrl)
      .replaceAll('{{accountIdentifier}}', state.last.accountIdentifier ?? 'unknown-account')
      .replaceAll('{{addonAccountIdentifier}}', state.last.addonAccountIdentifier ?? 'unknown-account');
    const event = deepMerge(JSON.parse(text), body.payload);
    const payload = isObject(event) && isObject(event.payload) ? event.payload : undefined;
    const account = payload && isObject(payload.account) ? payload.account : undefined;
    const stored: StoredEvent = {
      eventId,
      fixture,
      type: isObject(event) && typeof event.type === 'string' ? event.type : undefined,
      parentAccountIdentifier:
        typeof account?.parentAccountIdentifier === 'string' ? account.parentAccountIdentifier : undefined,
      body: event,
      createdAt: ctx.clock.now().toISOString(),
    };
    state.events[eventId] = stored;
    sandbox.changed();
    sandbox.record('event.emitted', { eventId, fixture, type: stored.type, eventUrl: eventUrl(eventId) });
    const { status, answer } = await notify(stored);
    return { status: 200, body: { eventId, status, answer } };
  };

  const control = async (req: SandboxRequest): Promise<SandboxResponse | undefined> => {
    if (req.method === 'POST' && req.path === '/_emit') return emit(req);
    const again = /^\/_events\/([^/]+)\/_notify$/.exec(req.path);
    if (req.method === 'POST' && again) {
      const stored = market(sandbox).events[decodeURIComponent(again[1]!)];
      if (!stored) return error(404, 'NOT_FOUND', 'No such event');
      const { status, answer } = await notify(stored);
      return { status: 200, body: { eventId: stored.eventId, status, answer } };
    }
    if (req.path === '/_config' && req.method === 'GET') return { status: 200, body: market(sandbox).config };
    if (req.path === '/_config' && req.method === 'PUT') {
      let body: { notificationUrl?: unknown; signNotifications?: unknown };
      try {
        body = req.json();
      } catch {
        return error(400, 'BAD_REQUEST', 'Malformed JSON');
      }
      const config = market(sandbox).config;
      if (body.notificationUrl !== undefined) {
        if (typeof body.notificationUrl !== 'string' || !URL.canParse(body.notificationUrl)) {
          return error(400, 'BAD_REQUEST', 'notificationUrl must be a URL');
        }
        config.notificationUrl = body.notificationUrl;
      }
      if (body.signNotifications !== undefined) {
        if (typeof body.signNotifications !== 'boolean')
          return error(400, 'BAD_REQUEST', 'signNotifications must be a boolean');
        config.signNotifications = body.signNotifications;
      }
      sandbox.changed();
      return { status: 200, body: config };
    }
    return undefined;
  };

  // Control routes are the test's and operator's, not the partner API: no fault injection on them.
  const partnerHandle = sandbox.handle.bind(sandbox);
  sandbox.handle = async (req, signal) =>
    (await control({ ...req, params: {} })) ?? partnerHandle(req, signal);

  sandbox.route('GET', `${EVENTS_PATH}/:eventId`, (req) => {
    const how = caller(req);
    if (!how) return error(401, 'UNAUTHORIZED', 'The request is not correctly signed');
    const stored = market(sandbox).events[req.params.eventId!];
    if (!stored) return error(404, 'NOT_FOUND', 'Event not found');
    sandbox.record('event.fetched', { eventId: stored.eventId, signedWith: how });
    return { status: 200, body: stored.body };
  });

  sandbox.route('POST', `${EVENTS_PATH}/:eventId/result`, (req) => {
    const how = caller(req);
    if (!how) return error(401, 'UNAUTHORIZED', 'The request is not correctly signed');
    const stored = market(sandbox).events[req.params.eventId!];
    if (!stored) return error(404, 'NOT_FOUND', 'Event not found');
    let result: unknown;
    try {
      result = req.json();
    } catch {
      return error(400, 'BAD_REQUEST', 'Malformed JSON');
    }
    const valid =
      isObject(result) &&
      typeof result.success === 'boolean' &&
      (result.success || (typeof result.errorCode === 'string' && typeof result.message === 'string'));
    if (!valid)
      return error(
        400,
        'BAD_REQUEST',
        'A result is {success: true, …} or {success: false, errorCode, message}',
      );
    if (stored.resolved) {
      sandbox.record('result.refused', { eventId: stored.eventId, reason: 'already resolved' });
      return error(409, 'CONFLICT', 'The event is already resolved');
    }
    stored.resolved = { at: ctx.clock.now().toISOString(), result };
    learn(stored, result);
    sandbox.changed();
    sandbox.record('event.result', { eventId: stored.eventId, type: stored.type, result, signedWith: how });
    return { status: 200, body: { success: true, message: 'Result received' } };
  });
}
