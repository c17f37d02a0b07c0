import { ClientRepository } from '../../shared/auth/clients.ts';
import { generateSecret, hashSecret, verifySecret } from '../../shared/auth/hash.ts';
import { publicKeySet, signingSecretSchema } from '../../shared/auth/keyset.ts';
import { readSecretJson } from '../../shared/clients/credentials.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { parseEnv } from '../../shared/env.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { json } from '../../shared/http/types.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import { type IssueTokenDeps, issueToken } from './issue-token.ts';
import { operatorAuthDeps, operatorRoutes } from './operator-routes.ts';
import { formatOAuthError, NO_STORE, readTokenCommand, tokenEnvSchema } from './schema.ts';

const env = parseEnv(tokenEnvSchema);
const signingKeys = () => readSecretJson('auth-signing-key', signingSecretSchema);
// Hash of a random secret nobody knows, started at cold start so even the first refusal of an
// unknown client costs one scrypt check, like a wrong secret.
const dummy = hashSecret(generateSecret());

const deps: IssueTokenDeps = {
  clients: new ClientRepository(documentClient(), env.TABLE_NAME),
  verifySecret,
  dummyHash: () => dummy,
  // Tokens are signed by the set's `current` key (its kid in the header). Powertools caches the secret
  // five minutes: after a rotation the old current (now `previous`, still published) signs a little
  // longer, which every verifier accepts.
  signingKey: async () => (await signingKeys()).current,
  clock: systemClock,
  ids: ulidGenerator,
  ttlSeconds: env.TOKEN_TTL_SECONDS,
  issuer: env.AUTH_ISSUER,
  audience: env.AUTH_AUDIENCE,
};

const operators = operatorAuthDeps(deps);

/** `POST /oauth/token` (RFC 6749 errors, no-store), `GET /.well-known/jwks.json`, operator sign-in. */
export const handler = httpHandler({
  functionName: 'token',
  routes: {
    'POST /oauth/token': {
      handler: async (req) =>
        json(200, (await operators.grant(req)) ?? (await issueToken(readTokenCommand(req), deps)), {
          ...NO_STORE,
        }),
      options: { formatError: formatOAuthError },
    },
    ...operatorRoutes(operators),
    'GET /.well-known/jwks.json': async () =>
      json(200, publicKeySet(await signingKeys()), { 'cache-control': 'public, max-age=300' }),
  },
});
