import { beforeAll, describe, expect, it } from 'vitest';
import { type IssueTokenDeps, issueToken } from '../../../../functions/token/issue-token.ts';
import { OAuthError, type TokenCommand } from '../../../../functions/token/schema.ts';
import type { OAuthClient } from '../../../../shared/auth/clients.ts';
import { type TestKeys, testKeys } from '../../../helpers/auth.ts';

/** The use case with in-memory fakes: what it checks, in which order, and that it always pays the hash. */
describe('issueToken', () => {
  let keys: TestKeys;
  const checks: Array<{ secret: string; hash: string }> = [];
  const client: OAuthClient = {
    clientId: 'zuora-1',
    tenant: 'zuora',
    name: 'Zuora',
    secretHash: 'scrypt$fake$s3cret',
    grantTypes: ['password'],
    scopes: ['zuora:events'],
    users: [{ username: 'emitter', passwordHash: 'scrypt$fake$pa55word' }],
    createdAt: '2026-11-01T00:00:00.000Z',
  };
  let deps: IssueTokenDeps;

  beforeAll(async () => {
    keys = await testKeys();
    deps = {
      clients: { get: async (id) => (id === client.clientId ? client : undefined) },
      verifySecret: async (secret, hash) => {
        checks.push({ secret, hash });
        return hash === `scrypt$fake$${secret}`;
      },
      dummyHash: async () => 'scrypt$dummy$',
      signingKey: async () => keys.privateJwk,
      clock: { now: () => new Date() },
      ids: { next: () => 'JTI' },
      ttlSeconds: 300,
      issuer: 'switchboard',
      audience: 'switchboard-api',
    };
  });

  const cmd = (over: Partial<TokenCommand> = {}): TokenCommand => ({
    grantType: 'password',
    client: { clientId: client.clientId, clientSecret: 's3cret', method: 'body' },
    username: 'emitter',
    password: 'pa55word',
    ...over,
  });
  const refusal = async (p: Promise<unknown>) => {
    const error = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  };

  it('issues a token and hashes the secret then the password', async () => {
    checks.length = 0;
    const res = await issueToken(cmd(), deps);
    expect(res).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'zuora:events' });
    expect(checks.map((c) => c.hash)).toEqual([client.secretHash, client.users![0]!.passwordHash]);
    expect(await keys.verifier.verify(res.access_token)).toMatchObject({ jti: 'JTI', username: 'emitter' });
  });

  it('runs the same scrypt check for an unknown client as for a known one', async () => {
    checks.length = 0;
    const unknown = await refusal(
      issueToken(cmd({ client: { clientId: 'ghost', clientSecret: 's3cret', method: 'basic' } }), deps),
    );
    expect(checks).toEqual([{ secret: 's3cret', hash: 'scrypt$dummy$' }]);
    checks.length = 0;
    const wrong = await refusal(
      issueToken(cmd({ client: { clientId: client.clientId, clientSecret: 'x', method: 'basic' } }), deps),
    );
    expect(checks).toHaveLength(1);
    expect([unknown.status, unknown.code, unknown.message]).toEqual([
      wrong.status,
      wrong.code,
      wrong.message,
    ]);
    expect(unknown.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('runs the same scrypt check for an unknown user as for a wrong password', async () => {
    checks.length = 0;
    const unknown = await refusal(issueToken(cmd({ username: 'ghost' }), deps));
    expect(checks.at(-1)).toEqual({ secret: 'pa55word', hash: 'scrypt$dummy$' });
    const wrong = await refusal(issueToken(cmd({ password: 'nope' }), deps));
    expect(unknown.code).toBe('invalid_grant');
    expect(unknown.message).toBe(wrong.message);
  });

  it('checks the grant before the user, and the scope last', async () => {
    expect((await refusal(issueToken(cmd({ grantType: 'client_credentials' }), deps))).code).toBe(
      'unauthorized_client',
    );
    expect((await refusal(issueToken(cmd({ scopes: ['orders:read'] }), deps))).code).toBe('invalid_scope');
    expect((await refusal(issueToken(cmd({ scopes: ['orders:read'], password: 'x' }), deps))).code).toBe(
      'invalid_grant',
    );
  });
});
