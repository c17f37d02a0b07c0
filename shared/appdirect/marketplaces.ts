import { isIP } from 'node:net';
import * as z from 'zod';
import type { Stage } from '../env.ts';

/**
 * AppDirect marketplace partners. Every AppDirect marketplace (AppDirect's own and each white-label
 * one) is a partner with its own base URL, channel tenant and product credentials. The stage's home
 * marketplace comes from configuration (`APPDIRECT_BASE_URL` and the `APPDIRECT_*` settings of the
 * manifest); more are registered as table items with `npm run appdirect -- marketplaces add`.
 * Credentials never live here: they are in the `appdirect-credentials` secret, keyed by marketplace id.
 */
export const marketplaceIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'must be 1-40 lower-case letters, digits or -');

const tenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,63}$/, 'must be 1-64 lower-case letters, digits or -');

export const marketplaceSchema = z.object({
  id: marketplaceIdSchema,
  /** e.g. `https://acme.byappdirect.com`: every event URL and result URL must be on this origin. */
  baseUrl: z.url(),
  /** The channel tenant owning this marketplace's orders (its webhooks, its order reads). */
  tenant: tenantSchema,
  /** How the hub authenticates when it fetches events and posts results. */
  fetchAuth: z.enum(['oauth1', 'oauth2']).default('oauth1'),
  /** The marketplace signs its notification calls (OAuth 1.0a): unsigned or badly signed calls are refused. */
  signedNotifications: z.boolean().default(true),
  /** Currency of the Zuora account of this marketplace's customers (events carry none). */
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code')
    .default('USD'),
  /** The partner copy of licence e-mails goes here (the order's partner contact). */
  partnerEmail: z.email(),
  /** Display name of the partner on orders. */
  partnerName: z.string().min(1).max(200),
});
export type Marketplace = z.infer<typeof marketplaceSchema>;

/** Product credentials of one marketplace, as stored in the `appdirect-credentials` secret. */
export const marketplaceCredentialsSchema = z.object({
  consumerKey: z.string().min(1),
  consumerSecret: z.string().min(1),
  /** OAuth 2.0 client (ROLE_PARTNER / product scoped) for `fetchAuth: oauth2` and usage billing. */
  clientId: z.string().min(1).optional(),
  clientSecret: z.string().min(1).optional(),
});
export type MarketplaceCredentials = z.infer<typeof marketplaceCredentialsSchema>;

/**
 * The `appdirect-credentials` secret: the home marketplace's OAuth 2.0 client (usage billing) and
 * product consumer key/secret at the top level, other marketplaces under `marketplaces.<id>`.
 */
export const appDirectSecretSchema = z.object({
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  consumerKey: z.string().min(1).optional(),
  consumerSecret: z.string().min(1).optional(),
  marketplaces: z.record(marketplaceIdSchema, marketplaceCredentialsSchema).optional(),
});
export type AppDirectSecret = z.infer<typeof appDirectSecretSchema>;

/** The id of the stage's home marketplace (the one of `APPDIRECT_BASE_URL`). */
export const HOME_MARKETPLACE_ID = 'home';

/** Credentials of marketplace `id`; undefined when the secret has none for it. */
export function credentialsOf(secret: AppDirectSecret, id: string): MarketplaceCredentials | undefined {
  if (id === HOME_MARKETPLACE_ID) {
    if (!secret.consumerKey || !secret.consumerSecret) return undefined;
    return {
      consumerKey: secret.consumerKey,
      consumerSecret: secret.consumerSecret,
      clientId: secret.clientId,
      clientSecret: secret.clientSecret,
    };
  }
  return secret.marketplaces?.[id];
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const isLoopback = (hostname: string) =>
  LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);

const effectivePort = (u: URL) => u.port || (u.protocol === 'https:' ? '443' : '80');

/**
 * Whether a marketplace base URL may be used on this stage: https with a DNS name in AWS; on the
 * local stage also http to a loopback address (the sandbox marketplace). Returns a problem or undefined.
 */
export function baseUrlProblem(baseUrl: string, stage: Stage): string | undefined {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    return 'is not a URL';
  }
  if (u.username || u.password) return 'must not carry credentials';
  if (u.search || u.hash) return 'must not have a query or fragment';
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (stage === 'local' && isLoopback(u.hostname)) {
    return u.protocol === 'http:' || u.protocol === 'https:' ? undefined : 'must be http(s)';
  }
  if (u.protocol !== 'https:') return 'must be https';
  if (isIP(host)) return 'must name a host, not an IP address';
  return undefined;
}

export type PinFailure =
  | 'malformed'
  | 'userinfo'
  | 'scheme'
  | 'ip-literal'
  | 'unknown-host'
  | 'port'
  | 'path';

export type PinResult =
  | { ok: true; marketplace: Marketplace; url: string; eventId: string }
  | { ok: false; reason: PinFailure; message: string };

const EVENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const EVENTS_PATH = '/api/integration/v1/events/';

/**
 * Host pinning of an `eventUrl` before anything signed is sent to it: it must be an absolute URL
 * without credentials, https (http only to loopback on the local stage), not an IP literal (except
 * loopback locally), on exactly the host and port of a configured marketplace, under that
 * marketplace's `/api/integration/v1/events/{eventId}`, with no query or fragment. Anything else is
 * refused with the reason; the caller answers 400 and fetches nothing. The event id (the last path
 * segment) is what exactly-once processing is keyed on.
 */
export function pinEventUrl(raw: string, marketplaces: readonly Marketplace[], stage: Stage): PinResult {
  const refuse = (reason: PinFailure, message: string): PinResult => ({ ok: false, reason, message });
  if (raw.length > 2048) return refuse('malformed', 'eventUrl is longer than 2048 characters');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return refuse('malformed', 'eventUrl is not an absolute URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    return refuse('scheme', 'eventUrl must be an https URL');
  }
  if (u.username || u.password) return refuse('userinfo', 'eventUrl must not carry credentials');
  const loopback = isLoopback(u.hostname);
  if (u.protocol === 'http:' && !(stage === 'local' && loopback)) {
    return refuse('scheme', 'eventUrl must be an https URL');
  }
  if (isIP(u.hostname.replace(/^\[|\]$/g, '')) && !(stage === 'local' && loopback)) {
    return refuse('ip-literal', 'eventUrl must name the marketplace host, not an IP address');
  }
  const sameHost = marketplaces.filter((m) => new URL(m.baseUrl).hostname === u.hostname);
  if (sameHost.length === 0) {
    return refuse('unknown-host', `eventUrl host ${u.hostname} is not a configured marketplace`);
  }
  const samePort = sameHost.filter((m) => effectivePort(new URL(m.baseUrl)) === effectivePort(u));
  if (samePort.length === 0) return refuse('port', 'eventUrl port differs from the marketplace base URL');
  const sameScheme = samePort.filter((m) => new URL(m.baseUrl).protocol === u.protocol);
  if (sameScheme.length === 0)
    return refuse('scheme', 'eventUrl scheme differs from the marketplace base URL');
  if (u.search || u.hash) return refuse('path', 'eventUrl must not have a query or fragment');
  for (const m of sameScheme) {
    const basePath = new URL(m.baseUrl).pathname.replace(/\/+$/, '');
    const prefix = `${basePath}${EVENTS_PATH}`;
    if (!u.pathname.startsWith(prefix)) continue;
    const eventId = u.pathname.slice(prefix.length);
    if (EVENT_ID.test(eventId)) return { ok: true, marketplace: m, url: u.href, eventId };
  }
  return refuse('path', `eventUrl must be <marketplace>${EVENTS_PATH}{eventId}`);
}

/** Where the result of an asynchronous event is posted (AppDirect: `…/events/{eventId}/result`). */
export const resultUrl = (marketplace: Pick<Marketplace, 'baseUrl'>, eventId: string): string =>
  `${marketplace.baseUrl.replace(/\/+$/, '')}${EVENTS_PATH}${encodeURIComponent(eventId)}/result`;

/** The home marketplace of the stage, from the functions' environment. */
export const homeMarketplaceEnvSchema = z.object({
  APPDIRECT_BASE_URL: z.url(),
  APPDIRECT_TENANT: tenantSchema.default('appdirect'),
  APPDIRECT_FETCH_AUTH: z.enum(['oauth1', 'oauth2']).default('oauth1'),
  APPDIRECT_SIGNED_NOTIFICATIONS: z.enum(['true', 'false']).default('true'),
  APPDIRECT_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/)
    .default('USD'),
  APPDIRECT_PARTNER_EMAIL: z.email(),
  APPDIRECT_PARTNER_NAME: z.string().min(1).default('AppDirect marketplace'),
});

export function homeMarketplace(env: z.infer<typeof homeMarketplaceEnvSchema>): Marketplace {
  return {
    id: HOME_MARKETPLACE_ID,
    baseUrl: env.APPDIRECT_BASE_URL.replace(/\/+$/, ''),
    tenant: env.APPDIRECT_TENANT,
    fetchAuth: env.APPDIRECT_FETCH_AUTH,
    signedNotifications: env.APPDIRECT_SIGNED_NOTIFICATIONS === 'true',
    currency: env.APPDIRECT_CURRENCY,
    partnerEmail: env.APPDIRECT_PARTNER_EMAIL,
    partnerName: env.APPDIRECT_PARTNER_NAME,
  };
}
