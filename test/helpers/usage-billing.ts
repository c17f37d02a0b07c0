import {
  type BillingSlice,
  billSlice,
  planBillingRun,
  type RunBillingDeps,
} from '../../functions/usage-billing/run-billing.ts';
import type { BillingRun, UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { type BillingRunReport, getBillingRun } from '../../shared/usage/billing-runs.ts';

export interface InlineRun {
  run: BillingRunReport;
  /** The slice messages the planner sent (what the worker consumed). */
  slices: Array<{ runId: string } & BillingSlice>;
}

/**
 * A billing run in process, for db tests: the planner's slice messages are collected instead of
 * queued, then billed by `billSlice` (the worker's use case) `concurrency` at a time. The first
 * worker error is rethrown once every slice was tried (like a queue: other slices go on).
 */
export async function runBillingInline(
  input: { runId?: string; trigger: BillingRun['trigger'] },
  deps: RunBillingDeps,
  options: { concurrency?: number } = {},
): Promise<BillingRunReport> {
  return (await runBillingInlineWithSlices(input, deps, options)).run;
}

export async function runBillingInlineWithSlices(
  input: { runId?: string; trigger: BillingRun['trigger'] },
  deps: RunBillingDeps,
  options: { concurrency?: number } = {},
): Promise<InlineRun> {
  const slices: InlineRun['slices'] = [];
  const planned = await planBillingRun(input, {
    billing: deps.billing,
    slices: { send: async (m) => void slices.push(...m) },
    periodShards: deps.records.periodShards,
    clock: deps.clock,
    ids: deps.ids,
    config: deps.config,
  });
  let next = 0;
  let failure: unknown;
  await Promise.all(
    Array.from({ length: options.concurrency ?? 4 }, async () => {
      while (next < slices.length) {
        const s = slices[next++]!;
        try {
          await billSlice(s, deps);
        } catch (error) {
          failure ??= error;
        }
      }
    }),
  );
  if (failure) throw failure;
  // The run as GET /v1/usage/billing-runs/{id} reports it (slice failures and subscriptions merged).
  const billing = deps.billing as RunBillingDeps['billing'] & Partial<Pick<UsageBillingStore, 'listSlices'>>;
  const run = await getBillingRun(planned.id, {
    runs: {
      putRun: (r) => billing.putRun(r),
      getRun: (id) => billing.getRun(id),
      listSlices: (id) => (billing.listSlices ? billing.listSlices(id) : Promise.resolve([])),
    },
  });
  return { run, slices };
}
