import type { AppDirectClient } from '../../shared/clients/appdirect.ts';
import type { Submission, SubmissionLine } from '../../shared/db/entities/usage-billing.ts';
import { TransientError } from '../../shared/errors.ts';
import type { BillerAdapter, DeliveryHooks, DeliveryOutcome } from './biller.ts';

/** Billing Usage V2 limits (AppDirect guide): per request, and never volume-priced with others. */
export const APPDIRECT_LIMITS = { preconfigured: 250, custom: 850, bytes: 262_144 } as const;

/** AppDirect PricingUnit values are UPPER_SNAKE enum names; anything else is sent as a custom unit. */
export const isPricingUnit = (unit: string) => /^[A-Z][A-Z0-9_]*$/.test(unit);

export type AppDirectChunkClass = 'volume' | 'standard';
export const chunkClass = (line: Pick<SubmissionLine, 'pricing'>): AppDirectChunkClass =>
  line.pricing === 'volume' ? 'volume' : 'standard';

/** One usage event of the V2 body for a line (the line's aggregated delta). */
export function appDirectUsageItem(submissionId: string, line: SubmissionLine, index: number) {
  const preconfigured = line.pricing === 'volume' || isPricingUnit(line.unit);
  return {
    eventId: `${submissionId}-${index}`,
    eventDate: line.usageDate,
    ...(preconfigured ? { pricingUnit: line.unit } : { customUnit: line.unit }),
    quantity: line.quantity,
    description: `${line.quantity} ${line.unit} (${line.chargeNumber}, ${line.period})`,
    attributes: { subscriptionNumber: line.subscriptionNumber, chargeNumber: line.chargeNumber },
  };
}

/** The exact `POST /api/integration/v2/billing/usage` body of a submission. */
export function appDirectUsageBody(submission: Pick<Submission, 'id' | 'lines'>) {
  const byAccount = new Map<string, ReturnType<typeof appDirectUsageItem>[]>();
  submission.lines.forEach((line, i) => {
    const list = byAccount.get(line.accountNumber) ?? [];
    list.push(appDirectUsageItem(submission.id, line, i));
    byAccount.set(line.accountNumber, list);
  });
  return {
    idempotencyKey: submission.id,
    requestGroupId: submission.lines[0]?.period ?? null,
    billable: true,
    usages: [...byAccount].map(([accountId, usageList]) => ({ accountId, usageList })),
  };
}

/**
 * Splits lines into AppDirect submissions: one period per request (`requestGroupId`), volume-priced
 * lines never with others, at most 250 preconfigured and 850 events in all, and a body of at most
 * 262,144 bytes. `isolated` lines (that failed before) each get a request of their own, so one bad
 * line cannot keep refusing its neighbours.
 */
export function chunkAppDirectLines(
  lines: SubmissionLine[],
  isolated: (l: SubmissionLine) => boolean = () => false,
): SubmissionLine[][] {
  const chunks: SubmissionLine[][] = [];
  const buckets = new Map<string, SubmissionLine[]>();
  for (const line of lines) {
    if (isolated(line)) {
      chunks.push([line]);
      continue;
    }
    // One request per marketplace: each account is billed where it is held.
    const k = `${line.marketplaceBaseUrl ?? ''}|${line.period}|${chunkClass(line)}`;
    const b = buckets.get(k) ?? [];
    b.push(line);
    buckets.set(k, b);
  }
  // Envelope budget: the body without events, with room for the longest idempotency key and period.
  const envelope = 200;
  for (const bucket of buckets.values()) {
    let current: SubmissionLine[] = [];
    let pre = 0;
    let bytes = envelope;
    const accounts = new Set<string>();
    for (const line of bucket) {
      const item = appDirectUsageItem('usub_00000000000000000000000000', line, 99_999);
      const itemBytes = Buffer.byteLength(JSON.stringify(item)) + 1;
      const accountBytes = accounts.has(line.accountNumber) ? 0 : Buffer.byteLength(line.accountNumber) + 40;
      const isPre = 'pricingUnit' in item;
      if (
        current.length > 0 &&
        (current.length + 1 > APPDIRECT_LIMITS.custom ||
          (isPre && pre + 1 > APPDIRECT_LIMITS.preconfigured) ||
          bytes + itemBytes + accountBytes > APPDIRECT_LIMITS.bytes)
      ) {
        chunks.push(current);
        current = [];
        pre = 0;
        bytes = envelope;
        accounts.clear();
      }
      current.push(line);
      if (isPre) pre++;
      bytes +=
        itemBytes + (accounts.has(line.accountNumber) ? 0 : Buffer.byteLength(line.accountNumber) + 40);
      accounts.add(line.accountNumber);
    }
    if (current.length) chunks.push(current);
  }
  return chunks;
}

// The marketplace OAuth 2.0 client moved to the AppDirect client core (second use: the channel).
export { AppDirectClient } from '../../shared/clients/appdirect.ts';

const USAGE_PATH = '/api/integration/v2/billing/usage';

/**
 * AppDirect Billing Usage V2. The idempotency key is the submission id (recorded before the first
 * upload), so re-sending after a crash is safe: a duplicate-key answer means AppDirect already has
 * it, which counts as delivered. 202 → poll `queryUsageStatus`.
 */
export class AppDirectUsageBiller implements BillerAdapter {
  readonly maxLines = APPDIRECT_LIMITS.custom;
  private readonly sleep: (ms: number) => Promise<void>;

  private readonly clientFor: (line: SubmissionLine | undefined) => Pick<AppDirectClient, 'request'>;

  constructor(
    /** One client, or one per marketplace (chosen by the submission's lines, all of one marketplace). */
    client:
      | Pick<AppDirectClient, 'request'>
      | ((line: SubmissionLine | undefined) => Pick<AppDirectClient, 'request'>),
    private readonly options: {
      pollAttempts: number;
      pollIntervalMs: number;
      sleep?: (ms: number) => Promise<void>;
    },
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.clientFor = typeof client === 'function' ? client : () => client;
  }

  async deliver(submission: Submission, hooks: DeliveryHooks): Promise<DeliveryOutcome> {
    const client = this.clientFor(submission.lines[0]);
    let requestId = submission.remoteId;
    if (!requestId) {
      await hooks.beforeUpload();
      const res = await client.request<{ requestId?: string; message?: string; code?: string }>(USAGE_PATH, {
        method: 'POST',
        body: appDirectUsageBody(submission),
        operation: 'appdirect.billingUsageV2',
      });
      if (
        res.status === 409 ||
        (res.status === 400 && /duplicate|idempotency/i.test(JSON.stringify(res.body ?? '')))
      ) {
        return { status: 'delivered' };
      }
      if (res.status !== 202 || !res.body?.requestId) {
        if (res.status >= 500) throw new TransientError(`AppDirect billing usage answered ${res.status}`);
        return {
          status: 'failed',
          reason: `AppDirect refused the usage (HTTP ${res.status}): ${res.body?.message ?? 'no message'}`,
        };
      }
      requestId = res.body.requestId;
      await hooks.recordRemoteId(requestId);
    }
    for (let i = 0; i < this.options.pollAttempts; i++) {
      const res = await client.request<{ status?: string; errors?: Array<{ message?: string }> }>(
        `${USAGE_PATH}/requests/${encodeURIComponent(requestId)}`,
        { method: 'GET', operation: 'appdirect.billingUsageStatus' },
      );
      if (res.status !== 200) throw new TransientError(`AppDirect usage status answered ${res.status}`);
      const status = res.body?.status?.toUpperCase();
      if (status === 'COMPLETED' || status === 'SUCCESS') return { status: 'delivered' };
      if (status === 'FAILED' || status === 'ERROR') {
        return {
          status: 'failed',
          reason: `AppDirect rejected the usage: ${res.body?.errors?.map((e) => e.message).join('; ') || 'no detail'}`,
        };
      }
      await this.sleep(this.options.pollIntervalMs);
    }
    return { status: 'pending' };
  }
}
