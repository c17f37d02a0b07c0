import type { Clock } from '../clock.ts';
import type { RegisteredSubscription } from '../db/entities/subscriptions.ts';
import type { GroupState } from '../db/entities/usage-billing.ts';
import type { UsageRecordItem } from '../db/entities/usage-records.ts';
import { NotFoundError } from '../errors.ts';
import { fromScaled, toScaled } from '../usage/quantity.ts';

export interface SummarizeUsageDeps {
  registry: { get(subscriptionNumber: string): Promise<RegisteredSubscription | undefined> };
  records: {
    listGroup(
      tenant: string,
      sub: string,
      period: string,
      nowEpochSeconds: number,
    ): Promise<UsageRecordItem[]>;
  };
  billing: { listStates(tenant: string, sub: string, period: string): Promise<GroupState[]> };
  clock: Clock;
}

/**
 * Totals of one subscription and period for the calling tenant, per charge and unit: everything
 * accepted, what is billed, what a submission is billing right now, and what is still pending.
 */
export async function summarizeUsage(
  input: { tenant: string; subscriptionNumber: string; period: string },
  deps: SummarizeUsageDeps,
) {
  const subscription = await deps.registry.get(input.subscriptionNumber);
  if (!subscription?.tenants.includes(input.tenant)) {
    throw new NotFoundError(`Subscription ${input.subscriptionNumber} is not a subscription of this tenant.`);
  }
  const nowSec = Math.floor(deps.clock.now().getTime() / 1000);
  const [records, states] = await Promise.all([
    deps.records.listGroup(input.tenant, input.subscriptionNumber, input.period, nowSec),
    deps.billing.listStates(input.tenant, input.subscriptionNumber, input.period),
  ]);
  const groups = new Map<string, { chargeNumber: string; unit: string; records: number; total: bigint }>();
  for (const r of records) {
    const k = `${r.chargeNumber}\u0000${r.unit}`;
    const g = groups.get(k) ?? { chargeNumber: r.chargeNumber, unit: r.unit, records: 0, total: 0n };
    g.records += 1;
    g.total += toScaled(r.quantity) ?? 0n;
    groups.set(k, g);
  }
  const charges = [...groups.values()]
    .sort((a, b) => (a.chargeNumber + a.unit < b.chargeNumber + b.unit ? -1 : 1))
    .map((g) => {
      const state = states.find((s) => s.chargeNumber === g.chargeNumber && s.unit === g.unit);
      const billed = toScaled(state?.billed ?? '0') ?? 0n;
      const inFlight = toScaled(state?.inflight?.delta ?? '0') ?? 0n;
      const pending = g.total - billed - inFlight;
      return {
        chargeNumber: g.chargeNumber,
        unit: g.unit,
        records: g.records,
        total: fromScaled(g.total),
        billed: fromScaled(billed),
        pending: fromScaled(pending > 0n ? pending : 0n),
        inFlight: fromScaled(inFlight),
      };
    });
  return { subscriptionNumber: input.subscriptionNumber, period: input.period, charges };
}
