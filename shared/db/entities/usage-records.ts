import { createHash } from 'node:crypto';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed } from '../client.ts';
import { key, shardOf } from '../keys.ts';

/**
 * Usage records: one item per accepted record, and that item IS the dedupe record (one conditional
 * put, no marker, no transaction). Its key is derived from the caller's id only, so the same id sent
 * again with any other content is found and answered `CONFLICT`.
 *
 *   PK `USAGE#<tenant>#<id>`  SK `RECORD`
 *   GSI1 `USAGE#<tenant>#<subscription>#<period>#<shard>` / `<charge>#<unit>#<id>`  (summary)
 *   GSI2 `USAGEPERIOD#<period>#<shard>` / `<tenant>#<subscription>#<charge>#<unit>#<id>` (billing run;
 *        shard = hash of tenant#subscription: one billing slice holds whole subscriptions)
 *
 * The base table spreads writes over one partition per record; both indexes are sharded by a hash of
 * the id so a hot subscription (or a busy month) stays under ~1,000 writes/s per index partition, and
 * readers query every shard.
 */
export interface UsageShards {
  /** Shards of one (tenant, subscription, period) on GSI1. */
  group: number;
  /** Shards of one period on GSI2 (all tenants and subscriptions). */
  period: number;
}
export const DEFAULT_USAGE_SHARDS: UsageShards = { group: 8, period: 32 };

export const usageRecordItemSchema = z.object({
  tenant: z.string(),
  id: z.string(),
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  unit: z.string(),
  /** Canonical decimal text (exact; see shared/usage/quantity.ts). */
  quantity: z.string(),
  /** ISO 8601 UTC (normalised). */
  timestamp: z.string(),
  /** `YYYY-MM` of the timestamp (UTC): the billing period. */
  period: z.string(),
  attributes: z.record(z.string(), z.string()).optional(),
  /** SHA-256 of the content; equal hashes = duplicate, different = CONFLICT. */
  contentHash: z.string(),
  acceptedAt: z.string(),
  /** TTL (epoch seconds). */
  expiresAt: z.number(),
});
export type UsageRecordItem = z.infer<typeof usageRecordItemSchema>;

export type NewUsageRecord = Omit<UsageRecordItem, 'contentHash' | 'period'>;

export const usageRecordKey = (tenant: string, id: string) => ({
  PK: key('USAGE', tenant, id),
  SK: 'RECORD',
});
export const usageGroupShardKey = (tenant: string, sub: string, period: string, shard: number) =>
  key('USAGE', tenant, sub, period, shard);
export const usagePeriodShardKey = (period: string, shard: number) => key('USAGEPERIOD', period, shard);
/**
 * The GSI2 shard of a subscription: every record of one (tenant, subscription, period) lands in the
 * same `USAGEPERIOD#<period>#<shard>` partition, so a billing slice (period, shard) holds whole
 * billing groups and a worker can bill their delta without reading any other slice.
 */
export const subscriptionShardOf = (tenant: string, subscriptionNumber: string, shards: number) =>
  shardOf(key(tenant, subscriptionNumber), shards);

/** Hash of what makes two deliveries "the same record" (everything but the acceptance metadata). */
export function usageContentHash(
  r: Pick<
    NewUsageRecord,
    'subscriptionNumber' | 'chargeNumber' | 'unit' | 'quantity' | 'timestamp' | 'attributes'
  >,
): string {
  const attributes = r.attributes
    ? Object.fromEntries(Object.entries(r.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : null;
  return createHash('sha256')
    .update(
      JSON.stringify([r.subscriptionNumber, r.chargeNumber, r.unit, r.quantity, r.timestamp, attributes]),
    )
    .digest('base64url');
}

export const periodOf = (isoTimestamp: string): string => isoTimestamp.slice(0, 7);

/**
 * The stored item of an accepted record. Built from the validated, typed record without another zod
 * pass (the hot path writes thousands a second; `fromUsageItem` parses whatever is read back).
 */
export function toUsageItem(record: NewUsageRecord, shards: UsageShards): Record<string, unknown> {
  const item: UsageRecordItem = {
    tenant: record.tenant,
    id: record.id,
    subscriptionNumber: record.subscriptionNumber,
    chargeNumber: record.chargeNumber,
    unit: record.unit,
    quantity: record.quantity,
    timestamp: record.timestamp,
    period: periodOf(record.timestamp),
    ...(record.attributes ? { attributes: record.attributes } : {}),
    contentHash: usageContentHash(record),
    acceptedAt: record.acceptedAt,
    expiresAt: record.expiresAt,
  };
  return {
    ...usageRecordKey(item.tenant, item.id),
    entity: 'usage-record',
    GSI1PK: usageGroupShardKey(
      item.tenant,
      item.subscriptionNumber,
      item.period,
      shardOf(item.id, shards.group),
    ),
    GSI1SK: key(item.chargeNumber, item.unit, item.id),
    GSI2PK: usagePeriodShardKey(
      item.period,
      subscriptionShardOf(item.tenant, item.subscriptionNumber, shards.period),
    ),
    GSI2SK: key(item.tenant, item.subscriptionNumber, item.chargeNumber, item.unit, item.id),
    ...item,
  };
}

export function fromUsageItem(item: Record<string, unknown>): UsageRecordItem {
  return usageRecordItemSchema.parse(item);
}

export type PutOutcome = 'accepted' | 'duplicate' | 'conflict';

/** Data access for usage records. */
export class UsageRecordStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly shards: UsageShards = DEFAULT_USAGE_SHARDS,
  ) {}

  /**
   * One conditional put. When the id is already taken, the stored item (returned by the failed
   * condition, or read back consistently) decides duplicate vs conflict. An expired item that TTL has
   * not removed yet counts as absent.
   */
  async put(record: NewUsageRecord, nowEpochSeconds: number): Promise<PutOutcome> {
    const item = toUsageItem(record, this.shards);
    const input: PutCommandInput = {
      TableName: this.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
      ExpressionAttributeValues: { ':now': nowEpochSeconds },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    };
    try {
      await this.doc.send(new PutCommand(input));
      return 'accepted';
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      let existing = (error as { Item?: Record<string, unknown> }).Item;
      if (!existing || typeof existing.contentHash !== 'string') {
        const read = await this.doc.send(
          new GetCommand({
            TableName: this.tableName,
            Key: usageRecordKey(record.tenant, record.id),
            ConsistentRead: true,
          }),
        );
        existing = read.Item;
      }
      const existingHash = (existing as { contentHash?: unknown } | undefined)?.contentHash;
      if (existingHash === undefined) {
        throw new Error('usage record write lost its condition but no record is stored');
      }
      return existingHash === item.contentHash ? 'duplicate' : 'conflict';
    }
  }

  /** Every live record of one tenant's subscription in one period (all GSI1 shards). */
  async listGroup(
    tenant: string,
    subscriptionNumber: string,
    period: string,
    nowEpochSeconds: number,
  ): Promise<UsageRecordItem[]> {
    const out: UsageRecordItem[] = [];
    await Promise.all(
      Array.from({ length: this.shards.group }, async (_, shard) => {
        for await (const item of this.query(
          'GSI1',
          'GSI1PK',
          usageGroupShardKey(tenant, subscriptionNumber, period, shard),
        )) {
          const r = fromUsageItem(item);
          if (r.expiresAt >= nowEpochSeconds) out.push(r);
        }
      }),
    );
    return out;
  }

  /** Streams every live record of one period, shard by shard (GSI2), for the billing run. */
  async *listPeriodShard(
    period: string,
    shard: number,
    nowEpochSeconds: number,
  ): AsyncGenerator<UsageRecordItem> {
    for await (const item of this.query('GSI2', 'GSI2PK', usagePeriodShardKey(period, shard))) {
      const r = fromUsageItem(item);
      if (r.expiresAt >= nowEpochSeconds) yield r;
    }
  }

  get periodShards(): number {
    return this.shards.period;
  }

  private async *query(index: string, attr: string, value: string): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index,
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': attr },
          ExpressionAttributeValues: { ':v': value },
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) yield item;
      start = page.LastEvaluatedKey;
    } while (start);
  }
}
