import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wiring } from '../../infra/wiring.ts';
import { api, startTestRuntime } from '../helpers/runtime.ts';

type TestRuntime = Awaited<ReturnType<typeof startTestRuntime>>;

const kidOf = (token: string) =>
  (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8')) as { kid?: string }).kid;

describe('signing key rotation on the local runtime (POST /_local/rotate-signing-key)', () => {
  let rt: TestRuntime;
  let route: string;
  beforeAll(async () => {
    rt = await startTestRuntime();
    const platform = rt.devClients.find((c) => c.kind === 'platform')!.scopes as string[];
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

  it('new tokens carry the new kid, the old token keeps working, a key rotated out is refused', async () => {
    const before = await jwksKids();
    expect(before).toHaveLength(2); // fresh data folder: current and next
    const oldToken = await rt.token('platform');
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

    // Rotated once more, the first key is gone from the set; once verifiers' cached JWKS expires
    // (five minutes, moved on the local clock) a token it signed is refused though not expired.
    const second = await api(rt, 'POST', '/_local/rotate-signing-key');
    expect(second.body.previous).toBe(before[1]);
    expect(await jwksKids()).not.toContain(before[0]);
    await api(rt, 'POST', '/_local/clock', { body: { advanceSeconds: 301 } });
    const refused = await api(rt, 'GET', route, { token: oldToken });
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('INVALID_TOKEN');
    expect((await api(rt, 'GET', route, { token: newToken })).status).toBeLessThan(300);
  });
});
