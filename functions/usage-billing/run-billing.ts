import type { Clock } from '../../shared/clock.ts';
import type {
  Biller,
  RegisteredCharge,
  RegisteredSubscription,
} from '../../shared/db/entities/subscriptions.ts';
import type {
  BillingRun,
  GroupKey,
  GroupState,
  RunStats,
  Submission,
  SubmissionLine,
  SubscriptionResult,
  UsageBillingStore,
} from '../../shared/db/entities/usage-billing.ts';
import type { UsageRecordItem } from '../../shared/db/entities/usage-records.ts';
import type { Publisher } from '../../shared/events/publisher.ts';
import type { IdGenerator } from '../../shared/ids.ts';
import { logger } from '../../shared/logger.ts';
import { count } from '../../shared/telemetry.ts';
import { fromScaled, toScaled } from '../../shared/usage/quantity.ts';
import { chunkAppDirectLines } from './appdirect-usage.ts';
import type { BillerAdapter } from './biller.ts';

export interface BillingConfig {
  lateWindowDays: number;
  /** A submission untouched this long is considered abandoned by a crashed run (> function timeout). */
  leaseSeconds: number;
  /** Backoff after a failure: base · 2^(failures−1), capped. */
  retryBaseSeconds: number;
  retryMaxSeconds: number;
  /** Submissions delivered at once (partners' rate limits). */
  submissionConcurrency: number;
  /** Biller by subscription number, overriding the registry (configuration; the CLI sets the registry). */
  billerOverrides?: Record<string, Biller>;
}

export interface RunBillingDeps {
  records: {
    readonly periodShards: number;
    listPeriodShard(period: string, shard: number, nowEpochSeconds: number): AsyncIterable<UsageRecordItem>;
  };
  billing: Pick<
    UsageBillingStore,
    | 'listStates'
    | 'getState'
    | 'claim'
    | 'commit'
    | 'release'
    | 'putSubmission'
    | 'getSubmission'
    | 'updateSubmission'
    | 'putRun'
    | 'getRun'
    | 'completeSlice'
    | 'isSliceDone'
  >;
  registry: {
    get(sub: string): Promise<(RegisteredSubscription & { charges: RegisteredCharge[] }) | undefined>;
  };
  billers: Partial<Record<Biller, BillerAdapter>>;
  publisher: Publisher;
  clock: Clock;
  ids: IdGenerator;
  config: BillingConfig;
}

const RUN_RETENTION_SECONDS = 90 * 86_400;
const SUBMISSION_RETENTION_SECONDS = 400 * 86_400;
const MAX_RUN_FAILURES_LISTED = 100;

/** `YYYY-MM` periods that can still receive records (late window plus a week of slack), oldest first. */
export function openPeriods(now: Date, lateWindowDays: number): string[] {
  const from = new Date(now.getTime() - (lateWindowDays + 7) * 86_400_000);
  const periods: string[] = [];
  let y = from.getUTCFullYear();
  let m = from.getUTCMonth();
  const end = now.getUTCFullYear() * 12 + now.getUTCMonth();
  while (y * 12 + m <= end) {
    periods.push(`${y}-${String(m + 1).padStart(2, '0')}`);
    m++;
    if (m === 12) {
      m = 0;
      y++;
    }
  }
  return periods;
}

interface Aggregate extends GroupKey {
  total: bigint;
  count: number;
  maxTimestamp: string;
}

export interface BillingSlice {
  period: string;
  /** GSI2 shard: a hash of tenant#subscription (every record of a subscription's period is in one). */
  shard: number;
}
export const sliceName = (s: BillingSlice) => `${s.period}#${s.shard}`;

/** Every (period, subscription shard) slice of a run started at `now`: computed from keys, no read. */
export function planSlices(now: Date, lateWindowDays: number, periodShards: number): BillingSlice[] {
  return openPeriods(now, lateWindowDays).flatMap((period) =>
    Array.from({ length: periodShards }, (_, shard) => ({ period, shard })),
  );
}

export interface PlanDeps {
  billing: Pick<UsageBillingStore, 'putRun' | 'getRun'>;
  /** Hands slices to the `usage-billing-worker` function (the `usage-billing-slices` queue). */
  slices: { send(messages: Array<{ runId: string } & BillingSlice>): Promise<void> };
  periodShards: number;
  clock: Clock;
  ids: IdGenerator;
  config: Pick<BillingConfig, 'lateWindowDays'>;
}

const ZERO_STATS = () => ({
  groups: 0,
  submissions: 0,
  billed: 0,
  failed: 0,
  pending: 0,
  recovered: 0,
  skipped: 0,
});

/**
 * Plans one billing run (the scheduled run, or one started by `POST /v1/usage/billing-runs`): records
 * the run as `running` with its slice count, then sends one message per (period, subscription
 * shard) slice. Workers bill the slices in parallel; the last one to finish closes the run. A run
 * redelivered after it was planned is not planned again (its slices are already queued); a planner
 * that crashed between the two writes re-sends them all, which workers absorb (a slice is counted
 * once and billing is a delta against the billed total).
 */
export async function planBillingRun(
  input: { runId?: string; trigger: BillingRun['trigger'] },
  deps: PlanDeps,
): Promise<BillingRun> {
  const startedAt = deps.clock.now();
  const existing = input.runId ? await deps.billing.getRun(input.runId) : undefined;
  if (existing && existing.status !== 'queued' && existing.slices && existing.slices.done > 0)
    return existing;
  const slices = planSlices(startedAt, deps.config.lateWindowDays, deps.periodShards);
  const run: BillingRun = {
    ...(existing ?? {
      id: input.runId ?? deps.ids.next('urun'),
      trigger: input.trigger,
      createdAt: startedAt.toISOString(),
      failures: [],
      expiresAt: Math.floor(startedAt.getTime() / 1000) + RUN_RETENTION_SECONDS,
    }),
    status: 'running',
    startedAt: startedAt.toISOString(),
    stats: ZERO_STATS(),
    slices: { total: slices.length, done: 0 },
  };
  await deps.billing.putRun(run);
  await deps.slices.send(slices.map((s) => ({ runId: run.id, ...s })));
  count('UsageBillingSlicesPlanned', slices.length);
  return run;
}

export interface SliceOutcome {
  stats: RunStats;
  failures: BillingRun['failures'];
  subscriptions: SubscriptionResult[];
  /** Records read for this slice. */
  records: number;
}

/**
 * One worker invocation: bills one slice of a run. For every (tenant, subscription, charge, unit,
 * period) group of the slice (all its records are in the slice, see `subscriptionShardOf`) it bills
 * the delta between the current total and the billed total, and records the new billed total only
 * after the biller confirmed. Safe at every line:
 *  - a group is claimed (conditional write) before its submission is uploaded: concurrent runs
 *    cannot both bill it, and a claim lost to a newer record or run is simply dropped;
 *  - the submission (exact lines) is written before the claim and before any upload, so a crashed
 *    worker's work is resumed from it by the redelivered slice (same run: taken over at once) or a
 *    later run (after the lease), asking the biller what it already has (Zuora: the import by file
 *    name; AppDirect: the same idempotency key) instead of uploading twice;
 *  - late records raise the total and are billed by the next run as a new delta.
 * Then the slice is counted on the run, once (`completeSlice`).
 */
export async function billSlice(
  input: { runId: string } & BillingSlice,
  deps: RunBillingDeps,
  attempt = 1,
): Promise<SliceOutcome | undefined> {
  const name = sliceName(input);
  if (await deps.billing.isSliceDone(input.runId, name)) return undefined; // redelivered after counting
  const outcome = await billSliceGroups(input, deps);
  await deps.billing.completeSlice(
    {
      runId: input.runId,
      slice: name,
      attempt,
      finishedAt: deps.clock.now().toISOString(),
      stats: outcome.stats,
      subscriptions: outcome.subscriptions,
      failures: outcome.failures.slice(0, MAX_RUN_FAILURES_LISTED),
    },
    deps.clock.now(),
  );
  return outcome;
}

async function billSliceGroups(
  input: { runId: string } & BillingSlice,
  deps: RunBillingDeps,
): Promise<SliceOutcome> {
  const startedAt = deps.clock.now();
  const stats = ZERO_STATS();
  const failures: BillingRun['failures'] = [];
  const ctx: Ctx = { deps, runId: input.runId, stats, failures, outcomes: new Map(), billedTo: new Map() };
  const { aggregates, records } = await aggregate(deps, startedAt, [input]);
  stats.groups = aggregates.size;
  const states = await loadStates(deps, aggregates);
  const subscriptions = new Map<string, Awaited<ReturnType<RunBillingDeps['registry']['get']>>>();
  await forEachLimit(
    [...new Set([...aggregates.values()].map((a) => a.subscriptionNumber))],
    16,
    async (s) => {
      subscriptions.set(s, await deps.registry.get(s));
    },
  );

  const now = deps.clock.now();
  const toRecover = new Set<string>();
  const candidates: Array<{ line: SubmissionLine; version: number; failures: number; biller: Biller }> = [];
  for (const [id, agg] of aggregates) {
    const state = states.get(id);
    if (state?.inflight) {
      toRecover.add(state.inflight.submissionId);
      continue;
    }
    if (state?.retryAt && Date.parse(state.retryAt) > now.getTime()) {
      stats.skipped++;
      ctx.outcomes.set(id, 'skipped');
      continue;
    }
    const billed = toScaled(state?.billed ?? '0') ?? 0n;
    const delta = agg.total - billed;
    if (delta <= 0n) continue;
    const sub = subscriptions.get(agg.subscriptionNumber);
    const biller = sub ? (deps.config.billerOverrides?.[sub.subscriptionNumber] ?? sub.biller) : undefined;
    if (!sub || !biller || !deps.billers[biller]) {
      stats.skipped++;
      ctx.outcomes.set(id, 'skipped');
      logger.warn('usage group has no biller', {
        subscription: agg.subscriptionNumber,
        biller,
      });
      continue;
    }
    const charge = sub.charges.find((c) => c.chargeNumber === agg.chargeNumber);
    candidates.push({
      biller,
      version: state?.version ?? 0,
      failures: state?.failures ?? 0,
      line: {
        tenant: agg.tenant,
        subscriptionNumber: agg.subscriptionNumber,
        chargeNumber: agg.chargeNumber,
        unit: agg.unit,
        period: agg.period,
        // AppDirect bills the account identifier the channel answered, on the marketplace holding it.
        accountNumber: (biller === 'appdirect' && sub.appdirect?.accountIdentifier) || sub.accountNumber,
        ...(biller === 'appdirect' && sub.appdirect
          ? { marketplaceId: sub.appdirect.marketplaceId, marketplaceBaseUrl: sub.appdirect.baseUrl }
          : {}),
        quantity: fromScaled(delta),
        target: fromScaled(agg.total),
        targetCount: agg.count,
        usageDate: agg.maxTimestamp,
        ...(charge?.pricing ? { pricing: charge.pricing } : {}),
      },
    });
  }

  await forEachLimit([...toRecover], deps.config.submissionConcurrency, (id) => recover(ctx, id));

  const chunks: Array<{ biller: Biller; items: typeof candidates }> = [];
  for (const biller of Object.keys(deps.billers) as Biller[]) {
    const mine = candidates.filter((c) => c.biller === biller);
    if (!mine.length) continue;
    const byLine = new Map(mine.map((c) => [c.line, c]));
    const isolated = (l: SubmissionLine) => (byLine.get(l)?.failures ?? 0) > 0;
    const lineChunks =
      biller === 'appdirect'
        ? chunkAppDirectLines(
            mine.map((c) => c.line),
            isolated,
          )
        : chunkLines(
            mine.map((c) => c.line),
            deps.billers[biller]!.maxLines,
            isolated,
          );
    for (const lines of lineChunks) chunks.push({ biller, items: lines.map((l) => byLine.get(l)!) });
  }
  await forEachLimit(chunks, deps.config.submissionConcurrency, (chunk) =>
    submitChunk(ctx, chunk.biller, chunk.items),
  );

  return { stats, failures, subscriptions: perSubscription(aggregates, states, ctx), records };
}

/** The slice's outcome per (tenant, subscription, period), from what it read and did. */
function perSubscription(
  aggregates: Map<string, Aggregate>,
  states: Map<string, GroupState>,
  ctx: Ctx,
): SubscriptionResult[] {
  const out = new Map<string, SubscriptionResult & { t: bigint; b: bigint }>();
  for (const [id, a] of aggregates) {
    const k = `${a.tenant}#${a.subscriptionNumber}#${a.period}`;
    let r = out.get(k);
    if (!r) {
      r = {
        tenant: a.tenant,
        subscriptionNumber: a.subscriptionNumber,
        period: a.period,
        groups: 0,
        records: 0,
        total: '0',
        billed: '0',
        billedGroups: 0,
        pendingGroups: 0,
        failedGroups: 0,
        skippedGroups: 0,
        t: 0n,
        b: 0n,
      };
      out.set(k, r);
    }
    r.groups++;
    r.records += a.count;
    r.t += a.total;
    const o = ctx.outcomes.get(id);
    const billedBefore = toScaled(states.get(id)?.billed ?? '0') ?? 0n;
    r.b += ctx.billedTo.get(id) ?? billedBefore;
    if (o === 'billed') r.billedGroups++;
    else if (o === 'pending') r.pendingGroups++;
    else if (o === 'failed') r.failedGroups++;
    else if (o === 'skipped') r.skippedGroups++;
  }
  return [...out.values()].map(({ t, b, ...r }) => ({ ...r, total: fromScaled(t), billed: fromScaled(b) }));
}

type Outcome = 'billed' | 'pending' | 'failed' | 'skipped';
type Ctx = {
  deps: RunBillingDeps;
  runId: string;
  stats: RunStats;
  failures: BillingRun['failures'];
  /** Per group id (`lineId`): what the slice did with it, and the total it billed it up to. */
  outcomes: Map<string, Outcome>;
  billedTo: Map<string, bigint>;
};

const lineId = (g: GroupKey) => [g.tenant, g.subscriptionNumber, g.chargeNumber, g.unit, g.period].join('#');
function mark(ctx: Ctx, lines: GroupKey[], outcome: Outcome): void {
  for (const l of lines) ctx.outcomes.set(lineId(l), outcome);
}

async function aggregate(
  deps: RunBillingDeps,
  now: Date,
  tasks: BillingSlice[],
): Promise<{ aggregates: Map<string, Aggregate>; records: number }> {
  const nowSec = Math.floor(now.getTime() / 1000);
  const out = new Map<string, Aggregate>();
  let records = 0;
  await forEachLimit(tasks, 8, async ({ period, shard }) => {
    for await (const r of deps.records.listPeriodShard(period, shard, nowSec)) {
      records++;
      const id = [r.tenant, r.subscriptionNumber, r.chargeNumber, r.unit, r.period].join('#');
      let agg = out.get(id);
      if (!agg) {
        agg = {
          tenant: r.tenant,
          subscriptionNumber: r.subscriptionNumber,
          chargeNumber: r.chargeNumber,
          unit: r.unit,
          period: r.period,
          total: 0n,
          count: 0,
          maxTimestamp: r.timestamp,
        };
        out.set(id, agg);
      }
      agg.total += toScaled(r.quantity) ?? 0n;
      agg.count++;
      if (r.timestamp > agg.maxTimestamp) agg.maxTimestamp = r.timestamp;
    }
  });
  return { aggregates: out, records };
}

async function loadStates(
  deps: RunBillingDeps,
  aggregates: Map<string, Aggregate>,
): Promise<Map<string, GroupState>> {
  const parents = new Map<string, Aggregate>();
  for (const a of aggregates.values()) parents.set(`${a.tenant}#${a.subscriptionNumber}#${a.period}`, a);
  const out = new Map<string, GroupState>();
  await forEachLimit([...parents.values()], 16, async (a) => {
    for (const s of await deps.billing.listStates(a.tenant, a.subscriptionNumber, a.period)) {
      out.set([s.tenant, s.subscriptionNumber, s.chargeNumber, s.unit, s.period].join('#'), s);
    }
  });
  return out;
}

/** Splits lines in chunks of at most `max`, lines that failed before each alone. */
export function chunkLines(
  lines: SubmissionLine[],
  max: number,
  isolated: (l: SubmissionLine) => boolean,
): SubmissionLine[][] {
  const chunks: SubmissionLine[][] = [];
  const rest: SubmissionLine[] = [];
  for (const l of lines) isolated(l) ? chunks.push([l]) : rest.push(l);
  for (let i = 0; i < rest.length; i += max) chunks.push(rest.slice(i, i + max));
  return chunks;
}

async function submitChunk(
  ctx: Ctx,
  biller: Biller,
  items: Array<{ line: SubmissionLine; version: number }>,
): Promise<void> {
  const { deps } = ctx;
  const now = deps.clock.now();
  const submission: Submission = {
    id: deps.ids.next('usub'),
    runId: ctx.runId,
    biller,
    status: 'prepared',
    lines: items.map((i) => i.line),
    attempts: 0,
    rev: 0,
    owner: ctx.runId,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    expiresAt: Math.floor(now.getTime() / 1000) + SUBMISSION_RETENTION_SECONDS,
  };
  // The submission exists before any group points at it, and before anything is uploaded.
  await deps.billing.putSubmission(submission);
  const claimed = await Promise.all(
    items.map((i) =>
      deps.billing.claim(
        i.line,
        i.version,
        {
          submissionId: submission.id,
          target: i.line.target,
          targetCount: i.line.targetCount,
          delta: i.line.quantity,
          claimedAt: now.toISOString(),
        },
        now,
      ),
    ),
  );
  const lines = items.filter((_, idx) => claimed[idx]).map((i) => i.line);
  if (lines.length !== items.length) {
    // Another run (or newer records) got there first: bill only what this submission holds.
    ctx.stats.skipped += items.length - lines.length;
    mark(
      ctx,
      items.filter((_, idx) => !claimed[idx]).map((i) => i.line),
      'skipped',
    );
    const ok = await deps.billing.updateSubmission(
      submission.id,
      { lines, ...(lines.length ? {} : { status: 'abandoned' as const }) },
      deps.clock.now(),
      submission.rev,
    );
    if (!ok) return;
    submission.rev++;
    submission.lines = lines;
    if (!lines.length) return;
  }
  ctx.stats.submissions++;
  await deliver(ctx, submission);
}

/** Resumes a submission some run left unfinished, if it is abandoned (lease over) or handed back. */
async function recover(ctx: Ctx, submissionId: string): Promise<void> {
  const { deps } = ctx;
  const now = deps.clock.now();
  const s = await deps.billing.getSubmission(submissionId);
  if (!s) return; // cannot happen: the submission is written before any claim
  const idle = now.getTime() - Date.parse(s.updatedAt) >= deps.config.leaseSeconds * 1000;
  const handedBack = s.status === 'interrupted' && (!s.retryAt || Date.parse(s.retryAt) <= now.getTime());
  const terminal = s.status === 'billed' || s.status === 'failed' || s.status === 'abandoned';
  // This run's own submission: left by a worker of this run that died mid-slice (the slice message
  // came back only after the visibility timeout, longer than the function's): take it over now.
  const ownRun = s.owner === ctx.runId;
  if (!idle && !handedBack && !terminal && !ownRun) {
    ctx.stats.pending++;
    mark(ctx, s.lines, 'pending');
    return;
  }
  // Take it over: only one run wins this conditional write.
  if (!(await deps.billing.updateSubmission(s.id, { owner: ctx.runId }, now, s.rev))) return;
  s.rev++;
  ctx.stats.recovered++;
  if (s.status === 'billed') return finishBilled(ctx, s);
  if (s.status === 'failed' || s.status === 'abandoned') return releaseAll(ctx, s, s.reason ?? s.status);
  if (s.status === 'delivered') return finishBilled(ctx, s);
  if (s.attempts === 0) {
    // Never uploaded: the run may have died between its claims and trimming the lines it lost, so
    // keep only the groups this submission really holds before uploading anything.
    const held = await Promise.all(
      s.lines.map(async (l) => (await deps.billing.getState(l))?.inflight?.submissionId === s.id),
    );
    const lines = s.lines.filter((_, i) => held[i]);
    if (lines.length !== s.lines.length) {
      if (
        !(await deps.billing.updateSubmission(
          s.id,
          { lines, ...(lines.length ? {} : { status: 'abandoned' as const }) },
          now,
          s.rev,
        ))
      )
        return;
      s.rev++;
      s.lines = lines;
      if (!lines.length) return;
    }
  }
  await deliver(ctx, s);
}

async function deliver(ctx: Ctx, s: Submission): Promise<void> {
  const { deps } = ctx;
  const adapter = deps.billers[s.biller]!;
  const write = async (patch: Parameters<RunBillingDeps['billing']['updateSubmission']>[1]) => {
    if (!(await deps.billing.updateSubmission(s.id, patch, deps.clock.now(), s.rev))) {
      throw new Error(`submission ${s.id} was taken over by another run`);
    }
    s.rev++;
    Object.assign(s, patch);
  };
  try {
    const outcome = await adapter.deliver(s, {
      beforeUpload: () => write({ attempts: s.attempts + 1, status: 'prepared' }),
      recordRemoteId: (remoteId) => write({ remoteId, status: 'uploaded' }),
    });
    if (outcome.status === 'delivered') {
      await write({ status: 'delivered' });
      await finishBilled(ctx, s);
    } else if (outcome.status === 'pending') {
      ctx.stats.pending++;
      mark(ctx, s.lines, 'pending');
      await write({ status: 'interrupted', reason: 'biller still processing' });
    } else {
      await fail(ctx, s, outcome.reason);
    }
  } catch (error) {
    const reason = (error as Error).message;
    ctx.stats.pending++;
    mark(ctx, s.lines, 'pending');
    ctx.failures.push({ submissionId: s.id, biller: s.biller, reason });
    logger.warn('usage submission interrupted; a later run resumes it', { submissionId: s.id, reason });
    const retryAt = new Date(deps.clock.now().getTime() + backoffSeconds(deps.config, s.attempts) * 1000);
    await deps.billing
      .updateSubmission(
        s.id,
        { status: 'interrupted', reason: reason.slice(0, 500), retryAt: retryAt.toISOString() },
        deps.clock.now(),
        s.rev,
      )
      .catch((e: unknown) =>
        logger.warn('could not hand the submission back', { submissionId: s.id, error: e }),
      );
  }
}

const backoffSeconds = (config: BillingConfig, failures: number) =>
  Math.min(config.retryMaxSeconds, config.retryBaseSeconds * 2 ** Math.max(0, failures - 1));

function eventLines(lines: SubmissionLine[]) {
  return lines.map((l) => ({
    subscriptionNumber: l.subscriptionNumber,
    chargeNumber: l.chargeNumber,
    unit: l.unit,
    period: l.period,
    quantity: l.quantity,
  }));
}

function byTenant(lines: SubmissionLine[]): Map<string, SubmissionLine[]> {
  const out = new Map<string, SubmissionLine[]>();
  for (const l of lines) out.set(l.tenant, [...(out.get(l.tenant) ?? []), l]);
  return out;
}

/** Confirmed by the biller: publish (at least once, deduped by submissionId), then record the totals. */
async function finishBilled(ctx: Ctx, s: Submission): Promise<void> {
  const { deps } = ctx;
  if (s.status !== 'billed') {
    await deps.publisher.publish(
      [...byTenant(s.lines)].map(([tenant, lines]) => ({
        type: 'usage.billed',
        detail: { tenant, runId: s.runId, submissionId: s.id, biller: s.biller, lines: eventLines(lines) },
      })),
    );
  }
  const now = deps.clock.now();
  await forEachLimit(s.lines, 16, async (l) => {
    await deps.billing.commit(l, s.id, l.target, l.targetCount, now);
  });
  if (s.status !== 'billed') await deps.billing.updateSubmission(s.id, { status: 'billed' }, now);
  ctx.stats.billed++;
  mark(ctx, s.lines, 'billed');
  for (const l of s.lines) ctx.billedTo.set(lineId(l), toScaled(l.target) ?? 0n);
  count('UsageLinesBilled', s.lines.length);
}

async function fail(ctx: Ctx, s: Submission, reason: string): Promise<void> {
  const { deps } = ctx;
  ctx.stats.failed++;
  mark(ctx, s.lines, 'failed');
  count('UsageBillingFailures');
  ctx.failures.push({ submissionId: s.id, biller: s.biller, reason });
  await deps.billing.updateSubmission(
    s.id,
    { status: 'failed', reason: reason.slice(0, 500) },
    deps.clock.now(),
  );
  s.status = 'failed';
  await releaseAll(ctx, s, reason);
}

/** Nothing was billed: give the groups back with backoff, and say so. */
async function releaseAll(ctx: Ctx, s: Submission, reason: string): Promise<void> {
  const { deps } = ctx;
  const now = deps.clock.now();
  const retryAt = new Date(now.getTime() + backoffSeconds(deps.config, s.attempts || 1) * 1000);
  if (s.status === 'failed') {
    await deps.publisher.publish(
      [...byTenant(s.lines)].map(([tenant, lines]) => ({
        type: 'usage.billing.failed',
        detail: {
          tenant,
          runId: s.runId,
          submissionId: s.id,
          biller: s.biller,
          reason: reason.slice(0, 500),
          retryAt: retryAt.toISOString(),
          lines: eventLines(lines),
        },
      })),
    );
  }
  await forEachLimit(s.lines, 16, (l) => deps.billing.release(l, s.id, reason, retryAt, now));
}

async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}
