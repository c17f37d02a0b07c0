import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  cachedEndpointListings,
  ENDPOINT_CACHE_MAX_AGE_MS,
} from '../../../../functions/webhook-fanout/endpoint-cache.ts';
import { type FanOutDeps, fanOut } from '../../../../functions/webhook-fanout/fan-out.ts';
import { WebhookDeliveryRepository } from '../../../../shared/db/entities/webhook-deliveries.ts';
import {
  type WebhookEndpoint,
  WebhookEndpointRepository,
} from '../../../../shared/db/entities/webhook-endpoints.ts';
import type { ReceivedEvent } from '../../../../shared/events/consumer.ts';
import { newId } from '../../../../shared/ids.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

let table: TestTable;
/** DynamoDB calls made by fan-out, by command name. */
let calls: Record<string, number> = {};
let endpoints: WebhookEndpointRepository;
let deliveries: WebhookDeliveryRepository;

beforeAll(async () => {
  table = await startTestTable();
  const counting = {
    send: (command: { constructor: { name: string } }) => {
      calls[command.constructor.name] = (calls[command.constructor.name] ?? 0) + 1;
      return table.doc.send(command as never);
    },
  } as unknown as DynamoDBDocumentClient;
  endpoints = new WebhookEndpointRepository(counting, table.tableName);
  deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
});
afterAll(async () => {
  await table.stop();
});

describe('fan-out endpoint cache', () => {
  let tenant: string;
  let now: number;
  let deps: FanOutDeps;
  beforeEach(() => {
    tenant = `t-${randomUUID().slice(0, 8)}`;
    now = Date.now();
    const clock = { now: () => new Date(now) };
    deps = {
      endpoints: Object.assign(cachedEndpointListings(endpoints, clock), {
        get: endpoints.get.bind(endpoints),
      }),
      deliveries,
      queue: { enqueue: async () => {} },
      clock,
    };
  });

  const addEndpoint = async (overrides: Partial<WebhookEndpoint> = {}) => {
    const at = new Date(now).toISOString();
    const ep: WebhookEndpoint = {
      id: newId('ep'),
      tenant,
      url: 'https://hooks.partner.example/in',
      eventTypes: ['custom.*'],
      rateLimitPerSecond: 10,
      status: 'enabled',
      allEvents: false,
      secret: 'sealed',
      createdAt: at,
      updatedAt: at,
      ...overrides,
    };
    await endpoints.create(ep);
    return ep;
  };
  const event = (): ReceivedEvent => ({
    id: randomUUID(),
    type: 'custom.thing.happened',
    source: 'switchboard',
    time: new Date(now).toISOString(),
    detail: { tenant, eventId: newId('evt'), data: {} },
  });
  /** Fans one event out; returns the DynamoDB calls the endpoint reads made and the statuses. */
  const publish = async () => {
    calls = {};
    const e = event();
    const result = await fanOut(e, deps);
    const made = { ...calls };
    const log = await deliveries.list({ tenant, limit: 100 });
    const mine = log.items.filter((d) => d.eventId === e.detail.eventId);
    return { result, calls: made, statuses: mine.map((d) => `${d.endpointId}:${d.status}`).sort() };
  };

  it('queries the listings once, then only reads the versions per event, and honours every change at once', async () => {
    const a = await addEndpoint();
    const first = await publish();
    expect(first.statuses).toEqual([`${a.id}:pending`]);
    // A miss: the two listings (tenant + all-events) and the versions.
    expect(first.calls).toEqual({ BatchGetCommand: 1, QueryCommand: 2 });
    const second = await publish();
    expect(second.statuses).toEqual([`${a.id}:pending`]);
    // A hit: no query at all, one BatchGetItem of the version items.
    expect(second.calls).toEqual({ BatchGetCommand: 1 });

    // Disabled: the very next event records a skipped delivery, not a pending one.
    await endpoints.update(tenant, a.id, { status: 'disabled', updatedAt: new Date(now).toISOString() });
    expect((await publish()).statuses).toEqual([`${a.id}:skipped`]);

    // Added: the next event reaches the new endpoint too.
    const b = await addEndpoint();
    expect((await publish()).statuses).toEqual([`${a.id}:skipped`, `${b.id}:pending`].sort());

    // Deleted: no delivery for it any more; filters changed: honoured.
    expect(await endpoints.delete(tenant, a.id)).toBe(true);
    expect((await publish()).statuses).toEqual([`${b.id}:pending`]);
    await endpoints.update(tenant, b.id, { eventTypes: ['order.*'], updatedAt: new Date(now).toISOString() });
    expect((await publish()).result).toEqual({ matched: 0, created: 0 });
  });

  it('sees a new all-events endpoint of another tenant at once, and reloads after the hard limit', async () => {
    await addEndpoint();
    await publish();
    const other = `t-${randomUUID().slice(0, 8)}`;
    const all = await addEndpoint({ tenant: other, allEvents: true, eventTypes: ['*'] });
    // Its deliveries are in its owner's log: count them (the tenant's own endpoint + it).
    expect((await publish()).result).toEqual({ matched: 2, created: 2 });
    expect((await deliveries.list({ tenant: other, endpointId: all.id, limit: 10 })).items).toHaveLength(1);
    await endpoints.delete(other, all.id);
    const afterDelete = await publish();
    expect(afterDelete.result).toEqual({ matched: 1, created: 1 });
    expect(afterDelete.calls.QueryCommand).toBe(1); // only the all-events listing reloaded
    expect((await publish()).calls.QueryCommand).toBeUndefined();
    now += ENDPOINT_CACHE_MAX_AGE_MS;
    expect((await publish()).calls.QueryCommand).toBe(2);
  });
});
