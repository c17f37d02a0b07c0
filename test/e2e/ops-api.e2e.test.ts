import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';
import { pollNow, publishSaashopOrder } from '../helpers/saashop.ts';

/**
 * The operations API and operator sign-in through the local runtime (real HTTP): every ops route
 * refuses a missing token (401) and channel/platform tokens (403) and serves operators; calls are
 * audited; the authorization code flow refuses a wrong password, a replayed code, a wrong
 * code_verifier and redirect URIs that are not the console's.
 */
let rt: Awaited<ReturnType<typeof startTestRuntime>>;
const b64url = (b: Buffer) => b.toString('base64url');

async function authorize(redirectUri: string, verifier: string, password: string) {
  const form = new URLSearchParams({
    response_type: 'code',
    client_id: 'switchboard-console',
    redirect_uri: redirectUri,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    state: 'state-1234567',
    username: rt.devOperator.username,
    password,
  });
  return fetch(`${rt.url}/oauth/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    redirect: 'manual',
  });
}

const exchange = (code: string, verifier: string, redirectUri: string) =>
  fetch(`${rt.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: 'switchboard-console',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
    }),
  });

let operatorToken: string;
let consoleUri: string;

beforeAll(async () => {
  rt = await startTestRuntime();
  consoleUri = `${rt.url}/console/`;
  const verifier = b64url(randomBytes(40));
  const res = await authorize(consoleUri, verifier, rt.devOperator.password);
  const code = new URL(res.headers.get('location')!).searchParams.get('code')!;
  operatorToken = ((await (await exchange(code, verifier, consoleUri)).json()) as { access_token: string })
    .access_token;
}, 60_000);
afterAll(async () => rt.cleanup());

const opsRoutes = wiring.routes.filter((r) => r.path.startsWith('/v1/ops/'));
const concrete = (path: string) =>
  path
    .replace('{orderId}', 'ord_01M90000000000000000000000')
    .replace('{queue}', 'crm-sync')
    .replace('{deliveryId}', 'msg_01M90000000000000000000000')
    .replace('{id}', 'urun_01M90000000000000000000000');

describe('operations API access', () => {
  it('has the routes the console needs, each behind an ops scope', () => {
    expect(opsRoutes.length).toBeGreaterThanOrEqual(18);
    for (const r of opsRoutes) expect(r.scopes.every((s) => s.startsWith('ops:'))).toBe(true);
  });

  it.each(opsRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))(
    '%s: 401 / 403 / served',
    async (_, r) => {
      const path = concrete(r.path);
      const body =
        r.method === 'POST'
          ? r.path.endsWith('/clear') || r.path.endsWith('/reject')
            ? { reason: 'test' }
            : {}
          : undefined;
      expect((await api(rt, r.method, path, { body })).status).toBe(401);
      for (const kind of ['distributor', 'platform']) {
        const res = await api(rt, r.method, path, { token: await rt.token(kind), body });
        expect(res.status).toBe(403);
        expect(res.body.error).toBe('INSUFFICIENT_SCOPE');
      }
      const served = await api(rt, r.method, path, { token: operatorToken, body });
      expect([401, 403]).not.toContain(served.status);
      expect(served.status).toBeLessThan(500);
    },
  );

  it('an operator token opens no channel route', async () => {
    expect((await api(rt, 'GET', '/v1/orders', { token: operatorToken })).status).toBe(403);
    expect((await api(rt, 'GET', '/v1/webhooks/deliveries', { token: operatorToken })).status).toBe(403);
  });

  it('audits every call with who, what and when', async () => {
    const before = (await api(rt, 'GET', '/v1/ops/audit?limit=100', { token: operatorToken })).body.items
      .length;
    await api(rt, 'POST', '/v1/ops/orders/ord_01M90000000000000000000000/clear', {
      token: operatorToken,
      body: { reason: 'audit me' },
    });
    const audit = (await api(rt, 'GET', '/v1/ops/audit?limit=100', { token: operatorToken })).body.items;
    expect(audit.length).toBeGreaterThan(before);
    const decision = audit.find(
      (a: any) => a.action === 'POST /v1/ops/orders/{orderId}/clear' && a.reason === 'audit me',
    );
    expect(decision).toMatchObject({
      actor: rt.devOperator.username,
      actorType: 'operator',
      target: { orderId: 'ord_01M90000000000000000000000' },
      outcome: 'refused',
      status: 404,
    });
    expect(Date.parse(decision.at)).toBeGreaterThan(Date.now() - 600_000);
    const scripted = await api(rt, 'GET', '/v1/ops/me', { token: await rt.token('ops') });
    expect(scripted.body).toMatchObject({ actor: 'dev-ops', actorType: 'client' });
  });

  it('shows operators the SaaShop events that did not become orders, with their reason', async () => {
    const { orderId, eventId } = await publishSaashopOrder(rt.url, { productCode: 'SB-QUANTUM' });
    expect(await pollNow(rt.url)).toBeLessThan(300);
    await rt.drain();
    const page = await api(rt, 'GET', '/v1/ops/channels/saashop/events', { token: operatorToken });
    expect(page.status).toBe(200);
    const row = page.body.items.find((e: any) => e.eventId === eventId);
    expect(row).toMatchObject({
      channel: 'saashop',
      status: 'FAILED',
      code: 'UNKNOWN_PRODUCT',
      saashopOrderId: orderId,
    });
    expect(row.reason).toContain('SB-QUANTUM');
    // The buyer's data stays in the table: rows carry no raw event or order answer.
    expect(JSON.stringify(page.body)).not.toContain('buyerCustomerParty');
    const unsupported = await api(rt, 'GET', '/v1/ops/channels/saashop/events?status=UNSUPPORTED', {
      token: operatorToken,
    });
    expect(unsupported.body.items.map((e: any) => e.eventId)).not.toContain(eventId);
    const bad = await api(rt, 'GET', '/v1/ops/channels/saashop/events?status=LOST', { token: operatorToken });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('status');
  });

  it('a review decision needs a reason (400, nothing changes)', async () => {
    const res = await api(rt, 'POST', '/v1/ops/orders/ord_01M90000000000000000000000/reject', {
      token: operatorToken,
      body: {},
    });
    expect(res.status).toBe(400);
    expect(res.body.details[0].field).toBe('reason');
  });
});

describe('operator sign-in', () => {
  it('refuses a wrong password on the login page (no code)', async () => {
    const res = await authorize(consoleUri, b64url(randomBytes(40)), 'wrong-password-123');
    expect(res.status).toBe(401);
    expect(res.headers.get('location')).toBeNull();
    expect(await res.text()).toContain('Incorrect username or password');
  });

  it('refuses a replayed code and ends the sign-in it started', async () => {
    const verifier = b64url(randomBytes(40));
    const code = new URL(
      (await authorize(consoleUri, verifier, rt.devOperator.password)).headers.get('location')!,
    ).searchParams.get('code')!;
    const first = (await (await exchange(code, verifier, consoleUri)).json()) as { refresh_token: string };
    const again = await exchange(code, verifier, consoleUri);
    expect(again.status).toBe(400);
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');
    const refreshed = await fetch(`${rt.url}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        client_id: 'switchboard-console',
        refresh_token: first.refresh_token,
      }),
    });
    expect(refreshed.status).toBe(400);
  });

  it('refuses a wrong code_verifier', async () => {
    const verifier = b64url(randomBytes(40));
    const code = new URL(
      (await authorize(consoleUri, verifier, rt.devOperator.password)).headers.get('location')!,
    ).searchParams.get('code')!;
    const res = await exchange(code, b64url(randomBytes(40)), consoleUri);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe('invalid_grant');
  });

  it.each([
    'https://evil.example/console/',
    `${'http://127.0.0.1'}.evil.example/console/`,
    'http://127.0.0.1/console/',
    '//evil.example/console/',
    'javascript:alert(1)',
  ])('never redirects to %s', async (target) => {
    const uri = target.startsWith('http://127.0.0.1.') ? target : target;
    const get = await fetch(
      `${rt.url}/oauth/authorize?${new URLSearchParams({
        response_type: 'code',
        client_id: 'switchboard-console',
        redirect_uri: uri,
        code_challenge: b64url(createHash('sha256').update('x'.repeat(43)).digest()),
        code_challenge_method: 'S256',
        state: 'state-1234567',
      })}`,
      { redirect: 'manual' },
    );
    expect(get.status).toBe(400);
    expect(get.headers.get('location')).toBeNull();
    const post = await authorize(uri, b64url(randomBytes(40)), rt.devOperator.password);
    expect(post.status).toBe(400);
    expect(post.headers.get('location')).toBeNull();
  });

  it('rotates refresh tokens and revokes the sign-in on logout', async () => {
    const verifier = b64url(randomBytes(40));
    const code = new URL(
      (await authorize(consoleUri, verifier, rt.devOperator.password)).headers.get('location')!,
    ).searchParams.get('code')!;
    const first = (await (await exchange(code, verifier, consoleUri)).json()) as { refresh_token: string };
    const refresh = (token: string) =>
      fetch(`${rt.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          client_id: 'switchboard-console',
          refresh_token: token,
        }),
      });
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    const { refresh_token } = (await second.json()) as { refresh_token: string };
    await fetch(`${rt.url}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: 'switchboard-console', token: refresh_token }),
    });
    expect((await refresh(refresh_token)).status).toBe(400);
  });
});
