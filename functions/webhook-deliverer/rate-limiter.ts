import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { coalescer } from '../../shared/db/batching.ts';
import { isConditionFailed } from '../../shared/db/client.ts';
import { key } from '../../shared/db/keys.ts';

/** Per-endpoint send rate: one counter item per endpoint and second, shared by every deliverer. */
export interface RateLimiter {
  /** Takes one slot of `endpointId`'s current second; false when `perSecond` are taken already. */
  tryAcquire(endpointId: string, perSecond: number, now: Date): Promise<boolean>;
}

interface Ask {
  endpointId: string;
  perSecond: number;
  second: number;
}

/**
 * The limiter on the table. Slots asked for the same endpoint and second by concurrent work (the
 * records of one batch) are taken together: one conditional `ADD n :k` (never above the limit);
 * when fewer than `k` are left, the remainder is read and taken, and the other asks are refused.
 */
export function dynamoRateLimiter(doc: DynamoDBDocumentClient, tableName: string): RateLimiter {
  const counterKey = (a: Ask) => ({ PK: key('WHRATE', a.endpointId), SK: String(a.second) });

  /** Takes `k` slots if the second still has them; true when taken. */
  const take = async (a: Ask, k: number): Promise<boolean> => {
    try {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: counterKey(a),
          UpdateExpression: 'ADD n :k SET expiresAt = :exp',
          ConditionExpression: 'attribute_not_exists(n) OR n <= :room',
          ExpressionAttributeValues: { ':k': k, ':room': a.perSecond - k, ':exp': a.second + 120 },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  };

  /** Grants as many of `k` asks as the second has left (a few tries if others race for them). */
  const grant = async (a: Ask, k: number): Promise<number> => {
    if (k <= a.perSecond && (await take(a, k))) return k;
    for (let attempt = 0; attempt < 3; attempt++) {
      const res = await doc.send(
        new GetCommand({ TableName: tableName, Key: counterKey(a), ConsistentRead: true }),
      );
      const left = a.perSecond - Number(res.Item?.n ?? 0);
      if (left <= 0) return 0;
      const want = Math.min(left, k);
      if (await take(a, want)) return want;
    }
    return 0;
  };

  const acquire = coalescer<Ask, boolean>({
    max: 1_000,
    run: async (asks) => {
      const groups = new Map<string, number[]>();
      asks.forEach((a, i) => {
        const id = `${a.endpointId}|${a.second}|${a.perSecond}`;
        groups.set(id, [...(groups.get(id) ?? []), i]);
      });
      const granted = new Array<boolean>(asks.length).fill(false);
      await Promise.all(
        [...groups.values()].map(async (indexes) => {
          const n = await grant(asks[indexes[0]!]!, indexes.length);
          indexes.slice(0, n).forEach((i) => {
            granted[i] = true;
          });
        }),
      );
      return granted;
    },
  });

  return {
    tryAcquire: (endpointId, perSecond, now) =>
      acquire({ endpointId, perSecond, second: Math.floor(now.getTime() / 1000) }),
  };
}
