import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { appDirectResultSchema } from '../../appdirect/answers.ts';
import { key } from '../keys.ts';

/**
 * One AppDirect event, keyed by its marketplace and event id (the last path segment of `eventUrl`):
 * the claim that makes every event exactly-once. It stores the first HTTP answer given to the
 * marketplace (a redelivered notification gets it back unchanged) and, for events resolved
 * asynchronously, the result to post and when it was posted. Every write is one conditional or
 * `if_not_exists` update, so concurrent duplicates agree on the first answer and the first result.
 *
 *   PK `ADEVENT#<marketplaceId>#<eventId>`   SK `EVENT`   (expires 90 days after it was first seen)
 */
export const storedAnswerSchema = z.object({ statusCode: z.number().int(), body: z.unknown() });
export type StoredAnswer = z.infer<typeof storedAnswerSchema>;

export const appDirectEventRecordSchema = z.object({
  marketplaceId: z.string(),
  eventId: z.string(),
  eventUrl: z.string().optional(),
  type: z.string().optional(),
  answer: storedAnswerSchema.optional(),
  result: appDirectResultSchema.optional(),
  resultPostedAt: z.string().optional(),
  /** The marketplace refused the result for good (unknown or already resolved event). */
  resultRefused: z.string().optional(),
  /** When handling first began (an effect may have happened before a crash). */
  startedAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type AppDirectEventRecord = z.infer<typeof appDirectEventRecordSchema>;

const RETENTION_SECONDS = 90 * 86_400;

export const eventKey = (marketplaceId: string, eventId: string) => ({
  PK: key('ADEVENT', marketplaceId, eventId),
  SK: 'EVENT',
});

const INDEX_ATTRIBUTES = new Set(['PK', 'SK', 'entity', 'expiresAt']);

export function fromItem(item: Record<string, unknown>): AppDirectEventRecord {
  return appDirectEventRecordSchema.parse(
    Object.fromEntries(Object.entries(item).filter(([k]) => !INDEX_ATTRIBUTES.has(k))),
  );
}

export class AppDirectEventStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(marketplaceId: string, eventId: string): Promise<AppDirectEventRecord | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: eventKey(marketplaceId, eventId),
        ConsistentRead: true,
      }),
    );
    return res.Item ? fromItem(res.Item) : undefined;
  }

  /** Common SETs of every write: creates the record on first touch, keeps what is there. */
  private base(now: Date, eventUrl: string | undefined) {
    const sets = [
      'marketplaceId = :m',
      'eventId = :e',
      'entity = :entity',
      'createdAt = if_not_exists(createdAt, :now)',
      'updatedAt = :now',
      'expiresAt = if_not_exists(expiresAt, :exp)',
    ];
    if (eventUrl) sets.push('eventUrl = if_not_exists(eventUrl, :url)');
    const values: Record<string, unknown> = {
      ':entity': 'appdirect-event',
      ':now': now.toISOString(),
      ':exp': Math.floor(now.getTime() / 1000) + RETENTION_SECONDS,
      ...(eventUrl ? { ':url': eventUrl } : {}),
    };
    return { sets, values };
  }

  private async update(
    marketplaceId: string,
    eventId: string,
    sets: string[],
    values: Record<string, unknown>,
    names: Record<string, string> = {},
  ): Promise<AppDirectEventRecord> {
    const res = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: eventKey(marketplaceId, eventId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeValues: { ':m': marketplaceId, ':e': eventId, ...values },
        ...(Object.keys(names).length ? { ExpressionAttributeNames: names } : {}),
        ReturnValues: 'ALL_NEW',
      }),
    );
    return fromItem(res.Attributes!);
  }

  /** Stores the answer unless one is stored already; returns the record with the first answer. */
  async recordAnswer(
    input: { marketplaceId: string; eventId: string; eventUrl?: string; type?: string; answer: StoredAnswer },
    now: Date,
  ): Promise<AppDirectEventRecord> {
    const { sets, values } = this.base(now, input.eventUrl);
    sets.push('answer = if_not_exists(answer, :a)');
    if (input.type) sets.push('#type = if_not_exists(#type, :t)');
    return this.update(
      input.marketplaceId,
      input.eventId,
      sets,
      { ...values, ':a': input.answer, ...(input.type ? { ':t': input.type } : {}) },
      input.type ? { '#type': 'type' } : {},
    );
  }

  /** Stores the result to post unless one is stored already; returns the record with the first result. */
  async recordResult(
    input: {
      marketplaceId: string;
      eventId: string;
      eventUrl?: string;
      result: z.infer<typeof appDirectResultSchema>;
    },
    now: Date,
  ): Promise<AppDirectEventRecord> {
    const { sets, values } = this.base(now, input.eventUrl);
    sets.push('#result = if_not_exists(#result, :r)');
    return this.update(
      input.marketplaceId,
      input.eventId,
      sets,
      { ...values, ':r': input.result },
      {
        '#result': 'result',
      },
    );
  }

  /**
   * Notes that handling has begun, before the first effect; true when an earlier attempt had begun
   * already (so "not found" may mean "this event already did it" after a crash).
   */
  async markStarted(marketplaceId: string, eventId: string, now: Date): Promise<boolean> {
    const { sets, values } = this.base(now, undefined);
    sets.push('startedAt = if_not_exists(startedAt, :now)');
    const before = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: eventKey(marketplaceId, eventId),
        UpdateExpression: `SET ${sets.join(', ')}`,
        ExpressionAttributeValues: { ':m': marketplaceId, ':e': eventId, ...values },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    return typeof before.Attributes?.startedAt === 'string';
  }

  /** The marketplace has the result (it accepted it, or it already had one): never post again. */
  async markResultPosted(marketplaceId: string, eventId: string, now: Date): Promise<void> {
    const { sets, values } = this.base(now, undefined);
    sets.push('resultPostedAt = if_not_exists(resultPostedAt, :now)');
    await this.update(marketplaceId, eventId, sets, values);
  }

  /** The marketplace refused the result for good: recorded for operators, not retried. */
  async markResultRefused(marketplaceId: string, eventId: string, reason: string, now: Date): Promise<void> {
    const { sets, values } = this.base(now, undefined);
    sets.push('resultRefused = :why');
    await this.update(marketplaceId, eventId, sets, { ...values, ':why': reason.slice(0, 500) });
  }
}
