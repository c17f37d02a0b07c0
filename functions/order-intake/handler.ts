import { z } from 'zod';
import { readSecretJson } from '../../shared/clients/credentials.ts';
import { systemClock } from '../../shared/clock.ts';
import { documentClient } from '../../shared/db/client.ts';
import { OrderRepository } from '../../shared/db/entities/orders.ts';
import { busEnvSchema, parseEnv, tableEnvSchema } from '../../shared/env.ts';
import { publisherFromEnv } from '../../shared/events/publisher.ts';
import { jsonBody, queryParams } from '../../shared/http/body.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { type AuthedRequest, json } from '../../shared/http/types.ts';
import { ulidGenerator } from '../../shared/ids.ts';
import {
  listOrdersQuerySchema,
  orderRequestSchema,
  reviewDecisionSchema,
} from '../../shared/orders/contract.ts';
import { licenceSigningKeySchema, publicJwks } from '../../shared/orders/licence-keys.ts';
import { createScreeningProviderFromEnv } from '../../shared/screening/provider.ts';
import { getOrder, listOrders } from './read-orders.ts';
import { reviewOrder } from './review-order.ts';
import { idempotencyKeyOf } from './schema.ts';
import { submitOrder } from './submit-order.ts';

const env = parseEnv(
  tableEnvSchema
    .extend(busEnvSchema.shape)
    .extend({ SCREENING_BUDGET_MS: z.coerce.number().int().positive().default(3000) }),
);
const orders = new OrderRepository(documentClient(), env.TABLE_NAME);
const deps = {
  orders,
  publisher: publisherFromEnv(),
  clock: systemClock,
  ids: ulidGenerator,
  screening: createScreeningProviderFromEnv(),
  budgetMs: env.SCREENING_BUDGET_MS,
};
const authed = (req: { principal?: unknown }) => req as AuthedRequest;
const decide = (decision: 'clear' | 'reject') => async (r: AuthedRequest | { principal?: unknown }) => {
  const req = authed(r);
  const { reason } = jsonBody(req, reviewDecisionSchema);
  return json(
    200,
    await reviewOrder(
      { orderId: req.pathParameters.orderId ?? '', decision, reason, operator: req.principal.sub },
      deps,
    ),
  );
};

export const handler = httpHandler({
  functionName: 'order-intake',
  routes: {
    'POST /v1/orders': async (r) => {
      const req = authed(r);
      const order = jsonBody(req, orderRequestSchema);
      const answer = await submitOrder(
        { tenant: req.principal.tenant, order, idempotencyKey: idempotencyKeyOf(req.headers) },
        deps,
      );
      const orderId = (answer.body as { orderId?: string }).orderId;
      return json(answer.statusCode, answer.body, orderId ? { location: `/v1/orders/${orderId}` } : {});
    },
    'GET /v1/orders': async (r) =>
      json(
        200,
        await listOrders(
          { tenant: authed(r).principal.tenant, ...queryParams(r, listOrdersQuerySchema) },
          deps,
        ),
      ),
    'GET /v1/orders/{orderId}': async (r) =>
      json(
        200,
        await getOrder({ tenant: authed(r).principal.tenant, orderId: r.pathParameters.orderId ?? '' }, deps),
      ),
    'POST /v1/orders/{orderId}/clear': decide('clear'),
    'POST /v1/orders/{orderId}/reject': decide('reject'),
    'GET /v1/licences/public-key': async () =>
      json(200, publicJwks(await readSecretJson('licence-signing-key', licenceSigningKeySchema)), {
        'cache-control': 'public, max-age=300',
      }),
  },
});
