import type { AppDirectResult } from '../appdirect/answers.ts';
import {
  baseUrlProblem,
  type Marketplace,
  type MarketplaceCredentials,
  pinEventUrl,
  resultUrl,
} from '../appdirect/marketplaces.ts';
import type { Clock } from '../clock.ts';
import type { MarketplaceRateLimiter } from '../db/entities/appdirect-rate.ts';
import type { Stage } from '../env.ts';
import { PermanentError, TransientError } from '../errors.ts';
import { logger } from '../logger.ts';
import { signRequest } from './appdirect-oauth1.ts';
import type { ClientCredentials } from './credentials.ts';
import { backoffDelay, type HttpCallOptions, HttpClient, type HttpResult, parseRetryAfter } from './http.ts';
import { TokenCache } from './token-cache.ts';

/**
 * AppDirect marketplace clients. `AppDirectClient`: OAuth 2.0 client credentials on a marketplace
 * (`POST {marketplace}/oauth2/token`, HTTP Basic, `scope=ROLE_PARTNER`), the token cached until a
 * minute before expiry and refreshed on a 401 (Billing Usage V2, and event fetches of marketplaces
 * configured for OAuth 2.0). `MarketplaceClient`: the ISV connector's calls to one marketplace —
 * fetch an event, post an event result — each signed (OAuth 1.0a HMAC-SHA1 with the product's
 * consumer key, or the OAuth 2.0 bearer), re-signed on every retry, paced by the marketplace's rate
 * limit, and sent only to URLs pinned to the marketplace's base URL.
 */
export class AppDirectClient {
  private readonly tokens: TokenCache<{ value: string; expiresAtMs: number }>;
  readonly http: HttpClient;

  constructor(
    private readonly options: {
      baseUrl: string;
      credentials: () => Promise<ClientCredentials>;
      clock: Clock;
      http?: HttpClient;
    },
  ) {
    this.http = options.http ?? new HttpClient({ baseUrl: options.baseUrl, defaultTimeoutMs: 15_000 });
    this.tokens = new TokenCache(() => this.fetchToken(), options.clock);
  }

  private async fetchToken(): Promise<{ value: string; expiresAtMs: number }> {
    const creds = await this.options.credentials();
    const res = await this.http.request<{ access_token?: string; expires_in?: number }>('/oauth2/token', {
      method: 'POST',
      operation: 'appdirect.oauth',
      headers: {
        authorization: `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'ROLE_PARTNER' }),
    });
    if (res.status !== 200 || !res.body?.access_token) {
      throw new PermanentError(
        `AppDirect refused the OAuth client credentials (HTTP ${res.status})`,
        'APPDIRECT_AUTH',
      );
    }
    return {
      value: res.body.access_token,
      expiresAtMs: this.options.clock.now().getTime() + (res.body.expires_in ?? 43_199) * 1000,
    };
  }

  /** A valid bearer token (cached). */
  async accessToken(): Promise<string> {
    return (await this.tokens.get()).value;
  }

  /** Drops the cached token (after the marketplace answered 401). */
  invalidate(): void {
    this.tokens.invalidate();
  }

  async request<T = unknown>(path: string, options: HttpCallOptions): Promise<HttpResult<T>> {
    return this.tokens.send(options.operation, (token) =>
      this.http.request<T>(path, {
        ...options,
        headers: { authorization: `Bearer ${token.value}`, ...options.headers },
      }),
    );
  }
}

export interface MarketplaceResponse {
  status: number;
  body: unknown;
}

export interface MarketplaceClientOptions {
  marketplace: Marketplace;
  credentials: () => Promise<MarketplaceCredentials>;
  stage: Stage;
  limiter: MarketplaceRateLimiter;
  clock: Clock;
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Attempts per call (1 = no retry); each one is re-signed and takes a rate-limit slot. */
  attempts?: number;
  timeoutMs?: number;
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export class MarketplaceClient {
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private oauth2: AppDirectClient | undefined;

  constructor(private readonly options: MarketplaceClientOptions) {
    const problem = baseUrlProblem(options.marketplace.baseUrl, options.stage);
    if (problem) {
      throw new PermanentError(
        `marketplace ${options.marketplace.id} base URL ${problem}`,
        'APPDIRECT_CONFIGURATION',
      );
    }
    this.fetchImpl = options.fetchImpl ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  get marketplace(): Marketplace {
    return this.options.marketplace;
  }

  /** `GET eventUrl`, signed; refuses (before signing anything) a URL not pinned to this marketplace. */
  async fetchEvent(eventUrl: string): Promise<MarketplaceResponse> {
    const pinned = pinEventUrl(eventUrl, [this.options.marketplace], this.options.stage);
    if (!pinned.ok)
      throw new PermanentError(`refused to fetch ${pinned.reason}: ${pinned.message}`, 'EVENT_URL_REFUSED');
    return this.send('GET', pinned.url, undefined, 'appdirect.fetchEvent');
  }

  /** `POST {baseUrl}/api/integration/v1/events/{eventId}/result`, signed. */
  async postResult(eventId: string, result: AppDirectResult): Promise<MarketplaceResponse> {
    return this.send(
      'POST',
      resultUrl(this.options.marketplace, eventId),
      JSON.stringify(result),
      'appdirect.postResult',
    );
  }

  private async authorization(method: string, url: string): Promise<string> {
    const creds = await this.options.credentials();
    if (this.options.marketplace.fetchAuth === 'oauth2') {
      if (!creds.clientId || !creds.clientSecret) {
        throw new PermanentError(
          `marketplace ${this.options.marketplace.id} is configured for OAuth 2.0 but has no client`,
          'APPDIRECT_CONFIGURATION',
        );
      }
      const { clientId, clientSecret } = creds;
      this.oauth2 ??= new AppDirectClient({
        baseUrl: this.options.marketplace.baseUrl,
        clock: this.options.clock,
        credentials: async () => ({ clientId, clientSecret }),
        http: new HttpClient({
          baseUrl: this.options.marketplace.baseUrl,
          fetchImpl: this.fetchImpl,
          defaultTimeoutMs: 10_000,
        }),
      });
      return `Bearer ${await this.oauth2.accessToken()}`;
    }
    // JSON bodies are not form parameters: the signature covers method, URL and the oauth_* values.
    return signRequest({
      method,
      url,
      credentials: creds,
      timestampSeconds: Math.floor(this.options.clock.now().getTime() / 1000),
    });
  }

  private async send(
    method: 'GET' | 'POST',
    url: string,
    body: string | undefined,
    operation: string,
  ): Promise<MarketplaceResponse> {
    const attempts = this.options.attempts ?? 3;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let retryAfterMs: number | undefined;
      await this.options.limiter.acquire(this.options.marketplace.id);
      try {
        const res = await this.fetchImpl(url, {
          method,
          headers: {
            accept: 'application/json',
            authorization: await this.authorization(method, url),
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(body !== undefined ? { body } : {}),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
          redirect: 'manual',
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: the caller decides what that means
        }
        logger.debug('marketplace call', {
          operation,
          status: res.status,
          attempt,
          marketplace: this.options.marketplace.id,
        });
        if (res.status === 401 && this.options.marketplace.fetchAuth === 'oauth2') this.oauth2?.invalidate();
        if (!RETRYABLE.has(res.status)) return { status: res.status, body: parsed };
        last = `HTTP ${res.status}`;
        retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      } catch (error) {
        if (error instanceof PermanentError || error instanceof TransientError) throw error;
        last = (error as Error).name;
        logger.warn('marketplace call failed', { operation, attempt, reason: last });
      }
      if (attempt < attempts) {
        await this.sleep(Math.min(Math.max(retryAfterMs ?? 0, backoffDelay(attempt, 200, 2_000)), 5_000));
      }
    }
    throw new TransientError(`${operation} failed after ${attempts} attempts (${last})`);
  }
}
