/**
 * OAuth 2.0 access tokens for the Switchboard API (RFC 6749, `POST /oauth/token`, HTTP Basic client
 * authentication): the client credentials grant, or the password grant for clients that hold it.
 * A token is reused until `refreshBeforeSeconds` before it expires; then a new one is fetched — with
 * the refresh token when the server issued one, else with the same grant again. Concurrent callers
 * share one request.
 */
export type Grant = { type: 'client_credentials' } | { type: 'password'; username: string; password: string };

export interface TokenSourceOptions {
  /** The hub's base URL, e.g. `https://api.example.com` (no trailing slash needed). */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Default: client credentials. */
  grant?: Grant;
  /** Space-separated scopes to ask for (default: all the client holds). */
  scope?: string;
  /** Fetch a new token this many seconds before the current one expires (default 30). */
  refreshBeforeSeconds?: number;
  fetch?: typeof fetch;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

export interface TokenSource {
  /** A valid access token (cached, renewed before expiry). */
  token(): Promise<string>;
  /** Forgets the cached token (e.g. after a 401). */
  reset(): void;
}

/** RFC 6749 §5.2 error from the token endpoint. */
export class TokenError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description?: string,
  ) {
    super(`token refused (${status} ${error})${description ? `: ${description}` : ''}`);
  }
}

interface Held {
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
}

export function tokenSource(options: TokenSourceOptions): TokenSource {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const skewMs = (options.refreshBeforeSeconds ?? 30) * 1000;
  const grant = options.grant ?? { type: 'client_credentials' };
  const url = `${options.baseUrl.replace(/\/+$/, '')}/oauth/token`;
  let held: Held | undefined;
  let pending: Promise<Held> | undefined;

  async function request(form: URLSearchParams): Promise<Held> {
    const res = await doFetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${options.clientId}:${options.clientSecret}`)}`,
      },
      body: form.toString(),
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      refresh_token?: string;
      error?: string;
      error_description?: string;
    };
    if (!res.ok || !body.access_token)
      throw new TokenError(res.status, body.error ?? 'invalid_response', body.error_description);
    return {
      accessToken: body.access_token,
      refreshToken: body.refresh_token,
      expiresAt: now() + (body.expires_in ?? 300) * 1000,
    };
  }

  async function renew(previous: Held | undefined): Promise<Held> {
    if (previous?.refreshToken) {
      try {
        return await request(
          new URLSearchParams({ grant_type: 'refresh_token', refresh_token: previous.refreshToken }),
        );
      } catch (error) {
        if (!(error instanceof TokenError) || error.error !== 'invalid_grant') throw error;
        // The refresh token is spent or revoked: fall back to the grant itself.
      }
    }
    const form = new URLSearchParams({ grant_type: grant.type });
    if (grant.type === 'password') {
      form.set('username', grant.username);
      form.set('password', grant.password);
    }
    if (options.scope) form.set('scope', options.scope);
    return request(form);
  }

  return {
    async token() {
      if (held && held.expiresAt - skewMs > now()) return held.accessToken;
      pending ??= renew(held).finally(() => {
        pending = undefined;
      });
      held = await pending;
      return held.accessToken;
    },
    reset() {
      held = undefined;
    },
  };
}
