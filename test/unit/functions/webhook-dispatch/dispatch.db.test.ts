import { randomBytes } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webhookRoutes } from '../../../../functions/webhook-dispatch/routes.ts';
import { inProcessKms, LOCAL_KMS_KEY_ARN, LocalKms } from '../../../../local/kms.ts';
import { systemClock } from '../../../../shared/clock.ts';
import { CustomEventRepository } from '../../../../shared/db/entities/webhook-custom-events.ts';
import {
  deliveryIdFor,
  type WebhookDelivery,
  WebhookDeliveryRepository,
} from '../../../../shared/db/entities/webhook-deliveries.ts';
import { WebhookEndpointRepository } from '../../../../shared/db/entities/webhook-endpoints.ts';
import type { HubEvent } from '../../../../shared/events/publisher.ts';
import { httpHandler } from '../../../../shared/http/handler.ts';
import { newId, ulidGenerator } from '../../../../shared/ids.ts';
import type { DeliveryMessage } from '../../../../shared/webhooks/delivery-queue.ts';
import { type KmsSend, kmsSecretBox } from '../../../../shared/webhooks/secret-box.ts';
import { apiEvent, type TestKeys, testContext, testKeys } from '../../../helpers/auth.ts';
import { startTestTable, type TestTable } from '../../../helpers/dynamo.ts';

const box = kmsSecretBox({
  kms: inProcessKms(new LocalKms(randomBytes(32))) as KmsSend,
  keyId: LOCAL_KMS_KEY_ARN,
});
let table: TestTable;
let keys: TestKeys;
let handler: ReturnType<typeof httpHandler>;
let deliveries: WebhookDeliveryRepository;
let endpoints: WebhookEndpointRepository;
const published: HubEvent[] = [];
const enqueued: DeliveryMessage[] = [];

beforeAll(async () => {
  table = await startTestTable();
  keys = await testKeys();
  deliveries = new WebhookDeliveryRepository(table.doc, table.tableName);
  endpoints = new WebhookEndpointRepository(table.doc, table.tableName);
  handler = httpHandler({
    functionName: 'webhook-dispatch',
    verifier: keys.verifier,
    routes: webhookRoutes({
      endpoints,
      deliveries,
      customEvents: new CustomEventRepository(table.doc, table.tableName),
      queue: {
        enqueue: async (m) =>
          void enqueued.push(...m.map(({ deliveryId, dueKey }) => ({ deliveryId, dueKey }))),
      },
      publisher: { publish: async (e) => void published.push(...e) },
      clock: systemClock,
      ids: ulidGenerator,
      stage: 'prod',
      secrets: box,
    }),
  });
});
afterAll(async () => {
  await table.stop();
});

const MANAGE = ['webhooks:manage', 'webhooks:publish'];

async function call(
  method: string,
  path: string,
  options: {
    tenant?: string;
    scopes?: string[];
    body?: unknown;
    query?: Record<string, string>;
    headers?: Record<string, string>;
    token?: string | null;
  } = {},
) {
  const template = path.replace(
    /ep_[0-9A-Z]{26}|msg_[0-9A-Z]{26}|\{[^}]+\}|[^/]+(?=\/(rotate-secret|replay)$)/g,
    (m) =>
      m.startsWith('msg_') || path.startsWith('/v1/webhooks/deliveries/') ? '{deliveryId}' : '{endpointId}',
  );
  const params: Record<string, string> = {};
  const tSeg = template.split('/');
  path.split('/').forEach((seg, i) => {
    const t = tSeg[i]!;
    if (t.startsWith('{')) params[t.slice(1, -1)] = seg;
  });
  const token =
    options.token === null
      ? undefined
      : (options.token ??
        (await keys.token({ tenant: options.tenant ?? 'arrow', scopes: options.scopes ?? MANAGE })));
  const res = (await handler(
    apiEvent({
      method,
      path,
      routeKey: `${method} ${template}`,
      pathParameters: params,
      ...(options.query ? { query: options.query } : {}),
      headers: {
        ...(typeof options.body === 'string' ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(options.headers ?? {}),
      },
      ...(options.body !== undefined ? { body: options.body as object } : {}),
    }),
    testContext('webhook-dispatch') as never,
  )) as APIGatewayProxyStructuredResultV2;
  return { status: res.statusCode!, body: res.body ? JSON.parse(res.body) : undefined };
}

const validEndpoint = { url: 'https://hooks.arrow.example/switchboard', eventTypes: ['custom.*'] };

describe('webhook endpoints API', () => {
  it('creates, reads, lists, updates, rotates and deletes an endpoint; the secret is shown only twice', async () => {
    const created = await call('POST', '/v1/webhooks/endpoints', {
      tenant: 'crud',
      body: { ...validEndpoint, description: 'ERP' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      status: 'enabled',
      rateLimitPerSecond: 10,
      allEvents: false,
      description: 'ERP',
    });
    expect(created.body.secret).toMatch(/^whsec_/);
    const id = created.body.id as string;
    const got = await call('GET', `/v1/webhooks/endpoints/${id}`, { tenant: 'crud' });
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain('whsec_');
    const patched = await call('PATCH', `/v1/webhooks/endpoints/${id}`, {
      tenant: 'crud',
      body: { eventTypes: ['order.*', '*'], status: 'disabled' },
    });
    expect(patched.body).toMatchObject({
      status: 'disabled',
      disabledReason: 'manual',
      eventTypes: ['order.*', '*'],
    });
    const enabled = await call('PATCH', `/v1/webhooks/endpoints/${id}`, {
      tenant: 'crud',
      body: { status: 'enabled' },
    });
    expect(enabled.body.status).toBe('enabled');
    expect(enabled.body.disabledReason).toBeUndefined();
    const rotated = await call('POST', `/v1/webhooks/endpoints/${id}/rotate-secret`, { tenant: 'crud' });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(created.body.secret);
    // Stored sealed: neither secret is readable in the table.
    const stored = (await endpoints.get('crud', id))!;
    expect(JSON.stringify(stored)).not.toContain('whsec_');
    const owner = { tenant: 'crud', endpointId: id };
    expect(await box.open(stored.secret, owner)).toBe(rotated.body.secret);
    expect(await box.open(stored.previousSecret!, owner)).toBe(created.body.secret);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3_600_000);
    // Sealed for this endpoint only: another endpoint id or tenant, or another KMS key, cannot open it.
    await expect(box.open(stored.secret, { tenant: 'crud', endpointId: 'ep_other' })).rejects.toThrow(
      /not sealed for this endpoint/,
    );
    await expect(box.open(stored.secret, { tenant: 'other', endpointId: id })).rejects.toThrow(
      /not sealed for this endpoint/,
    );
    const otherKms = kmsSecretBox({
      kms: inProcessKms(new LocalKms(randomBytes(32))) as KmsSend,
      keyId: LOCAL_KMS_KEY_ARN,
    });
    await expect(otherKms.open(stored.secret, owner)).rejects.toThrow();
    for (let i = 0; i < 2; i++)
      await call('POST', '/v1/webhooks/endpoints', { tenant: 'crud', body: validEndpoint });
    const first = await call('GET', '/v1/webhooks/endpoints', { tenant: 'crud', query: { limit: '2' } });
    expect(first.body.items).toHaveLength(2);
    const second = await call('GET', '/v1/webhooks/endpoints', {
      tenant: 'crud',
      query: { limit: '2', cursor: first.body.cursor },
    });
    expect(second.body.items.length).toBeGreaterThanOrEqual(1);
    expect(new Set([...first.body.items, ...second.body.items].map((e: { id: string }) => e.id)).size).toBe(
      3,
    );
    expect((await call('DELETE', `/v1/webhooks/endpoints/${id}`, { tenant: 'crud' })).status).toBe(204);
    expect((await call('GET', `/v1/webhooks/endpoints/${id}`, { tenant: 'crud' })).status).toBe(404);
  });

  it('records all-events on endpoints created by a token holding webhooks:all-events', async () => {
    const res = await call('POST', '/v1/webhooks/endpoints', {
      tenant: 'platform-x',
      scopes: ['webhooks:manage', 'webhooks:all-events'],
      body: validEndpoint,
    });
    expect(res.body.allEvents).toBe(true);
    expect((await endpoints.listAllEvents()).map((e) => e.id)).toContain(res.body.id);
    await endpoints.delete('platform-x', res.body.id);
  });

  it('answers 404 (never 403) for another tenant’s endpoints and deliveries, and changes nothing', async () => {
    const mine = await call('POST', '/v1/webhooks/endpoints', { tenant: 'owner', body: validEndpoint });
    const id = mine.body.id as string;
    const d = await storeDelivery('owner', id, 'failed');
    for (const [method, path, body] of [
      ['GET', `/v1/webhooks/endpoints/${id}`],
      ['PATCH', `/v1/webhooks/endpoints/${id}`, { status: 'disabled' }],
      ['DELETE', `/v1/webhooks/endpoints/${id}`],
      ['POST', `/v1/webhooks/endpoints/${id}/rotate-secret`],
      ['POST', `/v1/webhooks/endpoints/${id}/replay`, { since: '2020-01-01T00:00:00Z' }],
      ['GET', `/v1/webhooks/deliveries/${d.id}`],
      ['POST', `/v1/webhooks/deliveries/${d.id}/replay`],
    ] as const) {
      const res = await call(method, path, { tenant: 'intruder', ...(body ? { body } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
    }
    const log = await call('GET', '/v1/webhooks/deliveries', {
      tenant: 'intruder',
      query: { endpointId: id },
    });
    expect(log.body.items).toEqual([]);
    expect(
      await box.open((await endpoints.get('owner', id))!.secret, { tenant: 'owner', endpointId: id }),
    ).toBe(mine.body.secret);
    expect((await endpoints.get('owner', id))!.status).toBe('enabled');
    expect((await deliveries.get(d.id))!.status).toBe('failed');
  });
});

describe('bad input changes nothing', () => {
  it.each([
    ['no body', undefined, 400, 'BODY_REQUIRED'],
    ['malformed JSON', '{"url":', 400, 'MALFORMED_JSON'],
    ['unknown field', { ...validEndpoint, secret: 'whsec_x' }, 400, 'VALIDATION_FAILED'],
    ['private IP', { ...validEndpoint, url: 'https://10.0.0.8/hook' }, 400, 'INVALID_URL'],
    ['metadata IP', { ...validEndpoint, url: 'https://169.254.169.254/' }, 400, 'INVALID_URL'],
    ['IPv6 metadata', { ...validEndpoint, url: 'https://[fd00:ec2::254]/' }, 400, 'INVALID_URL'],
    ['http outside local', { ...validEndpoint, url: 'http://hooks.example.com/' }, 400, 'INVALID_URL'],
    ['bad filter', { ...validEndpoint, eventTypes: ['order.**'] }, 400, 'VALIDATION_FAILED'],
    ['unknown exact type', { ...validEndpoint, eventTypes: ['order.exploded'] }, 400, 'UNKNOWN_EVENT_TYPE'],
    ['no filters', { ...validEndpoint, eventTypes: [] }, 400, 'VALIDATION_FAILED'],
    ['rate too high', { ...validEndpoint, rateLimitPerSecond: 5000 }, 400, 'VALIDATION_FAILED'],
  ])('POST endpoints: %s → %s', async (_, body, status, code) => {
    const res = await call('POST', '/v1/webhooks/endpoints', { tenant: 'bad-input', body });
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(code);
    expect(res.body.message).toBeTruthy();
    expect((await endpoints.listAll('bad-input')).length).toBe(0);
  });

  it('wrong content type is 415, a missing token 401, a missing scope 403', async () => {
    expect(
      (
        await call('POST', '/v1/webhooks/endpoints', {
          body: 'url=x',
          headers: { 'content-type': 'text/plain' },
        })
      ).status,
    ).toBe(415);
    expect((await call('GET', '/v1/webhooks/endpoints', { token: null })).status).toBe(401);
    expect((await call('GET', '/v1/webhooks/endpoints', { scopes: ['webhooks:publish'] })).status).toBe(403);
    expect(
      (
        await call('POST', '/v1/webhooks/events', {
          scopes: ['webhooks:manage'],
          body: { type: 'custom.a', data: {} },
        })
      ).status,
    ).toBe(403);
  });

  it('rejects bad updates, queries, cursors and unknown ids', async () => {
    const ep = await call('POST', '/v1/webhooks/endpoints', { tenant: 'bad-2', body: validEndpoint });
    const id = ep.body.id as string;
    const before = await endpoints.get('bad-2', id);
    for (const body of [
      {},
      { status: 'paused' },
      { url: 'https://127.0.0.1/' },
      { eventTypes: ['Order.Accepted'] },
      { nope: 1 },
    ]) {
      const res = await call('PATCH', `/v1/webhooks/endpoints/${id}`, { tenant: 'bad-2', body });
      expect(res.status, JSON.stringify(body)).toBe(400);
    }
    expect(await endpoints.get('bad-2', id)).toEqual(before);
    expect(
      (
        await call('POST', `/v1/webhooks/endpoints/${id}/replay`, {
          tenant: 'bad-2',
          body: { since: 'yesterday' },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call('GET', '/v1/webhooks/endpoints', { tenant: 'bad-2', query: { limit: '0' } })).status,
    ).toBe(400);
    expect(
      (await call('GET', '/v1/webhooks/endpoints', { tenant: 'bad-2', query: { cursor: 'garbage' } })).status,
    ).toBe(400);
    const foreign = Buffer.from(JSON.stringify({ PK: 'WHEP#other', SK: 'EP#x' })).toString('base64url');
    expect(
      (await call('GET', '/v1/webhooks/endpoints', { tenant: 'bad-2', query: { cursor: foreign } })).status,
    ).toBe(400);
    for (const query of [
      { status: 'lost' },
      { endpointId: 'x' },
      { cursor: 'garbage' },
      { limit: '1000' },
      { sort: 'asc' },
    ] as Array<Record<string, string>>) {
      expect(
        (await call('GET', '/v1/webhooks/deliveries', { tenant: 'bad-2', query })).status,
        JSON.stringify(query),
      ).toBe(400);
    }
    expect((await call('GET', '/v1/webhooks/endpoints/ep_nope', { tenant: 'bad-2' })).status).toBe(404);
    expect(
      (await call('GET', `/v1/webhooks/deliveries/msg_${'0'.repeat(26)}`, { tenant: 'bad-2' })).status,
    ).toBe(404);
    expect((await call('POST', '/v1/webhooks/deliveries/whatever/replay', { tenant: 'bad-2' })).status).toBe(
      404,
    );
  });

  it('refuses custom events outside the custom. prefix, without object data, or too large, publishing nothing', async () => {
    const before = published.length;
    for (const body of [
      { type: 'order.accepted', data: {} },
      { type: 'custom.', data: {} },
      { type: 'custom.Bad-Type', data: {} },
      { type: 'custom.ok', data: [1] },
      { type: 'custom.ok' },
      { type: 'custom.ok', data: {}, tenant: 'someone-else' },
    ]) {
      expect((await call('POST', '/v1/webhooks/events', { body })).status, JSON.stringify(body)).toBe(400);
    }
    expect(
      (
        await call('POST', '/v1/webhooks/events', {
          body: { type: 'custom.big', data: { x: 'y'.repeat(70_000) } },
        })
      ).status,
    ).toBe(413);
    expect(published.length).toBe(before);
  });
});

describe('custom events, delivery log and replay', () => {
  it('publishes a custom event for the caller’s tenant', async () => {
    const res = await call('POST', '/v1/webhooks/events', {
      tenant: 'pub',
      body: { type: 'custom.invoice.paid', data: { invoice: 'INV-1' } },
    });
    expect(res.status).toBe(202);
    expect(published.at(-1)).toEqual({
      type: 'custom.invoice.paid',
      detail: {
        tenant: 'pub',
        eventId: res.body.eventId,
        occurredAt: res.body.occurredAt,
        data: { invoice: 'INV-1' },
      },
    });
  });

  it('makes a retried publish with the same Idempotency-Key the same event; another body is 409', async () => {
    const send = (data: Record<string, unknown>, key = 'order-42-paid') =>
      call('POST', '/v1/webhooks/events', {
        tenant: 'idem',
        body: { type: 'custom.invoice.paid', data },
        headers: { 'idempotency-key': key },
      });
    const first = await send({ invoice: 'INV-42' });
    const retry = await send({ invoice: 'INV-42' });
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    const [a, b] = published.slice(-2);
    expect(b).toEqual(a);
    const before = published.length;
    const reused = await send({ invoice: 'INV-43' });
    expect(reused.status).toBe(409);
    expect(reused.body.error).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(published.length).toBe(before);
    expect((await send({ invoice: 'INV-42' }, 'bad key!')).status).toBe(400);
    // Another tenant's identical key is its own.
    const other = await call('POST', '/v1/webhooks/events', {
      tenant: 'idem-2',
      body: { type: 'custom.invoice.paid', data: { invoice: 'INV-42' } },
      headers: { 'idempotency-key': 'order-42-paid' },
    });
    expect(other.body.eventId).not.toBe(first.body.eventId);
  });

  it('pages the log across shards with an opaque cursor, newest first, every delivery exactly once', async () => {
    const ep = await call('POST', '/v1/webhooks/endpoints', { tenant: 'log', body: validEndpoint });
    const other = await call('POST', '/v1/webhooks/endpoints', { tenant: 'log', body: validEndpoint });
    const base = Date.now() - 1_000_000;
    const stored: WebhookDelivery[] = [];
    for (let i = 0; i < 23; i++)
      stored.push(
        await storeDelivery('log', ep.body.id, i % 3 === 0 ? 'failed' : 'succeeded', base + i * 1000),
      );
    for (let i = 0; i < 4; i++) await storeDelivery('log', other.body.id, 'failed', base + i * 1000 + 500);
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await call('GET', '/v1/webhooks/deliveries', {
        tenant: 'log',
        query: { endpointId: ep.body.id, limit: '5', ...(cursor ? { cursor } : {}) },
      });
      expect(res.status).toBe(200);
      seen.push(...res.body.items.map((d: { id: string }) => d.id));
      cursor = res.body.cursor;
      pages++;
    } while (cursor && pages < 30);
    expect(seen).toEqual(
      stored
        .map((d) => d.id)
        .sort()
        .reverse(),
    );
    const failed = await call('GET', '/v1/webhooks/deliveries', {
      tenant: 'log',
      query: { status: 'failed', limit: '100' },
    });
    expect(failed.body.items).toHaveLength(8 + 4);
    const typed = await call('GET', '/v1/webhooks/deliveries', {
      tenant: 'log',
      query: { type: 'custom.other', limit: '100' },
    });
    expect(typed.body.items).toHaveLength(0);
    const one = await call('GET', `/v1/webhooks/deliveries/${stored[0]!.id}`, { tenant: 'log' });
    expect(one.body).toMatchObject({
      id: stored[0]!.id,
      status: 'failed',
      attempts: [{ n: 1, statusCode: 500 }],
    });
  });

  it('refuses a delivery-log cursor minted for another endpoint or tenant: 400 INVALID_CURSOR', async () => {
    const a = await call('POST', '/v1/webhooks/endpoints', { tenant: 'cur-a', body: validEndpoint });
    const b = await call('POST', '/v1/webhooks/endpoints', { tenant: 'cur-a', body: validEndpoint });
    const c = await call('POST', '/v1/webhooks/endpoints', { tenant: 'cur-c', body: validEndpoint });
    const base = Date.now() - 500_000;
    for (let i = 0; i < 4; i++) {
      await storeDelivery('cur-a', a.body.id, 'failed', base + i * 1000);
      await storeDelivery('cur-a', b.body.id, 'failed', base + i * 1000 + 100);
      await storeDelivery('cur-c', c.body.id, 'failed', base + i * 1000 + 200);
    }
    const first = await call('GET', '/v1/webhooks/deliveries', {
      tenant: 'cur-a',
      query: { endpointId: a.body.id, limit: '2' },
    });
    expect(first.status).toBe(200);
    const cursor: string = first.body.cursor;
    expect(cursor).toBeTruthy();
    const own = await call('GET', '/v1/webhooks/deliveries', {
      tenant: 'cur-a',
      query: { endpointId: a.body.id, limit: '2', cursor },
    });
    expect(own.status).toBe(200);
    const foreign: Array<{ tenant: string; query: Record<string, string> }> = [
      { tenant: 'cur-a', query: { endpointId: b.body.id, limit: '2', cursor } },
      { tenant: 'cur-a', query: { limit: '2', cursor } },
      { tenant: 'cur-c', query: { endpointId: c.body.id, limit: '2', cursor } },
      { tenant: 'cur-c', query: { limit: '2', cursor } },
    ];
    for (const f of foreign) {
      const res = await call('GET', '/v1/webhooks/deliveries', f);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('INVALID_CURSOR');
    }
    const before = await deliveries.list({ tenant: 'cur-a', endpointId: b.body.id, limit: 10 });
    const replay = await call('POST', `/v1/webhooks/endpoints/${b.body.id}/replay`, {
      tenant: 'cur-a',
      body: { since: new Date(base - 1000).toISOString(), cursor },
    });
    expect(replay.status).toBe(400);
    const after = await deliveries.list({ tenant: 'cur-a', endpointId: b.body.id, limit: 10 });
    expect(after.items.map((d) => d.status)).toEqual(before.items.map((d) => d.status));
  });

  it('replays one delivery, and every failed delivery of an endpoint since a time', async () => {
    const ep = await call('POST', '/v1/webhooks/endpoints', { tenant: 'replay', body: validEndpoint });
    const old = await storeDelivery('replay', ep.body.id, 'failed', Date.now() - 3 * 86_400_000);
    const recent = await storeDelivery('replay', ep.body.id, 'failed', Date.now() - 3_600_000);
    const ok = await storeDelivery('replay', ep.body.id, 'succeeded', Date.now() - 3_600_000);
    const pending = await storeDelivery('replay', ep.body.id, 'pending', Date.now() - 60_000);
    expect(
      (await call('POST', `/v1/webhooks/deliveries/${pending.id}/replay`, { tenant: 'replay' })).status,
    ).toBe(409);
    const single = await call('POST', `/v1/webhooks/deliveries/${ok.id}/replay`, { tenant: 'replay' });
    expect(single.status).toBe(202);
    expect(await deliveries.get(ok.id)).toMatchObject({ status: 'pending', retryIndex: 0 });
    expect(enqueued.at(-1)!.deliveryId).toBe(ok.id);
    const bulk = await call('POST', `/v1/webhooks/endpoints/${ep.body.id}/replay`, {
      tenant: 'replay',
      body: { since: new Date(Date.now() - 86_400_000).toISOString() },
    });
    expect(bulk.body).toEqual({ replayed: 1 });
    expect((await deliveries.get(recent.id))!.status).toBe('pending');
    expect((await deliveries.get(old.id))!.status).toBe('failed');
    await call('PATCH', `/v1/webhooks/endpoints/${ep.body.id}`, {
      tenant: 'replay',
      body: { status: 'disabled' },
    });
    const refused = await call('POST', `/v1/webhooks/deliveries/${old.id}/replay`, { tenant: 'replay' });
    expect(refused.status).toBe(422);
    expect((await deliveries.get(old.id))!.status).toBe('failed');
  });
});

async function storeDelivery(
  tenant: string,
  endpointId: string,
  status: WebhookDelivery['status'],
  at = Date.now(),
) {
  const id = deliveryIdFor(newId('evt'), endpointId, at);
  const iso = new Date(at).toISOString();
  const d: WebhookDelivery = {
    id,
    tenant,
    endpointId,
    endpointTenant: tenant,
    eventId: newId('evt'),
    eventType: 'custom.thing',
    payload: '{}',
    status,
    attemptCount: status === 'pending' ? 0 : 1,
    retryIndex: 0,
    ...(status === 'pending' ? { nextAttemptAt: iso, dueKey: `${iso}#${id}` } : {}),
    attempts:
      status === 'pending'
        ? []
        : [{ n: 1, at: iso, statusCode: status === 'failed' ? 500 : 200, durationMs: 3 }],
    createdAt: iso,
    updatedAt: iso,
  };
  await deliveries.createIfAbsent(d);
  return d;
}
