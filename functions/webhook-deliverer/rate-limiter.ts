import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { isConditionFailed } from '../../shared/db/client.ts';
import { key } from '../../shared/db/keys.ts';

/** Per-endpoint send rate: one counter item per endpoint and second, shared by every deliverer. */
export interface RateLimiter {
  /** Takes one slot of `endpointId`'s current second; false when `perSecond` are taken already. */
  tryAcquire(endpointId: string, perSecond: number, now: Date): Promise<boolean>;
}

export function dynamoRateLimiter(doc: DynamoDBDocumentClient, tableName: string): RateLimiter {
  return {
    async tryAcquire(endpointId, perSecond, now) {
      const second = Math.floor(now.getTime() / 1000);
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { PK: key('WHRATE', endpointId), SK: String(second) },
            UpdateExpression: 'ADD n :one SET expiresAt = :exp',
            ConditionExpression: 'attribute_not_exists(n) OR n < :limit',
            ExpressionAttributeValues: { ':one': 1, ':limit': perSecond, ':exp': second + 120 },
          }),
        );
        return true;
      } catch (error) {
        if (isConditionFailed(error)) return false;
        throw error;
      }
    },
  };
}
