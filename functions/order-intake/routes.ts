import { readSecretJson } from '../../shared/clients/credentials.ts';
import type { OrderRepository } from '../../shared/db/entities/orders.ts';
import { jsonBody, queryParams } from '../../shared/http/body.ts';
import { type AuthedRequest, type HttpRequest, json, type RouteHandler } from '../../shared/http/types.ts';
import {
  listOrdersQuerySchema,
  orderRequestSchema,
  reviewDecisionSchema,
} from '../../shared/orders/contract.ts';
import { licenceSigningKeySchema, publicJwks } from '../../shared/orders/licence-keys.ts';
import { reviewOrder } from '../../shared/orders/review-order.ts';
import { type SubmitOrderDeps, submitOrder } from '../../shared/orders/submit-order.ts';
import { getOrder, listOrders, orderView } from './read-orders.ts';
import { idempotencyKeyOf } from './schema.ts';

/** HTTP adapters of the order-intake use cases (parse, call, answer); the tenant comes from the token. */
const authed = (req: HttpRequest) => req as AuthedRequest;

export type OrderRouteDeps = SubmitOrderDeps & {
  orders: SubmitOrderDeps['orders'] & Pick<OrderRepository, 'listByTenant'>;
};

export function orderRoutes(deps: OrderRouteDeps): Record<string, RouteHandler> {
  const decide =
    (decision: 'clear' | 'reject'): RouteHandler =>
    async (r) => {
      const req = authed(r);
      const { reason } = jsonBody(req, reviewDecisionSchema);
      const orderId = req.pathParameters.orderId ?? '';
      return json(
        200,
        orderView(await reviewOrder({ orderId, decision, reason, operator: req.principal.sub }, deps)),
      );
    };
  return {
    'POST /v1/orders': async (r) => {
      const req = authed(r);
      const order = jsonBody(req, orderRequestSchema);
      const idempotencyKey = idempotencyKeyOf(req.headers);
      const answer = await submitOrder({ tenant: req.principal.tenant, order, idempotencyKey }, deps);
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
  };
}
