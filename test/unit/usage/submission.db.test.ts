import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../../shared/clock.ts';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { UsageRecordStore } from '../../../shared/db/entities/usage-records.ts';
import { apiEvent, type TestKeys, testContext, testKeys } from '../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

type Handler = (e: unknown, c: unknown) => Promise<APIGatewayProxyStructuredResultV2>;

let table: TestTable;
let keys: TestKeys;
let handler: Handler;
let writer: string;
let other: string;

const now = () => new Date(systemClock.now().getTime());
const iso = (offsetMs = 0) => new Date(now().getTime() + offsetMs).toISOString();

// Fixed once: the timestamp is part of a record's content (a different one is a CONFLICT).
const T0 = iso(-60_000);
const record = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  subscriptionNumber: 'A-S00000001',
  chargeNumber: 'C-00000001',
  unit: 'GIGABYTE',
  quantity: 2.5,
  timestamp: T0,
  ...over,
});

async function call(options: {
  method: string;
  path: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string>;
}) {
  const res = await handler(
    apiEvent({
      method: options.method,
      path: options.path,
      ...(options.query ? { query: options.query } : {}),
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.headers ?? {}),
      },
      ...(options.body !== undefined ? { body: options.body as object } : {}),
    }),
    testContext('usage-submission'),
  );
  return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
}

const post = (token: string, body: unknown, headers?: Record<string, string>) =>
  call({ method: 'POST', path: '/v1/usage', token, body, ...(headers ? { headers } : {}) });

beforeAll(async () => {
  table = await startTestTable();
  table.applyEnv();
  keys = await testKeys();
  keys.applyEnv();
  process.env.QUEUE_USAGE_BILLING_RUNS_URL = 'http://127.0.0.1:9/000000000000/usage-billing-runs';
  const registry = new SubscriptionRegistry(table.doc, table.tableName);
  await registry.register({
    subscriptionNumber: 'A-S00000001',
    accountNumber: 'A00000001',
    tenants: ['platform'],
    source: 'cli',
    now: now(),
  });
  await registry.putCharge(
    { subscriptionNumber: 'A-S00000001', chargeNumber: 'C-00000001', unit: 'GIGABYTE' },
    now(),
  );
  await registry.putCharge({ subscriptionNumber: 'A-S00000001', chargeNumber: 'C-00000002' }, now());
  await registry.register({
    subscriptionNumber: 'A-S00000009',
    accountNumber: 'A00000009',
    tenants: ['other'],
    source: 'cli',
    now: now(),
  });
  await registry.putCharge(
    { subscriptionNumber: 'A-S00000009', chargeNumber: 'C-00000009', unit: 'GIGABYTE' },
    now(),
  );
  handler = (
    (await import('../../../functions/usage-submission/handler.ts')) as unknown as { handler: Handler }
  ).handler;
  writer = await keys.token({ tenant: 'platform', scopes: ['usage:write', 'usage:read'] });
  other = await keys.token({ tenant: 'other', scopes: ['usage:write', 'usage:read'] });
});
afterAll(async () => {
  await table?.stop();
});

describe('POST /v1/usage', () => {
  it('accepts records, answers duplicates and conflicts per record, and the summary adds them up', async () => {
    const first = await post(writer, {
      records: [record('r-1'), record('r-2', { quantity: 0.1, chargeNumber: 'C-00000002', unit: 'HOUR' })],
    });
    expect(first.status).toBe(202);
    expect(first.body.results.map((r: { status: string }) => r.status)).toEqual(['accepted', 'accepted']);

    const again = await post(writer, {
      records: [
        record('r-1'),
        record('r-2', { quantity: 0.2, chargeNumber: 'C-00000002', unit: 'HOUR' }),
        record('r-3'),
      ],
    });
    expect(again.status).toBe(202);
    expect(again.body.results).toEqual([
      { index: 0, id: 'r-1', status: 'duplicate' },
      expect.objectContaining({ index: 1, id: 'r-2', status: 'rejected', code: 'CONFLICT' }),
      { index: 2, id: 'r-3', status: 'accepted' },
    ]);
    expect(again.body).toMatchObject({ accepted: 1, duplicates: 1, rejected: 1 });

    const summary = await call({
      method: 'GET',
      path: '/v1/usage/summary',
      token: writer,
      query: { subscriptionNumber: 'A-S00000001', period: iso(-60_000).slice(0, 7) },
    });
    expect(summary.status).toBe(200);
    expect(summary.body.charges).toEqual([
      {
        chargeNumber: 'C-00000001',
        unit: 'GIGABYTE',
        records: 2,
        total: '5',
        billed: '0',
        pending: '5',
        inFlight: '0',
      },
      {
        chargeNumber: 'C-00000002',
        unit: 'HOUR',
        records: 1,
        total: '0.1',
        billed: '0',
        pending: '0.1',
        inFlight: '0',
      },
    ]);
  });

  it('treats the same timestamp written differently as the same content', async () => {
    const ts = '2026-11-01T00:00:00Z';
    const at = new Date(Math.min(Date.parse(ts), now().getTime() - 1000)).toISOString();
    await post(writer, { records: [record('r-ts', { timestamp: at })] });
    const res = await post(writer, { records: [record('r-ts', { timestamp: at.replace('Z', '+00:00') })] });
    expect(res.body.results[0].status).toBe('duplicate');
  });

  it('rejects every invalid field with a code naming it, and stores nothing for it', async () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ id: undefined }, 'INVALID_FIELD', /^id/],
      [{ id: 'has space' }, 'INVALID_FIELD', /^id/],
      [{ subscriptionNumber: '' }, 'INVALID_FIELD', /^subscriptionNumber/],
      [{ subscriptionNumber: 'A#1' }, 'INVALID_FIELD', /^subscriptionNumber/],
      [{ chargeNumber: 7 }, 'INVALID_FIELD', /^chargeNumber/],
      [{ unit: undefined }, 'INVALID_FIELD', /^unit/],
      [{ quantity: -1 }, 'INVALID_FIELD', /^quantity/],
      [{ quantity: '3' }, 'INVALID_FIELD', /^quantity/],
      [{ quantity: 1e-10 }, 'INVALID_FIELD', /^quantity/],
      [{ quantity: 1e16 }, 'INVALID_FIELD', /^quantity/],
      [{ timestamp: 'yesterday' }, 'INVALID_FIELD', /^timestamp/],
      [{ timestamp: iso(10 * 60_000) }, 'TIMESTAMP_IN_FUTURE', /^timestamp/],
      [{ timestamp: iso(-36 * 86_400_000) }, 'TOO_LATE', /^timestamp/],
      [{ attributes: { region: 5 } }, 'INVALID_FIELD', /^attributes/],
      [{ extra: true }, 'INVALID_FIELD', /extra|record/],
      [{ subscriptionNumber: 'A-S404' }, 'UNKNOWN_SUBSCRIPTION', /^subscriptionNumber/],
      [
        { subscriptionNumber: 'A-S00000009', chargeNumber: 'C-00000009' },
        'UNKNOWN_SUBSCRIPTION',
        /^subscriptionNumber/,
      ],
      [{ chargeNumber: 'C-404' }, 'UNKNOWN_CHARGE', /^chargeNumber/],
      [{ unit: 'HOUR' }, 'UNIT_MISMATCH', /^unit/],
    ];
    const records = cases.map(([over], i) => record(`bad-${i}`, over));
    const res = await post(writer, { records: [...records, record('good-1')] });
    expect(res.status).toBe(202);
    cases.forEach(([, code, message], i) => {
      const result = res.body.results[i];
      expect({ i, status: result.status, code: result.code }).toEqual({ i, status: 'rejected', code });
      expect(result.message).toMatch(message);
    });
    expect(res.body.results[cases.length].status).toBe('accepted');
    // The rejected ids were not taken: sending them again valid is accepted.
    const retry = await post(writer, { records: [record('bad-6')] });
    expect(retry.body.results[0].status).toBe('accepted');
  });

  it('answers 400 when every record is rejected, with details naming them', async () => {
    const res = await post(writer, {
      records: [record('x-1', { quantity: -5 }), record('x-2', { chargeNumber: 'C-404' })],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('ALL_REJECTED');
    expect(res.body.details).toEqual([
      { field: 'records.0', message: expect.stringMatching(/^INVALID_FIELD: quantity/) },
      { field: 'records.1', message: expect.stringMatching(/^UNKNOWN_CHARGE/) },
    ]);
  });

  it('refuses malformed requests as a whole: content type, size, JSON, count, emptiness', async () => {
    expect((await post(writer, 'id,quantity', { 'content-type': 'text/csv' })).status).toBe(415);
    expect((await post(writer, '{"records": [', { 'content-type': 'application/json' })).body.error).toBe(
      'MALFORMED_JSON',
    );
    const huge = {
      records: [record('h', { attributes: { pad: 'x'.repeat(1000) } })],
      pad: 'y'.repeat(300_000),
    };
    expect((await post(writer, huge)).status).toBe(413);
    const many = await post(writer, { records: Array.from({ length: 501 }, (_, i) => record(`m-${i}`)) });
    expect(many.status).toBe(400);
    expect(many.body.details[0].field).toBe('records');
    expect((await post(writer, { records: [] })).status).toBe(400);
    expect((await call({ method: 'POST', path: '/v1/usage', token: writer })).status).toBe(400);
  });

  it('accepts a bare JSON array', async () => {
    const res = await post(writer, [record('arr-1')]);
    expect(res.body.results[0].status).toBe('accepted');
  });

  it('accepts a CloudEvents batch (OpenMeter style: subject = subscription), answering bad events per event', async () => {
    const event = (id: string, over: Record<string, unknown> = {}) => ({
      specversion: '1.0',
      id,
      source: '/platform/metering',
      type: 'com.vendor.usage',
      subject: 'A-S00000001',
      time: T0,
      datacontenttype: 'application/json',
      data: { chargeNumber: 'C-00000001', unit: 'GIGABYTE', quantity: '4' },
      ...over,
    });
    const body = JSON.stringify([
      event('ce-1'),
      event('ce-2', { specversion: '0.3' }),
      event('ce-3', { data: { chargeNumber: 'C-00000001', unit: 'GIGABYTE', quantity: 'lots' } }),
    ]);
    const res = await post(writer, body, { 'content-type': 'application/cloudevents-batch+json' });
    expect(res.status).toBe(202);
    expect(res.body.results.map((r: { status: string; code?: string }) => r.code ?? r.status)).toEqual([
      'accepted',
      'INVALID_CLOUDEVENT',
      'INVALID_FIELD',
    ]);
    const dup = await post(writer, JSON.stringify([event('ce-1')]), {
      'content-type': 'application/cloudevents-batch+json',
    });
    expect(dup.body.results[0].status).toBe('duplicate');
    const notArray = await post(writer, JSON.stringify(event('ce-9')), {
      'content-type': 'application/cloudevents-batch+json',
    });
    expect(notArray.status).toBe(400);
  });

  it('decides concurrent duplicates and conflicts exactly once', async () => {
    const same = await Promise.all(
      Array.from({ length: 12 }, () => post(writer, { records: [record('c-same')] })),
    );
    const statuses = same.map((r) => r.body.results[0].status).sort();
    expect(statuses.filter((s) => s === 'accepted')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(11);

    const diff = await Promise.all(
      Array.from({ length: 8 }, (_, i) => post(writer, { records: [record('c-diff', { quantity: i + 1 })] })),
    );
    const results = diff.map((r) => (r.status === 202 ? r.body.results[0].status : 'rejected'));
    expect(results.filter((s) => s === 'accepted')).toHaveLength(1);
    expect(
      diff.filter((r) => r.status === 400 && r.body.details[0].message.startsWith('CONFLICT')),
    ).toHaveLength(7);
  });

  it('isolates tenants: ids are per tenant, subscriptions and summaries are not shared', async () => {
    const mine = await post(other, {
      records: [record('r-1', { subscriptionNumber: 'A-S00000009', chargeNumber: 'C-00000009' })],
    });
    expect(mine.body.results[0].status).toBe('accepted'); // same id as platform's r-1: no conflict across tenants
    const theirs = await post(other, { records: [record('t-1')] });
    expect(theirs.status).toBe(400);
    expect(theirs.body.details[0].message).toMatch(/^UNKNOWN_SUBSCRIPTION/);
    const summary = await call({
      method: 'GET',
      path: '/v1/usage/summary',
      token: other,
      query: { subscriptionNumber: 'A-S00000001', period: iso().slice(0, 7) },
    });
    expect(summary.status).toBe(404);
  });

  it('requires the scopes of the manifest and validates the summary query', async () => {
    const reader = await keys.token({ tenant: 'platform', scopes: ['usage:read'] });
    expect((await post(reader, { records: [record('s-1')] })).status).toBe(403);
    expect((await post('', { records: [record('s-1')] })).status).toBe(401);
    const bad = await call({
      method: 'GET',
      path: '/v1/usage/summary',
      token: writer,
      query: { subscriptionNumber: 'A-S00000001', period: '2026-13' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.details[0].field).toBe('period');
  });
});

describe('UsageRecordStore', () => {
  it('costs exactly one write per accepted record', async () => {
    let writes = 0;
    table.doc.middlewareStack.add(
      (next, context) => async (args) => {
        if (
          /^(PutItem|UpdateItem|DeleteItem|BatchWriteItem)/.test(
            String(context.commandName).replace('Command', ''),
          )
        )
          writes++;
        return next(args);
      },
      { step: 'initialize', name: 'countWrites' },
    );
    const store = new UsageRecordStore(table.doc, table.tableName);
    const base = {
      tenant: 'count',
      subscriptionNumber: 'S',
      chargeNumber: 'C',
      unit: 'U',
      quantity: '1',
      timestamp: iso(),
      acceptedAt: iso(),
      expiresAt: 2e9,
    };
    for (let i = 0; i < 50; i++) expect(await store.put({ ...base, id: `w-${i}` }, 1)).toBe('accepted');
    expect(writes).toBe(50);
    expect(await store.put({ ...base, id: 'w-1' }, 1)).toBe('duplicate');
    expect(await store.put({ ...base, id: 'w-2', quantity: '2' }, 1)).toBe('conflict');
    table.doc.middlewareStack.remove('countWrites');
  });
});
