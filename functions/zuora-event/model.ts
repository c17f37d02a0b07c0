import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed, queryCollection } from '../../shared/db/client.ts';
import type { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { key } from '../../shared/db/keys.ts';
import { zuoraUnitSchema } from '../../shared/events/catalog/zuora.ts';
import { outcomeNames } from './schema.ts';

/**
 * The seed's decoupled "Current" model, one item per entity (no transactions needed):
 *   PK `ZCLIENT#<account>`     SK `CLIENT`               client by Zuora account number
 *   PK `ZCLIENT#<account>`     SK `WORKSPACE#<name>`     workspace of a client
 *   PK `ZSUB#<subscription>`   SK `SUBSCRIPTION`         subscription of a client (and workspace)
 *   PK `ZSUB#<subscription>`   SK `PRODUCT#<charge>`     product by charge number (never the rate plan id)
 * and the idempotency records:
 *   PK `ZEVENT#ITEM#<hash>`    SK `RECEIPT`              claim, write-ahead plan, then the first result
 *   PK `ZEVENT#NOTIF#<id>`     SK `RESPONSE`             first response to a Zuora-Notification-Id
 *
 * Every entity carries `version` (optimistic concurrency) and `lastHash`/`lastName` (the item that
 * last changed it), so re-running a stored plan after a crash overwrites our own write instead of
 * failing on the version it already bumped. An entity written by a one-write plan also carries
 * `lastApplied` (that item's result and events): the write is then its own claim (see
 * `receive-event.ts`), and a redelivery finds the first result on the entity.
 */
const meta = {
  version: z.number().int().nonnegative(),
  lastHash: z.string(),
  lastName: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Result and events of the item that wrote this entity alone (`Applied`; checked by its hash). */
  lastApplied: z.unknown().optional(),
};

export const clientDetailsSchema = z.object({
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  email: z.string().optional(),
  phone: z.string().optional(),
  company: z.string().optional(),
  department: z.string().optional(),
  address1: z.string().optional(),
  address2: z.string().optional(),
  city: z.string().optional(),
  zipCode: z.string().optional(),
  country: z.string().optional(),
});

export const zuoraClientSchema = z.object({
  clientId: z.string(),
  accountNumber: z.string(),
  details: clientDetailsSchema,
  ...meta,
});
export type ZuoraClient = z.infer<typeof zuoraClientSchema>;

export const zuoraWorkspaceSchema = z.object({
  workspaceId: z.string(),
  clientId: z.string(),
  accountNumber: z.string(),
  workspace: z.string(),
  ...meta,
});
export type ZuoraWorkspace = z.infer<typeof zuoraWorkspaceSchema>;

export const zuoraSubscriptionSchema = z.object({
  subscriptionId: z.string(),
  subscriptionNumber: z.string(),
  clientId: z.string(),
  accountNumber: z.string(),
  workspace: z.string(),
  ...meta,
});
export type ZuoraSubscription = z.infer<typeof zuoraSubscriptionSchema>;

export const zuoraProductSchema = z.object({
  productId: z.string(),
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  family: z.string(),
  capacity: z.number(),
  unit: zuoraUnitSchema,
  ...meta,
});
export type ZuoraProduct = z.infer<typeof zuoraProductSchema>;

export const clientKey = (account: string) => ({ PK: key('ZCLIENT', account), SK: 'CLIENT' });
export const workspaceKey = (account: string, workspace: string) => ({
  PK: key('ZCLIENT', account),
  SK: key('WORKSPACE', workspace),
});
export const zSubscriptionKey = (subscription: string) => ({
  PK: key('ZSUB', subscription),
  SK: 'SUBSCRIPTION',
});
export const productKey = (subscription: string, charge: string) => ({
  PK: key('ZSUB', subscription),
  SK: key('PRODUCT', charge),
});
export const receiptKey = (hash: string) => ({ PK: key('ZEVENT', 'ITEM', hash), SK: 'RECEIPT' });
export const notificationKey = (id: string) => ({ PK: key('ZEVENT', 'NOTIF', id), SK: 'RESPONSE' });

/** Entities as stored: key attributes plus an `entity` discriminator. */
export type EntityRecord =
  | { entity: 'zuora-client'; value: ZuoraClient }
  | { entity: 'zuora-workspace'; value: ZuoraWorkspace }
  | { entity: 'zuora-subscription'; value: ZuoraSubscription }
  | { entity: 'zuora-product'; value: ZuoraProduct };

export function toItem(record: EntityRecord): Record<string, unknown> {
  switch (record.entity) {
    case 'zuora-client':
      return { ...clientKey(record.value.accountNumber), entity: record.entity, ...record.value };
    case 'zuora-workspace':
      return {
        ...workspaceKey(record.value.accountNumber, record.value.workspace),
        entity: record.entity,
        ...record.value,
      };
    case 'zuora-subscription':
      return { ...zSubscriptionKey(record.value.subscriptionNumber), entity: record.entity, ...record.value };
    case 'zuora-product':
      return {
        ...productKey(record.value.subscriptionNumber, record.value.chargeNumber),
        entity: record.entity,
        ...record.value,
      };
  }
}

const strip = (item: Record<string, unknown>) => {
  const { PK: _pk, SK: _sk, entity: _e, expiresAt: _x, ...rest } = item;
  return rest;
};

/** Stored items back to entities: parsed, so a malformed item fails loudly instead of spreading. */
export const fromItem = {
  client: (item: Record<string, unknown>): ZuoraClient => zuoraClientSchema.parse(strip(item)),
  workspace: (item: Record<string, unknown>): ZuoraWorkspace => zuoraWorkspaceSchema.parse(strip(item)),
  subscription: (item: Record<string, unknown>): ZuoraSubscription =>
    zuoraSubscriptionSchema.parse(strip(item)),
  product: (item: Record<string, unknown>): ZuoraProduct => zuoraProductSchema.parse(strip(item)),
};

// --- write-ahead plan -------------------------------------------------------------------------
/** One idempotent write of a plan. `expectedVersion: null` creates. */
export const writeOpSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('put'),
    record: z.discriminatedUnion('entity', [
      z.object({ entity: z.literal('zuora-client'), value: zuoraClientSchema }),
      z.object({ entity: z.literal('zuora-workspace'), value: zuoraWorkspaceSchema }),
      z.object({ entity: z.literal('zuora-subscription'), value: zuoraSubscriptionSchema }),
      z.object({ entity: z.literal('zuora-product'), value: zuoraProductSchema }),
    ]),
    expectedVersion: z.number().int().nullable(),
  }),
  z.object({
    kind: z.literal('deleteProduct'),
    subscriptionNumber: z.string(),
    chargeNumber: z.string(),
    expectedVersion: z.number().int(),
  }),
  z.object({
    kind: z.literal('registerSubscription'),
    subscriptionNumber: z.string(),
    accountNumber: z.string(),
  }),
  z.object({
    kind: z.literal('putCharge'),
    subscriptionNumber: z.string(),
    chargeNumber: z.string(),
    unit: z.string(),
  }),
  z.object({ kind: z.literal('removeCharge'), subscriptionNumber: z.string(), chargeNumber: z.string() }),
]);
export type WriteOp = z.infer<typeof writeOpSchema>;

export const itemResultSchema = z.object({
  success: z.boolean(),
  name: z.enum(outcomeNames),
  message: z.string().nullable(),
  changes: z
    .array(z.object({ zcharge: z.string(), name: z.enum(outcomeNames), message: z.string().nullable() }))
    .optional(),
});
export type ItemResult = z.infer<typeof itemResultSchema>;

export const planSchema = z.object({
  result: itemResultSchema,
  ops: z.array(writeOpSchema),
  events: z.array(z.object({ type: z.string(), detail: z.record(z.string(), z.unknown()) })),
});
export type Plan = z.infer<typeof planSchema>;

const receiptSchema = z.object({
  status: z.enum(['pending', 'done']),
  owner: z.string(),
  leaseUntil: z.number(),
  plan: planSchema.optional(),
  result: itemResultSchema.optional(),
});
export type Receipt = z.infer<typeof receiptSchema>;

/** What a one-write plan leaves on its entity: enough to answer and re-announce a redelivery. */
export const appliedSchema = z.object({
  hash: z.string(),
  result: itemResultSchema,
  events: planSchema.shape.events,
});
export type Applied = z.infer<typeof appliedSchema>;

/** The `lastApplied` an entity carries for item `hash`, if this very item wrote it alone. */
export function appliedOn(entity: { lastHash: string; lastApplied?: unknown } | undefined, hash: string) {
  if (entity?.lastHash !== hash || entity.lastApplied === undefined) return undefined;
  const applied = appliedSchema.safeParse(entity.lastApplied);
  return applied.success && applied.data.hash === hash ? applied.data : undefined;
}

/** Entities and receipts read in one round trip before a request's items are planned. */
export interface Prefetched {
  receipts: Map<string, Receipt>;
  /** Raw entity items by `PK|SK` (absent keys are missing). */
  entities: Map<string, Record<string, unknown>>;
}

export const itemKeyId = (k: { PK: string; SK: string }) => `${k.PK}|${k.SK}`;

const notificationSchema = z.object({
  status: z.enum(['pending', 'done']),
  owner: z.string(),
  leaseUntil: z.number(),
  requestHash: z.string(),
  response: z.object({ statusCode: z.number().int(), body: z.unknown() }).optional(),
});
export type NotificationRecord = z.infer<typeof notificationSchema>;

/** A plan's write lost its condition: someone else changed the entity since the plan was made. */
export class WriteConflictError extends Error {
  constructor(what: string) {
    super(`concurrent change of ${what}`);
    this.name = 'WriteConflictError';
  }
}

export type ClaimOutcome<T> = { claimed: true; record: T } | { claimed: false; record: T | undefined };

/** The narrow persistence port of the use case (the DynamoDB adapter below; fakes are possible). */
export interface ZuoraStore {
  getClient(account: string): Promise<ZuoraClient | undefined>;
  getWorkspace(account: string, workspace: string): Promise<ZuoraWorkspace | undefined>;
  getSubscription(
    subscription: string,
  ): Promise<{ subscription: ZuoraSubscription; products: ZuoraProduct[] } | undefined>;
  getReceipt(hash: string): Promise<Receipt | undefined>;
  /**
   * Claims the item for `leaseMs` and records `plan` as its write-ahead plan, unless a plan is
   * already there (an earlier holder crashed: its plan is the one to finish, returned in `record`).
   */
  claimReceipt(
    hash: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
    plan: Plan,
  ): Promise<ClaimOutcome<Receipt>>;
  completeReceipt(hash: string, owner: string, result: ItemResult, expiresAt: number): Promise<void>;
  /** Ends our claim now: `keepPlan` for a retry to finish that plan, `replan` to plan afresh. */
  releaseReceipt(hash: string, owner: string, mode: 'keepPlan' | 'replan'): Promise<void>;
  claimNotification(
    id: string,
    requestHash: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<ClaimOutcome<NotificationRecord>>;
  completeNotification(
    id: string,
    owner: string,
    response: { statusCode: number; body: unknown },
    expiresAt: number,
  ): Promise<void>;
  releaseNotification(id: string, owner: string): Promise<void>;
  /** Runs one write of a plan; `applied` is left on the entity (one-write plans, see `Applied`). */
  execute(op: WriteOp, hash: string, now: Date, applied?: Applied): Promise<void>;
  /** Receipts and entity items, strongly consistent, in as few round trips as the API allows. */
  prefetch(hashes: string[], keys: Array<{ PK: string; SK: string }>): Promise<Prefetched>;
  /** Records first results of items applied without a claim (one-write plans), in batches. */
  recordResults(
    results: Array<{ hash: string; owner: string; result: ItemResult; expiresAt: number }>,
  ): Promise<void>;
}

/** A claim that is never completed (refused on retry, abandoned) still leaves the table in time. */
const claimExpiry = (nowMs: number) => Math.floor(nowMs / 1000) + 90 * 24 * 3600;

/** DynamoDB adapter of `ZuoraStore`; keeps the shared subscription registry in step. */
export class DynamoZuoraStore implements ZuoraStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly registry: SubscriptionRegistry,
    private readonly tenants: string[],
  ) {}

  private async get(k: { PK: string; SK: string }): Promise<Record<string, unknown> | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: k, ConsistentRead: true }),
    );
    return out.Item;
  }

  async getClient(account: string) {
    const item = await this.get(clientKey(account));
    return item ? fromItem.client(item) : undefined;
  }

  async getWorkspace(account: string, workspace: string) {
    const item = await this.get(workspaceKey(account, workspace));
    return item ? fromItem.workspace(item) : undefined;
  }

  async getSubscription(subscription: string) {
    const items = await queryCollection(this.doc, this.tableName, key('ZSUB', subscription));
    const head = items.find((i) => i.SK === 'SUBSCRIPTION');
    if (!head) return undefined;
    return {
      subscription: fromItem.subscription(head),
      products: items.filter((i) => i.entity === 'zuora-product').map(fromItem.product),
    };
  }

  async getReceipt(hash: string) {
    const item = await this.get(receiptKey(hash));
    return item ? receiptSchema.parse(item) : undefined;
  }

  async claimReceipt(
    hash: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
    plan: Plan,
  ): Promise<ClaimOutcome<Receipt>> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: receiptKey(hash),
          UpdateExpression:
            'SET #st = :pending, #owner = :o, leaseUntil = :l, entity = :e, expiresAt = :x, #plan = if_not_exists(#plan, :p)',
          // Free, or pending with an expired lease (its holder crashed or timed out): take it over.
          ConditionExpression: 'attribute_not_exists(PK) OR (#st = :pending AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#st': 'status', '#owner': 'owner', '#plan': 'plan' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':o': owner,
            ':l': nowMs + leaseMs,
            ':now': nowMs,
            ':e': 'zuora-event-receipt',
            ':x': claimExpiry(nowMs),
            ':p': plan,
          },
          // Only a plan left by an earlier holder comes back (the common, fresh claim returns nothing).
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const earlier = out.Attributes?.plan;
      return {
        claimed: true,
        record: {
          status: 'pending',
          owner,
          leaseUntil: nowMs + leaseMs,
          plan: earlier === undefined ? plan : planSchema.parse(earlier),
        },
      };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      return { claimed: false, record: await this.getReceipt(hash) };
    }
  }

  private async ownedUpdate(
    k: { PK: string; SK: string },
    owner: string,
    update: string,
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: k,
          UpdateExpression: update,
          ConditionExpression: '#owner = :me',
          ExpressionAttributeNames: { '#owner': 'owner', ...names },
          ExpressionAttributeValues: { ':me': owner, ...values },
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new WriteConflictError('an idempotency claim (lease lost)');
      throw error;
    }
  }

  async completeReceipt(hash: string, owner: string, result: ItemResult, expiresAt: number) {
    await this.ownedUpdate(
      receiptKey(hash),
      owner,
      'SET #st = :done, #result = :r, expiresAt = :x REMOVE #plan',
      { ':done': 'done', ':r': result, ':x': expiresAt },
      { '#st': 'status', '#result': 'result', '#plan': 'plan' },
    );
  }

  async releaseReceipt(hash: string, owner: string, mode: 'keepPlan' | 'replan') {
    const keepPlan = mode === 'keepPlan';
    // The lease ends now so the next delivery continues at once; without the plan it re-plans.
    await this.ownedUpdate(
      receiptKey(hash),
      owner,
      keepPlan ? 'SET leaseUntil = :zero' : 'SET leaseUntil = :zero REMOVE #plan',
      { ':zero': 0 },
      keepPlan ? {} : { '#plan': 'plan' },
    ).catch((error) => {
      if (!(error instanceof WriteConflictError)) throw error;
    });
  }

  async claimNotification(
    id: string,
    requestHash: string,
    owner: string,
    nowMs: number,
    leaseMs: number,
  ): Promise<ClaimOutcome<NotificationRecord>> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: notificationKey(id),
          UpdateExpression:
            'SET #st = :pending, #owner = :o, leaseUntil = :l, requestHash = :h, entity = :e, expiresAt = :x',
          ConditionExpression: 'attribute_not_exists(PK) OR (#st = :pending AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#st': 'status', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':pending': 'pending',
            ':o': owner,
            ':l': nowMs + leaseMs,
            ':now': nowMs,
            ':h': requestHash,
            ':e': 'zuora-event-notification',
            ':x': claimExpiry(nowMs),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { claimed: true, record: notificationSchema.parse(out.Attributes) };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const item = await this.get(notificationKey(id));
      return { claimed: false, record: item ? notificationSchema.parse(item) : undefined };
    }
  }

  async completeNotification(
    id: string,
    owner: string,
    response: { statusCode: number; body: unknown },
    expiresAt: number,
  ) {
    await this.ownedUpdate(
      notificationKey(id),
      owner,
      'SET #st = :done, #response = :r, expiresAt = :x',
      { ':done': 'done', ':r': response, ':x': expiresAt },
      { '#st': 'status', '#response': 'response' },
    );
  }

  async releaseNotification(id: string, owner: string) {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: notificationKey(id),
          ConditionExpression: '#owner = :me AND #st = :pending',
          ExpressionAttributeNames: { '#owner': 'owner', '#st': 'status' },
          ExpressionAttributeValues: { ':me': owner, ':pending': 'pending' },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async prefetch(hashes: string[], keys: Array<{ PK: string; SK: string }>): Promise<Prefetched> {
    const wanted = new Map<string, { PK: string; SK: string }>();
    for (const h of new Set(hashes)) wanted.set(itemKeyId(receiptKey(h)), receiptKey(h));
    for (const k of keys) wanted.set(itemKeyId(k), k);
    const found = new Map<string, Record<string, unknown>>();
    let pending = [...wanted.values()];
    // BatchGetItem takes 100 keys; unprocessed keys (throttling) are asked again.
    for (let attempt = 0; pending.length > 0; attempt++) {
      const batch = pending.slice(0, 100);
      pending = pending.slice(100);
      const out = await this.doc.send(
        new BatchGetCommand({
          RequestItems: { [this.tableName]: { Keys: batch, ConsistentRead: true } },
        }),
      );
      for (const item of out.Responses?.[this.tableName] ?? []) {
        found.set(itemKeyId(item as { PK: string; SK: string }), item);
      }
      const unprocessed = out.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      if (unprocessed.length) {
        if (attempt > 8) throw new Error('BatchGetItem kept returning unprocessed keys');
        pending.push(...(unprocessed as Array<{ PK: string; SK: string }>));
        await new Promise((r) => setTimeout(r, 20 * 2 ** Math.min(attempt, 5)));
      }
    }
    const receipts = new Map<string, Receipt>();
    for (const h of hashes) {
      const item = found.get(itemKeyId(receiptKey(h)));
      if (item) receipts.set(h, receiptSchema.parse(item));
      found.delete(itemKeyId(receiptKey(h)));
    }
    return { receipts, entities: found };
  }

  async recordResults(
    results: Array<{ hash: string; owner: string; result: ItemResult; expiresAt: number }>,
  ): Promise<void> {
    // Unconditional puts in batches of 25: the entity write already decided the item, and any
    // other delivery of the same hash found that write and reports the same result.
    // One write per hash (an item repeated in a payload is settled twice; DynamoDB refuses a batch
    // naming the same key twice).
    const unique = [...new Map(results.map((r) => [r.hash, r])).values()];
    let pending = unique.map((r) => ({
      PutRequest: {
        Item: {
          ...receiptKey(r.hash),
          entity: 'zuora-event-receipt',
          status: 'done',
          owner: r.owner,
          leaseUntil: 0,
          result: r.result,
          expiresAt: r.expiresAt,
        },
      },
    }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      const batch = pending.slice(0, 25);
      pending = pending.slice(25);
      const out = await this.doc.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: batch } }));
      const unprocessed = out.UnprocessedItems?.[this.tableName] ?? [];
      if (unprocessed.length) {
        if (attempt > 8) throw new Error('BatchWriteItem kept returning unprocessed items');
        pending.push(...(unprocessed as typeof batch));
        await new Promise((r) => setTimeout(r, 20 * 2 ** Math.min(attempt, 5)));
      }
    }
  }

  async execute(op: WriteOp, hash: string, now: Date, applied?: Applied): Promise<void> {
    switch (op.kind) {
      case 'put': {
        const item: Record<string, unknown> = {
          ...toItem(op.record),
          ...(applied ? { lastApplied: applied } : {}),
        };
        try {
          await this.doc.send(
            new PutCommand({
              TableName: this.tableName,
              Item: item,
              // Our own earlier write (same item hash) may be overwritten with the same values.
              ConditionExpression:
                op.expectedVersion === null
                  ? 'attribute_not_exists(PK) OR lastHash = :h'
                  : 'version = :v OR lastHash = :h',
              ExpressionAttributeValues: {
                ':h': hash,
                ...(op.expectedVersion === null ? {} : { ':v': op.expectedVersion }),
              },
            }),
          );
        } catch (error) {
          if (isConditionFailed(error))
            throw new WriteConflictError(`${op.record.entity} ${String(item.PK)}`);
          throw error;
        }
        return;
      }
      case 'deleteProduct':
        try {
          await this.doc.send(
            new DeleteCommand({
              TableName: this.tableName,
              Key: productKey(op.subscriptionNumber, op.chargeNumber),
              ConditionExpression: 'attribute_not_exists(PK) OR version = :v',
              ExpressionAttributeValues: { ':v': op.expectedVersion },
            }),
          );
        } catch (error) {
          if (isConditionFailed(error)) throw new WriteConflictError(`product ${op.chargeNumber}`);
          throw error;
        }
        return;
      case 'registerSubscription':
        await this.registry.register({
          subscriptionNumber: op.subscriptionNumber,
          accountNumber: op.accountNumber,
          tenants: this.tenants,
          source: 'zuora-event',
          now,
        });
        return;
      case 'putCharge':
        await this.registry.putCharge(
          { subscriptionNumber: op.subscriptionNumber, chargeNumber: op.chargeNumber, unit: op.unit },
          now,
        );
        return;
      case 'removeCharge':
        await this.registry.removeCharge(op.subscriptionNumber, op.chargeNumber);
        return;
    }
  }
}
