import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../../shared/clock.ts';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { apiEvent, type TestKeys, testKeys } from '../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { repoRoot } from '../../helpers/reference.ts';

/**
 * Real handlers run as Lambda runs them (a child process with the Lambda environment variables, an
 * X-Ray daemon address pointing at a UDP socket of this test, EMF enabled): what reaches X-Ray and
 * CloudWatch is asserted on what the process actually emits, not on mocks.
 */
vi.setConfig({ testTimeout: 120_000, hookTimeout: 120_000 });

type Doc = Record<string, any>;
let table: TestTable;
let keys: TestKeys;
let udp: Socket;
let workDir: string;
const datagrams: Doc[] = [];

beforeAll(async () => {
  table = await startTestTable();
  keys = await testKeys();
  const registry = new SubscriptionRegistry(table.doc, table.tableName);
  await registry.register({
    subscriptionNumber: 'A-S00000077',
    accountNumber: 'A00000077',
    tenants: ['platform'],
    source: 'cli',
    now: systemClock.now(),
  });
  await registry.putCharge(
    { subscriptionNumber: 'A-S00000077', chargeNumber: 'C-00000077', unit: 'GIGABYTE' },
    systemClock.now(),
  );
  udp = createSocket('udp4');
  udp.on('message', (msg) => {
    // Daemon protocol: a header line, then the (sub)segment document.
    const [, body] = msg.toString('utf8').split('\n');
    if (body) datagrams.push(JSON.parse(body) as Doc);
  });
  await new Promise<void>((ok) => udp.bind(0, '127.0.0.1', ok));
  workDir = mkdtempSync(join(tmpdir(), 'sb-telemetry-'));
});

afterAll(async () => {
  await new Promise<void>((ok) => (udp ? udp.close(() => ok()) : ok()));
  await table?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const traceId = (n: number) => `1-5f84c7a1-${String(n).padStart(24, '0')}`;

/** Runs `module` in a Lambda-like child process; returns its stdout lines and results. */
async function runAsLambda(
  functionName: string,
  module: string,
  events: unknown[],
  env: Record<string, string> = {},
): Promise<{ lines: string[]; stderr: string; results: any[] }> {
  const file = join(workDir, `${functionName}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      events.map((event, i) => ({
        traceId: `Root=${traceId(i + 1)};Parent=53995c3f42cd8ad${i};Sampled=1`,
        event,
      })),
    ),
  );
  const port = (udp.address() as AddressInfo).port;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/fixtures/lambda-invoke.ts', module, file],
    {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_NO_WARNINGS: '1',
        AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
        AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
        LAMBDA_TASK_ROOT: repoRoot,
        _HANDLER: 'index.handler',
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
        AWS_XRAY_CONTEXT_MISSING: 'LOG_ERROR',
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        AWS_ENDPOINT_URL_DYNAMODB: table.endpoint,
        TABLE_NAME: table.tableName,
        STAGE: 'dev',
        POWERTOOLS_SERVICE_NAME: functionName,
        POWERTOOLS_METRICS_NAMESPACE: 'Switchboard',
        POWERTOOLS_METRICS_DISABLED: 'false',
        POWERTOOLS_LOG_LEVEL: 'SILENT',
        AUTH_ISSUER: 'switchboard',
        AUTH_AUDIENCE: 'switchboard-api',
        ...env,
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  const code = await new Promise<number | null>((ok) => child.on('close', ok));
  if (code !== 0) throw new Error(`child failed (${code}): ${stderr}`);
  const lines = stdout.split('\n').filter(Boolean);
  const resultLine = lines.find((l) => l.startsWith('RESULTS '));
  return {
    lines: lines.filter((l) => !l.startsWith('RESULTS ')),
    stderr,
    results: JSON.parse(resultLine!.slice('RESULTS '.length)) as any[],
  };
}

/** Every (sub)segment received, nested ones flattened, with their parent's id. */
function segments(): Doc[] {
  const out: Doc[] = [];
  const walk = (doc: Doc, parent?: string) => {
    out.push({ ...doc, parent_id: doc.parent_id ?? parent });
    for (const sub of doc.subsegments ?? []) walk(sub, doc.id);
  };
  for (const d of datagrams) walk(d);
  return out;
}

const emf = (lines: string[]) =>
  lines.filter((l) => l.startsWith('{') && l.includes('"_aws"')).map((l) => JSON.parse(l) as Doc);

describe('HTTP function (usage-submission) as Lambda runs it', () => {
  let run: Awaited<ReturnType<typeof runAsLambda>>;
  beforeAll(async () => {
    const token = await keys.token({ tenant: 'platform', scopes: ['usage:write', 'usage:read'] });
    const ts = new Date(Date.now() - 60_000).toISOString();
    const record = (id: string, sub = 'A-S00000077') => ({
      id,
      subscriptionNumber: sub,
      chargeNumber: 'C-00000077',
      unit: 'GIGABYTE',
      quantity: 1,
      timestamp: ts,
    });
    const post = (records: unknown[]) =>
      apiEvent({
        method: 'POST',
        path: '/v1/usage',
        headers: { authorization: `Bearer ${token}` },
        body: { records },
      });
    run = await runAsLambda(
      'usage-submission',
      'functions/usage-submission/handler.ts',
      [
        post([record('t-1'), record('t-2'), record('t-3', 'A-S00000099')]),
        post([record('t-1'), record('t-2')]),
        apiEvent({
          method: 'GET',
          path: '/v1/usage/summary',
          query: { subscriptionNumber: 'A-S00000077', period: ts.slice(0, 7) },
          headers: { authorization: `Bearer ${token}` },
        }),
      ],
      {
        AUTH_PUBLIC_JWK: JSON.stringify(keys.publicJwk),
        QUEUE_USAGE_BILLING_RUNS_URL: 'http://127.0.0.1:9/000000000000/usage-billing-runs',
      },
    );
  });

  it('answers as it does in the suite', () => {
    expect(run.results.map((r) => r.statusCode)).toEqual([202, 202, 200]);
  });

  it('emits one EMF line per invocation that measured something, plus ColdStart once', () => {
    const docs = emf(run.lines);
    const cold = docs.filter((d) => 'ColdStart' in d);
    expect(cold).toHaveLength(1);
    expect(cold[0]).toMatchObject({ ColdStart: 1, function_name: 'usage-submission' });
    const usage = docs.filter((d) => !('ColdStart' in d));
    expect(usage).toHaveLength(2); // the GET recorded nothing, so it wrote nothing
    for (const d of usage) {
      const [directive] = d._aws.CloudWatchMetrics;
      expect(directive.Namespace).toBe('Switchboard');
      expect(directive.Dimensions).toEqual([['service']]);
      expect(d.service).toBe('usage-submission');
    }
    expect(usage[0]).toMatchObject({ UsageRecordsAccepted: 2, UsageRecordsRejected: 1 });
    expect(usage[0]).not.toHaveProperty('UsageRecordsDuplicate');
    expect(usage[1]).toMatchObject({ UsageRecordsDuplicate: 2 });
    expect(`${run.lines.join('\n')}${run.stderr}`).not.toContain('No application metrics');
  });

  it('traces each invocation: handler subsegment annotated, DynamoDB calls captured under it', () => {
    const all = segments();
    const handlers = all.filter((s) => s.name === '## index.handler');
    expect(handlers.map((h) => h.trace_id)).toEqual([traceId(1), traceId(2), traceId(3)]);
    expect(handlers[0]!.annotations).toMatchObject({
      ColdStart: true,
      Service: 'usage-submission',
      route: 'POST /v1/usage',
      tenant: 'platform',
      statusCode: 202,
    });
    expect(handlers[1]!.annotations).toMatchObject({ ColdStart: false, statusCode: 202 });
    expect(handlers[2]!.annotations).toMatchObject({ route: 'GET /v1/usage/summary', statusCode: 200 });
    const dynamo = all.filter((s) => s.namespace === 'aws' && s.name === 'DynamoDB');
    expect(dynamo.length).toBeGreaterThanOrEqual(3);
    const handlerIds = new Set(handlers.map((h) => h.id));
    expect(dynamo.every((d) => handlerIds.has(d.parent_id))).toBe(true);
    expect(new Set(dynamo.map((d) => d.aws?.operation))).toContain('PutItem');
    // Responses are never captured (they carry customers' data).
    expect(JSON.stringify(handlers)).not.toContain('t-1');
  });
});

describe('queue consumer (webhook-fanout) as Lambda runs it', () => {
  it('traces one subsegment per record, annotated with the event type, tenant and order id', async () => {
    const before = datagrams.length;
    const body = JSON.stringify({
      version: '0',
      id: '7bf73129-1428-4cd3-a780-95db273d1602',
      'detail-type': 'order.accepted',
      source: 'switchboard',
      account: '000000000000',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [],
      detail: {
        tenant: 'arrow',
        orderId: 'ord_01JTRACE000000000000000000',
        channelOrderId: 'PO-1',
        channel: 'api',
        status: 'ACCEPTED',
      },
    });
    const run = await runAsLambda(
      'webhook-fanout',
      'functions/webhook-fanout/handler.ts',
      [
        {
          Records: [
            {
              messageId: 'm-1',
              receiptHandle: 'r',
              body,
              attributes: {
                ApproximateReceiveCount: '1',
                SentTimestamp: '0',
                SenderId: 'x',
                ApproximateFirstReceiveTimestamp: '0',
              },
              messageAttributes: {},
              md5OfBody: '',
              eventSource: 'aws:sqs',
              eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:webhook-fanout',
              awsRegion: 'us-east-1',
            },
          ],
        },
      ],
      { QUEUE_WEBHOOK_DELIVERY_URL: 'http://127.0.0.1:9/000000000000/webhook-delivery' },
    );
    expect(run.results).toEqual([{ batchItemFailures: [] }]);
    const all = segments();
    const record = all.filter((s) => s.name === '### order.accepted');
    expect(record.length).toBeGreaterThanOrEqual(1);
    expect(record.at(-1)!.annotations).toMatchObject({
      eventType: 'order.accepted',
      tenant: 'arrow',
      orderId: 'ord_01JTRACE000000000000000000',
    });
    const queries = all.filter(
      (s) => s.name === 'DynamoDB' && s.aws?.operation === 'Query' && s.parent_id === record.at(-1)!.id,
    );
    expect(queries.length).toBe(2); // the tenant's endpoints and the all-events endpoints
    expect(datagrams.length).toBeGreaterThan(before);
  });
});
