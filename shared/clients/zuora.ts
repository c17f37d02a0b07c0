import type { Clock } from '../clock.ts';
import { PermanentError, TransientError } from '../errors.ts';
import type { ClientCredentials } from './credentials.ts';
import { type HttpCallOptions, HttpClient, type HttpResult } from './http.ts';

/**
 * Zuora v1 REST client core: OAuth 2.0 client credentials (`POST /oauth/token`, form-encoded), the
 * token cached until one minute before expiry and refreshed once on a 401, and `Idempotency-Key` on
 * POSTs. Operation-specific calls (orders, usage import) are built on `request`.
 */
export class ZuoraClient {
  private token: { value: string; expiresAtMs: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly options: {
      baseUrl: string;
      credentials: () => Promise<ClientCredentials>;
      clock: Clock;
      http?: HttpClient;
    },
    readonly http = options.http ?? new HttpClient({ baseUrl: options.baseUrl, defaultTimeoutMs: 15_000 }),
  ) {}

  /** A valid access token (cached; concurrent callers share one token request). */
  async accessToken(): Promise<string> {
    const now = this.options.clock.now().getTime();
    if (this.token && this.token.expiresAtMs - 60_000 > now) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private async fetchToken(): Promise<string> {
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
    this.token = {
      value: res.body.access_token,
      expiresAtMs: this.options.clock.now().getTime() + (res.body.expires_in ?? 3599) * 1000,
    };
    return this.token.value;
  }

  /** Authenticated call; a 401 refreshes the token once. */
  async request<T = unknown>(
    path: string,
    options: HttpCallOptions & { idempotencyKey?: string },
  ): Promise<HttpResult<T>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.accessToken();
      const res = await this.http.request<T>(path, {
        ...options,
        headers: {
          authorization: `Bearer ${token}`,
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
          ...options.headers,
        },
      });
      if (res.status !== 401) return res;
      this.token = undefined;
    }
    throw new TransientError(`${options.operation}: Zuora kept answering 401 after a token refresh`);
  }
}
