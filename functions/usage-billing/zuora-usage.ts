import type { ZuoraClient } from '../../shared/clients/zuora.ts';
import type { Submission, SubmissionLine } from '../../shared/db/entities/usage-billing.ts';
import { PermanentError, TransientError } from '../../shared/errors.ts';
import type { BillerAdapter, DeliveryHooks, DeliveryOutcome } from './biller.ts';

/** Date formats of Zuora user locales for STARTDATE / ENDDATE (en_US, en_GB…, ISO). */
export const zuoraDateFormats = ['MM/DD/YYYY', 'DD/MM/YYYY', 'YYYY-MM-DD'] as const;
export type ZuoraDateFormat = (typeof zuoraDateFormats)[number];

export const ZUORA_USAGE_COLUMNS = [
  'ACCOUNT_ID',
  'UOM',
  'QTY',
  'STARTDATE',
  'ENDDATE',
  // Zuora requires this header even when its values are empty (dynamic usage charges only).
  'PRODUCT_RATE_PLAN_CHARGE_ID',
  'SUBSCRIPTION_ID',
  'CHARGE_ID',
  'DESCRIPTION',
] as const;

/** Zuora refuses usage files of 4 MB or more. */
export const ZUORA_MAX_FILE_BYTES = 4 * 1024 * 1024;

export function formatZuoraDate(iso: string, format: ZuoraDateFormat): string {
  const [y, m, d] = iso.slice(0, 10).split('-') as [string, string, string];
  if (format === 'MM/DD/YYYY') return `${m}/${d}/${y}`;
  if (format === 'DD/MM/YYYY') return `${d}/${m}/${y}`;
  return `${y}-${m}-${d}`;
}

/**
 * One CSV cell. A cell that a spreadsheet would read as a formula (leading `=`, `+`, `-`, `@`, tab or
 * CR: CSV/formula injection, OWASP) is prefixed with `'` so it stays text when an operator opens the
 * import file; partners choose units, so this is not hypothetical.
 */
const csvCell = (raw: string) => {
  const value = /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
};

/** The usage import file of one submission (CSV, CRLF, header row first). */
export function zuoraUsageCsv(submission: Pick<Submission, 'id' | 'lines'>, format: ZuoraDateFormat): string {
  const rows = submission.lines.map((l: SubmissionLine) =>
    [
      l.accountNumber,
      l.unit,
      l.quantity,
      formatZuoraDate(l.usageDate, format),
      formatZuoraDate(l.usageDate, format),
      '',
      l.subscriptionNumber,
      l.chargeNumber,
      `Switchboard usage ${l.period} (${submission.id})`,
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[ZUORA_USAGE_COLUMNS.join(','), ...rows].join('\r\n')}\r\n`;
}

/** The import's name: the uploaded file name, deterministic per submission so it can be found again. */
export const zuoraImportName = (submissionId: string) => `switchboard-${submissionId}.csv`;

export interface ZuoraUsageOptions {
  dateFormat: ZuoraDateFormat;
  /** Status polls after an upload before giving the submission back as pending. */
  pollAttempts: number;
  pollIntervalMs: number;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Zuora usage import (`POST /v1/usage`, multipart CSV; `GET /v1/usage/{id}/status`). The import is
 * atomic and has no idempotency key, so an upload is never retried blindly: before any re-upload the
 * import is looked up by its deterministic file name (ZOQL on the Import object), and an upload whose
 * outcome is unknown (timeout, 5xx other than 503) is left for a later run to look up.
 */
export class ZuoraUsageBiller implements BillerAdapter {
  readonly maxLines = 500;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: Pick<ZuoraClient, 'request'>,
    private readonly options: ZuoraUsageOptions,
  ) {
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async deliver(submission: Submission, hooks: DeliveryHooks): Promise<DeliveryOutcome> {
    let importId = submission.remoteId;
    if (!importId && submission.attempts > 0) importId = await this.findImport(submission.id);
    for (let attempt = 0; !importId; attempt++) {
      if (attempt >= 3) throw new TransientError('Zuora usage upload kept being refused as busy');
      if (attempt > 0) {
        importId = await this.findImport(submission.id);
        if (importId) break;
      }
      await hooks.beforeUpload();
      const uploaded = await this.upload(submission);
      if (uploaded.status === 'failed') return uploaded;
      if (uploaded.status === 'busy') continue;
      importId = uploaded.importId;
    }
    if (importId !== submission.remoteId) await hooks.recordRemoteId(importId);
    return this.poll(importId);
  }

  private async upload(
    submission: Submission,
  ): Promise<
    { status: 'uploaded'; importId: string } | { status: 'busy' } | { status: 'failed'; reason: string }
  > {
    const csv = zuoraUsageCsv(submission, this.options.dateFormat);
    if (Buffer.byteLength(csv) >= ZUORA_MAX_FILE_BYTES) {
      return { status: 'failed', reason: 'usage file would exceed 4 MB' };
    }
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), zuoraImportName(submission.id));
    const res = await this.client.request<{
      success?: boolean;
      checkImportStatus?: string;
      reasons?: Array<{ message?: string }>;
    }>('/v1/usage', {
      method: 'POST',
      body: form,
      operation: 'zuora.usageImport',
      attempts: 1,
      retryOn: () => false,
    });
    // 429 and 503 say "not processed"; anything else unexpected leaves the outcome unknown.
    if (res.status === 429 || res.status === 503) return { status: 'busy' };
    if (res.status >= 500)
      throw new TransientError(`Zuora usage upload answered ${res.status}; outcome unknown`);
    const importId = /\/v1\/usage\/([^/]+)\/status/.exec(res.body?.checkImportStatus ?? '')?.[1];
    if (res.status === 200 && res.body?.success && importId) return { status: 'uploaded', importId };
    const reason = res.body?.reasons?.map((r) => r.message).join('; ') || `HTTP ${res.status}`;
    return { status: 'failed', reason: `Zuora refused the usage file: ${reason}` };
  }

  /** The import created from this submission's file, if Zuora has one (ZOQL on the Import object). */
  private async findImport(submissionId: string): Promise<string | undefined> {
    const res = await this.client.request<{ records?: Array<{ Id?: string }> }>('/v1/action/query', {
      method: 'POST',
      body: { queryString: `select Id, Status from Import where Name = '${zuoraImportName(submissionId)}'` },
      operation: 'zuora.queryImport',
    });
    if (res.status !== 200) throw new TransientError(`Zuora import query answered ${res.status}`);
    return res.body?.records?.[0]?.Id;
  }

  private async poll(importId: string): Promise<DeliveryOutcome> {
    for (let i = 0; i < this.options.pollAttempts; i++) {
      const res = await this.client.request<{ importStatus?: string; message?: string }>(
        `/v1/usage/${encodeURIComponent(importId)}/status`,
        { method: 'GET', operation: 'zuora.usageImportStatus' },
      );
      if (res.status === 404)
        throw new PermanentError(`Zuora does not know import ${importId}`, 'ZUORA_IMPORT_UNKNOWN');
      if (res.status !== 200) throw new TransientError(`Zuora import status answered ${res.status}`);
      const status = res.body?.importStatus;
      if (status === 'Completed') return { status: 'delivered' };
      if (status === 'Failed' || status === 'Canceled') {
        return {
          status: 'failed',
          reason: `Zuora import ${status.toLowerCase()}: ${res.body?.message ?? 'no reason given'}`,
        };
      }
      await this.sleep(this.options.pollIntervalMs);
    }
    return { status: 'pending' };
  }
}
