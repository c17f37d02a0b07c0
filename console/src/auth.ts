/**
 * Operator sign-in in the browser: authorization code + PKCE (S256) against the hub's own OAuth
 * server. The console holds no client secret; the access token lives in memory only, the refresh
 * token (rotated at every use, revoked at sign-out) in sessionStorage so a reload keeps the tab
 * signed in and closing it signs out.
 */
export const CLIENT_ID = 'switchboard-console';
const VERIFIER = 'switchboard.pkce.verifier';
const STATE = 'switchboard.pkce.state';
const REFRESH = 'switchboard.refresh';

export interface Session {
  accessToken: string;
  expiresAt: number;
  scopes: string[];
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const random = (n: number) => b64url(crypto.getRandomValues(new Uint8Array(n)));

export const redirectUri = () => `${location.origin}/console/`;

/** Sends the browser to the login page with a fresh verifier and state. */
export async function signIn(apiUrl: string): Promise<void> {
  const verifier = random(48);
  const state = random(16);
  sessionStorage.setItem(VERIFIER, verifier);
  sessionStorage.setItem(STATE, state);
  const challenge = b64url(
    new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))),
  );
  const url = new URL(`${apiUrl || location.origin}/oauth/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
  }).toString();
  location.assign(url.toString());
}

async function tokenRequest(apiUrl: string, form: Record<string, string>): Promise<Session> {
  const res = await fetch(`${apiUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...form }),
  });
  const body = (await res.json().catch(() => ({}))) as {
    access_token?: string;
    refresh_token?: string;
    expires_in?: number;
    scope?: string;
    error_description?: string;
  };
  if (!res.ok || !body.access_token) {
    sessionStorage.removeItem(REFRESH);
    throw new Error(body.error_description ?? `Sign-in failed (${res.status}).`);
  }
  if (body.refresh_token) sessionStorage.setItem(REFRESH, body.refresh_token);
  return {
    accessToken: body.access_token,
    expiresAt: Date.now() + (body.expires_in ?? 600) * 1000,
    scopes: (body.scope ?? '').split(' ').filter(Boolean),
  };
}

/**
 * Finishes a sign-in when the page is the redirect back (`?code&state`), else resumes one from the
 * refresh token; undefined when signed out.
 */
export async function resumeSession(apiUrl: string): Promise<Session | undefined> {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  const error = params.get('error');
  if (code || error) {
    history.replaceState(null, '', `${location.pathname}${location.hash}`);
    const expected = sessionStorage.getItem(STATE);
    const verifier = sessionStorage.getItem(VERIFIER);
    sessionStorage.removeItem(STATE);
    sessionStorage.removeItem(VERIFIER);
    if (error) throw new Error(params.get('error_description') ?? error);
    if (!expected || params.get('state') !== expected || !verifier) {
      throw new Error('The sign-in response did not match this tab; sign in again.');
    }
    return tokenRequest(apiUrl, {
      grant_type: 'authorization_code',
      code: code!,
      redirect_uri: redirectUri(),
      code_verifier: verifier,
    });
  }
  return refresh(apiUrl);
}

export async function refresh(apiUrl: string): Promise<Session | undefined> {
  const token = sessionStorage.getItem(REFRESH);
  if (!token) return undefined;
  try {
    return await tokenRequest(apiUrl, { grant_type: 'refresh_token', refresh_token: token });
  } catch {
    return undefined;
  }
}

/** Ends the sign-in on the server (refresh token revoked) and forgets every token here. */
export async function signOut(apiUrl: string): Promise<void> {
  const token = sessionStorage.getItem(REFRESH);
  sessionStorage.removeItem(REFRESH);
  if (token) {
    await fetch(`${apiUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: CLIENT_ID, token }),
    }).catch(() => undefined);
  }
}
