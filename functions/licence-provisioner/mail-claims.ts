import { randomUUID } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { isConditionFailed } from '../../shared/db/client.ts';

/**
 * One licence e-mail copy (`buyer` | `partner`) of one order, claimed before SES is called:
 *
 *   PK `LICENCE-MAIL#<orderId>#<copy>`   SK `CLAIM`   { token, leaseUntil, holder, wallLeaseUntil,
 *                                                        messageId?, sentAt?, attempts }
 *
 * Not indexed. An attempt takes the claim with a conditional put (no claim yet, or an expired lease
 * without a message id), sends, then records SES's MessageId. A copy with a message id is never sent
 * again. A claim without one whose lease has not expired belongs to an attempt still running (or one
 * that died): the caller retries later. After the lease expires the copy is sent again and the claim
 * counts the attempt — the one case (a crash after SES accepted, before the record) that can send a
 * copy twice: SES has no idempotency key.
 *
 * The lease is judged on the hub clock. The claim also names its holder (this process: one Lambda
 * execution environment, or the whole local suite) and the lease's end on the machine clock: the
 * holder's own process takes the claim over only once that has passed too. In AWS both clocks are the
 * same and nothing changes; locally the hub clock can jump (`POST /_local/clock`) while the attempt
 * that holds the claim is still sending, and without this a redelivery or a reconciler re-drive
 * would send the copy a second time. A restarted suite is another process: it needs the hub clock only.
 */
export type MailCopy = 'buyer' | 'partner';

export type ClaimResult =
  | { kind: 'claimed'; token: string; attempt: number }
  | { kind: 'sent'; messageId: string }
  | { kind: 'held'; leaseUntil: string };

export interface MailClaimStore {
  claim(orderId: string, copy: MailCopy, now: Date, leaseMs: number): Promise<ClaimResult>;
  recordSent(orderId: string, copy: MailCopy, token: string, messageId: string, now: Date): Promise<void>;
  release(orderId: string, copy: MailCopy, token: string): Promise<void>;
}

const claimKey = (orderId: string, copy: MailCopy) => ({
  PK: `LICENCE-MAIL#${orderId}#${copy}`,
  SK: 'CLAIM',
});

const PROCESS_ID = Symbol.for('switchboard.processInstanceId');
/** One id per process (kept on `globalThis`, so modules reloaded by `npm run dev` share it). */
const thisProcess = (): string => {
  const g = globalThis as { [PROCESS_ID]?: string };
  g[PROCESS_ID] ??= randomUUID();
  return g[PROCESS_ID];
};

export class MailClaims implements MailClaimStore {
  private readonly holder: string;
  private readonly wallClock: () => number;

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    /** Tests stand in for another process (`holder`) or the machine clock. */
    options: { holder?: string; wallClock?: () => number } = {},
  ) {
    this.holder = options.holder ?? thisProcess();
    this.wallClock = options.wallClock ?? Date.now;
  }

  async claim(orderId: string, copy: MailCopy, now: Date, leaseMs: number): Promise<ClaimResult> {
    const key = claimKey(orderId, copy);
    const current = (
      await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))
    ).Item as { messageId?: string; leaseUntil?: string; attempts?: number } | undefined;
    if (current?.messageId) return { kind: 'sent', messageId: current.messageId };
    const token = randomUUID();
    const attempt = (current?.attempts ?? 0) + 1;
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            entity: 'LicenceMailClaim',
            orderId,
            copy,
            token,
            attempts: attempt,
            claimedAt: now.toISOString(),
            leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
            holder: this.holder,
            wallLeaseUntil: this.wallClock() + leaseMs,
          },
          ConditionExpression:
            'attribute_not_exists(PK) OR (attribute_not_exists(messageId) AND leaseUntil < :now AND ' +
            '(attribute_not_exists(holder) OR holder <> :me OR wallLeaseUntil < :wall))',
          ExpressionAttributeValues: {
            ':now': now.toISOString(),
            ':me': this.holder,
            ':wall': this.wallClock(),
          },
        }),
      );
      return { kind: 'claimed', token, attempt };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
      const again = (
        await this.doc.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }))
      ).Item as { messageId?: string; leaseUntil?: string } | undefined;
      if (again?.messageId) return { kind: 'sent', messageId: again.messageId };
      return { kind: 'held', leaseUntil: again?.leaseUntil ?? now.toISOString() };
    }
  }

  async recordSent(
    orderId: string,
    copy: MailCopy,
    token: string,
    messageId: string,
    now: Date,
  ): Promise<void> {
    // Unconditional on the token: even if our lease lapsed meanwhile, this copy WAS sent.
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: claimKey(orderId, copy),
        UpdateExpression:
          'SET messageId = if_not_exists(messageId, :m), sentAt = if_not_exists(sentAt, :now), sentBy = :t',
        ExpressionAttributeValues: { ':m': messageId, ':now': now.toISOString(), ':t': token },
      }),
    );
  }

  /** SES answered with an error (nothing sent): give the claim back so the retry need not wait. */
  async release(orderId: string, copy: MailCopy, token: string): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: claimKey(orderId, copy),
          ConditionExpression: '#t = :t AND attribute_not_exists(messageId)',
          ExpressionAttributeNames: { '#t': 'token' },
          ExpressionAttributeValues: { ':t': token },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }
}
