import { AppDirectClient, AppDirectUsageBiller } from '../../functions/usage-billing/appdirect-usage.ts';
import {
  type BillingSlice,
  billSlice,
  planBillingRun,
  type RunBillingDeps,
} from '../../functions/usage-billing/run-billing.ts';
import { ZuoraUsageBiller } from '../../functions/usage-billing/zuora-usage.ts';
import { LOCAL_APPDIRECT_CREDENTIALS } from '../../local/sandboxes/appdirect-credentials.ts';
import { LOCAL_ZUORA_CREDENTIALS } from '../../local/sandboxes/zuora/index.ts';
import { HttpClient } from '../../shared/clients/http.ts';
import { ZuoraClient } from '../../shared/clients/zuora.ts';
import type { Clock } from '../../shared/clock.ts';
import type { BillingRun, UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { ulidGenerator } from '../../shared/ids.ts';
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

/**
 * The billing run's dependencies with both billers pointed at sandboxes served over HTTP
 * (`serveSandboxes`): Zuora's usage import and AppDirect's billing API, polled without waiting. The
 * configuration is the deployed one (35-day late window, 30-minute lease, 4 submissions at a time).
 */
export function sandboxBillingDeps(input: {
  records: RunBillingDeps['records'];
  billing: RunBillingDeps['billing'];
  registry: RunBillingDeps['registry'];
  baseUrl: (sandbox: 'zuora' | 'appdirect') => string;
  clock: Clock;
}): RunBillingDeps {
  const http = (name: 'zuora' | 'appdirect') => new HttpClient({ baseUrl: input.baseUrl(name) });
  return {
    records: input.records,
    billing: input.billing,
    registry: input.registry,
    billers: {
      zuora: new ZuoraUsageBiller(
        new ZuoraClient({
          baseUrl: input.baseUrl('zuora'),
          credentials: async () => LOCAL_ZUORA_CREDENTIALS,
          clock: input.clock,
          http: http('zuora'),
        }),
        { dateFormat: 'MM/DD/YYYY', pollAttempts: 10, pollIntervalMs: 0 },
      ),
      appdirect: new AppDirectUsageBiller(
        new AppDirectClient({
          baseUrl: input.baseUrl('appdirect'),
          credentials: async () => LOCAL_APPDIRECT_CREDENTIALS,
          clock: input.clock,
          http: http('appdirect'),
        }),
        { pollAttempts: 10, pollIntervalMs: 0 },
      ),
    },
    publisher: { publish: async () => {} },
    clock: input.clock,
    ids: ulidGenerator,
    config: {
      lateWindowDays: 35,
      leaseSeconds: 1800,
      retryBaseSeconds: 900,
      retryMaxSeconds: 86_400,
      submissionConcurrency: 4,
    },
  };
}
