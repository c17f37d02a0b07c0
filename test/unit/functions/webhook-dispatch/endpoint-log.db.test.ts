import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaySkipped } from '../../../../functions/webhook-dispatch/deliveries.ts';
import { systemClock } from '../../../../shared/clock.ts';
import {
  type DeliveryStatus,
  deliveryIdFor,
  deliveryKey,
  toDeliveryItem,
  type WebhookDelivery,
  WebhookDeliveryRepository,
} from '../../../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../../../shared/db/entities/webhook-endpoints.ts';
import { backfillIndexes } from '../../../../shared/db/index-backfill.ts';
import type { DeliveryMessage } from '../../../../shared/webhooks/delivery-queue.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

/**
 * An endpoint's delivery log is keyed by status (GSI2SK `<status>#<id>`): on a long log, "is anything
 * pending?" and "which were skipped?" read only the matching entries. Before, the status was a
 * filter over the whole log: the 30-minute chaos soak's drain check examined thousands of entries per
 * call, and a page of 1 over 5,100 finished deliveries came back empty ("partial") although a pending
 * one existed.
 */
let table: TestTable;
let deliveries: WebhookDeliveryRepository;
const ENDPOINT = 'ep_01MA0000000000000000000000';
const TENANT = 'arrow';
const base = Date.UTC(2026, 10, 1);
const made: WebhookDelivery[] = [];

function delivery(i: number, status: DeliveryStatus): WebhookDelivery {
  const eventId = `ev-${i}`;
  const at = new Date(base + i * 1_000).toISOString();
  return {
    id: deliveryIdFor(eventId, ENDPOINT, base + i * 1_000),
    tenant: TENANT,
    endpointId: ENDPOINT,
    endpointTenant: TENANT,
    eventId,
    eventType: 'order.accepted',
    payload: JSON.stringify({ type: 'order.accepted', data: { n: i } }),
    status,
    attemptCount: status === 'skipped' ? 0 : 1,
    retryIndex: 0,
    attempts: [],
    createdAt: at,
    updatedAt: at,
  };
}

async function put(items: WebhookDelivery[]) {
  for (let i = 0; i < items.length; i += 25) {
    await table.doc.send(
      new BatchWriteCommand({
        RequestItems: {
          [table.tableName]: items.slice(i, i + 25).map((d) => ({ PutRequest: { Item: toDeliveryItem(d) } })),
        },
      }),
    );
  }
}

beforeAll(async () => {
  table = await startTestTable();
  deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
  // The oldest delivery is pending, three in the middle were skipped, 5,100 others succeeded.
  for (let i = 0; i < 5_104; i++) {
    made.push(delivery(i, i === 0 ? 'pending' : [2_000, 2_001, 4_000].includes(i) ? 'skipped' : 'succeeded'));
  }
  await put(made);
}, 120_000);
afterAll(async () => table.stop());

describe("an endpoint's delivery log by status", () => {
  it('finds the one pending delivery behind 5,100 newer finished ones in a page of 1, with nothing after it', async () => {
    const page = await deliveries.list({
      tenant: TENANT,
      endpointId: ENDPOINT,
      statuses: ['pending'],
      limit: 1,
    });
    expect(page.items.map((d) => d.id)).toEqual([made[0]!.id]);
    expect(page.cursor).toBeUndefined();
  });

  it('lists the skipped ones oldest first and the whole log newest first, every delivery once', async () => {
    const skipped = await deliveries.list({
      tenant: TENANT,
      endpointId: ENDPOINT,
      statuses: ['skipped'],
      oldestFirst: true,
      limit: 10,
    });
    expect(skipped.items.map((d) => d.eventId)).toEqual(['ev-2000', 'ev-2001', 'ev-4000']);
    const ids: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await deliveries.list({
        tenant: TENANT,
        endpointId: ENDPOINT,
        limit: 500,
        ...(cursor ? { cursor } : {}),
      });
      ids.push(...page.items.map((d) => d.id));
      cursor = page.cursor;
    } while (cursor);
    expect(ids).toEqual(made.map((d) => d.id).reverse());
  });

  it('a transition moves the delivery between the status lists of its endpoint', async () => {
    const d = made[4_000]!;
    const moved = await deliveries.transition(
      d.id,
      { status: 'pending', updatedAt: new Date().toISOString(), nextAttemptAt: new Date().toISOString() },
      { statuses: ['skipped'], tenant: TENANT },
    );
    expect(moved).toBe(true);
    const pending = await deliveries.list({
      tenant: TENANT,
      endpointId: ENDPOINT,
      statuses: ['pending'],
      limit: 10,
    });
    expect(pending.items.map((x) => x.id)).toContain(d.id);
    const skipped = await deliveries.list({
      tenant: TENANT,
      endpointId: ENDPOINT,
      statuses: ['skipped'],
      limit: 10,
    });
    expect(skipped.items.map((x) => x.id)).not.toContain(d.id);
    // Back, for the tests after this one.
    await deliveries.transition(
      d.id,
      { status: 'skipped', updatedAt: new Date().toISOString() },
      {
        statuses: ['pending'],
        tenant: TENANT,
      },
      ['nextAttemptAt'],
    );
  });

  it('re-enabling with replaySkipped re-arms exactly the skipped ones, in event order, in one call', async () => {
    const endpoints = new WebhookEndpointRepository(table.doc, table.tableName);
    const enqueued: DeliveryMessage[] = [];
    const answer = await replaySkipped(
      ENDPOINT,
      { tenant: TENANT, scopes: [] },
      {
        deliveries,
        endpoints,
        queue: { enqueue: async (m) => void enqueued.push(...m) },
        clock: systemClock,
      },
      // A zero budget: only the guaranteed minimum of re-arms; 3 fit in it when nothing else is read.
      0,
      3,
    );
    expect(answer).toEqual({ replayed: 3, complete: true });
    expect(enqueued.map((m) => m.deliveryId)).toEqual([made[2_000]!.id, made[2_001]!.id, made[4_000]!.id]);
  });

  it('index layout 5 re-keys a delivery written under the old endpoint-log key', async () => {
    const old = delivery(9_000, 'failed');
    await put([old]);
    await table.doc.send(
      new UpdateCommand({
        TableName: table.tableName,
        Key: deliveryKey(old.id),
        UpdateExpression: 'SET GSI2SK = :id',
        ExpressionAttributeValues: { ':id': old.id },
      }),
    );
    const failed = async () =>
      (
        await deliveries.list({ tenant: TENANT, endpointId: ENDPOINT, statuses: ['failed'], limit: 10 })
      ).items.map((d) => d.id);
    expect(await failed()).not.toContain(old.id);
    await backfillIndexes(table.doc, table.tableName);
    expect(await failed()).toEqual([old.id]);
  });
});
