import { createHash } from 'node:crypto';
import {
  BatchGetCommand,
  BatchWriteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { encodeTime } from 'ulid';
import * as z from 'zod';
import { coalescer } from '../batching.ts';
import { isConditionFailed } from '../client.ts';
import { key, shardOf } from '../keys.ts';
import { type MergeSource, mergedQuery } from '../merged-query.ts';

/**
 * Webhook deliveries: one item per (event, endpoint), whose id is the `webhook-id` header (stable
 * across retries and replays). Its attempts are kept on the item (the log); the state machine is
 * `pending → succeeded | failed | cancelled` (or `skipped` from the start when the endpoint was
 * disabled), and a replay moves a finished or skipped delivery back to pending.
 *
 *   PK `WHDL#<id>` SK `WHDL`
 *     GSI1PK `WHDL#T#<tenant>#<shard>`     GSI1SK `<id>`   the tenant's log
 *     GSI2PK `WHDL#E#<endpointId>#<shard>` GSI2SK `<status>#<id>`   the endpoint's log by status
 *     GSI3PK `WHDL#T#<tenant>#<shard>`     GSI3SK `<status>#<id>`   the tenant's log by status
 *     GSI4PK `WHDL#TT#<tenant>#<type>#<shard>`  GSI4SK `<id>`     the tenant's log by event type
 *     GSI5PK `WHDL#ALL#<shard>`            GSI5SK `<status>#<id>`   every tenant's (operations)
 *     GSI6PK `WHDL#ORDER#<orderId>`        GSI6SK `<id>`   deliveries about one order (its timeline)
 *   PK `WHDUE#<shard>` SK `<dueAt ISO>#<id>`                a wake-up ("due") item
 *
 * Logs are sharded (a busy endpoint writes more than one partition key takes) and read by merging
 * every shard (`shared/db/merged-query.ts`); a status or type filter is an index key, never a
 * filter over the log, so a page is never empty while matches remain. The endpoint's log carries the
 * status in its sort key (index layout 5): its pending or skipped deliveries are read directly however
 * long the log is (the drain's "anything pending?" and re-enabling with `replaySkipped` once filtered
 * tens of thousands of entries), and the whole log is the merge of every status. Only the rare
 * endpoint + type filter is still applied to the merged entries. Due items make every wait durable beyond SQS's 15-minute delay: one is written
 * BEFORE the delivery moves to a new due time and deleted only after, so a crash at any line leaves
 * a due item that the sweeper turns back into a queue message.
 */
export const LOG_SHARDS = 4;
export const DUE_SHARDS = 4;

/**
 * `skipped`: the event matched an endpoint that was disabled at the time; nothing was sent. It is
 * kept so a replay (or re-enabling with `replaySkipped`) can still deliver it, in event order.
 */
export const deliveryStatusSchema = z.enum(['pending', 'succeeded', 'failed', 'cancelled', 'skipped']);
export type DeliveryStatus = z.infer<typeof deliveryStatusSchema>;

export const attemptSchema = z.object({
  n: z.number().int(),
  at: z.string(),
  statusCode: z.number().int().optional(),
  durationMs: z.number().int(),
  error: z.string().optional(),
  /** First 4 KB of the response body. */
  responseBody: z.string().optional(),
  nextAttemptAt: z.string().optional(),
});
export type Attempt = z.infer<typeof attemptSchema>;

/** Work to finish after a terminal state was recorded (the due item is kept until it is done). */
export const noticeSchema = z.enum(['exhausted', 'endpoint-gone', 'endpoint-failing']);
export type Notice = z.infer<typeof noticeSchema>;

export const webhookDeliverySchema = z.object({
  id: z.string(),
  tenant: z.string(),
  endpointId: z.string(),
  /** Tenant of the endpoint (differs from `tenant` for all-events endpoints of another tenant). */
  endpointTenant: z.string(),
  eventId: z.string(),
  eventType: z.string(),
  /** The exact JSON body sent (signed as is). */
  payload: z.string(),
  status: deliveryStatusSchema,
  attemptCount: z.number().int(),
  /** Position in the retry schedule (reset by a replay). */
  retryIndex: z.number().int(),
  nextAttemptAt: z.string().optional(),
  dueKey: z.string().optional(),
  claimId: z.string().optional(),
  notices: z.array(noticeSchema).optional(),
  attempts: z.array(attemptSchema),
  lastStatusCode: z.number().int().optional(),
  lastError: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  completedAt: z.string().optional(),
});
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/** Attempts kept on the item; the oldest are dropped beyond this (400 KB item limit). */
export const MAX_ATTEMPTS_KEPT = 20;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * Deterministic delivery id for (event, endpoint): a ULID-shaped `msg_` id whose time part is the
 * event time (so logs sort by it) and whose random part is a hash, so a redelivered event maps to the
 * same delivery and the conditional put makes fan-out idempotent.
 */
export function deliveryIdFor(eventId: string, endpointId: string, eventTimeMs: number): string {
  const hash = createHash('sha256').update(`${eventId}\n${endpointId}`).digest();
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[hash[i]! % 32];
  return `msg_${encodeTime(Math.max(0, Math.min(eventTimeMs, 281474976710655)), 10)}${rand}`;
}

export const deliveryKey = (id: string) => ({ PK: key('WHDL', id), SK: 'WHDL' });
const tenantLogPk = (tenant: string, shard: number) => key('WHDL', 'T', tenant, shard);
const endpointLogPk = (endpointId: string, shard: number) => key('WHDL', 'E', endpointId, shard);
const typeLogPk = (tenant: string, type: string, shard: number) => key('WHDL', 'TT', tenant, type, shard);
const allLogPk = (shard: number) => key('WHDL', 'ALL', shard);
const statusSk = (status: DeliveryStatus, id: string) => `${status}#${id}`;
const logShards = Array.from({ length: LOG_SHARDS }, (_, i) => i);

/** Deliveries about one order (GSI6), for the order's timeline: the `orderId` of the payload's data. */
export const orderDeliveriesPk = (orderId: string) => key('WHDL', 'ORDER', orderId);
function orderIdOf(payload: string): string | undefined {
  try {
    const id = (JSON.parse(payload) as { data?: { orderId?: unknown } }).data?.orderId;
    return typeof id === 'string' && /^[\w-]{1,64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Every index key of a delivery in its current status. */
export function deliveryIndexKeys(
  d: Pick<WebhookDelivery, 'id' | 'endpointTenant' | 'endpointId' | 'eventType' | 'status' | 'payload'>,
) {
  const shard = shardOf(d.id, LOG_SHARDS);
  const orderId = orderIdOf(d.payload);
  return {
    ...(orderId ? { GSI6PK: orderDeliveriesPk(orderId), GSI6SK: d.id } : {}),
    GSI1PK: tenantLogPk(d.endpointTenant, shard),
    GSI1SK: d.id,
    GSI2PK: endpointLogPk(d.endpointId, shard),
    GSI2SK: statusSk(d.status, d.id),
    GSI3PK: tenantLogPk(d.endpointTenant, shard),
    GSI3SK: statusSk(d.status, d.id),
    GSI4PK: typeLogPk(d.endpointTenant, d.eventType, shard),
    GSI4SK: d.id,
    GSI5PK: allLogPk(shard),
    GSI5SK: statusSk(d.status, d.id),
  };
}
export const dueKeyFor = (dueAt: Date, id: string) => `${dueAt.toISOString()}#${id}`;
const duePk = (id: string) => key('WHDUE', shardOf(id, DUE_SHARDS));
const deliveryIdOfDueKey = (dueKey: string) => dueKey.slice(dueKey.indexOf('#') + 1);

export function toDeliveryItem(d: WebhookDelivery): Record<string, unknown> {
  return {
    ...deliveryKey(d.id),
    entity: 'webhook-delivery',
    ...deliveryIndexKeys(d),
    ...webhookDeliverySchema.parse(d),
  };
}

export function fromDeliveryItem(item: Record<string, unknown>): WebhookDelivery {
  return webhookDeliverySchema.parse(item);
}

/** Fields a state transition writes. `undefined` fields listed in `remove` are deleted. */
export interface DeliveryTransition {
  status: DeliveryStatus;
  updatedAt: string;
  attemptCount?: number;
  retryIndex?: number;
  nextAttemptAt?: string;
  dueKey?: string;
  notices?: Notice[];
  attempts?: Attempt[];
  lastStatusCode?: number;
  lastError?: string;
  completedAt?: string;
}

export interface LogQuery {
  /** Owner of the endpoints; undefined only for the operations view of every tenant. */
  tenant: string;
  endpointId?: string;
  status?: DeliveryStatus;
  /** Statuses to match (replay of failed and cancelled); overrides `status`. */
  statuses?: DeliveryStatus[];
  type?: string;
  /** Only deliveries whose id (event time) is at or after this time. */
  since?: Date;
  /** Oldest (event time) first instead of newest first: replays enqueue in event order. */
  oldestFirst?: boolean;
  limit: number;
  cursor?: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Deliveries and due items. Reads of deliveries and writes of due items made by concurrent work in
 * one turn of the event loop (a batch of queue records) go out as one BatchGetItem / BatchWriteItem
 * (`shared/db/batching.ts`); every caller still awaits its own outcome.
 */
export class WebhookDeliveryRepository {
  private readonly load: (id: string) => Promise<Record<string, unknown> | undefined>;
  private readonly writeDue: (request: { put: boolean; dueKey: string }) => Promise<undefined>;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.load = coalescer({ max: 100, run: (ids) => this.getMany(ids) });
    this.writeDue = coalescer({ max: 25, run: (requests) => this.writeDueItems(requests) });
  }

  /** Strongly consistent BatchGetItem of deliveries (unprocessed keys asked again). */
  private async getMany(ids: string[]): Promise<Array<Record<string, unknown> | undefined>> {
    const found = new Map<string, Record<string, unknown>>();
    let keys = [...new Set(ids)].map(deliveryKey);
    for (let attempt = 0; keys.length; attempt++) {
      const res = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of res.Responses?.[this.tableName] ?? []) found.set(String(item.id), item);
      keys = (res.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof keys;
      if (keys.length) {
        if (attempt >= 8) throw new Error('BatchGetItem kept returning unprocessed delivery keys');
        await sleep(10 * 2 ** Math.min(attempt, 6));
      }
    }
    return ids.map((id) => found.get(id));
  }

  /** Due items put or deleted in one BatchWriteItem (unconditional, so they can be batched). */
  private async writeDueItems(requests: Array<{ put: boolean; dueKey: string }>): Promise<undefined[]> {
    const byKey = new Map<string, { put: boolean; dueKey: string }>();
    for (const r of requests) byKey.set(r.dueKey, r); // one write per key per batch (the last asked)
    let writes: Array<Record<string, unknown>> = [...byKey.values()].map((r) => {
      const id = deliveryIdOfDueKey(r.dueKey);
      const Key = { PK: duePk(id), SK: r.dueKey };
      return r.put
        ? { PutRequest: { Item: { ...Key, entity: 'webhook-due', deliveryId: id } } }
        : { DeleteRequest: { Key } };
    });
    for (let attempt = 0; writes.length; attempt++) {
      const res = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: writes } }));
      writes = (res.UnprocessedItems?.[this.tableName] ?? []) as typeof writes;
      if (writes.length) {
        if (attempt >= 8) throw new Error('BatchWriteItem kept returning unprocessed due items');
        await sleep(10 * 2 ** Math.min(attempt, 6));
      }
    }
    return requests.map(() => undefined);
  }

  /**
   * Creates a pending delivery due at `dueAt` unless it exists. The due item is written first: a
   * crash between the two leaves an orphan due item, which the deliverer deletes, never a delivery
   * nobody will wake. Returns the stored delivery and whether this call created it.
   */
  async createIfAbsent(d: WebhookDelivery): Promise<{ delivery: WebhookDelivery; created: boolean }> {
    if (d.dueKey) await this.putDue(d.dueKey);
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toDeliveryItem(d),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return { delivery: d, created: true };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const existing = await this.get(d.id);
      if (!existing) throw error;
      if (d.dueKey && existing.dueKey !== d.dueKey) await this.deleteDue(d.dueKey);
      return { delivery: existing, created: false };
    }
  }

  async get(id: string): Promise<WebhookDelivery | undefined> {
    const item = await this.load(id);
    return item ? fromDeliveryItem(item) : undefined;
  }

  /**
   * Takes the next attempt of a pending delivery that is due: only one worker wins (condition on the
   * due time it saw), and the due time moves `leaseMs` ahead so that, if this worker dies mid-attempt,
   * the attempt becomes due again after the lease.
   */
  async claim(id: string, seenNextAttemptAt: string, claimId: string, leaseUntil: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deliveryKey(id),
          UpdateExpression: 'SET claimId = :c, nextAttemptAt = :lease',
          ConditionExpression: '#s = :pending AND nextAttemptAt = :seen',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':c': claimId,
            ':lease': leaseUntil.toISOString(),
            ':pending': 'pending',
            ':seen': seenNextAttemptAt,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Writes a transition. `expect` guards it: the claim it must still hold, or the statuses it may
   * leave (replay). Returns false when the guard failed (someone else moved the delivery).
   */
  async transition(
    id: string,
    t: DeliveryTransition,
    expect:
      | { claimId: string }
      | { statuses: DeliveryStatus[] /** Owner of the endpoint. */; tenant: string },
    remove: Array<'nextAttemptAt' | 'dueKey' | 'claimId' | 'notices' | 'completedAt'> = [],
  ): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [k, v] of Object.entries(t)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    // The status-keyed index entries follow the status (their partitions never change).
    values[':statusSk'] = statusSk(t.status, id);
    sets.push('GSI2SK = :statusSk', 'GSI3SK = :statusSk', 'GSI5SK = :statusSk');
    const removes = [...new Set(remove)].filter(
      (k) => !(k in t) || t[k as keyof DeliveryTransition] === undefined,
    );
    for (const k of removes) names[`#${k}`] = k;
    let condition: string;
    if ('claimId' in expect) {
      names['#claimId'] = 'claimId';
      values[':expectClaim'] = expect.claimId;
      condition = '#claimId = :expectClaim';
    } else {
      const list = expect.statuses.map((s, i) => {
        values[`:from${i}`] = s;
        return `:from${i}`;
      });
      names['#owner'] = 'endpointTenant';
      values[':expectTenant'] = expect.tenant;
      condition = `#status IN (${list.join(', ')}) AND #owner = :expectTenant`;
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deliveryKey(id),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.map((k) => `#${k}`).join(', ')}` : ''}`,
          ConditionExpression: `attribute_exists(PK) AND ${condition}`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Clears finished notices and the due item reference once their side effects are done. */
  async clearNotices(id: string, dueKey: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: deliveryKey(id),
          UpdateExpression: 'REMOVE notices, dueKey',
          ConditionExpression: 'dueKey = :d',
          ExpressionAttributeValues: { ':d': dueKey },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async putDue(dueKey: string): Promise<void> {
    await this.writeDue({ put: true, dueKey });
  }

  async deleteDue(dueKey: string): Promise<void> {
    await this.writeDue({ put: false, dueKey });
  }

  /** Due items of one shard whose time has come, oldest first (the sweeper). */
  async listDue(
    shard: number,
    now: Date,
    limit: number,
  ): Promise<Array<{ deliveryId: string; dueKey: string }>> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk AND SK <= :now',
        ExpressionAttributeValues: { ':pk': key('WHDUE', shard), ':now': `${now.toISOString()}#~` },
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map((i) => ({ deliveryId: String(i.deliveryId), dueKey: String(i.SK) }));
  }

  /**
   * One page of a delivery log, newest first: the tenant's, or one endpoint's (still restricted to
   * the tenant). Status and type are index keys (GSI2 and GSI3 by status, GSI4); the shards of the chosen partition
   * are merged (`mergedQuery`), so pages are full and in order.
   */
  async list(q: LogQuery): Promise<{ items: WebhookDelivery[]; cursor?: string }> {
    return this.page(q, q.tenant);
  }

  /**
   * The operations view: every tenant's deliveries (or one tenant's), newest first, by status, type
   * and endpoint. Without a tenant, status is the key (GSI5, every status merged when none is asked).
   */
  async listAll(
    q: Omit<LogQuery, 'tenant'> & { tenant?: string },
  ): Promise<{ items: WebhookDelivery[]; cursor?: string }> {
    return this.page(q, q.tenant);
  }

  /** Id and status of every delivery created in [from, to] (dashboard); at most `cap`. */
  async window(from: Date, to: Date, cap: number) {
    const lo = `msg_${encodeTime(from.getTime(), 10)}`;
    const hi = `msg_${encodeTime(to.getTime(), 10)}~`;
    const rows: Array<{ id: string; status: DeliveryStatus }> = [];
    let capped = false;
    await Promise.all(
      deliveryStatusSchema.options.flatMap((status) =>
        logShards.map(async (s) => {
          let start: Record<string, unknown> | undefined;
          do {
            const res = await this.doc.send(
              new QueryCommand({
                TableName: this.tableName,
                IndexName: 'GSI5',
                KeyConditionExpression: 'GSI5PK = :pk AND GSI5SK BETWEEN :lo AND :hi',
                ExpressionAttributeValues: {
                  ':pk': allLogPk(s),
                  ':lo': `${status}#${lo}`,
                  ':hi': `${status}#${hi}`,
                },
                ProjectionExpression: 'id',
                ExclusiveStartKey: start,
              }),
            );
            for (const i of res.Items ?? []) rows.push({ id: String(i.id), status });
            start = res.LastEvaluatedKey;
            if (rows.length >= cap) {
              capped = capped || start !== undefined;
              break;
            }
          } while (start);
        }),
      ),
    );
    return { rows, capped };
  }

  /** Every delivery about one order, oldest first (at most `limit`). */
  async listForOrder(orderId: string, limit: number): Promise<WebhookDelivery[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI6',
        KeyConditionExpression: 'GSI6PK = :pk',
        ExpressionAttributeValues: { ':pk': orderDeliveriesPk(orderId) },
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map(fromDeliveryItem);
  }

  private async page(
    q: Omit<LogQuery, 'tenant'>,
    tenant: string | undefined,
  ): Promise<{ items: WebhookDelivery[]; cursor?: string }> {
    const statuses = q.statuses ?? (q.status ? [q.status] : undefined);
    const residual: Array<(d: WebhookDelivery) => boolean> = [];
    let sources: MergeSource[];
    if (q.endpointId !== undefined) {
      sources = (statuses ?? deliveryStatusSchema.options).flatMap((st) =>
        logShards.map((s) => ({
          index: 'GSI2' as const,
          pk: endpointLogPk(q.endpointId!, s),
          prefix: `${st}#`,
        })),
      );
      if (tenant !== undefined) residual.push((d) => d.endpointTenant === tenant);
      if (q.type) residual.push((d) => d.eventType === q.type);
    } else if (tenant !== undefined && statuses) {
      sources = statuses.flatMap((st) =>
        logShards.map((s) => ({ index: 'GSI3' as const, pk: tenantLogPk(tenant, s), prefix: `${st}#` })),
      );
      if (q.type) residual.push((d) => d.eventType === q.type);
    } else if (tenant !== undefined && q.type) {
      sources = logShards.map((s) => ({ index: 'GSI4' as const, pk: typeLogPk(tenant, q.type!, s) }));
    } else if (tenant !== undefined) {
      sources = logShards.map((s) => ({ index: 'GSI1' as const, pk: tenantLogPk(tenant, s) }));
    } else {
      sources = (statuses ?? deliveryStatusSchema.options).flatMap((st) =>
        logShards.map((s) => ({ index: 'GSI5' as const, pk: allLogPk(s), prefix: `${st}#` })),
      );
      if (q.type) residual.push((d) => d.eventType === q.type);
    }
    const page = await mergedQuery({
      doc: this.doc,
      tableName: this.tableName,
      sources,
      descending: !q.oldestFirst,
      limit: q.limit,
      ...(q.since ? { from: `msg_${encodeTime(q.since.getTime(), 10)}` } : {}),
      parse: fromDeliveryItem,
      ...(residual.length ? { filter: (d: WebhookDelivery) => residual.every((r) => r(d)) } : {}),
      filterKey: JSON.stringify([
        tenant ?? null,
        q.endpointId ?? null,
        statuses ?? null,
        q.type ?? null,
        ...(q.oldestFirst ? ['oldest-first'] : []),
      ]),
      ...(q.cursor ? { cursor: q.cursor } : {}),
    });
    return { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }
}
