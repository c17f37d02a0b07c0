import type { JWK } from 'jose';
import type { ClientReader } from '../../shared/auth/clients.ts';
import { signAccessToken } from '../../shared/auth/jwt.ts';
import type { Clock } from '../../shared/clock.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { invalidClient, OAuthError, type TokenCommand } from './schema.ts';

export interface IssueTokenDeps {
  clients: ClientReader;
  /** Constant-time scrypt check (`shared/auth/hash.ts` `verifySecret`). */
  verifySecret(secret: string, hash: string): Promise<boolean>;
  /** A hash with the same cost as real ones, checked when there is nothing real to check. */
  dummyHash(): Promise<string>;
  signingKey(): Promise<JWK>;
  clock: Clock;
  ids: IdGenerator;
  ttlSeconds: number;
  issuer: string;
  audience: string;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * Issues an access token for a well-formed request (RFC 6749 §4.3 password, §4.4 client
 * credentials). An unknown client and a wrong secret, or an unknown user and a wrong password, fail
 * with the same error after the same scrypt work, so neither the answer nor its timing tells which.
 */
export async function issueToken(cmd: TokenCommand, deps: IssueTokenDeps): Promise<TokenResponse> {
  const client = await deps.clients.get(cmd.client.clientId);
  const secretOk = await deps.verifySecret(
    cmd.client.clientSecret,
    client?.secretHash ?? (await deps.dummyHash()),
  );
  if (!client || !secretOk) {
    throw invalidClient('Client authentication failed.', cmd.client.method === 'basic');
  }
  if (!client.grantTypes.includes(cmd.grantType)) {
    throw new OAuthError('unauthorized_client', `This client may not use the ${cmd.grantType} grant.`);
  }

  let username: string | undefined;
  if (cmd.grantType === 'password') {
    const user = client.users?.find((u) => u.username === cmd.username);
    const passwordOk = await deps.verifySecret(
      cmd.password ?? '',
      user?.passwordHash ?? (await deps.dummyHash()),
    );
    if (!user || !passwordOk) throw new OAuthError('invalid_grant', 'The username or password is incorrect.');
    username = user.username;
  }

  let granted: string[] = client.scopes;
  if (cmd.scopes) {
    const outside = cmd.scopes.filter((s) => !client.scopes.includes(s as (typeof client.scopes)[number]));
    if (outside.length) {
      throw new OAuthError('invalid_scope', `This client is not granted: ${outside.join(' ')}.`);
    }
    granted = cmd.scopes;
  }

  const accessToken = await signAccessToken(
    {
      sub: client.clientId,
      tenant: client.tenant,
      scopes: granted,
      ...(username ? { username } : {}),
      jti: deps.ids.next(),
    },
    {
      privateJwk: await deps.signingKey(),
      issuer: deps.issuer,
      audience: deps.audience,
      ttlSeconds: deps.ttlSeconds,
      clock: deps.clock,
    },
  );
  return {
    access_token: accessToken,
    token_type: 'Bearer',
    expires_in: deps.ttlSeconds,
    scope: granted.join(' '),
  };
}
