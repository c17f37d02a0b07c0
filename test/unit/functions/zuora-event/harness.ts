import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { DynamoZuoraStore, type ZuoraStore } from '../../../../functions/zuora-event/model.ts';
import { type EventObservation, receiveZuoraEvent } from '../../../../functions/zuora-event/receive-event.ts';
import { zuoraEventRoute } from '../../../../functions/zuora-event/route.ts';
import type { Clock } from '../../../../shared/clock.ts';
import { SubscriptionRegistry } from '../../../../shared/db/entities/subscriptions.ts';
import { eventCatalog } from '../../../../shared/events/catalog/index.ts';
import type { HubEvent, Publisher } from '../../../../shared/events/publisher.ts';
import { httpHandler } from '../../../../shared/http/handler.ts';
import { ulidGenerator } from '../../../../shared/ids.ts';
import { apiEvent, type TestKeys, testContext } from '../../../helpers/auth.ts';
import type { TestTable } from '../../../helpers/dynamo.ts';

/** Sample request bodies of `events/api/zuora-events/`, by file name without `.json`. */
export const samplesDir = fileURLToPath(new URL('../../../../events/api/zuora-events/', import.meta.url));
export const samples: Record<string, Record<string, unknown>> = Object.fromEntries(
  readdirSync(samplesDir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(samplesDir, f), 'utf8'))]),
);

/** A clock the test moves by hand (leases, expiry). */
export function manualClock(
  start = Date.parse('2026-11-23T10:00:00Z'),
): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => new Date(now),
    advance: (ms) => {
      now += ms;
    },
  };
}

/** Publisher fake: validates each detail against the catalog like the real one, and keeps it. */
export function recordingPublisher(): Publisher & { events: HubEvent[]; failNext: number } {
  const self = {
    events: [] as HubEvent[],
    failNext: 0,
    async publish(events: HubEvent[]) {
      if (self.failNext > 0) {
        self.failNext--;
        throw new Error('PutEvents unavailable');
      }
      for (const e of events) {
        const def = eventCatalog[e.type];
        if (!def) throw new Error(`unknown event ${e.type}`);
        def.schema.parse(e.detail);
        self.events.push(e);
      }
    },
  };
  return self;
}

export interface Harness {
  store: DynamoZuoraStore;
  registry: SubscriptionRegistry;
  publisher: ReturnType<typeof recordingPublisher>;
  clock: ReturnType<typeof manualClock>;
  observations: EventObservation[];
  /** Sends a body through the real HTTP handler stack (auth, X-Client-Id, formatError). */
  send(
    body: unknown,
    options?: { path?: string; token?: string | null; clientId?: string | null; notificationId?: string },
  ): Promise<{ status: number; body: any }>;
}

export const ZUORA_CLIENT = 'zuora-client';

/** The zuora-event HTTP handler over a test table, with a fake publisher and a manual clock. */
export async function harness(
  table: TestTable,
  keys: TestKeys,
  options: { wrapStore?: (s: ZuoraStore) => ZuoraStore; waitMs?: number } = {},
): Promise<Harness> {
  const registry = new SubscriptionRegistry(table.doc, table.tableName);
  const store = new DynamoZuoraStore(table.doc, table.tableName, registry, ['platform']);
  const publisher = recordingPublisher();
  const clock = manualClock();
  const observations: EventObservation[] = [];
  const deps = {
    store: options.wrapStore ? options.wrapStore(store) : store,
    publisher,
    clock,
    ids: ulidGenerator,
    platformTenant: 'platform',
    observe: (o: EventObservation) => observations.push(o),
    sleep: (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 10))),
    waitMs: options.waitMs ?? 3_000,
  };
  const route = zuoraEventRoute((input) => receiveZuoraEvent(input, deps));
  const handler = httpHandler({
    functionName: 'zuora-event',
    routes: { 'POST /v1/zuora/events': route, 'POST /api/billing/events': route },
    verifier: keys.verifier,
  });
  const defaultToken = await keys.token({ tenant: 'zuora', scopes: ['zuora:events'], sub: ZUORA_CLIENT });
  return {
    store,
    registry,
    publisher,
    clock,
    observations,
    async send(body, o = {}) {
      const token = o.token === undefined ? defaultToken : o.token;
      const clientId = o.clientId === undefined ? ZUORA_CLIENT : o.clientId;
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      if (clientId) headers['x-client-id'] = clientId;
      if (o.notificationId) headers['zuora-notification-id'] = o.notificationId;
      const event = apiEvent({
        method: 'POST',
        path: o.path ?? '/v1/zuora/events',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const res = (await handler(
        event,
        testContext('zuora-event') as Context,
      )) as APIGatewayProxyStructuredResultV2;
      return { status: res.statusCode ?? 0, body: res.body ? JSON.parse(res.body) : undefined };
    },
  };
}
