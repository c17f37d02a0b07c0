import * as z from 'zod';
import { zuoraEventAnswerDoc, zuoraEventRequestDoc } from '../../functions/zuora-event/schema.ts';
import { errorBodySchema } from '../../shared/contracts/errors.ts';
import type { RouteSpec, WiringPart } from '../wiring-types.ts';

/**
 * Zuora part of the manifest: the Event API receiver of `seeds/zuora-event-api.txt`. Zuora's event
 * emitter authenticates with the password grant and `X-Client-Id`; the route's own code answers in
 * the seed's response shapes (see `functions/zuora-event/`).
 */
const authRefusal = z.union([zuoraEventAnswerDoc, errorBodySchema]);

const eventRoute = (path: string, summary: string): RouteSpec => ({
  method: 'POST',
  path,
  function: 'zuora-event',
  auth: 'jwt',
  scopes: ['zuora:events'],
  // Zuora's event emitter gets its token with the password grant (seed Event API).
  grants: ['password'],
  summary,
  // Tens of thousands of events a day, in bursts when Zuora replays a backlog.
  throttle: { rateLimit: 50, burstLimit: 200 },
  request: { body: zuoraEventRequestDoc, contentTypes: ['application/json'] },
  samples: 'zuora-events',
  // Every answer, KO included, is in the shape of the request (`functions/zuora-event/respond.ts`).
  errorBody: zuoraEventAnswerDoc,
  responses: {
    200: {
      description: 'Every payload item applied (or already applied: same calculedHash)',
      body: zuoraEventAnswerDoc,
    },
    400: {
      description: 'Malformed request, or an item refused (BAD_REQUEST, NOT_FOUND, UNPROCESSABLE_ENTITY)',
    },
    // The KO shape when the body is recognisably a Zuora event, the hub's error otherwise.
    401: { description: 'Missing or invalid bearer token', body: authRefusal },
    403: { description: 'Missing or mismatched X-Client-Id, or no zuora:events scope', body: authRefusal },
    500: {
      description: 'An item failed with INTERNAL_SERVER_ERROR; Zuora retries, applied items are idempotent',
    },
  },
});

export const zuoraWiring: WiringPart = {
  functions: {
    'zuora-event': {
      description: 'Zuora Event API: applies client, workspace, subscription and product events',
      entry: 'functions/zuora-event/handler.ts',
      memoryMb: 512,
      // Shorter than the item lease (30 s), so a claim outlives any invocation that holds it.
      timeoutSeconds: 15,
      uses: [{ kind: 'table', access: 'readWrite' }, { kind: 'bus' }, { kind: 'authVerify' }],
      environment: { PLATFORM_TENANT: 'platform' },
    },
  },
  routes: [
    eventRoute('/v1/zuora/events', 'Receive a Zuora event (seed Event API, both payload shapes)'),
    eventRoute('/api/billing/events', 'Alias of POST /v1/zuora/events (the seed\u2019s "future" path)'),
  ],
};
