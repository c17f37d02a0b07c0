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
import { CursorError, isConditionFailed } from '../client.ts';
import { key, shardOf } from '../keys.ts';

/**
 * Webhook deliveries: one item per (event, endpoint), whose id is the `webhook-id` header (stable
 * across retries and replays). Its attempts are kept on the item (the log); the state machine is
 * `pending → succeeded | failed | cancelled`, and a replay moves a finished delivery back to pending.
 *
 *   PK `WHDL#<id>` SK `WHDL`
 *     GSI1PK `WHDL#T#<tenant>#<shard>`     GSI1SK `<id>`   the tenant's log
 *     GSI2PK `WHDL#E#<endpointId>#<shard>` GSI2SK `<id>`   the endpoint's log
 *   PK `WHDUE#<shard>` SK `<dueAt ISO>#<id>`                a wake-up ("due") item
 *
 * Logs are sharded (a busy endpoint writes more than one partition key takes) and read by merging
 * every shard. Due items make every wait durable beyond SQS's 15-minute delay: one is written
 * BEFORE the delivery moves to a new due time and deleted only after, so a crash at any line leaves
 * a due item that the sweeper turns back into a queue message.
 */
export const LOG_SHARDS = 4;
export const DUE_SHARDS = 4;

export const deliveryStatusSchema = z.enum(['pending', 'succeeded', 'failed', 'cancelled']);
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
export const dueKeyFor = (dueAt: Date, id: string) => `${dueAt.toISOString()}#${id}`;
const duePk = (id: string) => key('WHDUE', shardOf(id, DUE_SHARDS));
const deliveryIdOfDueKey = (dueKey: string) => dueKey.slice(dueKey.indexOf('#') + 1);

export function toDeliveryItem(d: WebhookDelivery): Record<string, unknown> {
  const shard = shardOf(d.id, LOG_SHARDS);
  return {
    ...deliveryKey(d.id),
    entity: 'webhook-delivery',
    GSI1PK: tenantLogPk(d.endpointTenant, shard),
    GSI1SK: d.id,
    GSI2PK: endpointLogPk(d.endpointId, shard),
    GSI2SK: d.id,
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
  tenant: string;
  endpointId?: string;
  status?: DeliveryStatus;
  /** Statuses to match (replay of failed and cancelled); overrides `status`. */
  statuses?: DeliveryStatus[];
  type?: string;
  /** Only deliveries whose id (event time) is at or after this time. */
  since?: Date;
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
   * the tenant). Every shard is queried and merged; the cursor keeps each shard's position.
   * Only items at or after the furthest shard frontier are returned, so the merge never skips an
   * item a shard has not read yet.
   */
  async list(q: LogQuery): Promise<{ items: WebhookDelivery[]; cursor?: string }> {
    const positions = decodeLogCursor(q.cursor);
    const byEndpoint = q.endpointId !== undefined;
    const index = byEndpoint ? 'GSI2' : 'GSI1';
    const filters: string[] = ['#tenant = :tenant'];
    const names: Record<string, string> = { '#tenant': 'endpointTenant' };
    const values: Record<string, unknown> = { ':tenant': q.tenant };
    const statuses = q.statuses ?? (q.status ? [q.status] : undefined);
    if (statuses) {
      names['#status'] = 'status';
      filters.push(
        `#status IN (${statuses
          .map((s, i) => {
            values[`:st${i}`] = s;
            return `:st${i}`;
          })
          .join(', ')})`,
      );
    }
    if (q.type) {
      names['#type'] = 'eventType';
      values[':type'] = q.type;
      filters.push('#type = :type');
    }
    const lowest = q.since ? `msg_${encodeTime(q.since.getTime(), 10)}` : undefined;
    const shards = await Promise.all(
      Array.from({ length: LOG_SHARDS }, async (_, shard) => {
        const pos = positions[shard];
        if (pos === null) return { shard, items: [] as WebhookDelivery[], frontier: null };
        const pk = byEndpoint ? endpointLogPk(q.endpointId!, shard) : tenantLogPk(q.tenant, shard);
        const pkName = byEndpoint ? 'GSI2PK' : 'GSI1PK';
        const skName = byEndpoint ? 'GSI2SK' : 'GSI1SK';
        const res = await this.doc.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: index,
            KeyConditionExpression: `${pkName} = :pk${lowest ? ` AND ${skName} >= :lowest` : ''}`,
            FilterExpression: filters.join(' AND '),
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ...values, ':pk': pk, ...(lowest ? { ':lowest': lowest } : {}) },
            ScanIndexForward: false,
            Limit: q.limit,
            ExclusiveStartKey: pos ? { ...deliveryKey(pos), [pkName]: pk, [skName]: pos } : undefined,
          }),
        );
        const last = res.LastEvaluatedKey?.[skName];
        return {
          shard,
          items: (res.Items ?? []).map(fromDeliveryItem),
          frontier: typeof last === 'string' ? last : null,
        };
      }),
    );
    // Newest first; an unread item of shard s is older than its frontier, so only items at or
    // above the highest frontier are certainly in order.
    const bound = shards.reduce<string | null>(
      (max, s) => (s.frontier !== null && (max === null || s.frontier > max) ? s.frontier : max),
      null,
    );
    const merged = shards
      .flatMap((s) => s.items.map((item) => ({ shard: s.shard, item })))
      .filter(({ item }) => bound === null || item.id >= bound)
      .sort((a, b) => (a.item.id < b.item.id ? 1 : -1))
      .slice(0, q.limit);
    const next: Array<string | null | undefined> = shards.map((s) => {
      const consumed = merged.filter((m) => m.shard === s.shard);
      if (consumed.length === s.items.length) return s.frontier; // everything read was returned
      return consumed.length ? consumed[consumed.length - 1]!.item.id : positions[s.shard];
    });
    const more = next.some((p) => p !== null);
    return { items: merged.map((m) => m.item), cursor: more ? encodeLogCursor(next) : undefined };
  }
}

/** Cursor: each shard's last position (`undefined`: from the start, `null`: exhausted). */
function encodeLogCursor(positions: Array<string | null | undefined>): string {
  return Buffer.from(JSON.stringify({ v: 1, p: positions.map((p) => (p === undefined ? '' : p)) })).toString(
    'base64url',
  );
}

function decodeLogCursor(cursor: string | undefined): Array<string | null | undefined> {
  if (!cursor) return Array.from({ length: LOG_SHARDS }, () => undefined);
  try {
    const parsed = z
      .object({
        v: z.literal(1),
        p: z
          .array(
            z
              .string()
              .regex(/^(msg_[0-9A-Z]{26})?$/)
              .nullable(),
          )
          .length(LOG_SHARDS),
      })
      .parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return parsed.p.map((p) => (p === '' ? undefined : p));
  } catch {
    throw new CursorError();
  }
}
