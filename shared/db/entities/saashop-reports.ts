import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed, queryCollection } from '../client.ts';
import { key } from '../keys.ts';

/**
 * Status reports posted back to SaaShop: one item per (subject, status), claimed BEFORE the post, so
 * a redelivered or duplicated bus event reports once. The subject is the hub order (`ord_…`) or,
 * for a marketplace event that never became an order, `EVENT#<eventId>`.
 *
 *   PK `SAASHOP#REPORT#<subject>`  SK `STATUS#<statusCode>`
 *
 * States: SENDING (leased to one notifier; its `eventId` is the id SaaShop receives, reused if the
 * post is retried after a crash) → SENT, or FAILED when SaaShop refused it for good (4xx).
 */
export const reportStateSchema = z.enum(['SENDING', 'SENT', 'FAILED']);

export const saashopReportSchema = z.object({
  subject: z.string(),
  statusCode: z.string(),
  /** The marketplace event id we post (a UUID fixed at the claim). */
  eventId: z.string(),
  state: reportStateSchema,
  leaseUntil: z.string(),
  attempts: z.number().int(),
  saashopOrderId: z.string().optional(),
  sentAt: z.string().optional(),
  reason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SaashopReport = z.infer<typeof saashopReportSchema>;

export const reportKey = (subject: string, statusCode: string) => ({
  PK: key('SAASHOP', 'REPORT', subject),
  SK: key('STATUS', statusCode),
});

export function toItem(report: SaashopReport): Record<string, unknown> {
  return { ...reportKey(report.subject, report.statusCode), entity: 'saashop-report', ...report };
}

export function fromItem(item: Record<string, unknown>): SaashopReport {
  const { PK: _pk, SK: _sk, entity: _e, ...rest } = item;
  return saashopReportSchema.parse(rest);
}

export type ReportClaim =
  | { kind: 'claimed'; report: SaashopReport }
  /** Already sent (or refused for good): nothing to post. */
  | { kind: 'done'; report: SaashopReport }
  /** Another notifier holds a live lease: retry later. */
  | { kind: 'busy'; report: SaashopReport };

export class SaashopReportRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(subject: string, statusCode: string): Promise<SaashopReport | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: reportKey(subject, statusCode),
        ConsistentRead: true,
      }),
    );
    return res.Item ? fromItem(res.Item) : undefined;
  }

  /** Every report of a subject (an order's Started, Completed or Failed). */
  async listFor(subject: string): Promise<SaashopReport[]> {
    const items = await queryCollection(this.doc, this.tableName, key('SAASHOP', 'REPORT', subject));
    return items.map(fromItem);
  }

  /**
   * Claims the report for this notifier: a new item (conditional put), or a SENDING one whose lease
   * ran out (its notifier crashed mid-post; the same event id is posted again).
   */
  async claim(
    input: { subject: string; statusCode: string; saashopOrderId?: string },
    now: Date,
    leaseMs: number,
  ): Promise<ReportClaim> {
    const at = now.toISOString();
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
    const fresh: SaashopReport = {
      subject: input.subject,
      statusCode: input.statusCode,
      eventId: randomUUID(),
      state: 'SENDING',
      leaseUntil,
      attempts: 1,
      ...(input.saashopOrderId ? { saashopOrderId: input.saashopOrderId } : {}),
      createdAt: at,
      updatedAt: at,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(fresh),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return { kind: 'claimed', report: fresh };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const existing = await this.get(input.subject, input.statusCode);
    if (!existing) throw new Error(`report ${input.subject}/${input.statusCode} vanished after its claim`);
    if (existing.state !== 'SENDING') return { kind: 'done', report: existing };
    if (existing.leaseUntil > at) return { kind: 'busy', report: existing };
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: reportKey(input.subject, input.statusCode),
          UpdateExpression: 'SET leaseUntil = :lease, updatedAt = :at, attempts = attempts + :one',
          ConditionExpression: '#state = :sending AND leaseUntil = :seen',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':lease': leaseUntil,
            ':at': at,
            ':one': 1,
            ':sending': 'SENDING',
            ':seen': existing.leaseUntil,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { kind: 'claimed', report: fromItem(res.Attributes!) };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      return { kind: 'busy', report: existing };
    }
  }

  /** SENDING → SENT or FAILED (refused for good, with the reason). */
  async finish(
    report: SaashopReport,
    outcome: { state: 'SENT' } | { state: 'FAILED'; reason: string },
    now: Date,
  ): Promise<boolean> {
    const at = now.toISOString();
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: reportKey(report.subject, report.statusCode),
          UpdateExpression:
            outcome.state === 'SENT'
              ? 'SET #state = :s, sentAt = :at, updatedAt = :at'
              : 'SET #state = :s, reason = :reason, updatedAt = :at',
          ConditionExpression: '#state = :sending',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: {
            ':s': outcome.state,
            ':at': at,
            ':sending': 'SENDING',
            ...(outcome.state === 'FAILED' ? { ':reason': outcome.reason.slice(0, 500) } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}
