import * as z from 'zod';
import type { Clock } from '../clock.ts';
import { PermanentError, TransientError } from '../errors.ts';
import { logger } from '../logger.ts';
import { type ClientCredentials, clientCredentialsSchema, readSecretJson } from './credentials.ts';
import { backoffDelay, HttpClient, type HttpResult, requestId } from './http.ts';
import { TokenCache } from './token-cache.ts';

/**
 * SaaShop Marketplace API client (`seeds/saashop-marketplace-api.txt`): a bearer token from
 * `POST /auth/v1/tokens` (HTTP Basic with the seller's client credentials), the marketplace event
 * feed, orders in UBL 2.1 JSON, and the provisioning status events the seller posts back.
 *
 * Every HTTP request carries a fresh UUID `X-Request-ID` (retries included: each is a new call for
 * SaaShop). The token is cached until a minute before it expires and concurrent callers share one
 * token request; a 401 drops it and the call is sent once more with a new one. Network errors,
 * timeouts, 429 and 5xx are retried with full-jitter backoff that honours `Retry-After` (up to
 * `maxWaitMs`; a longer wait is handed back to the caller as a TransientError with `retryAfterMs`).
 */

export const SAASHOP_PATHS = {
  tokens: '/auth/v1/tokens',
  marketplaceEvents: '/lead/v1/marketplaceEvents',
  order: (orderId: string) => `/lead/v1/orders/${encodeURIComponent(orderId)}`,
} as const;

/** Event types of the seed (`eventTypeCode`); only the first three describe a new order. */
export const SAASHOP_EVENT_TYPES = [
  'ServicePurchased',
  'Evaluation',
  'Trial',
  'UpgradeToTrial',
  'UpgradeToPurchase',
] as const;
export type SaashopEventType = (typeof SAASHOP_EVENT_TYPES)[number];

export const SAASHOP_STATUS_CODES = [
  'ProvisioningStarted',
  'ProvisioningInProgress',
  'ProvisioningCompleted',
  'ProvisioningFailed',
] as const;
export type SaashopStatusCode = (typeof SAASHOP_STATUS_CODES)[number];

/** Token answer (the marketplace's sample code reads `tokenType` and `accessToken`; tokens last 30 minutes). */
const tokenAnswerSchema = z.object({
  accessToken: z.string().min(1),
  tokenType: z.string().min(1).optional(),
  expiresIn: z.number().positive().optional(),
});
const DEFAULT_TOKEN_SECONDS = 30 * 60;

/**
 * One page of the feed. The events themselves stay `unknown` here: the poller validates each one on
 * its own, so a single malformed event fails alone instead of stalling the whole feed.
 */
export const marketplaceEventsPageSchema = z.object({
  hasMore: z.boolean(),
  marketplaceEvents: z.array(z.unknown()),
});
export type MarketplaceEventsPage = z.infer<typeof marketplaceEventsPageSchema>;

const additionalPropertySchema = z.object({
  name: z.string().min(1).max(200),
  value: z.string().max(2000),
  description: z.string().max(1000).optional(),
});

/** What the seller posts back (`POST /lead/v1/marketplaceEvents`). */
export const outgoingMarketplaceEventSchema = z.object({
  eventId: z.uuid(),
  eventTypeCode: z.enum(SAASHOP_EVENT_TYPES),
  statusCode: z.enum(SAASHOP_STATUS_CODES),
  /** Epoch seconds. */
  eventTime: z.number().int().nonnegative(),
  description: z.string().min(1).max(500),
  detailedDescription: z.string().max(2000).optional(),
  additionalProperties: z.array(additionalPropertySchema).max(20).optional(),
});
export type OutgoingMarketplaceEvent = z.infer<typeof outgoingMarketplaceEventSchema>;

/** SaaShop's error body (`{errorCode, description, detailedDescription}`), when it sends one. */
const errorBodySchema = z.object({ errorCode: z.string().optional() }).loose();

export type SaashopAnswerProblem = 'MALFORMED_ANSWER' | 'NOT_FOUND' | 'REFUSED';

/**
 * SaaShop answered, and retrying the same request will not help: a malformed answer (HTML instead
 * of JSON, missing or mistyped fields), 404, or another 4xx refusal. `status` is the HTTP status.
 */
export class SaashopAnswerError extends PermanentError {
  constructor(
    readonly problem: SaashopAnswerProblem,
    readonly status: number,
    message: string,
    /** The answer as received (first 32 KB) for operators; it may hold personal data: never log it. */
    readonly raw?: string,
  ) {
    super(message, `SAASHOP_${problem}`);
    this.name = 'SaashopAnswerError';
  }
}

const rawOf = (res: HttpResult): string | undefined =>
  res.body === undefined
    ? undefined
    : (typeof res.body === 'string' ? res.body : JSON.stringify(res.body)).slice(0, 32 * 1024);

/**
 * No token: SaaShop refused the credentials, kept failing, or answered the token call in a shape we
 * cannot read. Never about one order, so it is a temporary failure for callers (the poll stops, the
 * report is retried later), but the client does not loop on it: the token call has had its retries.
 */
export class SaashopTokenError extends TransientError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'SaashopTokenError';
  }
}

export type SaashopOperation = 'token' | 'listEvents' | 'getOrder' | 'postEvent';

export interface SaashopClientOptions {
  baseUrl: string;
  credentials: () => Promise<ClientCredentials>;
  clock: Clock;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Per-request timeout (default 10 s). */
  timeoutMs?: number;
  /** Requests per call including the first (default 4). */
  attempts?: number;
  baseDelayMs?: number;
  /** Longest wait between two requests, `Retry-After` included (default 10 s). */
  maxWaitMs?: number;
}

/** Describes what came back without quoting it (answers carry buyers' personal data). */
function describeBody(res: HttpResult): string {
  const type = res.headers.get('content-type') ?? 'no content type';
  if (typeof res.body === 'string') return `${type} text of ${res.body.length} characters, not JSON`;
  if (res.body === undefined) return 'an empty body';
  return Array.isArray(res.body) ? 'a JSON array' : `JSON ${typeof res.body}`;
}

const issuesOf = (error: z.ZodError) =>
  error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
    .join('; ');

export class SaashopClient {
  private readonly http: HttpClient;
  private readonly tokens: TokenCache<{ value: string; expiresAtMs: number }>;
  private readonly sleep: (ms: number) => Promise<void>;
  /** HTTP requests sent per operation since start (retries included), for benchmarks and tests. */
  readonly calls: Record<SaashopOperation, number> = { token: 0, listEvents: 0, getOrder: 0, postEvent: 0 };

  constructor(private readonly options: SaashopClientOptions) {
    this.http = new HttpClient({
      baseUrl: options.baseUrl,
      defaultTimeoutMs: options.timeoutMs ?? 10_000,
      ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
    });
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.tokens = new TokenCache(() => this.fetchToken(), options.clock);
  }

  /** `GET /lead/v1/marketplaceEvents?offset=&limit=`: one page of the feed. */
  async listEvents(offset: number, limit: number): Promise<MarketplaceEventsPage> {
    const res = await this.authed(
      'listEvents',
      `${SAASHOP_PATHS.marketplaceEvents}?offset=${offset}&limit=${limit}`,
    );
    if (res.status !== 200) throw this.refusal('listEvents', res);
    const page = marketplaceEventsPageSchema.safeParse(res.body);
    if (!page.success) {
      throw new SaashopAnswerError(
        'MALFORMED_ANSWER',
        res.status,
        `SaaShop answered the event feed with ${typeof res.body === 'object' ? `an unexpected shape (${issuesOf(page.error)})` : describeBody(res)}`,
        rawOf(res),
      );
    }
    return page.data;
  }

  /** `GET /lead/v1/orders/{orderId}`: the order as SaaShop sent it (a JSON object; the normaliser checks the rest). */
  async getOrder(orderId: string): Promise<Record<string, unknown>> {
    const res = await this.authed('getOrder', SAASHOP_PATHS.order(orderId));
    if (res.status !== 200) throw this.refusal('getOrder', res);
    if (!res.body || typeof res.body !== 'object' || Array.isArray(res.body)) {
      throw new SaashopAnswerError(
        'MALFORMED_ANSWER',
        res.status,
        `SaaShop answered order ${orderId} with ${describeBody(res)}`,
        rawOf(res),
      );
    }
    return res.body as Record<string, unknown>;
  }

  /** `POST /lead/v1/marketplaceEvents`: a provisioning status; 2xx is success. */
  async postEvent(event: OutgoingMarketplaceEvent): Promise<void> {
    const body = outgoingMarketplaceEventSchema.parse(event);
    const res = await this.authed('postEvent', SAASHOP_PATHS.marketplaceEvents, { method: 'POST', body });
    if (res.status < 200 || res.status > 299) throw this.refusal('postEvent', res);
  }

  private refusal(operation: SaashopOperation, res: HttpResult): SaashopAnswerError {
    const code = errorBodySchema.safeParse(res.body).data?.errorCode;
    return new SaashopAnswerError(
      res.status === 404 ? 'NOT_FOUND' : 'REFUSED',
      res.status,
      `SaaShop ${operation} answered HTTP ${res.status}${code ? ` (${code})` : ''}`,
      rawOf(res),
    );
  }

  private async fetchToken(): Promise<{ value: string; expiresAtMs: number }> {
    const creds = await this.options.credentials();
    const basic = Buffer.from(`${creds.clientId}:${creds.clientSecret}`, 'utf8').toString('base64');
    let res: HttpResult;
    try {
      res = await this.withRetries('token', () =>
        this.http.request(SAASHOP_PATHS.tokens, {
          method: 'POST',
          operation: 'saashop.token',
          attempts: 1,
          headers: { authorization: `Basic ${basic}`, 'x-request-id': requestId() },
        }),
      );
    } catch (error) {
      throw new SaashopTokenError(`SaaShop token request failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (res.status !== 201 && res.status !== 200) {
      // Wrong credentials stay wrong until an operator fixes the secret: no retry loop here.
      throw new SaashopTokenError(`SaaShop refused the client credentials (HTTP ${res.status})`);
    }
    const answer = tokenAnswerSchema.safeParse(res.body);
    if (!answer.success)
      throw new SaashopTokenError(`SaaShop answered the token call with ${describeBody(res)}`);
    return {
      value: answer.data.accessToken,
      expiresAtMs:
        this.options.clock.now().getTime() + (answer.data.expiresIn ?? DEFAULT_TOKEN_SECONDS) * 1000,
    };
  }

  /** One authenticated call with retries; a 401 refreshes the token once (TokenCache.send). */
  private authed(
    operation: SaashopOperation,
    path: string,
    options: { method?: 'GET' | 'POST'; body?: unknown } = {},
  ): Promise<HttpResult> {
    return this.withRetries(
      operation,
      () =>
        this.tokens.send(`saashop.${operation}`, async (token) => {
          this.calls[operation]++;
          return this.http.request(path, {
            method: options.method ?? 'GET',
            operation: `saashop.${operation}`,
            attempts: 1,
            ...(options.body !== undefined ? { body: options.body } : {}),
            headers: { authorization: `Bearer ${token.value}`, 'x-request-id': requestId() },
          });
        }),
      false,
    );
  }

  /**
   * Runs `send` until it resolves or the attempts are spent. `send` makes exactly one HTTP request
   * (HttpClient with `attempts: 1`), which throws TransientError on a network error, a timeout, 429
   * or 5xx; the wait before the next request is the larger of the jittered backoff and Retry-After.
   */
  private async withRetries(
    operation: SaashopOperation,
    send: () => Promise<HttpResult>,
    countHere = true,
  ): Promise<HttpResult> {
    const attempts = this.options.attempts ?? 4;
    const maxWaitMs = this.options.maxWaitMs ?? 10_000;
    for (let attempt = 1; ; attempt++) {
      try {
        if (countHere) this.calls[operation]++;
        return await send();
      } catch (error) {
        const retryable = error instanceof TransientError && !(error instanceof SaashopTokenError);
        if (!retryable || attempt >= attempts) throw error;
        const backoff = backoffDelay(
          attempt,
          this.options.baseDelayMs ?? 250,
          maxWaitMs,
          this.options.random,
        );
        const wait = Math.max(error.retryAfterMs ?? 0, backoff);
        if (wait > maxWaitMs) throw error; // SaaShop asks for a longer pause than a call may take
        logger.debug('saashop call retried', { operation, attempt, waitMs: wait });
        await this.sleep(wait);
      }
    }
  }
}

/** The client every SaaShop function builds at cold start: base URL from env, credentials from the manifest secret. */
export function createSaashopClient(baseUrl: string, clock: Clock): SaashopClient {
  return new SaashopClient({
    baseUrl,
    clock,
    credentials: () => readSecretJson('saashop-credentials', clientCredentialsSchema),
  });
}
