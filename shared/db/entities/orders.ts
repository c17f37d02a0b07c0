import { createHash } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { encodeTime } from 'ulid';
import * as z from 'zod';
import {
  type OrderChannel,
  type OrderStatus,
  orderChannelSchema,
  orderRequestSchema,
  orderStatusSchema,
  TERMINAL_STATUSES,
} from '../../orders/contract.ts';
import { isConditionFailed } from '../client.ts';
import { key, shardOf } from '../keys.ts';
import { type MergeSource, mergedQuery } from '../merged-query.ts';

/**
 * The order aggregate. One item per order; every status change is one conditional update (the
 * condition names the states it may leave), so concurrent or redelivered workers cannot move an
 * order twice, and no transaction is needed.
 *
 * Items (`<s>` = the order's shard, 0..ORDER_SHARDS-1, from its id):
 *   PK `ORDER#<orderId>`                       SK `ORDER`   the order
 *     GSI1PK `TENANT#<tenant>#ORDERS#<s>`      GSI1SK `<status>#<orderId>`   a tenant's orders by status
 *     GSI2PK `ORDER-STAGE#<status>#<s>`        GSI2SK `<activityAt>#<orderId>` (reconciler; sparse:
 *                                              removed once a terminal order's event is published)
 *     GSI3PK `ORDERS#<channel>#<s>`            GSI3SK `<status>#<orderId>`   every order by status
 *     GSI4PK `ORDERS#<channel>#<s>`            GSI4SK `<orderId>`            every order by time
 *     GSI5PK `ORDERS#CID#<s>`                  GSI5SK `<channel order id, lower case>#<orderId>`
 *     GSI6PK `ORDERS#CO#<s>`                   GSI6SK `<company, normalised>#<orderId>`
 *   PK `ORDER-CLAIM#<tenant>#<kind>#<value>`   SK `CLAIM`   idempotency claims (kind `key` | `channel`)
 *
 * Order ids are ULIDs of the hub clock, so an order key sorts by creation time and a date range is a
 * key range. Status lives in SORT keys, so a transition rewrites keys it can compute from the id and
 * the new status alone. The global partitions are write-sharded (product.md §5: ~1,000 writes/s per
 * key) and read by merging every shard (`shared/db/merged-query.ts`).
 */
const storedStatusSchema = orderStatusSchema;

/**
 * The event a transition records gets the transition's identity (a stable `eventId` and its
 * `occurredAt`), so every publication of it — the first, and the reconciler's after a crash between
 * the write and the publish — is the same event to the webhook fan-out (one delivery per endpoint).
 */
function withTransitionIdentity(event: StoredEvent, orderId: string, to: string, now: Date): StoredEvent {
  if (typeof event.detail.eventId === 'string') return event;
  const at = now.toISOString();
  const eventId = `evt_${createHash('sha256').update(`${orderId}\n${to}\n${at}`).digest('hex').slice(0, 26)}`;
  return { ...event, detail: { ...event.detail, eventId, occurredAt: at } };
}

export const historyEntrySchema = z.object({
  at: z.string(),
  status: storedStatusSchema,
  reason: z.string().optional(),
});

export type HistoryEntry = z.infer<typeof historyEntrySchema>;

export const screeningRecordSchema = z.object({
  outcome: z.enum(['clear', 'review', 'blocked']),
  provider: z.string(),
  screenedAt: z.string(),
  listVersion: z.string().optional(),
  evidence: z.array(
    z.object({
      list: z.string(),
      entryId: z.string(),
      entryName: z.string(),
      matchedName: z.string(),
      score: z.number(),
      countries: z.array(z.string()),
      reason: z.string(),
    }),
  ),
});

export const billingRecordSchema = z.object({
  accountNumber: z.string(),
  subscriptionNumber: z.string(),
  orderNumber: z.string().optional(),
  chargeNumbers: z.array(z.string()).default([]),
  provisionedAt: z.string(),
});
export const crmRecordSchema = z.object({
  contactId: z.string(),
  opportunityId: z.string(),
  quoteId: z.string(),
  syncedAt: z.string(),
});
export const licenceRecordSchema = z.object({
  licenceId: z.string(),
  key: z.string(),
  keyId: z.string(),
  issuedAt: z.string(),
  expiresAt: z.string(),
});

export const storedEventSchema = z.object({
  type: z.string(),
  detail: z.record(z.string(), z.unknown()).and(z.object({ tenant: z.string() })),
});
export type StoredEvent = z.infer<typeof storedEventSchema>;

export const firstResponseSchema = z.object({ statusCode: z.number().int(), body: z.unknown() });
export type FirstResponse = z.infer<typeof firstResponseSchema>;

export const orderSchema = z.object({
  orderId: z.string(),
  tenant: z.string(),
  /** Orders stored before channels existed came through the API. */
  channel: orderChannelSchema.default('api'),
  /**
   * The marketplace's own references (e.g. SaaShop order and event ids, AppDirect event id and
   * marketplace base URL), kept for status reports back to the channel and for operators.
   */
  channelRef: z.record(z.string(), z.string()).optional(),
  ...orderRequestSchema.shape,
  // Stored orders were valid when accepted; re-validating against today's catalogue would strand them.
  lines: z.array(
    z.object({
      productCode: z.string(),
      quantity: z.number(),
      unit: z.string(),
      unitPrice: z.number().optional(),
      termMonths: z.number().optional(),
    }),
  ),
  currency: z.string(),
  sellTo: z.object({
    company: z.string(),
    contact: z.object({
      firstName: z.string(),
      lastName: z.string(),
      email: z.string(),
      phone: z.string().optional(),
    }),
    address: z.object({
      line1: z.string(),
      line2: z.string().optional(),
      city: z.string(),
      region: z.string().optional(),
      postalCode: z.string().optional(),
      country: z.string(),
    }),
  }),
  requestHash: z.string(),
  status: storedStatusSchema,
  history: z.array(historyEntrySchema),
  screening: screeningRecordSchema.optional(),
  billing: billingRecordSchema.optional(),
  crm: crmRecordSchema.optional(),
  licence: licenceRecordSchema.optional(),
  /** The buyer's copy went out (so a retry after the partner's copy failed does not re-send it). */
  licenceBuyerMailedAt: z.string().optional(),
  licenceEmailedAt: z.string().optional(),
  /**
   * Why the order failed: `code` (stable) and `reason` (a fixed sentence) are what channels see;
   * `detail` (the partner's text, redacted) is for operators only. Orders failed before codes existed
   * carry `reason` only.
   */
  error: z
    .object({
      stage: z.string(),
      reason: z.string(),
      code: z.string().optional(),
      partnerCode: z.string().optional(),
      detail: z.string().optional(),
    })
    .optional(),
  firstResponse: firstResponseSchema.optional(),
  /**
   * Licence seats assigned by the marketplace (AppDirect USER_ASSIGNMENT), by marketplace user id;
   * written by the AppDirect connector with the seat limit as a condition on this item.
   */
  seats: z.record(z.string(), z.object({ assignedAt: z.string(), eventId: z.string() })).optional(),
  /** The event that moves the order on from its current status; the reconciler re-publishes it. */
  lastEvent: storedEventSchema.optional(),
  redrives: z.number().int().default(0),
  /** Zuora Idempotency-Keys used so far for this order's `POST /v1/orders` (see provision-billing). */
  zuoraKeys: z.number().int().min(0).default(0),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Order = z.infer<typeof orderSchema>;

/** Shards of every global order partition (status, channel, search, reconciler stage). */
export const ORDER_SHARDS = 4;
const shard = (orderId: string) => shardOf(orderId, ORDER_SHARDS);
const shards = Array.from({ length: ORDER_SHARDS }, (_, i) => i);
const CHANNELS = orderChannelSchema.options;

export const orderKey = (orderId: string) => ({ PK: key('ORDER', orderId), SK: 'ORDER' });
/** A tenant's orders, write-sharded like the global partitions: one distributor's burst is not one hot key. */
export const tenantOrdersPk = (tenant: string, s: number) => key('TENANT', tenant, 'ORDERS', s);
export const stagePk = (status: OrderStatus, orderId: string) => key('ORDER-STAGE', status, shard(orderId));
export const stageSk = (activityAt: string, orderId: string) => `${activityAt}#${orderId}`;
const statusSk = (status: OrderStatus, orderId: string) => `${status}#${orderId}`;
const channelPk = (channel: OrderChannel, s: number) => key('ORDERS', channel, s);
const cidPk = (s: number) => key('ORDERS', 'CID', s);
const companyPk = (s: number) => key('ORDERS', 'CO', s);

/** Search form of a channel order id: lower case (ids are already `[a-z0-9._:/-]`). */
export const searchableId = (text: string) => text.trim().toLowerCase().slice(0, 100);
/** Search form of a company name: no accents, lower case, words of `[a-z0-9]` separated by one space. */
export function searchableName(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
    .slice(0, 100);
}

/** The index keys of an order in its current status (every GSI but the reconciler's). */
export function orderIndexKeys(
  order: Pick<Order, 'orderId' | 'tenant' | 'channel' | 'status' | 'channelOrderId' | 'sellTo'>,
) {
  const s = shard(order.orderId);
  return {
    GSI1PK: tenantOrdersPk(order.tenant, s),
    GSI1SK: statusSk(order.status, order.orderId),
    GSI3PK: channelPk(order.channel, s),
    GSI3SK: statusSk(order.status, order.orderId),
    GSI4PK: channelPk(order.channel, s),
    GSI4SK: order.orderId,
    GSI5PK: cidPk(s),
    GSI5SK: `${searchableId(order.channelOrderId)}#${order.orderId}`,
    GSI6PK: companyPk(s),
    GSI6SK: `${searchableName(order.sellTo.company)}#${order.orderId}`,
  };
}

/** Inclusive order-key bounds of the orders created in [from, to] (ULIDs of the hub clock). */
export function orderIdRange(from: Date | undefined, to: Date | undefined) {
  const at = (d: Date) => encodeTime(Math.max(0, Math.min(d.getTime(), 281474976710655)), 10);
  return {
    ...(from ? { from: `ord_${at(from)}0000000000000000` } : {}),
    ...(to ? { to: `ord_${at(to)}ZZZZZZZZZZZZZZZZ` } : {}),
  };
}

/** Filters of the operations order list; see `OrderRepository.listAll`. */
export interface OrderListFilter {
  status?: OrderStatus;
  channel?: OrderChannel;
  tenant?: string;
  from?: Date;
  to?: Date;
  /** Prefix of the channel order id or of the company name (case and accents ignored). */
  q?: string;
  /** Newest first unless `oldestFirst` (the review queue). */
  oldestFirst?: boolean;
  limit: number;
  cursor?: string;
}
export const claimKey = (tenant: string, kind: 'key' | 'channel', value: string) => ({
  PK: `ORDER-CLAIM#${tenant}#${kind}#${value}`,
  SK: 'CLAIM',
});

const INDEX_ATTRIBUTES = new Set([
  'PK',
  'SK',
  'entity',
  ...['GSI1', 'GSI2', 'GSI3', 'GSI4', 'GSI5', 'GSI6'].flatMap((g) => [`${g}PK`, `${g}SK`]),
]);

export function toItem(order: Order): Record<string, unknown> {
  return {
    ...orderKey(order.orderId),
    entity: 'order',
    ...orderIndexKeys(order),
    GSI2PK: stagePk(order.status, order.orderId),
    GSI2SK: stageSk(order.updatedAt, order.orderId),
    ...order,
  };
}

/** Parses a stored item (never casts): a malformed item is a bug worth failing loudly on. */
export function fromItem(item: Record<string, unknown>): Order {
  const plain = Object.fromEntries(Object.entries(item).filter(([k]) => !INDEX_ATTRIBUTES.has(k)));
  return orderSchema.parse(plain);
}

export interface Claim {
  orderId: string;
  requestHash: string;
}

export interface TransitionInput {
  from: readonly OrderStatus[];
  to: OrderStatus;
  reason?: string;
  /** Top-level attributes to set with the status (e.g. `billing`, `screening`, `error`). */
  set?: Record<string, unknown>;
  /** Attributes that must exist for the transition (e.g. every fulfilment step). */
  requireAttributes?: string[];
  /** The event that announces the new status (published by the caller, re-published by the reconciler). */
  event: StoredEvent;
  /** Sets `firstResponse` only if the order has none yet (the intake answer is written once). */
  firstResponse?: FirstResponse;
  now: Date;
}

/** The order table operations every order function uses (narrow enough to fake, real on dynalite). */
export class OrderRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(orderId: string): Promise<Order | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: orderKey(orderId), ConsistentRead: true }),
    );
    return res.Item ? fromItem(res.Item) : undefined;
  }

  /** Creates the order; false if it already exists (a concurrent or earlier attempt created it). */
  async create(order: Order): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(order),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Claims an idempotency value for an order. Returns undefined when this call made the claim, else
   * the existing claim (whose order id the caller must answer with).
   */
  async claim(
    tenant: string,
    kind: 'key' | 'channel',
    value: string,
    claim: Claim,
    now: Date,
  ): Promise<Claim | undefined> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...claimKey(tenant, kind, value),
            entity: 'order-claim',
            ...claim,
            createdAt: now.toISOString(),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return undefined;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: claimKey(tenant, kind, value), ConsistentRead: true }),
    );
    return z.object({ orderId: z.string(), requestHash: z.string() }).parse(res.Item);
  }

  /** Points a claim this request made at another order (a retry under a new key) or drops it. */
  async setClaim(tenant: string, kind: 'key' | 'channel', value: string, claim: Claim | undefined) {
    if (!claim) {
      await this.doc.send(
        new DeleteCommand({ TableName: this.tableName, Key: claimKey(tenant, kind, value) }),
      );
      return;
    }
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...claimKey(tenant, kind, value), entity: 'order-claim', ...claim },
      }),
    );
  }

  /**
   * Moves the order from one of `from` to `to`, appending to its history; undefined when the order is
   * not in one of those states (another worker moved it first, or it never existed).
   */
  async transition(orderId: string, t: TransitionInput): Promise<Order | undefined> {
    const names: Record<string, string> = { '#status': 'status', '#history': 'history' };
    const values: Record<string, unknown> = {
      ':to': t.to,
      ':h': [{ at: t.now.toISOString(), status: t.to, ...(t.reason ? { reason: t.reason } : {}) }],
      ':now': t.now.toISOString(),
      ':g2pk': stagePk(t.to, orderId),
      ':g2sk': stageSk(t.now.toISOString(), orderId),
      ':ssk': statusSk(t.to, orderId),
      ':ev': withTransitionIdentity(t.event, orderId, t.to, t.now),
    };
    const sets = [
      '#status = :to',
      '#history = list_append(#history, :h)',
      'updatedAt = :now',
      'GSI2PK = :g2pk',
      'GSI2SK = :g2sk',
      // The status-keyed index entries follow the status (their partitions never change).
      'GSI1SK = :ssk',
      'GSI3SK = :ssk',
      'lastEvent = :ev',
    ];
    for (const [i, [field, value]] of Object.entries(t.set ?? {}).entries()) {
      names[`#s${i}`] = field;
      values[`:s${i}`] = value;
      sets.push(`#s${i} = :s${i}`);
    }
    if (t.firstResponse) {
      values[':fr'] = t.firstResponse;
      sets.push('firstResponse = if_not_exists(firstResponse, :fr)');
    }
    const fromList = t.from.map((_, i) => `:f${i}`);
    t.from.forEach((s, i) => {
      values[`:f${i}`] = s;
    });
    const conditions = [`#status IN (${fromList.join(', ')})`];
    for (const [i, attr] of (t.requireAttributes ?? []).entries()) {
      names[`#r${i}`] = attr;
      conditions.push(`attribute_exists(#r${i})`);
    }
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(res.Attributes!);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /**
   * Claims the next Zuora Idempotency-Key of an ACCEPTED order: `zuoraKeys` goes from `seen` to
   * `seen + 1` only if no other delivery moved it meanwhile, so at most one fresh Zuora call is ever
   * in flight per key. False when the claim was lost (or the order left ACCEPTED).
   */
  async claimZuoraKey(orderId: string, seen: number, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET zuoraKeys = :next, updatedAt = :now',
          ConditionExpression:
            '#status = :accepted AND (zuoraKeys = :seen OR (attribute_not_exists(zuoraKeys) AND :seen = :zero))',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':next': seen + 1,
            ':seen': seen,
            ':zero': 0,
            ':accepted': 'ACCEPTED',
            ':now': now.toISOString(),
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
   * Records a fulfilment step (`crm`, `licence`, `licenceEmailedAt`) once, while the order is in one
   * of `whileIn`. Returns the order after the write, or undefined when the step was already recorded
   * or the order left those states (the caller re-reads to decide).
   */
  async recordStep(
    orderId: string,
    field: string,
    value: unknown,
    whileIn: readonly OrderStatus[],
    now: Date,
  ): Promise<Order | undefined> {
    const values: Record<string, unknown> = { ':v': value, ':now': now.toISOString() };
    whileIn.forEach((s, i) => {
      values[`:w${i}`] = s;
    });
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET #f = :v, updatedAt = :now',
          ConditionExpression: `attribute_not_exists(#f) AND #status IN (${whileIn.map((_, i) => `:w${i}`).join(', ')})`,
          ExpressionAttributeNames: { '#f': field, '#status': 'status' },
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(res.Attributes!);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /**
   * Once a terminal order's event is published nothing is left to re-drive: drop it from the
   * reconciler's index. Conditional on the stage entry being the one the caller saw.
   */
  async settle(order: Order): Promise<void> {
    if (!TERMINAL_STATUSES.has(order.status)) return;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(order.orderId),
          UpdateExpression: 'REMOVE GSI2PK, GSI2SK',
          ConditionExpression: '#status = :s',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':s': order.status },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  /** Moves a re-driven order's stage entry to `now` (once per stage entry: concurrent reconcilers). */
  async touchStage(orderId: string, status: OrderStatus, seenSk: string, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: orderKey(orderId),
          UpdateExpression: 'SET GSI2SK = :sk ADD redrives :one',
          ConditionExpression: '#status = :s AND GSI2SK = :seen',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':sk': stageSk(now.toISOString(), orderId),
            ':one': 1,
            ':s': status,
            ':seen': seenSk,
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
   * Orders of a tenant, oldest first, optionally of one status: a key prefix on every shard of the
   * tenant's partition (never a filter), merged in id order, so pages are full and in order; opaque
   * cursor bound to the tenant and the filter.
   */
  async listByTenant(
    tenant: string,
    options: { status?: OrderStatus; cursor?: string; limit: number },
  ): Promise<{ orders: Order[]; cursor: string | undefined }> {
    const page = await mergedQuery({
      doc: this.doc,
      tableName: this.tableName,
      sources: (options.status ? [options.status] : orderStatusSchema.options).flatMap((status) =>
        shards.map((s) => ({ index: 'GSI1' as const, pk: tenantOrdersPk(tenant, s), prefix: `${status}#` })),
      ),
      descending: false,
      limit: options.limit,
      parse: fromItem,
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    return { orders: page.items, cursor: page.cursor };
  }

  /**
   * Every order (operations): filtered by status, channel, tenant, creation date and a search prefix,
   * newest first. Each filter is a key of some index: the query picks the index whose keys cover the
   * most filters and merges its partitions; only filters no key covers in that index (channel with a
   * tenant, anything with a search) are checked on the merged items.
   */
  async listAll(f: OrderListFilter): Promise<{ orders: Order[]; cursor?: string; partial?: boolean }> {
    const channels = f.channel ? [f.channel] : CHANNELS;
    let sources: MergeSource[];
    let bounds: { from?: string; to?: string } = orderIdRange(f.from, f.to);
    const residual: Array<(o: Order) => boolean> = [];
    const q = f.q?.trim();
    if (q) {
      const id = searchableId(q);
      const name = searchableName(q);
      // Both search indexes, each over its own prefix range; the merged order is the search text.
      sources = [
        ...shards.map((s) => ({ index: 'GSI5' as const, pk: cidPk(s), from: id, to: `${id}~` })),
        ...(name
          ? shards.map((s) => ({ index: 'GSI6' as const, pk: companyPk(s), from: name, to: `${name}~` }))
          : []),
      ];
      bounds = {};
      const range = orderIdRange(f.from, f.to);
      if (range.from) residual.push((o) => o.orderId >= range.from!);
      if (range.to) residual.push((o) => o.orderId <= range.to!);
      if (f.status) residual.push((o) => o.status === f.status);
      if (f.channel) residual.push((o) => o.channel === f.channel);
      if (f.tenant) residual.push((o) => o.tenant === f.tenant);
    } else if (f.tenant) {
      sources = (f.status ? [f.status] : orderStatusSchema.options).flatMap((status) =>
        shards.map((s) => ({
          index: 'GSI1' as const,
          pk: tenantOrdersPk(f.tenant!, s),
          prefix: `${status}#`,
        })),
      );
      if (f.channel) residual.push((o) => o.channel === f.channel);
    } else if (f.status) {
      sources = channels.flatMap((c) =>
        shards.map((s) => ({ index: 'GSI3' as const, pk: channelPk(c, s), prefix: `${f.status}#` })),
      );
    } else {
      sources = channels.flatMap((c) => shards.map((s) => ({ index: 'GSI4' as const, pk: channelPk(c, s) })));
    }
    const seen = new Set<string>();
    const page = await mergedQuery<{ order: Order; via: string }>({
      doc: this.doc,
      tableName: this.tableName,
      sources,
      descending: !f.oldestFirst,
      limit: f.limit,
      ...bounds,
      parse: (item, source) => ({ order: fromItem(item), via: source.index }),
      filter: ({ order, via }) => {
        if (!residual.every((r) => r(order))) return false;
        // An order whose id and name both match is reported once, by the id index.
        if (via === 'GSI6' && q && searchableId(order.channelOrderId).startsWith(searchableId(q)))
          return false;
        if (seen.has(order.orderId)) return false;
        seen.add(order.orderId);
        return true;
      },
      filterKey: JSON.stringify([
        q ?? null,
        f.status ?? null,
        f.channel ?? null,
        f.tenant ?? null,
        f.from ?? null,
        f.to ?? null,
      ]),
      ...(f.cursor ? { cursor: f.cursor } : {}),
    });
    return {
      orders: page.items.map((i) => i.order),
      ...(page.cursor ? { cursor: page.cursor } : {}),
      ...(page.partial ? { partial: true } : {}),
    };
  }

  /**
   * Status and channel of every order created in [from, to] (dashboard), read from the time index
   * with a projection; at most `cap` orders (then `capped`).
   */
  async window(from: Date, to: Date, cap: number) {
    const range = orderIdRange(from, to);
    const rows: Array<{ orderId: string; status: OrderStatus; channel: OrderChannel }> = [];
    let capped = false;
    await Promise.all(
      CHANNELS.flatMap((c) =>
        shards.map(async (s) => {
          let start: Record<string, unknown> | undefined;
          do {
            const res = await this.doc.send(
              new QueryCommand({
                TableName: this.tableName,
                IndexName: 'GSI4',
                KeyConditionExpression: 'GSI4PK = :pk AND GSI4SK BETWEEN :lo AND :hi',
                ExpressionAttributeValues: { ':pk': channelPk(c, s), ':lo': range.from, ':hi': range.to },
                ProjectionExpression: 'orderId, #status, channel',
                ExpressionAttributeNames: { '#status': 'status' },
                ExclusiveStartKey: start,
              }),
            );
            for (const i of res.Items ?? []) {
              rows.push({
                orderId: String(i.orderId),
                status: orderStatusSchema.parse(i.status),
                channel: orderChannelSchema.catch('api').parse(i.channel),
              });
            }
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

  /** How many orders are in a status now (COUNT over the status index, no items returned). */
  async countInStatus(status: OrderStatus): Promise<number> {
    const counts = await Promise.all(
      CHANNELS.flatMap((c) =>
        shards.map(async (s) => {
          let n = 0;
          let start: Record<string, unknown> | undefined;
          do {
            const res = await this.doc.send(
              new QueryCommand({
                TableName: this.tableName,
                IndexName: 'GSI3',
                KeyConditionExpression: 'GSI3PK = :pk AND begins_with(GSI3SK, :p)',
                ExpressionAttributeValues: { ':pk': channelPk(c, s), ':p': `${status}#` },
                Select: 'COUNT',
                ExclusiveStartKey: start,
              }),
            );
            n += res.Count ?? 0;
            start = res.LastEvaluatedKey;
          } while (start);
          return n;
        }),
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /**
   * Orders whose stage entry is older than `before`, oldest first (the reconciler's query; no scan):
   * every shard of the status's stage partition, merged.
   */
  async listStaleInStage(
    status: OrderStatus,
    before: Date,
    limit: number,
  ): Promise<Array<{ order: Order; stageSk: string }>> {
    const perShard = await Promise.all(
      shards.map(async (s) => {
        const out: Array<{ order: Order; stageSk: string }> = [];
        let start: Record<string, unknown> | undefined;
        do {
          const res = await this.doc.send(
            new QueryCommand({
              TableName: this.tableName,
              IndexName: 'GSI2',
              KeyConditionExpression: 'GSI2PK = :pk AND GSI2SK < :before',
              ExpressionAttributeValues: {
                ':pk': key('ORDER-STAGE', status, s),
                ':before': before.toISOString(),
              },
              Limit: limit - out.length,
              ExclusiveStartKey: start,
            }),
          );
          for (const item of res.Items ?? [])
            out.push({ order: fromItem(item), stageSk: String(item.GSI2SK) });
          start = res.LastEvaluatedKey;
        } while (start && out.length < limit);
        return out;
      }),
    );
    return perShard
      .flat()
      .sort((a, b) => (a.stageSk < b.stageSk ? -1 : a.stageSk > b.stageSk ? 1 : 0))
      .slice(0, limit);
  }
}
