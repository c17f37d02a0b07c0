import { type DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';

/**
 * Custom events published with an `Idempotency-Key`: the first request's event id and time, so a
 * retried request re-publishes the very same event (and fan-out's deterministic delivery ids turn it
 * into no new delivery), and the same key with another payload is refused.
 *
 *   PK `WHEVT#<tenant>`  SK `KEY#<idempotency key>`   expires after 24 h
 */
export const customEventRecordSchema = z.object({
  tenant: z.string(),
  idempotencyKey: z.string(),
  eventId: z.string(),
  type: z.string(),
  occurredAt: z.string(),
  /** SHA-256 of type and data, to tell a retry from a different request reusing the key. */
  requestHash: z.string(),
  expiresAt: z.number().int(),
});
export type CustomEventRecord = z.infer<typeof customEventRecordSchema>;

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

export const customEventKey = (tenant: string, idempotencyKey: string) => ({
  PK: key('WHEVT', tenant),
  SK: `KEY#${idempotencyKey}`,
});

export class CustomEventRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Records the first use of a key; returns the record that stands (this one, or the earlier one
   * when the key was used before and has not expired).
   */
  async claim(record: CustomEventRecord, nowSeconds: number): Promise<CustomEventRecord> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...customEventKey(record.tenant, record.idempotencyKey),
            entity: 'webhook-custom-event',
            ...customEventRecordSchema.parse(record),
          },
          // An expired record may linger (TTL deletion is lazy; dynalite never deletes): replace it.
          ConditionExpression: 'attribute_not_exists(PK) OR expiresAt < :now',
          ExpressionAttributeValues: { ':now': nowSeconds },
        }),
      );
      return record;
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const res = await this.doc.send(
        new GetCommand({
          TableName: this.tableName,
          Key: customEventKey(record.tenant, record.idempotencyKey),
          ConsistentRead: true,
        }),
      );
      if (!res.Item) throw error;
      return customEventRecordSchema.parse(res.Item);
    }
  }
}
