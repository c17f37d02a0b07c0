import { appDirectDepsFromEnv, completeEventMessageSchema } from '../../shared/appdirect/deps.ts';
import { type ProcessEventDeps, processEvent } from '../../shared/appdirect/process-event.ts';
import { orderEventDetailSchema } from '../../shared/events/catalog/orders.ts';
import { parseBusEvent, sqsHandler } from '../../shared/events/consumer.ts';
import { submitOrder } from '../../shared/orders/submit-order.ts';
import { completeEvent, type NotifierDeps, onOrderEvent } from './notify.ts';

const deps = appDirectDepsFromEnv();
// The AppDirect order is the order use case of POST /v1/orders, under the marketplace's tenant.
const processDeps: ProcessEventDeps = {
  ...deps.process,
  submitOrder: (input) => submitOrder(input, deps.orderDeps),
};
const notifier: NotifierDeps = {
  clock: processDeps.clock,
  marketplace: (id) => deps.directory.byId(id),
  fetchEvent: (m, url) => deps.clientFor(m).fetchEvent(url),
  postResult: (m, eventId, result) => deps.clientFor(m).postResult(eventId, result),
  process: (event, ctx) => processEvent(event, ctx, processDeps),
  events: deps.events,
  orders: deps.orders,
  accounts: deps.accounts,
  registry: deps.registry,
};

type Message =
  | { kind: 'order'; type: string; detail: ReturnType<typeof orderEventDetailSchema.parse> }
  | ReturnType<typeof completeEventMessageSchema.parse>;

/** Order events of the appdirect channel (rule → queue) and events to finish (from the notification URL). */
export const handler = sqsHandler<Message>({
  parse: (body) => {
    const raw = JSON.parse(body) as Record<string, unknown>;
    if ('detail-type' in raw) {
      const event = parseBusEvent(body);
      return { kind: 'order', type: event.type, detail: orderEventDetailSchema.parse(event.detail) };
    }
    return completeEventMessageSchema.parse(raw);
  },
  handle: async (message) => {
    if (message.kind === 'order') await onOrderEvent(message.type, message.detail, notifier);
    else await completeEvent(message, notifier);
  },
});
