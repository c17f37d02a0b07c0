import { type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { key } from '../keys.ts';
import { mergedQuery } from '../merged-query.ts';

/**
 * The audit trail of the operations API: who called what, when, with what outcome. One item per
 * call in the day's partition (operators make a few calls a second at most):
 *   PK `OPSAUDIT#<yyyy-mm-dd>`  SK `<at>#<id>`   GSI1PK = PK, GSI1SK = SK (read through the merge)
 * A state-changing call is written BEFORE it acts (`outcome: started`) and completed after, so even
 * a crash mid-action leaves its record. Kept `AUDIT_RETENTION_DAYS`.
 */
export const AUDIT_RETENTION_DAYS = 400;

export const auditEntrySchema = z.object({
  id: z.string(),
  at: z.string(),
  /** Operator username, or the client id of a script. */
  actor: z.string(),
  actorType: z.enum(['operator', 'client']),
  /** Route key, e.g. `POST /v1/ops/orders/{orderId}/clear`. */
  action: z.string(),
  /** Path parameters (ids acted on) and query (filters). */
  target: z.record(z.string(), z.string()).default({}),
  /** The raw query string of a read (filters), at most 500 characters. */
  query: z.string().optional(),
  /** Operator's stated reason, when the action takes one. */
  reason: z.string().optional(),
  outcome: z.enum(['started', 'succeeded', 'refused', 'failed']),
  status: z.number().int().optional(),
  correlationId: z.string(),
  expiresAt: z.number().int(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;

const dayPk = (at: string) => key('OPSAUDIT', at.slice(0, 10));
const auditKey = (e: Pick<AuditEntry, 'at' | 'id'>) => ({ PK: dayPk(e.at), SK: `${e.at}#${e.id}` });

export class OpsAuditLog {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(entry: AuditEntry): Promise<void> {
    const k = auditKey(entry);
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...k, GSI1PK: k.PK, GSI1SK: k.SK, entity: 'ops-audit', ...auditEntrySchema.parse(entry) },
      }),
    );
  }

  /** Completes a record written before its action. */
  async complete(entry: Pick<AuditEntry, 'at' | 'id'>, outcome: AuditEntry['outcome'], status: number) {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: auditKey(entry),
        UpdateExpression: 'SET outcome = :o, #status = :s',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':o': outcome, ':s': status },
      }),
    );
  }

  /** Newest first over the last `days` days (one partition a day, merged). */
  async list(options: { now: Date; days: number; limit: number; cursor?: string }) {
    const days = Array.from({ length: options.days }, (_, i) =>
      new Date(options.now.getTime() - i * 86_400_000).toISOString(),
    );
    const page = await mergedQuery({
      doc: this.doc,
      tableName: this.tableName,
      sources: days.map((d) => ({ index: 'GSI1' as const, pk: dayPk(d) })),
      descending: true,
      limit: options.limit,
      parse: (item) => auditEntrySchema.parse(item),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    return { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }
}
