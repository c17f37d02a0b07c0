import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';
import { billerSchema } from './subscriptions.ts';

/**
 * Billing state of usage. No transaction anywhere: every step is one conditional write on one item.
 *
 *   PK `USAGEBILL#<tenant>#<subscription>#<period>`  SK `<charge>#<unit>`   billed total of one group
 *   PK `USAGESUB#<id>`                               SK `SUBMISSION`        one submission to a biller
 *   PK `USAGERUN#<id>`                               SK `RUN`               one billing run's outcome
 *
 * A group is claimed by a submission (`inflight`, conditional on its version and on no other claim)
 * BEFORE anything is uploaded, so concurrent runs cannot both bill it; the submission item holds
 * exactly what is (or will be) uploaded, so a run that crashes anywhere is resumed from it; the new
 * billed total is recorded only after the biller confirmed the submission.
 */
export const groupStateSchema = z.object({
  tenant: z.string(),
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  unit: z.string(),
  period: z.string(),
  /** Decimal text: total already billed. */
  billed: z.string(),
  billedCount: z.number().int().default(0),
  version: z.number().int(),
  inflight: z
    .object({
      submissionId: z.string(),
      target: z.string(),
      targetCount: z.number().int(),
      delta: z.string(),
      claimedAt: z.string(),
    })
    .optional(),
  failures: z.number().int().default(0),
  retryAt: z.string().optional(),
  lastError: z.string().optional(),
  updatedAt: z.string(),
});
export type GroupState = z.infer<typeof groupStateSchema>;

export interface GroupKey {
  tenant: string;
  subscriptionNumber: string;
  chargeNumber: string;
  unit: string;
  period: string;
}

export const groupStateKey = (g: GroupKey) => ({
  PK: key('USAGEBILL', g.tenant, g.subscriptionNumber, g.period),
  SK: key(g.chargeNumber, g.unit),
});
export const groupId = (g: GroupKey) => key(g.tenant, g.subscriptionNumber, g.chargeNumber, g.unit, g.period);

export const submissionLineSchema = z.object({
  tenant: z.string(),
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  unit: z.string(),
  period: z.string(),
  accountNumber: z.string(),
  /** Decimal text billed by this submission. */
  quantity: z.string(),
  /** Billed total (and record count) of the group once this submission is confirmed. */
  target: z.string(),
  targetCount: z.number().int(),
  /** Date the usage is billed on (ISO): the latest record of the delta's period. */
  usageDate: z.string(),
  pricing: z.enum(['unit', 'volume']).optional(),
  /** AppDirect: the marketplace holding the account (absent: the stage's home marketplace). */
  marketplaceId: z.string().optional(),
  marketplaceBaseUrl: z.string().optional(),
});
export type SubmissionLine = z.infer<typeof submissionLineSchema>;

export const submissionStatusSchema = z.enum([
  'prepared',
  'uploaded',
  'interrupted',
  'delivered',
  'billed',
  'failed',
  'abandoned',
]);
export type SubmissionStatus = z.infer<typeof submissionStatusSchema>;

export const submissionSchema = z.object({
  id: z.string(),
  runId: z.string(),
  biller: billerSchema,
  status: submissionStatusSchema,
  lines: z.array(submissionLineSchema),
  /** Zuora: the import's id once known. AppDirect: the request id. */
  remoteId: z.string().optional(),
  attempts: z.number().int().default(0),
  /** Incremented by every write: a run taking over an abandoned submission conditions on it. */
  rev: z.number().int().default(0),
  /** Run currently working on it. */
  owner: z.string().optional(),
  reason: z.string().optional(),
  retryAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
  expiresAt: z.number(),
});
export type Submission = z.infer<typeof submissionSchema>;

export const runStatusSchema = z.enum(['queued', 'running', 'succeeded', 'partial', 'failed']);
export const runSchema = z.object({
  id: z.string(),
  trigger: z.enum(['schedule', 'api']),
  status: runStatusSchema,
  requestedBy: z.string().optional(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  stats: z
    .object({
      groups: z.number().int(),
      submissions: z.number().int(),
      billed: z.number().int(),
      failed: z.number().int(),
      pending: z.number().int(),
      recovered: z.number().int(),
      skipped: z.number().int(),
    })
    .optional(),
  failures: z
    .array(z.object({ submissionId: z.string(), biller: z.string(), reason: z.string() }))
    .default([]),
  error: z.string().optional(),
  /** Fan-out: slices (period, subscription shard) planned, and finished so far. */
  slices: z.object({ total: z.number().int(), done: z.number().int() }).optional(),
  expiresAt: z.number(),
});
export type BillingRun = z.infer<typeof runSchema>;
export type RunStats = NonNullable<BillingRun['stats']>;

/** What one slice of a run did, per subscription (item under the run: PK `USAGERUN#<id>` SK `SLICE#…`). */
export const subscriptionResultSchema = z.object({
  tenant: z.string(),
  subscriptionNumber: z.string(),
  period: z.string(),
  groups: z.number().int(),
  records: z.number().int(),
  /** Sum of the accepted records' quantities (decimal text). */
  total: z.string(),
  /** Billed total after the slice (decimal text): equals `total` when everything is billed. */
  billed: z.string(),
  /** Groups billed by this slice, still with the biller, refused (retried later), or skipped. */
  billedGroups: z.number().int(),
  pendingGroups: z.number().int(),
  failedGroups: z.number().int(),
  skippedGroups: z.number().int(),
});
export type SubscriptionResult = z.infer<typeof subscriptionResultSchema>;
export const sliceResultSchema = z.object({
  runId: z.string(),
  slice: z.string(),
  attempt: z.number().int(),
  finishedAt: z.string(),
  stats: runSchema.shape.stats.unwrap(),
  subscriptions: z.array(subscriptionResultSchema),
  failures: runSchema.shape.failures,
});
export type SliceResult = z.infer<typeof sliceResultSchema>;

const submissionKey = (id: string) => ({ PK: key('USAGESUB', id), SK: 'SUBMISSION' });
const runKey = (id: string) => ({ PK: key('USAGERUN', id), SK: 'RUN' });
/** Runs are listed newest first (GSI1 `USAGERUNS`, a few a day); a run's submissions by its id. */
export const runIndexKeys = (run: Pick<BillingRun, 'id' | 'createdAt'>) => ({
  GSI1PK: 'USAGERUNS',
  GSI1SK: `${run.createdAt}#${run.id}`,
});
export const submissionIndexKeys = (s: Pick<Submission, 'id' | 'runId'>) => ({
  GSI1PK: key('USAGERUN', s.runId, 'SUBMISSIONS'),
  GSI1SK: s.id,
});
const INDEX_KEYS = new Set(['PK', 'SK', 'GSI1PK', 'GSI1SK', 'entity']);
const plain = (item: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !INDEX_KEYS.has(k)));

/** Data access for billed totals, submissions and runs. */
export class UsageBillingStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Billed state of every charge/unit of one tenant's subscription in one period. */
  async listStates(tenant: string, subscriptionNumber: string, period: string): Promise<GroupState[]> {
    const out: GroupState[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': key('USAGEBILL', tenant, subscriptionNumber, period) },
          ExclusiveStartKey: start,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) out.push(groupStateSchema.parse(item));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** One group's billed state (consistent read), or undefined. */
  async getState(g: GroupKey): Promise<GroupState | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: groupStateKey(g), ConsistentRead: true }),
    );
    return res.Item ? groupStateSchema.parse(res.Item) : undefined;
  }

  /**
   * Claims a group for a submission: succeeds only if nobody changed the group since it was read
   * (`version`) and no other submission holds it. This is what stops two runs billing one group.
   */
  async claim(
    g: GroupKey,
    expectedVersion: number,
    claim: NonNullable<GroupState['inflight']>,
    now: Date,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: groupStateKey(g),
          UpdateExpression:
            'SET tenant = :t, subscriptionNumber = :s, chargeNumber = :c, #unit = :u, period = :p, billed = if_not_exists(billed, :zero), billedCount = if_not_exists(billedCount, :z), failures = if_not_exists(failures, :z), inflight = :claim, version = :next, updatedAt = :now, entity = :e',
          ConditionExpression:
            expectedVersion === 0
              ? 'attribute_not_exists(PK)'
              : 'version = :v AND attribute_not_exists(inflight)',
          ExpressionAttributeNames: { '#unit': 'unit' },
          ExpressionAttributeValues: {
            ':t': g.tenant,
            ':s': g.subscriptionNumber,
            ':c': g.chargeNumber,
            ':u': g.unit,
            ':p': g.period,
            ':zero': '0',
            ':z': 0,
            ':claim': claim,
            ':next': expectedVersion + 1,
            ':now': now.toISOString(),
            ':e': 'usage-billed-total',
            ...(expectedVersion === 0 ? {} : { ':v': expectedVersion }),
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Records the new billed total once the biller confirmed; a no-op if already recorded. */
  async commit(
    g: GroupKey,
    submissionId: string,
    target: string,
    targetCount: number,
    now: Date,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: groupStateKey(g),
          UpdateExpression:
            'SET billed = :b, billedCount = :n, failures = :z, updatedAt = :now, version = version + :one REMOVE inflight, retryAt, lastError',
          ConditionExpression: 'inflight.submissionId = :sid',
          ExpressionAttributeValues: {
            ':b': target,
            ':n': targetCount,
            ':z': 0,
            ':one': 1,
            ':now': now.toISOString(),
            ':sid': submissionId,
          },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Releases a claim after the biller refused the submission (nothing was billed), with backoff. */
  async release(g: GroupKey, submissionId: string, reason: string, retryAt: Date, now: Date): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: groupStateKey(g),
          UpdateExpression:
            'SET failures = failures + :one, retryAt = :r, lastError = :e, updatedAt = :now, version = version + :one REMOVE inflight',
          ConditionExpression: 'inflight.submissionId = :sid',
          ExpressionAttributeValues: {
            ':one': 1,
            ':r': retryAt.toISOString(),
            ':e': reason.slice(0, 500),
            ':now': now.toISOString(),
            ':sid': submissionId,
          },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async putSubmission(s: Submission): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...submissionKey(s.id),
          ...submissionIndexKeys(s),
          entity: 'usage-submission',
          ...submissionSchema.parse(s),
        },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async getSubmission(id: string): Promise<Submission | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: submissionKey(id), ConsistentRead: true }),
    );
    return res.Item ? submissionSchema.parse(res.Item) : undefined;
  }

  /** Updates a submission's status (and lines / remote id / reason) in one write. */
  async updateSubmission(
    id: string,
    patch: Partial<
      Pick<Submission, 'status' | 'lines' | 'remoteId' | 'reason' | 'retryAt' | 'attempts' | 'owner'>
    >,
    now: Date,
    expectedRev?: number,
  ): Promise<boolean> {
    const sets = ['updatedAt = :now', 'rev = if_not_exists(rev, :zero) + :one'];
    const values: Record<string, unknown> = { ':now': now.toISOString(), ':zero': 0, ':one': 1 };
    const names: Record<string, string> = {};
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    if (expectedRev !== undefined) values[':rev'] = expectedRev;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: submissionKey(id),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ExpressionAttributeNames: Object.keys(names).length ? names : undefined,
          ExpressionAttributeValues: values,
          ConditionExpression:
            expectedRev === undefined ? 'attribute_exists(PK)' : 'attribute_exists(PK) AND rev = :rev',
        }),
      );
      return true;
    } catch (error) {
      if (expectedRev !== undefined && isConditionFailed(error)) return false;
      throw error;
    }
  }

  async putRun(run: BillingRun): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...runKey(run.id),
          ...runIndexKeys(run),
          entity: 'usage-billing-run',
          ...runSchema.parse(run),
        },
      }),
    );
  }

  async getRun(id: string): Promise<BillingRun | undefined> {
    const res = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: runKey(id), ConsistentRead: true }),
    );
    return res.Item ? runSchema.parse(res.Item) : undefined;
  }

  /**
   * Records one finished slice of a fan-out run, once: its stats are added to the run's and the
   * done counter moves, in one conditional update (a redelivered slice is a no-op here). The slice
   * that brings `done` to `total` closes the run. Returns the run as it is after the update, or
   * undefined when this slice had already been counted.
   */
  async completeSlice(result: SliceResult, now: Date): Promise<BillingRun | undefined> {
    // An empty slice (no subscription in it this period) has nothing to report: counted only.
    if (result.subscriptions.length || result.failures.length)
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            PK: key('USAGERUN', result.runId),
            SK: key('SLICE', result.slice),
            entity: 'usage-billing-slice',
            expiresAt: Math.floor(now.getTime() / 1000) + 90 * 86_400,
            ...sliceResultSchema.parse(result),
          },
        }),
      );
    const stats = result.stats;
    const names = Object.keys(stats) as Array<keyof RunStats>;
    let updated: BillingRun;
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: runKey(result.runId),
          UpdateExpression: `ADD doneSlices :slice, slices.done :one, ${names.map((n) => `stats.${n} :${n}`).join(', ')}`,
          ConditionExpression: 'attribute_exists(PK) AND NOT contains(doneSlices, :id)',
          ExpressionAttributeValues: {
            ':slice': new Set([result.slice]),
            ':id': result.slice,
            ':one': 1,
            ...Object.fromEntries(names.map((n) => [`:${n}`, stats[n]])),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      updated = runSchema.parse(res.Attributes);
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
    if (updated.slices && updated.slices.done >= updated.slices.total && updated.status === 'running') {
      const s = updated.stats;
      const status = s && s.failed === 0 && s.pending === 0 ? 'succeeded' : 'partial';
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: runKey(result.runId),
            UpdateExpression: 'SET #status = :status, finishedAt = :at',
            ConditionExpression: '#status = :running',
            ExpressionAttributeNames: { '#status': 'status' },
            ExpressionAttributeValues: { ':status': status, ':at': now.toISOString(), ':running': 'running' },
          }),
        );
        updated.status = status;
        updated.finishedAt = now.toISOString();
      } catch (error) {
        if (!isConditionFailed(error)) throw error;
      }
    }
    return updated;
  }

  async getSlice(runId: string, slice: string): Promise<SliceResult | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { PK: key('USAGERUN', runId), SK: key('SLICE', slice) },
        ConsistentRead: true,
      }),
    );
    return res.Item ? sliceResultSchema.parse(res.Item) : undefined;
  }

  /** Whether a slice of a run has already been counted (a redelivered slice message). */
  async isSliceDone(runId: string, slice: string): Promise<boolean> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: runKey(runId),
        ProjectionExpression: 'doneSlices',
        ConsistentRead: true,
      }),
    );
    const done = res.Item?.doneSlices as Set<string> | undefined;
    return Boolean(done?.has(slice));
  }

  /** Every slice result of a run (one query on the run's partition, no scan). */
  async listSlices(runId: string): Promise<SliceResult[]> {
    const out: SliceResult[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk AND begins_with(SK, :sk)',
          ExpressionAttributeValues: { ':pk': key('USAGERUN', runId), ':sk': 'SLICE#' },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []).map((i) => sliceResultSchema.parse(i)));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** The most recent runs, newest first (operations console). */
  async listRuns(limit: number, before?: string): Promise<BillingRun[]> {
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: 'GSI1',
        KeyConditionExpression: before ? 'GSI1PK = :pk AND GSI1SK < :before' : 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': 'USAGERUNS', ...(before ? { ':before': before } : {}) },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (res.Items ?? []).map((i) => runSchema.parse(plain(i)));
  }

  /** The submissions a run created (its outcome per subscription). */
  async listRunSubmissions(runId: string): Promise<Submission[]> {
    const out: Submission[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': key('USAGERUN', runId, 'SUBMISSIONS') },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(res.Items ?? []).map((i) => submissionSchema.parse(plain(i))));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }
}
