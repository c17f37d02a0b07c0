import type { Clock } from '../../shared/clock.ts';
import type { RegisteredCharge, RegisteredSubscription } from '../../shared/db/entities/subscriptions.ts';
import type { NewUsageRecord, PutOutcome } from '../../shared/db/entities/usage-records.ts';
import { ValidationError } from '../../shared/errors.ts';
import { count } from '../../shared/telemetry.ts';
import { canonicalQuantity, MAX_QUANTITY } from '../../shared/usage/quantity.ts';
import { cloudEventSchema, type RecordResult, usageRecordSchema } from './schema.ts';

export interface UsageSubmissionConfig {
  /** Oldest accepted timestamp, in days before now (default 35). */
  lateWindowDays: number;
  /** Records expire (TTL) this many days after their timestamp (default 400). */
  retentionDays: number;
  /** How far in the future a timestamp may be (clock skew), seconds (default 300). */
  futureSkewSeconds: number;
  /** Conditional puts in flight at once for one request. */
  writeConcurrency: number;
}

export interface SubmitUsageDeps {
  registry: {
    get(
      subscriptionNumber: string,
    ): Promise<(RegisteredSubscription & { charges: RegisteredCharge[] }) | undefined>;
  };
  records: { put(record: NewUsageRecord, nowEpochSeconds: number): Promise<PutOutcome> };
  clock: Clock;
  config: UsageSubmissionConfig;
}

export interface SubmitUsageResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: RecordResult[];
}

/** A CloudEvent mapped onto the record shape (OpenMeter style: `subject` may carry the subscription). */
export function cloudEventToRecord(event: unknown): { record?: unknown; error?: string } {
  const parsed = cloudEventSchema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { error: `${issue?.path.join('.') || 'event'}: ${issue?.message ?? 'not a CloudEvent'}` };
  }
  const ev = parsed.data;
  if (ev.datacontenttype && !/^application\/(.+\+)?json/i.test(ev.datacontenttype)) {
    return { error: `datacontenttype: ${ev.datacontenttype} is not JSON` };
  }
  const q = ev.data.quantity;
  return {
    record: {
      id: ev.id,
      subscriptionNumber: ev.data.subscriptionNumber ?? ev.subject ?? undefined,
      chargeNumber: ev.data.chargeNumber,
      unit: ev.data.unit,
      quantity: typeof q === 'string' && /^\d+(\.\d+)?$/.test(q) ? Number(q) : q,
      timestamp: ev.time,
      ...(ev.data.attributes !== undefined ? { attributes: ev.data.attributes } : {}),
    },
  };
}

/**
 * Accepts a batch of usage records for `tenant`. Each record is validated and answered on its own;
 * an accepted record costs exactly one conditional put (the record is its own dedupe key). Same id
 * and same content → `duplicate`; same id, other content → rejected `CONFLICT`. All rejected → 400.
 */
export async function submitUsage(
  input: { tenant: string; records: Array<{ record?: unknown; error?: string }> },
  deps: SubmitUsageDeps,
): Promise<SubmitUsageResult> {
  const now = deps.clock.now();
  const nowSec = Math.floor(now.getTime() / 1000);
  const oldest = now.getTime() - deps.config.lateWindowDays * 86_400_000;
  const newest = now.getTime() + deps.config.futureSkewSeconds * 1000;
  const subscriptions = new Map<string, ReturnType<SubmitUsageDeps['registry']['get']>>();
  const lookup = (n: string) => {
    let p = subscriptions.get(n);
    if (!p) {
      p = deps.registry.get(n);
      subscriptions.set(n, p);
    }
    return p;
  };

  const handle = async (
    entry: { record?: unknown; error?: string },
    index: number,
  ): Promise<RecordResult> => {
    const rawId = (entry.record as { id?: unknown } | undefined)?.id;
    const id = typeof rawId === 'string' ? rawId : undefined;
    const reject = (code: string, message: string): RecordResult => ({
      index,
      ...(id !== undefined ? { id } : {}),
      status: 'rejected',
      code,
      message,
    });
    if (entry.error) return reject('INVALID_CLOUDEVENT', entry.error);
    const parsed = usageRecordSchema.safeParse(entry.record);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return reject('INVALID_FIELD', `${issue.path.join('.') || 'record'}: ${issue.message}`);
    }
    const r = parsed.data;
    const quantity = canonicalQuantity(r.quantity);
    if (quantity === undefined || r.quantity > MAX_QUANTITY) {
      return reject(
        'INVALID_FIELD',
        `quantity: must be at most ${MAX_QUANTITY} with at most 9 decimal places`,
      );
    }
    const at = Date.parse(r.timestamp);
    if (at > newest) {
      return reject(
        'TIMESTAMP_IN_FUTURE',
        `timestamp: more than ${deps.config.futureSkewSeconds} seconds in the future`,
      );
    }
    if (at < oldest) {
      return reject(
        'TOO_LATE',
        `timestamp: older than the late window of ${deps.config.lateWindowDays} days`,
      );
    }
    const subscription = await lookup(r.subscriptionNumber);
    if (!subscription?.tenants.includes(input.tenant)) {
      // Same answer for "absent" and "another tenant's": existence is not disclosed across tenants.
      return reject(
        'UNKNOWN_SUBSCRIPTION',
        `subscriptionNumber: ${r.subscriptionNumber} is not a subscription of this tenant`,
      );
    }
    const charge = subscription.charges.find((c) => c.chargeNumber === r.chargeNumber);
    if (!charge) {
      return reject(
        'UNKNOWN_CHARGE',
        `chargeNumber: ${r.chargeNumber} is not a charge of subscription ${r.subscriptionNumber}`,
      );
    }
    if (charge.unit && charge.unit !== r.unit) {
      return reject(
        'UNIT_MISMATCH',
        `unit: charge ${r.chargeNumber} is billed in ${charge.unit}, not ${r.unit}`,
      );
    }
    const timestamp = new Date(at).toISOString();
    const outcome = await deps.records.put(
      {
        tenant: input.tenant,
        id: r.id,
        subscriptionNumber: r.subscriptionNumber,
        chargeNumber: r.chargeNumber,
        unit: r.unit,
        quantity,
        timestamp,
        ...(r.attributes ? { attributes: r.attributes } : {}),
        acceptedAt: now.toISOString(),
        expiresAt: Math.floor(at / 1000) + deps.config.retentionDays * 86_400,
      },
      nowSec,
    );
    if (outcome === 'conflict') {
      return reject('CONFLICT', 'id: a record with this id and different content was already accepted');
    }
    return { index, id: r.id, status: outcome };
  };

  const results = await mapLimit(input.records, deps.config.writeConcurrency, handle);
  const summary: SubmitUsageResult = {
    accepted: results.filter((r) => r.status === 'accepted').length,
    duplicates: results.filter((r) => r.status === 'duplicate').length,
    rejected: results.filter((r) => r.status === 'rejected').length,
    results,
  };
  count('UsageRecordsAccepted', summary.accepted);
  count('UsageRecordsDuplicate', summary.duplicates);
  count('UsageRecordsRejected', summary.rejected);
  if (summary.rejected === results.length) {
    throw new ValidationError(
      `All ${results.length} usage records were rejected; nothing was stored.`,
      results.map((r) => ({ field: `records.${r.index}`, message: `${r.code}: ${r.message}` })),
      'ALL_REJECTED',
    );
  }
  return summary;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
