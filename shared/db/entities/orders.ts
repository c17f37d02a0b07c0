import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import {
  type OrderStatus,
  orderChannelSchema,
  orderRequestSchema,
  orderStatusSchema,
  TERMINAL_STATUSES,
} from '../../orders/contract.ts';
import { CursorError, decodeCursor, encodeCursor, isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';

/**
 * The order aggregate. One item per order; every status change is one conditional update (the
 * condition names the states it may leave), so concurrent or redelivered workers cannot move an
 * order twice, and no transaction is needed.
 *
 * Items:
 *   PK `ORDER#<orderId>`                       SK `ORDER`   the order
 *     GSI1PK `TENANT#<tenant>#ORDERS`          GSI1SK `<orderId>`           (tenant listing, newest last)
 *     GSI2PK `ORDER-STAGE#<status>`            GSI2SK `<activityAt>#<orderId>` (reconciler; sparse:
 *                                              removed once a terminal order's event is published)
 *   PK `ORDER-CLAIM#<tenant>#<kind>#<value>`   SK `CLAIM`   idempotency claims (kind `key` | `channel`)
 */
const storedStatusSchema = orderStatusSchema;

export const historyEntrySchema = z.object({
  at: z.string(),
  status: storedStatusSchema,
  reason: z.string().optional(),
});

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
  error: z.object({ stage: z.string(), reason: z.string() }).optional(),
  firstResponse: firstResponseSchema.optional(),
  /** The event that moves the order on from its current status; the reconciler re-publishes it. */
  lastEvent: storedEventSchema.optional(),
  redrives: z.number().int().default(0),
  /** Zuora Idempotency-Keys used so far for this order's `POST /v1/orders` (see provision-billing). */
  zuoraKeys: z.number().int().min(0).default(0),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Order = z.infer<typeof orderSchema>;

export const orderKey = (orderId: string) => ({ PK: key('ORDER', orderId), SK: 'ORDER' });
export const tenantOrdersPk = (tenant: string) => key('TENANT', tenant, 'ORDERS');
export const stagePk = (status: OrderStatus) => key('ORDER-STAGE', status);
export const stageSk = (activityAt: string, orderId: string) => `${activityAt}#${orderId}`;
export const claimKey = (tenant: string, kind: 'key' | 'channel', value: string) => ({
  PK: `ORDER-CLAIM#${tenant}#${kind}#${value}`,
  SK: 'CLAIM',
});

const INDEX_ATTRIBUTES = new Set(['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', 'entity']);

export function toItem(order: Order): Record<string, unknown> {
  return {
    ...orderKey(order.orderId),
    entity: 'order',
    GSI1PK: tenantOrdersPk(order.tenant),
    GSI1SK: order.orderId,
    GSI2PK: stagePk(order.status),
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
      ':g2pk': stagePk(t.to),
      ':g2sk': stageSk(t.now.toISOString(), orderId),
      ':ev': t.event,
    };
    const sets = [
      '#status = :to',
      '#history = list_append(#history, :h)',
      'updatedAt = :now',
      'GSI2PK = :g2pk',
      'GSI2SK = :g2sk',
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

  /** Orders of a tenant, oldest first, optionally of one status; opaque cursor. */
  async listByTenant(
    tenant: string,
    options: { status?: OrderStatus; cursor?: string; limit: number },
  ): Promise<{ orders: Order[]; cursor: string | undefined }> {
    const pk = tenantOrdersPk(tenant);
    const start = decodeCursor(options.cursor);
    // A cursor is caller input: only a GSI1 key of this tenant's partition may reach DynamoDB (a
    // forged or foreign one is a 400, not a ValidationException answered as a 500).
    if (
      start &&
      (start.GSI1PK !== pk ||
        Object.keys(start).length !== 4 ||
        !['GSI1SK', 'PK', 'SK'].every((k) => typeof start[k] === 'string'))
    ) {
      throw new CursorError();
    }
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ...(options.status
          ? {
              FilterExpression: '#status = :s',
              ExpressionAttributeNames: { '#status': 'status' },
            }
          : {}),
        ExpressionAttributeValues: {
          ':pk': pk,
          ...(options.status ? { ':s': options.status } : {}),
        },
        Limit: options.limit,
        ExclusiveStartKey: start,
      }),
    );
    return { orders: (res.Items ?? []).map(fromItem), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /** Orders whose stage entry is older than `before` (the reconciler's query; no scan). */
  async listStaleInStage(
    status: OrderStatus,
    before: Date,
    limit: number,
  ): Promise<Array<{ order: Order; stageSk: string }>> {
    const out: Array<{ order: Order; stageSk: string }> = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk AND GSI2SK < :before',
          ExpressionAttributeValues: { ':pk': stagePk(status), ':before': before.toISOString() },
          Limit: limit - out.length,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) out.push({ order: fromItem(item), stageSk: String(item.GSI2SK) });
      start = res.LastEvaluatedKey;
    } while (start && out.length < limit);
    return out;
  }
}
