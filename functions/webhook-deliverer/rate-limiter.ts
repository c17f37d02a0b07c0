import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { coalescer } from '../../shared/db/batching.ts';
import { isConditionFailed } from '../../shared/db/client.ts';
import { key } from '../../shared/db/keys.ts';

/**
 * Slots one counter item may hand out per second. Every take is a conditional write of about one
 * WCU (a refused one too), and a partition key takes at most 1,000 WCU/s: a fast endpoint's second
 * is split over several items so no key comes near that.
 */
export const SLOTS_PER_SHARD = 250;

/** Counter items of an endpoint's second: 1 up to 250/s, 4 at the 1,000/s maximum. */
export function shardsFor(perSecond: number): number {
  return Math.max(1, Math.ceil(perSecond / SLOTS_PER_SHARD));
}

/** Slots of shard `i` of `n`: the limit split as evenly as possible (the shards sum to it). */
export function shardLimit(perSecond: number, n: number, i: number): number {
  return Math.floor(perSecond / n) + (i < perSecond % n ? 1 : 0);
}

/**
 * Per-endpoint send rate: counter items per endpoint and second, shared by every deliverer. An
 * endpoint's second has `shardsFor(rate)` items, each allowing its share of the limit; a take starts
 * at a random shard and moves to the next while the one it tried is full, so up to the limit is
 * granted per second and never more.
 */
export interface RateLimiter {
  /** Takes one slot of `endpointId`'s current second; false when `perSecond` are taken already. */
  tryAcquire(endpointId: string, perSecond: number, now: Date): Promise<boolean>;
}

interface Ask {
  endpointId: string;
  perSecond: number;
  second: number;
}

/** One counter item: the shard's own limit in `perSecond`. */
interface ShardAsk extends Ask {
  shard: number;
}

/**
 * The limiter on the table. Slots asked for the same endpoint and second by concurrent work (the
 * records of one batch) are taken together: one conditional `ADD n :k` (never above the limit);
 * when fewer than `k` are left, the remainder is read and taken, and the other asks are refused.
 */
export function dynamoRateLimiter(
  doc: DynamoDBDocumentClient,
  tableName: string,
  random: () => number = Math.random,
): RateLimiter {
  // Shard 0 keeps the unsharded key (`<second>`), so a deploy mid-second changes nothing.
  const counterKey = (a: ShardAsk) => ({
    PK: key('WHRATE', a.endpointId),
    SK: a.shard === 0 ? String(a.second) : `${a.second}#${a.shard}`,
  });

  /** Takes `k` slots if the shard's second still has them; true when taken. */
  const take = async (a: ShardAsk, k: number): Promise<boolean> => {
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

  /** Grants as many of `k` asks as the shard's second has left (a few tries if others race for them). */
  const grantShard = async (a: ShardAsk, k: number): Promise<number> => {
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

  /** Grants as many of `k` asks as the endpoint's second has left, shard after shard. */
  const grant = async (a: Ask, k: number): Promise<number> => {
    const n = shardsFor(a.perSecond);
    const start = Math.min(n - 1, Math.floor(random() * n));
    let granted = 0;
    for (let j = 0; j < n && granted < k; j++) {
      const shard = (start + j) % n;
      const perSecond = shardLimit(a.perSecond, n, shard);
      granted += await grantShard({ ...a, shard, perSecond }, k - granted);
    }
    return granted;
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
