import { jsonBody, queryParams } from '../../shared/http/body.ts';
import type { HttpRequest, RouteHandler } from '../../shared/http/types.ts';
import { json } from '../../shared/http/types.ts';
import {
  type DeliveryDeps,
  getDelivery,
  listDeliveries,
  replayDelivery,
  replayEndpoint,
  replaySkipped,
} from './deliveries.ts';
import type { Caller } from './endpoints.ts';
import {
  createEndpoint,
  deleteEndpoint,
  type EndpointDeps,
  getEndpoint,
  listEndpoints,
  rotateSecret,
  updateEndpoint,
} from './endpoints.ts';
import { type PublishDeps, publishCustomEvent } from './publish-event.ts';
import {
  createEndpointSchema,
  listDeliveriesQuerySchema,
  paginationQuerySchema,
  publishEventSchema,
  replayEndpointSchema,
  updateEndpointSchema,
} from './schema.ts';

export type DispatchDeps = EndpointDeps & DeliveryDeps & PublishDeps;

const caller = (req: HttpRequest): Caller => ({
  tenant: req.principal!.tenant,
  scopes: req.principal!.scopes,
});
const param = (req: HttpRequest, name: string) => req.pathParameters[name] ?? '';

/** The route table of `webhook-dispatch` (keys are the manifest's route keys). */
export function webhookRoutes(deps: DispatchDeps): Record<string, RouteHandler> {
  return {
    'POST /v1/webhooks/endpoints': async (req) =>
      json(201, await createEndpoint(jsonBody(req, createEndpointSchema), caller(req), deps)),
    'GET /v1/webhooks/endpoints': async (req) =>
      json(200, await listEndpoints(queryParams(req, paginationQuerySchema), caller(req), deps)),
    'GET /v1/webhooks/endpoints/{endpointId}': async (req) =>
      json(200, await getEndpoint(param(req, 'endpointId'), caller(req), deps)),
    'PATCH /v1/webhooks/endpoints/{endpointId}': async (req) => {
      const input = jsonBody(req, updateEndpointSchema);
      const { replaySkipped: replay, ...change } = input;
      const endpoint = await updateEndpoint(param(req, 'endpointId'), change, caller(req), deps);
      if (!replay) return json(200, endpoint);
      // Enabled first (the deliverer refuses disabled endpoints), then the skipped ones, oldest first.
      const replayed = await replaySkipped(endpoint.id, caller(req), deps);
      return json(200, { ...endpoint, replay: replayed });
    },
    'DELETE /v1/webhooks/endpoints/{endpointId}': async (req) => {
      await deleteEndpoint(param(req, 'endpointId'), caller(req), deps);
      return { statusCode: 204 };
    },
    'POST /v1/webhooks/endpoints/{endpointId}/rotate-secret': async (req) =>
      json(200, await rotateSecret(param(req, 'endpointId'), caller(req), deps)),
    'POST /v1/webhooks/endpoints/{endpointId}/replay': async (req) =>
      json(
        202,
        await replayEndpoint(
          param(req, 'endpointId'),
          jsonBody(req, replayEndpointSchema),
          caller(req),
          deps,
        ),
      ),
    'POST /v1/webhooks/events': async (req) =>
      json(
        202,
        await publishCustomEvent(
          jsonBody(req, publishEventSchema),
          { tenant: caller(req).tenant, idempotencyKey: req.headers['idempotency-key'] },
          deps,
        ),
      ),
    'GET /v1/webhooks/deliveries': async (req) =>
      json(200, await listDeliveries(queryParams(req, listDeliveriesQuerySchema), caller(req), deps)),
    'GET /v1/webhooks/deliveries/{deliveryId}': async (req) =>
      json(200, await getDelivery(param(req, 'deliveryId'), caller(req), deps)),
    'POST /v1/webhooks/deliveries/{deliveryId}/replay': async (req) =>
      json(202, await replayDelivery(param(req, 'deliveryId'), caller(req), deps)),
  };
}
