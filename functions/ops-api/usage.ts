import type { BillingRun, Submission, UsageBillingStore } from '../../shared/db/entities/usage-billing.ts';
import { type BillingRunDeps, getBillingRun, startBillingRun } from '../../shared/usage/billing-runs.ts';

export interface OpsUsageDeps {
  billing: Pick<UsageBillingStore, 'listRuns' | 'listRunSubmissions'>;
  runs: BillingRunDeps['runs'];
  /** The usage-billing function's run queue (the same hand-off as `POST /v1/usage/billing-runs`). */
  runQueue: BillingRunDeps['queue'];
  ids: BillingRunDeps['ids'];
  clock: BillingRunDeps['clock'];
}

const runRow = (r: BillingRun) => ({
  id: r.id,
  trigger: r.trigger,
  status: r.status,
  ...(r.requestedBy ? { requestedBy: r.requestedBy } : {}),
  createdAt: r.createdAt,
  ...(r.startedAt ? { startedAt: r.startedAt } : {}),
  ...(r.finishedAt ? { finishedAt: r.finishedAt } : {}),
  ...(r.stats ? { stats: r.stats } : {}),
  ...(r.slices ? { slices: r.slices } : {}),
  ...(r.error ? { error: r.error } : {}),
});

export async function listRuns(limit: number, deps: Pick<OpsUsageDeps, 'billing'>) {
  return { items: (await deps.billing.listRuns(limit)).map(runRow) };
}

/** Starts a run now, in the operator's name. */
export async function startRun(operator: string, deps: OpsUsageDeps) {
  return runRow(
    await startBillingRun({ requestedBy: `operator:${operator}` }, { ...deps, queue: deps.runQueue }),
  );
}

/** A run's outcome per subscription: what each of its submissions billed and how it ended. */
export async function runOutcome(id: string, deps: OpsUsageDeps) {
  const run = await getBillingRun(id, deps);
  const submissions: Submission[] = await deps.billing.listRunSubmissions(run.id);
  const bySubscription = new Map<
    string,
    {
      subscriptionNumber: string;
      tenant: string;
      biller: string;
      lines: Array<Record<string, string>>;
      statuses: Set<string>;
    }
  >();
  for (const s of submissions) {
    for (const l of s.lines) {
      const key = `${l.tenant}#${l.subscriptionNumber}`;
      const entry = bySubscription.get(key) ?? {
        subscriptionNumber: l.subscriptionNumber,
        tenant: l.tenant,
        biller: s.biller,
        lines: [],
        statuses: new Set<string>(),
      };
      entry.lines.push({
        chargeNumber: l.chargeNumber,
        unit: l.unit,
        period: l.period,
        quantity: l.quantity,
        submissionId: s.id,
        status: s.status,
      });
      entry.statuses.add(s.status);
      bySubscription.set(key, entry);
    }
  }
  return {
    ...runRow(run),
    failures: run.failures,
    subscriptions: [...bySubscription.values()]
      .sort((a, b) => (a.subscriptionNumber < b.subscriptionNumber ? -1 : 1))
      .map(({ statuses, ...rest }) => ({
        ...rest,
        outcome:
          statuses.has('failed') || statuses.has('abandoned')
            ? 'failed'
            : statuses.has('billed') && statuses.size === 1
              ? 'billed'
              : [...statuses].join(', '),
      })),
  };
}
