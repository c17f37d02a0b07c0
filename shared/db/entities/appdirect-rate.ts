import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../clock.ts';
import { TransientError } from '../../errors.ts';
import { isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';

/**
 * AppDirect's rate limit on a marketplace: a leaky bucket of 20 requests leaking 4 per second. Every
 * outbound call of every function instance takes a slot from one shared bucket per marketplace, kept
 * as a GCRA "theoretical arrival time" on one table item and advanced with a conditional write, so
 * the limit holds across concurrent Lambdas without a lock. A caller that would overflow the bucket
 * waits for its slot (up to `maxWaitMs`, then a TransientError: its queue retries later).
 *
 *   PK `ADRATE#<marketplaceId>`   SK `GCRA`   `tat` (epoch ms)
 */
export interface RateLimit {
  /** Bucket size (requests that may go at once). */
  burst: number;
  /** Leak rate (requests per second, sustained). */
  perSecond: number;
}

export const APPDIRECT_RATE_LIMIT: RateLimit = { burst: 20, perSecond: 4 };

export interface MarketplaceRateLimiter {
  /** Resolves when one request to `marketplaceId` may be sent. */
  acquire(marketplaceId: string): Promise<void>;
}

export class DynamoRateLimiter implements MarketplaceRateLimiter {
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clock: Clock,
    private readonly limit: RateLimit = APPDIRECT_RATE_LIMIT,
    private readonly options: { maxWaitMs?: number; sleep?: (ms: number) => Promise<void> } = {},
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async acquire(marketplaceId: string): Promise<void> {
    const interval = 1000 / this.limit.perSecond;
    const tolerance = (this.limit.burst - 1) * interval;
    const maxWait = this.options.maxWaitMs ?? 10_000;
    const k = { PK: key('ADRATE', marketplaceId), SK: 'GCRA' };
    let waited = 0;
    for (let attempt = 0; attempt < 200; attempt++) {
      const now = this.clock.now().getTime();
      const res = await this.doc.send(
        new GetCommand({ TableName: this.tableName, Key: k, ConsistentRead: true }),
      );
      const seen = typeof res.Item?.tat === 'number' ? res.Item.tat : undefined;
      const start = Math.max(seen ?? 0, now);
      if (start - now > tolerance) {
        const wait = Math.ceil(start - now - tolerance);
        if (waited + wait > maxWait) {
          throw new TransientError(`AppDirect rate limit: marketplace ${marketplaceId} is busy`, {
            retryAfterMs: wait,
          });
        }
        await this.sleep(wait);
        waited += wait;
        continue;
      }
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: k,
            UpdateExpression: 'SET tat = :tat, expiresAt = :exp, entity = :e',
            ConditionExpression: seen === undefined ? 'attribute_not_exists(tat)' : 'tat = :seen',
            ExpressionAttributeValues: {
              ':tat': start + interval,
              ':exp': Math.floor((start + interval) / 1000) + 3600,
              ':e': 'appdirect-rate',
              ...(seen === undefined ? {} : { ':seen': seen }),
            },
          }),
        );
        return;
      } catch (error) {
        // Another caller took this slot first: look again.
        if (!isConditionFailed(error)) throw error;
      }
    }
    throw new TransientError(`AppDirect rate limit: too much contention on marketplace ${marketplaceId}`);
  }
}
