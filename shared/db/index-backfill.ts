import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailed } from './client.ts';
import { fromItem as orderFromItem, orderIndexKeys, orderKey, stagePk } from './entities/orders.ts';
import { runIndexKeys, runSchema, submissionIndexKeys, submissionSchema } from './entities/usage-billing.ts';
import {
  DEFAULT_USAGE_SHARDS,
  fromUsageItem,
  subscriptionShardOf,
  usagePeriodShardKey,
} from './entities/usage-records.ts';
import { deliveryIndexKeys, deliveryKey, fromDeliveryItem } from './entities/webhook-deliveries.ts';
import { endpointIndexKeys, fromEndpointItem } from './entities/webhook-endpoints.ts';

/**
 * Index layout migrations. Version 2 (operations console) keys orders by status, channel and search
 * text, shards the reconciler's stage partitions, keys webhook deliveries by status, type and order,
 * lists every webhook endpoint, and lists billing runs and each run's submissions. Version 3 shards
 * each tenant's order partition (GSI1PK `TENANT#<tenant>#ORDERS#<s>`), so an order stored under the
 * single `TENANT#<tenant>#ORDERS` key is rewritten to its shard (the order plan recomputes every key).
 * Version 4 (billing fan-out) moves each usage record's GSI2 key to its subscription's shard
 * (`USAGEPERIOD#<period>#<hash of tenant#subscription>`), so a billing slice holds whole subscriptions;
 * a record still under the old per-record shard would be missed by the worker of its subscription.
 * Version 5 keys each webhook delivery's endpoint log by status (GSI2SK `<status>#<id>`), so an
 * endpoint's pending or skipped deliveries are an index read; a delivery still keyed `<id>` is
 * outside every status of the endpoint's log until it is rewritten.
 * Items written before it lack those keys: `backfillIndexes` rewrites them once per table (locally
 * at start; in AWS with `npm run operators -- backfill-indexes --table <name>` after the stateful
 * stack has the indexes). It scans the table, which is why it is a one-off migration and never a
 * request path; it is safe to run again and alongside live traffic (each rewrite is conditional on
 * the status it read, and retried on a race).
 */
export const INDEX_LAYOUT_VERSION = 5;
const markerKey = { PK: 'META', SK: 'INDEX-LAYOUT' };

/** The layout version a table's items were last backfilled to (1 when never). */
export async function indexLayoutVersion(doc: Pick<DynamoDBDocumentClient, 'send'>, tableName: string) {
  const { Item } = await doc.send(
    new GetCommand({ TableName: tableName, Key: markerKey, ConsistentRead: true }),
  );
  return typeof Item?.version === 'number' ? Item.version : 1;
}

export interface BackfillReport {
  orders: number;
  deliveries: number;
  other: number;
}

type Plan = (item: Record<string, unknown>) => {
  key: Record<string, string>;
  /** The rewrite applies only while the item still has this status (undefined: while it exists). */
  status: string | undefined;
  keys: Record<string, string>;
};

export interface BackfillOptions {
  /** `USAGE_PERIOD_SHARDS` of the deployed usage functions (default 32, as in the manifest). */
  usagePeriodShards?: number;
}
const same = (item: Record<string, unknown>) => ({ PK: String(item.PK), SK: String(item.SK) });

/** Every entity's index keys, recomputed from the item as read. */
const plansFor = (options: BackfillOptions): Record<string, Plan> => ({
  order: (fresh) => {
    const order = orderFromItem(fresh);
    return {
      key: orderKey(order.orderId),
      status: order.status,
      keys: {
        ...orderIndexKeys(order),
        // Only orders still in the reconciler's index move to its sharded partition.
        ...(fresh.GSI2PK !== undefined ? { GSI2PK: stagePk(order.status, order.orderId) } : {}),
      },
    };
  },
  'webhook-delivery': (fresh) => {
    const d = fromDeliveryItem(fresh);
    return { key: deliveryKey(d.id), status: d.status, keys: deliveryIndexKeys(d) };
  },
  'webhook-endpoint': (fresh) => {
    const e = fromEndpointItem(fresh);
    return { key: same(fresh), status: e.status, keys: endpointIndexKeys(e) };
  },
  'usage-billing-run': (fresh) => {
    const r = runSchema.parse(fresh);
    return { key: same(fresh), status: r.status, keys: runIndexKeys(r) };
  },
  'usage-submission': (fresh) => {
    const sub = submissionSchema.parse(fresh);
    return { key: same(fresh), status: sub.status, keys: submissionIndexKeys(sub) };
  },
  'usage-record': (fresh) => {
    // Immutable once accepted: no status to guard, only that it still exists (TTL may delete it).
    const r = fromUsageItem(fresh);
    const shards = options.usagePeriodShards ?? DEFAULT_USAGE_SHARDS.period;
    return {
      key: same(fresh),
      status: undefined,
      keys: {
        GSI2PK: usagePeriodShardKey(r.period, subscriptionShardOf(r.tenant, r.subscriptionNumber, shards)),
      },
    };
  },
});

/** Rewrites the index keys of every entity in `plansFor`, then records the layout version. */
export async function backfillIndexes(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  options: BackfillOptions = {},
): Promise<BackfillReport> {
  const report: BackfillReport = { orders: 0, deliveries: 0, other: 0 };
  const plans = plansFor(options);
  const entities = Object.keys(plans);
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: `entity IN (${entities.map((_, i) => `:e${i}`).join(', ')})`,
        ExpressionAttributeValues: Object.fromEntries(entities.map((e, i) => [`:e${i}`, e])),
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      await rewrite(doc, tableName, item, plans[String(item.entity)]!);
      if (item.entity === 'order') report.orders++;
      else if (item.entity === 'webhook-delivery') report.deliveries++;
      else report.other++;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  await doc.send(
    new PutCommand({
      TableName: tableName,
      Item: { ...markerKey, entity: 'meta', version: INDEX_LAYOUT_VERSION, at: new Date().toISOString() },
    }),
  );
  return report;
}

async function rewrite(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  first: Record<string, unknown>,
  plan: Plan,
): Promise<void> {
  let item: Record<string, unknown> | undefined = first;
  for (let attempt = 0; item && attempt < 10; attempt++) {
    const { key, status, keys } = plan(item);
    const names: Record<string, string> = status === undefined ? {} : { '#status': 'status' };
    const values: Record<string, unknown> = status === undefined ? {} : { ':status': status };
    const sets = Object.entries(keys).map(([k, v], i) => {
      names[`#k${i}`] = k;
      values[`:k${i}`] = v;
      return `#k${i} = :k${i}`;
    });
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: key,
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: status === undefined ? 'attribute_exists(PK)' : '#status = :status',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      // The item moved on (or was deleted) meanwhile: read it again and recompute.
      item = (await doc.send(new GetCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
    }
  }
}
