import * as z from 'zod';
import { OperatorRepository } from '../../shared/auth/operators.ts';
import { documentClient } from '../../shared/db/client.ts';
import { parseEnv } from '../../shared/env.ts';
import type { HttpRequest, RouteHandler } from '../../shared/http/types.ts';
import type { IssueTokenDeps } from './issue-token.ts';
import {
  type OperatorAuthDeps,
  operatorGrant,
  revokeToken,
  showLogin,
  submitLogin,
} from './operator-auth.ts';
import { formatOAuthError } from './schema.ts';

/** Operator sign-in adapters of the token function, sharing its signing key, clock and hashing. */
export function operatorAuthDeps(base: IssueTokenDeps & { clients: unknown }) {
  const env = parseEnv(
    z.object({
      TABLE_NAME: z.string().min(1),
      CONSOLE_ORIGINS: z.string().min(1),
      OPERATOR_TOKEN_TTL_SECONDS: z.coerce.number().int().min(60).max(3600).default(600),
    }),
  );
  const deps: OperatorAuthDeps = {
    operators: new OperatorRepository(documentClient(), env.TABLE_NAME),
    verifySecret: base.verifySecret,
    dummyHash: base.dummyHash,
    signingKey: base.signingKey,
    clock: base.clock,
    ids: base.ids,
    ttlSeconds: env.OPERATOR_TOKEN_TTL_SECONDS,
    issuer: base.issuer,
    audience: base.audience,
    consoleOrigins: env.CONSOLE_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
  };
  return { deps, grant: (req: HttpRequest) => operatorGrant(req, deps) };
}

/** `GET|POST /oauth/authorize` (login page, HTML) and `POST /oauth/revoke` (RFC 7009). */
export function operatorRoutes(op: ReturnType<typeof operatorAuthDeps>) {
  const routes: Record<
    string,
    RouteHandler | { handler: RouteHandler; options: { formatError: typeof formatOAuthError } }
  > = {
    'GET /oauth/authorize': async (req) => showLogin(req, op.deps),
    'POST /oauth/authorize': {
      handler: async (req) => submitLogin(req, op.deps),
      options: { formatError: formatOAuthError },
    },
    'POST /oauth/revoke': {
      handler: async (req) => revokeToken(req, op.deps),
      options: { formatError: formatOAuthError },
    },
  };
  return routes;
}
