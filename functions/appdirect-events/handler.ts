import { appDirectDepsFromEnv } from '../../shared/appdirect/deps.ts';
import { type ProcessEventDeps, processEvent } from '../../shared/appdirect/process-event.ts';
import { queryParams } from '../../shared/http/body.ts';
import { httpHandler } from '../../shared/http/handler.ts';
import { json } from '../../shared/http/types.ts';
import { submitOrder } from '../../shared/orders/submit-order.ts';
import { receiveNotification } from './receive-notification.ts';
import { appDirectErrorBody, notificationQuerySchema } from './schema.ts';

const deps = appDirectDepsFromEnv();
// The AppDirect order is the order use case of POST /v1/orders, under the marketplace's tenant.
const processDeps: ProcessEventDeps = {
  ...deps.process,
  submitOrder: (input) => submitOrder(input, deps.orderDeps),
};
const receive = {
  stage: deps.env.STAGE,
  clock: processDeps.clock,
  marketplaces: () => deps.directory.list(),
  secret: deps.secret,
  fetchEvent: (m: Parameters<typeof deps.clientFor>[0], url: string) => deps.clientFor(m).fetchEvent(url),
  process: (event: Parameters<typeof processEvent>[0], ctx: Parameters<typeof processEvent>[1]) =>
    processEvent(event, ctx, processDeps),
  events: deps.events,
  complete: deps.complete,
};

/** AppDirect's notification URL: public (the marketplace signs it), answers in AppDirect's shape. */
export const handler = httpHandler({
  functionName: 'appdirect-events',
  routes: {
    'GET /v1/channels/appdirect/events': {
      handler: async (req) => {
        const { eventUrl } = queryParams(req, notificationQuerySchema);
        const proto = req.headers['x-forwarded-proto'] ?? 'https';
        const base = deps.env.APPDIRECT_NOTIFICATION_URL ?? `${proto}://${req.headers.host ?? ''}${req.path}`;
        const query = req.event.rawQueryString ?? '';
        const answer = await receiveNotification(
          {
            eventUrl,
            requestUrl: query ? `${base}?${query}` : base,
            method: req.method,
            authorization: req.headers.authorization,
          },
          receive,
        );
        return json(answer.statusCode, answer.body);
      },
      options: {
        formatError: (error) => ({ statusCode: error.status, body: appDirectErrorBody(error) }),
      },
    },
  },
});
