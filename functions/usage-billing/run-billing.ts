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
  Submission,
  SubmissionLine,
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

/**
 * One billing run. For every (tenant, subscription, charge, unit, period) group it bills the delta
 * between the current total and the billed total, and records the new billed total only after the
 * biller confirmed. Safe at every line:
 *  - a group is claimed (conditional write) before its submission is uploaded: concurrent runs
 *    cannot both bill it, and a claim lost to a newer record or run is simply dropped;
 *  - the submission (exact lines) is written before the claim and before any upload, so a crashed
 *    run's work is resumed from it by a later run, asking the biller what it already has (Zuora:
 *    the import by file name; AppDirect: the same idempotency key) instead of uploading twice;
 *  - late records raise the total and are billed by the next run as a new delta.
 */
export async function runBilling(
  input: { runId?: string; trigger: BillingRun['trigger'] },
  deps: RunBillingDeps,
): Promise<BillingRun> {
  const startedAt = deps.clock.now();
  const existing = input.runId ? await deps.billing.getRun(input.runId) : undefined;
  // A redelivered request for a finished run is a no-op; a failed run is run again.
  if (existing && (existing.status === 'succeeded' || existing.status === 'partial')) return existing;
  const run: BillingRun = existing ?? {
    id: input.runId ?? deps.ids.next('urun'),
    trigger: input.trigger,
    status: 'queued',
    createdAt: startedAt.toISOString(),
    failures: [],
    expiresAt: Math.floor(startedAt.getTime() / 1000) + RUN_RETENTION_SECONDS,
  };
  run.status = 'running';
  run.startedAt = startedAt.toISOString();
  await deps.billing.putRun(run);
  const stats = { groups: 0, submissions: 0, billed: 0, failed: 0, pending: 0, recovered: 0, skipped: 0 };
  const failures: BillingRun['failures'] = [];
  const ctx = { deps, runId: run.id, stats, failures };
  try {
    const aggregates = await aggregate(deps, startedAt);
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
        continue;
      }
      const billed = toScaled(state?.billed ?? '0') ?? 0n;
      const delta = agg.total - billed;
      if (delta <= 0n) continue;
      const sub = subscriptions.get(agg.subscriptionNumber);
      const biller = sub ? (deps.config.billerOverrides?.[sub.subscriptionNumber] ?? sub.biller) : undefined;
      if (!sub || !biller || !deps.billers[biller]) {
        stats.skipped++;
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

    run.status = stats.failed === 0 && stats.pending === 0 ? 'succeeded' : 'partial';
  } catch (error) {
    run.status = 'failed';
    run.error = (error as Error).message;
    logger.error('billing run failed', { error, runId: run.id });
  }
  run.finishedAt = deps.clock.now().toISOString();
  run.stats = stats;
  run.failures = failures.slice(0, MAX_RUN_FAILURES_LISTED);
  await deps.billing.putRun(run);
  if (run.status === 'failed') throw new Error(`billing run ${run.id} failed: ${run.error}`);
  return run;
}

type Ctx = {
  deps: RunBillingDeps;
  runId: string;
  stats: NonNullable<BillingRun['stats']>;
  failures: BillingRun['failures'];
};

async function aggregate(deps: RunBillingDeps, now: Date): Promise<Map<string, Aggregate>> {
  const nowSec = Math.floor(now.getTime() / 1000);
  const out = new Map<string, Aggregate>();
  const tasks = openPeriods(now, deps.config.lateWindowDays).flatMap((period) =>
    Array.from({ length: deps.records.periodShards }, (_, shard) => ({ period, shard })),
  );
  await forEachLimit(tasks, 8, async ({ period, shard }) => {
    for await (const r of deps.records.listPeriodShard(period, shard, nowSec)) {
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
  return out;
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
  if (!idle && !handedBack && !terminal) {
    ctx.stats.pending++;
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
      await write({ status: 'interrupted', reason: 'biller still processing' });
    } else {
      await fail(ctx, s, outcome.reason);
    }
  } catch (error) {
    const reason = (error as Error).message;
    ctx.stats.pending++;
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
  count('UsageLinesBilled', s.lines.length);
}

async function fail(ctx: Ctx, s: Submission, reason: string): Promise<void> {
  const { deps } = ctx;
  ctx.stats.failed++;
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
