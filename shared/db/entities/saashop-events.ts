import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { CursorError, decodeCursor, encodeCursor, isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';
import { claimKey, orderKey } from './orders.ts';

/**
 * SaaShop marketplace events the poller has claimed, and the feed cursor.
 *
 *   PK `SAASHOP#EVENT#<eventId>`  SK `EVENT`    one per marketplace event (the claim IS the record)
 *     GSI1PK `SAASHOP#EVENTS#<status>`  GSI1SK `<updatedAt>#<eventId>`  by status, newest first
 *                                                                    (operators list FAILED here)
 *     GSI2PK `SAASHOP#DUE`              GSI2SK `<dueAt>#<eventId>`      sparse: something is still
 *                                       owed — a PENDING event (lease expiry or next attempt), a
 *                                       failure not yet announced on the bus, or a status report to
 *                                       SaaShop not yet confirmed (checked with backoff, then closed)
 *   PK `SAASHOP#FEED`  SK `CURSOR`     the feed offset the next poll reads from
 *
 * Claiming is one conditional put keyed by the event id, so two polls reading the same page, or a
 * poll re-reading a page after a crash, process each event once. Every later step is a conditional
 * update guarded by the status, and the due index makes a crash at any line resumable: whatever is
 * due is picked up by the next poll, with no scan and no transaction.
 */

export const saashopEventStatusSchema = z.enum(['PENDING', 'SUBMITTED', 'FAILED', 'UNSUPPORTED', 'IGNORED']);
export type SaashopEventStatus = z.infer<typeof saashopEventStatusSchema>;

export const saashopEventRecordSchema = z.object({
  eventId: z.string(),
  eventTypeCode: z.string().optional(),
  statusCode: z.string().optional(),
  /** SaaShop's order id, from the event's `orderId` additional property. */
  saashopOrderId: z.string().optional(),
  status: saashopEventStatusSchema,
  /** Processing attempts started (bounded by the poller's `maxAttempts`). */
  attempts: z.number().int(),
  /** While in the due index: when the lease expires or the next attempt is due. */
  dueAt: z.string().optional(),
  /** FAILED / UNSUPPORTED: a code operators filter on, and the reason (also sent to SaaShop). */
  code: z.string().optional(),
  reason: z.string().optional(),
  /** The last temporary error (a retry is due). */
  lastError: z.string().optional(),
  /** The event as SaaShop sent it (JSON text). Holds buyers' data: it stays in the table, never in logs. */
  rawEvent: z.string(),
  /** FAILED: SaaShop's order answer as received (first 32 KB), for operators. */
  rawOrder: z.string().optional(),
  hubOrderId: z.string().optional(),
  /** The order's status when the poller handed it over (ACCEPTED, NEEDS_REVIEW, REJECTED, RECEIVED). */
  hubStatus: z.string().optional(),
  /** When the failure was published for the status report (`saashop.event.failed`). */
  announcedAt: z.string().optional(),
  /** Confirmations of SaaShop's status reports done so far (bounded by the poller). */
  reportChecks: z.number().int().optional(),
  /** When the record left the due index, and why (reports confirmed, or checking given up). */
  closedAt: z.string().optional(),
  closeNote: z.string().optional(),
  feedOffset: z.number().int().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type SaashopEventRecord = z.infer<typeof saashopEventRecordSchema>;

export const RAW_ORDER_LIMIT = 32 * 1024;

export const saashopEventKey = (eventId: string) => ({ PK: key('SAASHOP', 'EVENT', eventId), SK: 'EVENT' });
export const statusPk = (status: SaashopEventStatus) => key('SAASHOP', 'EVENTS', status);
export const statusSk = (updatedAt: string, eventId: string) => `${updatedAt}#${eventId}`;
export const DUE_PK = key('SAASHOP', 'DUE');
export const dueSk = (dueAt: string, eventId: string) => `${dueAt}#${eventId}`;
export const cursorKey = { PK: key('SAASHOP', 'FEED'), SK: 'CURSOR' };

const INDEX_ATTRIBUTES = new Set(['PK', 'SK', 'GSI1PK', 'GSI1SK', 'GSI2PK', 'GSI2SK', 'entity']);

export function toItem(record: SaashopEventRecord): Record<string, unknown> {
  return {
    ...saashopEventKey(record.eventId),
    entity: 'saashop-event',
    GSI1PK: statusPk(record.status),
    GSI1SK: statusSk(record.updatedAt, record.eventId),
    ...(record.dueAt ? { GSI2PK: DUE_PK, GSI2SK: dueSk(record.dueAt, record.eventId) } : {}),
    ...record,
  };
}

/** Parses a stored item (never casts). */
export function fromItem(item: Record<string, unknown>): SaashopEventRecord {
  return saashopEventRecordSchema.parse(
    Object.fromEntries(Object.entries(item).filter(([k]) => !INDEX_ATTRIBUTES.has(k))),
  );
}

export const feedCursorSchema = z.object({
  offset: z.number().int().min(0).default(0),
  lastPollAt: z.string().optional(),
  /** The last poll's failure reading the feed (cleared by a successful poll). */
  lastError: z.string().optional(),
  consecutiveErrors: z.number().int().default(0),
});
export type FeedCursor = z.infer<typeof feedCursorSchema>;

/** Outcome of a failed or unsupported event. */
export interface EventFailure {
  status: 'FAILED' | 'UNSUPPORTED';
  code: string;
  reason: string;
  rawOrder?: string;
}

export class SaashopEventRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async get(eventId: string): Promise<SaashopEventRecord | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: saashopEventKey(eventId), ConsistentRead: true }),
    );
    return res.Item ? fromItem(res.Item) : undefined;
  }

  /**
   * Claims a marketplace event: PENDING, first attempt leased until `now + leaseMs`. Undefined when
   * the event was claimed before (by an overlapping poll, or a poll that crashed after claiming it).
   */
  async claim(
    fields: Pick<
      SaashopEventRecord,
      'eventId' | 'eventTypeCode' | 'statusCode' | 'saashopOrderId' | 'rawEvent' | 'feedOffset'
    >,
    now: Date,
    leaseMs: number,
  ): Promise<SaashopEventRecord | undefined> {
    const at = now.toISOString();
    const record: SaashopEventRecord = {
      ...fields,
      status: 'PENDING',
      attempts: 1,
      dueAt: new Date(now.getTime() + leaseMs).toISOString(),
      createdAt: at,
      updatedAt: at,
    };
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return record;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Records whose due time has passed (oldest first): the poller resumes or announces them. */
  async listDue(now: Date, limit: number): Promise<SaashopEventRecord[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk AND GSI2SK < :now',
        ExpressionAttributeValues: { ':pk': DUE_PK, ':now': now.toISOString() },
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map(fromItem);
  }

  /**
   * Takes a due record for this worker: its due time moves to the end of a new lease, and a PENDING
   * record counts one more attempt. Conditional on the due entry the caller saw, so of two polls
   * resuming the same record only one wins. Undefined when another worker took it first.
   */
  async takeLease(
    record: SaashopEventRecord,
    now: Date,
    leaseMs: number,
  ): Promise<SaashopEventRecord | undefined> {
    if (!record.dueAt) return undefined;
    const dueAt = new Date(now.getTime() + leaseMs).toISOString();
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: saashopEventKey(record.eventId),
          UpdateExpression: 'SET dueAt = :due, GSI2SK = :sk, attempts = attempts + :inc',
          ConditionExpression: 'GSI2SK = :seen AND #status = :status',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':due': dueAt,
            ':sk': dueSk(dueAt, record.eventId),
            ':inc': record.status === 'PENDING' ? 1 : 0,
            ':seen': dueSk(record.dueAt, record.eventId),
            ':status': record.status,
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(res.Attributes!);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** A temporary failure: the next attempt is due at `dueAt` (only if no newer attempt took over). */
  async defer(record: SaashopEventRecord, dueAt: Date, lastError: string, now: Date): Promise<boolean> {
    return this.update(record.eventId, {
      set: {
        dueAt: dueAt.toISOString(),
        GSI2SK: dueSk(dueAt.toISOString(), record.eventId),
        lastError: lastError.slice(0, 500),
        updatedAt: now.toISOString(),
        GSI1SK: statusSk(now.toISOString(), record.eventId),
      },
      condition: '#status = :pending AND attempts = :attempts',
      values: { ':pending': 'PENDING', ':attempts': record.attempts },
    });
  }

  /**
   * Processing is done: the order was handed to the order use case (SUBMITTED; with `checkAt` it
   * stays due until its status reports are confirmed) or the event needs nothing (IGNORED).
   */
  async complete(
    eventId: string,
    outcome: {
      status: 'SUBMITTED' | 'IGNORED';
      hubOrderId?: string;
      hubStatus?: string;
      reason?: string;
      checkAt?: Date;
    },
    now: Date,
  ): Promise<boolean> {
    const at = now.toISOString();
    const checkAt = outcome.checkAt?.toISOString();
    return this.update(eventId, {
      set: {
        status: outcome.status,
        updatedAt: at,
        GSI1PK: statusPk(outcome.status),
        GSI1SK: statusSk(at, eventId),
        ...(outcome.hubOrderId ? { hubOrderId: outcome.hubOrderId } : {}),
        ...(outcome.hubStatus ? { hubStatus: outcome.hubStatus } : {}),
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...(checkAt ? { dueAt: checkAt, GSI2PK: DUE_PK, GSI2SK: dueSk(checkAt, eventId) } : {}),
      },
      remove: checkAt ? ['lastError'] : ['dueAt', 'GSI2PK', 'GSI2SK', 'lastError'],
      condition: '#status = :pending',
      values: { ':pending': 'PENDING' },
    });
  }

  /**
   * FAILED or UNSUPPORTED, with the reason (and the order answer). The record stays in the due index
   * until the failure is announced on the bus, so a crash before the publish still gets it reported.
   */
  async fail(
    eventId: string,
    failure: EventFailure,
    now: Date,
    leaseMs: number,
  ): Promise<SaashopEventRecord | undefined> {
    const at = now.toISOString();
    // Due again only after this worker's lease: it announces the failure itself unless it crashes.
    const due = new Date(now.getTime() + leaseMs).toISOString();
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: saashopEventKey(eventId),
          UpdateExpression:
            'SET #status = :s, code = :code, reason = :reason, updatedAt = :at, dueAt = :due, ' +
            'GSI1PK = :g1pk, GSI1SK = :g1sk, GSI2PK = :g2pk, GSI2SK = :g2sk' +
            (failure.rawOrder !== undefined ? ', rawOrder = :raw' : ''),
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':s': failure.status,
            ':code': failure.code,
            ':reason': failure.reason.slice(0, 1000),
            ':at': at,
            ':g1pk': statusPk(failure.status),
            ':g1sk': statusSk(at, eventId),
            ':g2pk': DUE_PK,
            ':due': due,
            ':g2sk': dueSk(due, eventId),
            ':pending': 'PENDING',
            ...(failure.rawOrder !== undefined ? { ':raw': failure.rawOrder.slice(0, RAW_ORDER_LIMIT) } : {}),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(res.Attributes!);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** The failure is on the bus; its report is confirmed at `checkAt`. */
  async markAnnounced(eventId: string, now: Date, checkAt: Date): Promise<boolean> {
    return this.update(eventId, {
      set: {
        announcedAt: now.toISOString(),
        dueAt: checkAt.toISOString(),
        GSI2SK: dueSk(checkAt.toISOString(), eventId),
      },
      condition: '#status IN (:failed, :unsupported) AND attribute_exists(GSI2PK)',
      values: { ':failed': 'FAILED', ':unsupported': 'UNSUPPORTED' },
    });
  }

  /** The reports are not confirmed yet: look again at `checkAt` (one more check counted). */
  async recheck(record: SaashopEventRecord, checkAt: Date): Promise<boolean> {
    if (!record.dueAt) return false;
    return this.update(record.eventId, {
      set: {
        dueAt: checkAt.toISOString(),
        GSI2SK: dueSk(checkAt.toISOString(), record.eventId),
        reportChecks: (record.reportChecks ?? 0) + 1,
      },
      condition: '#status = :s AND GSI2SK = :seen',
      values: { ':s': record.status, ':seen': dueSk(record.dueAt, record.eventId) },
    });
  }

  /** Nothing is owed any more (or checking was given up): the record leaves the due index. */
  async close(record: SaashopEventRecord, note: string, now: Date): Promise<boolean> {
    if (!record.dueAt) return false;
    return this.update(record.eventId, {
      set: { closedAt: now.toISOString(), closeNote: note },
      remove: ['dueAt', 'GSI2PK', 'GSI2SK'],
      condition: '#status = :s AND GSI2SK = :seen',
      values: { ':s': record.status, ':seen': dueSk(record.dueAt, record.eventId) },
    });
  }

  /**
   * Events in one status, newest first (operators: `FAILED` and `UNSUPPORTED`), from the status
   * index with an opaque cursor. A cursor from another status or not issued here is a 400.
   */
  async listByStatus(
    status: SaashopEventStatus,
    options: { cursor?: string; limit: number },
  ): Promise<{ events: SaashopEventRecord[]; cursor: string | undefined }> {
    const pk = statusPk(status);
    const start = decodeCursor(options.cursor);
    if (
      start &&
      (start.GSI1PK !== pk ||
        Object.keys(start).length !== 4 ||
        !['GSI1SK', 'PK', 'SK'].every((k) => typeof start[k] === 'string'))
    ) {
      throw new CursorError();
    }
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ScanIndexForward: false,
        Limit: options.limit,
        ExclusiveStartKey: start,
      }),
    );
    return { events: (res.Items ?? []).map(fromItem), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /**
   * The hub order a SaaShop order already became (through the order use case's channel claim), with
   * the marketplace event that submitted it and its status; undefined when there is none yet.
   */
  async findHubOrder(
    tenant: string,
    saashopOrderId: string,
  ): Promise<{ orderId: string; saashopEventId?: string; status?: string } | undefined> {
    const claim = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: claimKey(tenant, 'channel', saashopOrderId),
        ConsistentRead: true,
      }),
    );
    const orderId = claim.Item?.orderId;
    if (typeof orderId !== 'string') return undefined;
    const order = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: orderKey(orderId),
        ConsistentRead: true,
        ProjectionExpression: 'channelRef, #status',
        ExpressionAttributeNames: { '#status': 'status' },
      }),
    );
    const eventId = (order.Item?.channelRef as Record<string, unknown> | undefined)?.saashopEventId;
    const status = order.Item?.status;
    return {
      orderId,
      ...(typeof eventId === 'string' ? { saashopEventId: eventId } : {}),
      ...(typeof status === 'string' ? { status } : {}),
    };
  }

  async getCursor(): Promise<FeedCursor> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: cursorKey, ConsistentRead: true }),
    );
    const { PK: _pk, SK: _sk, entity: _e, ...rest } = res.Item ?? {};
    return feedCursorSchema.parse(rest);
  }

  /** Moves the cursor forward only (an overlapping poll that read less never moves it back). */
  async advanceCursor(offset: number, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: cursorKey,
          UpdateExpression: 'SET #o = :o, entity = :e, updatedAt = :now',
          ConditionExpression: 'attribute_not_exists(#o) OR #o < :o',
          ExpressionAttributeNames: { '#o': 'offset' },
          ExpressionAttributeValues: { ':o': offset, ':e': 'saashop-cursor', ':now': now.toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Notes the poll on the cursor item: when, and whether reading the feed failed (for operators). */
  async recordPoll(now: Date, error: string | undefined): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: cursorKey,
        UpdateExpression: error
          ? 'SET lastPollAt = :now, lastError = :err, entity = :e ADD consecutiveErrors :one'
          : 'SET lastPollAt = :now, consecutiveErrors = :zero, entity = :e REMOVE lastError',
        ExpressionAttributeValues: {
          ':now': now.toISOString(),
          ':e': 'saashop-cursor',
          ...(error ? { ':err': error.slice(0, 500), ':one': 1 } : { ':zero': 0 }),
        },
      }),
    );
  }

  private async update(
    eventId: string,
    u: {
      set: Record<string, unknown>;
      remove?: string[];
      condition: string;
      values: Record<string, unknown>;
    },
  ): Promise<boolean> {
    const names: Record<string, string> = { '#status': 'status' };
    const values: Record<string, unknown> = { ...u.values };
    const sets = Object.entries(u.set).map(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:v${i}`] = value;
      return `#f${i} = :v${i}`;
    });
    const removes = (u.remove ?? []).map((field, i) => {
      names[`#r${i}`] = field;
      return `#r${i}`;
    });
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: saashopEventKey(eventId),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: u.condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}
