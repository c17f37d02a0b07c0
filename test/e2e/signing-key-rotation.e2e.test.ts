import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { signAccessToken } from '../../shared/auth/jwt.ts';
import { systemClock } from '../../shared/clock.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

type TestRuntime = Awaited<ReturnType<typeof startTestRuntime>>;

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: string }).kid;

describe('signing key rotation on the local runtime (POST /_local/rotate-signing-key)', () => {
  let rt: TestRuntime;
  let route: string;
  let platformScopes: string[];
  beforeAll(async () => {
    rt = await startTestRuntime();
    const platform = rt.devClients.find((c) => c.kind === 'platform')!.scopes as string[];
    platformScopes = platform;
    route = wiring.routes.find(
      (r) =>
        r.auth === 'jwt' &&
        r.method === 'GET' &&
        !r.path.includes('{') &&
        r.scopes.every((s) => platform.includes(s)),
    )!.path;
  });
  afterAll(async () => rt.cleanup());

  const jwksKids = async () =>
    ((await api(rt, 'GET', '/.well-known/jwks.json')).body.keys as Array<{ kid: string; d?: string }>).map(
      (k) => {
        expect(k.d).toBeUndefined();
        return k.kid;
      },
    );

  it('new tokens carry the new kid, the old token keeps working until it expires, a key rotated out is refused', async () => {
    const before = await jwksKids();
    expect(before).toHaveLength(2); // fresh data folder: current and next
    const oldToken = await rt.token('platform');
    const firstKey = JSON.parse(await readFile(`${rt.dataDir}/signing-keys.json`, 'utf8')).current;
    expect(firstKey.kid).toBe(before[0]);
    expect(kidOf(oldToken)).toBe(before[0]);
    expect((await api(rt, 'GET', route, { token: oldToken })).status).toBeLessThan(300);

    const first = await api(rt, 'POST', '/_local/rotate-signing-key');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ previous: before[0], current: before[1] });
    expect(await jwksKids()).toEqual([before[0], before[1], first.body.next]);
    const saved = JSON.parse(await readFile(`${rt.dataDir}/signing-keys.json`, 'utf8'));
    expect(saved.current.kid).toBe(before[1]);

    const newToken = await rt.token('platform');
    expect(kidOf(newToken)).toBe(before[1]);
    expect((await api(rt, 'GET', route, { token: newToken })).status).toBeLessThan(300);
    expect((await api(rt, 'GET', route, { token: oldToken })).status).toBeLessThan(300);

    // A second rotation would drop the first key while its tokens may still be valid: refused
    // until a token lifetime (and the secret cache) has passed.
    const tooSoon = await api(rt, 'POST', '/_local/rotate-signing-key');
    expect(tooSoon.status).toBe(409);
    expect(tooSoon.body.error).toBe('ROTATION_TOO_SOON');
    expect(await jwksKids()).toContain(before[0]);
    await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: 3901 } });
    expect((await api(rt, 'GET', route, { token: oldToken })).body.error).toBe('TOKEN_EXPIRED');

    const second = await api(rt, 'POST', '/_local/rotate-signing-key');
    expect(second.status).toBe(200);
    expect(second.body.previous).toBe(before[1]);
    expect(await jwksKids()).not.toContain(before[0]);
    // The first key is out of the set: once verifiers' cached JWKS expires (five minutes), a token
    // it signs now (not expired) is refused.
    await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: 301 } });
    const removed = await signAccessToken(
      { sub: 'dev-platform', tenant: 'platform', scopes: platformScopes, jti: crypto.randomUUID() },
      {
        privateJwk: firstKey,
        issuer: 'switchboard',
        audience: 'switchboard-api',
        ttlSeconds: 900,
        clock: systemClock,
      },
    );
    const refused = await api(rt, 'GET', route, { token: removed });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('INVALID_TOKEN');
    const newest = await rt.token('platform');
    expect(kidOf(newest)).toBe(first.body.next);
    expect((await api(rt, 'GET', route, { token: newest })).status).toBeLessThan(300);
  });
});
