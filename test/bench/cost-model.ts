/**
 * The monthly cost model of `docs/cost.md`: AWS list prices for us-east-1 (N. Virginia), no free tier,
 * no savings plans, as published on AWS's pricing pages (read 2026-12-05), applied to the per-unit
 * counts `cost.bench.ts` measures through the local runtime. What the local runtime cannot measure
 * (durations against real partners, log volume, trace sampling) is an explicit assumption below.
 */
export const PRICES = {
  region: 'us-east-1',
  asOf: '2026-12-05',
  lambdaRequestPerMillion: 0.2,
  /** arm64 (every function is Graviton), first tier. */
  lambdaGbSecond: 0.0000133334,
  apiGatewayHttpPerMillion: 1.0,
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
  dynamoStorageGbMonth: 0.25,
  eventBridgeCustomEventPerMillion: 1.0,
  sqsStandardRequestPerMillion: 0.4,
  cloudWatchLogsIngestGb: 0.5,
  cloudWatchLogsStoreGbMonth: 0.03,
  xrayTracesRecordedPerMillion: 5.0,
  sesPerThousandEmails: 0.1,
} as const;

/** What the local runtime cannot measure. */
export const ASSUMPTIONS = {
  /** Mean AWS duration per invocation, in ms, by function (real partner latency, warm). */
  durationMs: {
    'order-intake': 300, // includes the synchronous screening call
    'billing-provisioner': 1500, // Zuora Orders API
    'crm-sync': 800, // Salesforce composite upsert
    'licence-provisioner': 300, // signing + SES SendEmail
    'webhook-fanout': 60,
    'webhook-dispatch': 60,
    'webhook-deliverer': 300, // partner endpoint response time
    'usage-submission': 250, // one batch of 100 records
    default: 100,
  } as Record<string, number>,
  /** Powertools JSON lines plus Lambda's START/END/REPORT lines, per invocation at INFO. */
  logBytesPerInvocation: 2048,
  /** SQS requests per message: send, receive, delete (batching by the event source mapping only lowers it). */
  sqsRequestsPerMessage: 3,
  /** Sampled traces: every request up to the 1/s reservoir is traced at these volumes (upper bound). */
  tracedShareOfApiRequests: 1,
  /** A distributor polls an order's status once besides the webhooks (GET /v1/orders/{id}). */
  statusPollsPerOrder: 1,
  /** Licence e-mails per order (one copy to the buyer). */
  emailsPerOrder: 1,
};

export interface UnitCounts {
  apiRequests: number;
  /** Invocations per unit by function. */
  invocations: Record<string, number>;
  memoryMb: Record<string, number>;
  busEntries: number;
  queueMessages: number;
  rru: number;
  wru: number;
  /** Bytes stored per unit: items + 100 B overhead each, plus index copies. */
  storageBytes: number;
}

export interface Line {
  service: string;
  quantity: string;
  usd: number;
}

/** Monthly cost of `units` units with the measured per-unit `c` (storage: one month's units kept). */
export function priceMonth(
  units: number,
  c: UnitCounts,
  extra: { emails?: number; polls?: number } = {},
): Line[] {
  const m = units / 1e6;
  const lines: Line[] = [];
  const invocations = Object.values(c.invocations).reduce((a, b) => a + b, 0) + (extra.polls ?? 0);
  let gbSeconds = 0;
  for (const [fn, n] of Object.entries(c.invocations)) {
    const ms = ASSUMPTIONS.durationMs[fn] ?? ASSUMPTIONS.durationMs.default!;
    gbSeconds += n * (ms / 1000) * ((c.memoryMb[fn] ?? 512) / 1024);
  }
  gbSeconds += (extra.polls ?? 0) * ((ASSUMPTIONS.durationMs.default ?? 100) / 1000) * 0.5;
  const api = c.apiRequests + (extra.polls ?? 0);
  lines.push({
    service: 'Lambda requests',
    quantity: `${fmtM(invocations * units)} invocations`,
    usd: invocations * m * PRICES.lambdaRequestPerMillion,
  });
  lines.push({
    service: 'Lambda duration (arm64)',
    quantity: `${fmtK(gbSeconds * units)} GB-s`,
    usd: gbSeconds * units * PRICES.lambdaGbSecond,
  });
  lines.push({
    service: 'API Gateway (HTTP API)',
    quantity: `${fmtM(api * units)} requests`,
    usd: api * m * PRICES.apiGatewayHttpPerMillion,
  });
  lines.push({
    service: 'DynamoDB writes (on-demand)',
    quantity: `${fmtM(c.wru * units)} WRU`,
    usd: c.wru * m * PRICES.dynamoWruPerMillion,
  });
  lines.push({
    service: 'DynamoDB reads (on-demand)',
    quantity: `${fmtM((c.rru + (extra.polls ?? 0) * 0.5) * units)} RRU`,
    usd: (c.rru + (extra.polls ?? 0) * 0.5) * m * PRICES.dynamoRruPerMillion,
  });
  const gb = (c.storageBytes * units) / 1024 ** 3;
  lines.push({
    service: 'DynamoDB storage (one month of units)',
    quantity: `${gb.toFixed(1)} GB`,
    usd: gb * PRICES.dynamoStorageGbMonth,
  });
  lines.push({
    service: 'EventBridge custom events',
    quantity: `${fmtM(c.busEntries * units)} events`,
    usd: c.busEntries * m * PRICES.eventBridgeCustomEventPerMillion,
  });
  const sqs = c.queueMessages * ASSUMPTIONS.sqsRequestsPerMessage;
  lines.push({
    service: 'SQS (standard)',
    quantity: `${fmtM(sqs * units)} requests`,
    usd: sqs * m * PRICES.sqsStandardRequestPerMillion,
  });
  const logGb = (invocations * units * ASSUMPTIONS.logBytesPerInvocation) / 1024 ** 3;
  lines.push({
    service: 'CloudWatch Logs (ingest + 1 month stored)',
    quantity: `${logGb.toFixed(1)} GB`,
    usd: logGb * (PRICES.cloudWatchLogsIngestGb + PRICES.cloudWatchLogsStoreGbMonth),
  });
  const traces = api * ASSUMPTIONS.tracedShareOfApiRequests;
  lines.push({
    service: 'X-Ray traces recorded',
    quantity: `${fmtM(traces * units)} traces`,
    usd: traces * m * PRICES.xrayTracesRecordedPerMillion,
  });
  if (extra.emails) {
    lines.push({
      service: 'SES e-mails',
      quantity: `${fmtM(extra.emails * units)} e-mails`,
      usd: extra.emails * units * (PRICES.sesPerThousandEmails / 1000),
    });
  }
  return lines;
}

export function markdown(title: string, lines: Line[]): string {
  const total = lines.reduce((a, l) => a + l.usd, 0);
  return [
    `| ${title} | quantity | USD / month |`,
    '|---|---:|---:|',
    ...lines.map((l) => `| ${l.service} | ${l.quantity} | ${l.usd.toFixed(2)} |`),
    `| **total** | | **${total.toFixed(2)}** |`,
  ].join('\n');
}

const fmtM = (n: number) =>
  n >= 1e6 ? `${(n / 1e6).toFixed(1)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)} k` : n.toFixed(0);
const fmtK = (n: number) => (n >= 1e3 ? `${(n / 1e3).toFixed(0)} k` : n.toFixed(0));
