import type { Clock } from '../clock.ts';
import type { BillingRun, SliceResult, SubscriptionResult } from '../db/entities/usage-billing.ts';
import { NotFoundError } from '../errors.ts';
import type { IdGenerator } from '../ids.ts';

export interface BillingRunDeps {
  runs: {
    putRun(run: BillingRun): Promise<void>;
    getRun(id: string): Promise<BillingRun | undefined>;
    /** The per-slice results the run's workers wrote under it. */
    listSlices(id: string): Promise<SliceResult[]>;
  };
  /** Hands the run to the usage-billing function (its SQS queue). */
  queue: { send(message: { runId: string }): Promise<void> };
  ids: IdGenerator;
  clock: Clock;
}

const RUN_RETENTION_SECONDS = 90 * 86_400;

/**
 * Starts a billing run now: the run is recorded as `queued` first (so `GET` always finds it), then
 * handed to the billing function through its queue. The billing run itself is the same use case the
 * schedule runs.
 */
export async function startBillingRun(
  input: { requestedBy: string },
  deps: BillingRunDeps,
): Promise<BillingRun> {
  const now = deps.clock.now();
  const run: BillingRun = {
    id: deps.ids.next('urun'),
    trigger: 'api',
    status: 'queued',
    requestedBy: input.requestedBy,
    createdAt: now.toISOString(),
    failures: [],
    expiresAt: Math.floor(now.getTime() / 1000) + RUN_RETENTION_SECONDS,
  };
  await deps.runs.putRun(run);
  await deps.queue.send({ runId: run.id });
  return run;
}

const MAX_SUBSCRIPTIONS_LISTED = 1000;
const MAX_FAILURES_LISTED = 100;

export type BillingRunReport = BillingRun & {
  /** Subscriptions (per period) the run's finished slices read, with what was billed. */
  subscriptionCount: number;
  subscriptions: SubscriptionResult[];
};

/**
 * The outcome of one run (404 when unknown): its status and totals (`stats`, `slices` done of
 * total), and per subscription and period what its finished slices read and billed (the first
 * 1,000 by subscription number; `subscriptionCount` says how many there are).
 */
export async function getBillingRun(
  id: string,
  deps: Pick<BillingRunDeps, 'runs'>,
): Promise<BillingRunReport> {
  const run = /^urun_[0-9A-HJKMNP-TV-Z]{26}$/.test(id) ? await deps.runs.getRun(id) : undefined;
  if (!run) throw new NotFoundError(`No billing run ${id}.`);
  const slices = run.slices ? await deps.runs.listSlices(run.id) : [];
  const subscriptions = slices
    .flatMap((s) => s.subscriptions)
    .sort((a, b) =>
      a.subscriptionNumber === b.subscriptionNumber
        ? a.period.localeCompare(b.period) || a.tenant.localeCompare(b.tenant)
        : a.subscriptionNumber < b.subscriptionNumber
          ? -1
          : 1,
    );
  const failures = [...run.failures, ...slices.flatMap((s) => s.failures)].slice(0, MAX_FAILURES_LISTED);
  return {
    ...run,
    failures,
    subscriptionCount: subscriptions.length,
    subscriptions: subscriptions.slice(0, MAX_SUBSCRIPTIONS_LISTED),
  };
}

/** A run as its caller sees it: the stored item without internal bookkeeping (`expiresAt`, the TTL). */
export function billingRunView(run: BillingRun): Omit<BillingRun, 'expiresAt'> {
  const { expiresAt: _ttl, ...view } = run;
  return view;
}
