import type { Clock } from '../clock.ts';
import { PermanentError, TransientError } from '../errors.ts';
import type { ClientCredentials } from './credentials.ts';
import { type HttpCallOptions, HttpClient, type HttpResult } from './http.ts';
import { TokenCache } from './token-cache.ts';

/**
 * Zuora v1 REST client core: OAuth 2.0 client credentials (`POST /oauth/token`, form-encoded), the
 * token cached until one minute before expiry and refreshed once on a 401, and `Idempotency-Key` on
 * POSTs. Operation-specific calls (orders, usage import) are built on `request`.
 */
export class ZuoraClient {
  private readonly tokens: TokenCache<{ value: string; expiresAtMs: number }>;

  constructor(
    private readonly options: {
      baseUrl: string;
      credentials: () => Promise<ClientCredentials>;
      clock: Clock;
      http?: HttpClient;
    },
    readonly http = options.http ?? new HttpClient({ baseUrl: options.baseUrl, defaultTimeoutMs: 15_000 }),
  ) {
    this.tokens = new TokenCache(() => this.fetchToken(), options.clock);
  }

  /** A valid access token (cached; concurrent callers share one token request). */
  async accessToken(): Promise<string> {
    return (await this.tokens.get()).value;
  }

  private async fetchToken(): Promise<{ value: string; expiresAtMs: number }> {
    const creds = await this.options.credentials();
    const res = await this.http.request<{ access_token?: string; expires_in?: number }>('/oauth/token', {
      method: 'POST',
      operation: 'zuora.oauth',
      body: new URLSearchParams({
        client_id: creds.clientId,
        client_secret: creds.clientSecret,
        grant_type: 'client_credentials',
      }),
    });
    if (res.status !== 200 || !res.body?.access_token) {
      throw new PermanentError(
        `Zuora refused the OAuth client credentials (HTTP ${res.status})`,
        'ZUORA_AUTH',
      );
    }
    return {
      value: res.body.access_token,
      expiresAtMs: this.options.clock.now().getTime() + (res.body.expires_in ?? 3599) * 1000,
    };
  }

  /** Authenticated call; a 401 refreshes the token once. */
  async request<T = unknown>(
    path: string,
    options: HttpCallOptions & { idempotencyKey?: string },
  ): Promise<HttpResult<T>> {
    return this.tokens.send(options.operation, (token) =>
      this.http.request<T>(path, {
        ...options,
        headers: {
          authorization: `Bearer ${token.value}`,
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
          ...options.headers,
        },
      }),
    );
  }
}

export interface ZuoraReason {
  code?: number | string;
  message?: string;
}

/** Suffixes Zuora documents as worth retrying: locking (50), internal (60), temporary (61), concurrency (70), integration (99). */
const RETRYABLE_SUFFIXES = new Set([50, 60, 61, 70, 99]);

/**
 * Zuora answered `success:false` with a retryable reason. Zuora keeps that answer for the request's
 * Idempotency-Key (24 h, failures included), so retrying needs a new key.
 */
export class ZuoraRetryableRefusal extends TransientError {}

/** Throws ZuoraRetryableRefusal if any reason is retryable, else PermanentError with Zuora's messages. */
export function classifyReasons(operation: string, reasons: ZuoraReason[] | undefined): never {
  const list = reasons?.length ? reasons : [{ message: 'no reason given' }];
  const message = list.map((r) => `${r.code ?? '?'}: ${r.message ?? 'unknown error'}`).join('; ');
  const retryable = list.some((r) => RETRYABLE_SUFFIXES.has(Number(r.code) % 100));
  if (retryable) throw new ZuoraRetryableRefusal(`Zuora ${operation} failed, retryable (${message})`);
  const partnerCode = list.find((r) => r.code !== undefined)?.code;
  throw new PermanentError(`Zuora refused the ${operation}: ${message}`, 'ZUORA_REFUSED', {
    ...(partnerCode !== undefined ? { partnerCode: String(partnerCode) } : {}),
  });
}
