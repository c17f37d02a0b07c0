import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailed } from './client.ts';
import { fromItem as orderFromItem, orderIndexKeys, orderKey, stagePk } from './entities/orders.ts';
import { deliveryIndexKeys, deliveryKey, fromDeliveryItem } from './entities/webhook-deliveries.ts';

/**
 * Index layout migrations. Version 2 (operations console) keys orders by status, channel and search
 * text, shards the reconciler's stage partitions, and keys webhook deliveries by status and type.
 * Items written before it lack those keys: `backfillIndexes` rewrites them once per table (locally
 * at start; in AWS with `npm run operators -- backfill-indexes --table <name>` after the stateful
 * stack has the indexes). It scans the table, which is why it is a one-off migration and never a
 * request path; it is safe to run again and alongside live traffic (each rewrite is conditional on
 * the status it read, and retried on a race).
 */
export const INDEX_LAYOUT_VERSION = 2;
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
}

/** Rewrites the index keys of every order and delivery, then records the layout version. */
export async function backfillIndexes(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
): Promise<BackfillReport> {
  const report: BackfillReport = { orders: 0, deliveries: 0 };
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'entity IN (:order, :delivery)',
        ExpressionAttributeValues: { ':order': 'order', ':delivery': 'webhook-delivery' },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) {
      if (item.entity === 'order') {
        await rewrite(doc, tableName, item, (fresh) => {
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
        });
        report.orders++;
      } else {
        await rewrite(doc, tableName, item, (fresh) => {
          const d = fromDeliveryItem(fresh);
          return { key: deliveryKey(d.id), status: d.status, keys: deliveryIndexKeys(d) };
        });
        report.deliveries++;
      }
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
  plan: (item: Record<string, unknown>) => {
    key: Record<string, string>;
    status: string;
    keys: Record<string, string>;
  },
): Promise<void> {
  let item: Record<string, unknown> | undefined = first;
  for (let attempt = 0; item && attempt < 10; attempt++) {
    const { key, status, keys } = plan(item);
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ':status': status };
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
          ConditionExpression: '#status = :status',
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
