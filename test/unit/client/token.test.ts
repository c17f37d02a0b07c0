import { TokenError, tokenSource } from '@switchboard/client';
import { describe, expect, it } from 'vitest';

/** tokenSource() against a fake token endpoint: grants, caching, renewal before expiry, errors. */
function fakeEndpoint(answers: Array<{ status: number; body: unknown }>) {
  const calls: Array<{ url: string; auth: string | null; form: URLSearchParams }> = [];
  const fetchFn = (async (url: string, init: RequestInit) => {
    calls.push({
      url,
      auth: new Headers(init.headers).get('authorization'),
      form: new URLSearchParams(String(init.body)),
    });
    const next = answers.shift() ?? { status: 500, body: { error: 'server_error' } };
    return new Response(JSON.stringify(next.body), { status: next.status });
  }) as typeof fetch;
  return { calls, fetchFn };
}

describe('tokenSource', () => {
  it('uses client credentials with HTTP Basic, caches, and renews 30 s before expiry', async () => {
    let now = 1_000_000;
    const { calls, fetchFn } = fakeEndpoint([
      { status: 200, body: { access_token: 'a1', expires_in: 300 } },
      { status: 200, body: { access_token: 'a2', expires_in: 300 } },
    ]);
    const tokens = tokenSource({
      baseUrl: 'http://hub.test/',
      clientId: 'id',
      clientSecret: 's3cret',
      fetch: fetchFn,
      now: () => now,
    });
    expect(await tokens.token()).toBe('a1');
    now += 269_000;
    expect(await tokens.token()).toBe('a1');
    expect(calls).toHaveLength(1);
    now += 2_000; // 29 s left: renew
    expect(await tokens.token()).toBe('a2');
    expect(calls).toHaveLength(2);
    expect(calls[0]!.url).toBe('http://hub.test/oauth/token');
    expect(calls[0]!.auth).toBe(`Basic ${btoa('id:s3cret')}`);
    expect(calls[0]!.form.get('grant_type')).toBe('client_credentials');
  });

  it('uses the password grant, shares one request between concurrent callers, then the refresh token', async () => {
    let now = 0;
    const { calls, fetchFn } = fakeEndpoint([
      { status: 200, body: { access_token: 'p1', expires_in: 60, refresh_token: 'r1' } },
      { status: 200, body: { access_token: 'p2', expires_in: 60 } },
    ]);
    const tokens = tokenSource({
      baseUrl: 'http://hub.test',
      clientId: 'zuora',
      clientSecret: 'x',
      grant: { type: 'password', username: 'u', password: 'p' },
      fetch: fetchFn,
      now: () => now,
    });
    expect(await Promise.all([tokens.token(), tokens.token(), tokens.token()])).toEqual(['p1', 'p1', 'p1']);
    expect(calls).toHaveLength(1);
    expect(Object.fromEntries(calls[0]!.form)).toEqual({
      grant_type: 'password',
      username: 'u',
      password: 'p',
    });
    now += 60_000;
    expect(await tokens.token()).toBe('p2');
    expect(Object.fromEntries(calls[1]!.form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'r1' });
  });

  it('throws the RFC 6749 error, and tries again on the next call', async () => {
    const { fetchFn } = fakeEndpoint([
      { status: 401, body: { error: 'invalid_client', error_description: 'Unknown client.' } },
      { status: 200, body: { access_token: 'ok', expires_in: 300 } },
    ]);
    const tokens = tokenSource({
      baseUrl: 'http://hub.test',
      clientId: 'a',
      clientSecret: 'b',
      fetch: fetchFn,
    });
    const error = await tokens.token().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(await tokens.token()).toBe('ok');
  });
});
