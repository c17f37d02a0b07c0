import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type SwitchboardClient, switchboardClient, tokenSource } from '@switchboard/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDynamoClient } from '../../local/dynamo.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { startTestRuntime } from '../helpers/runtime.ts';

/**
 * The API as an outside integrator uses it: every call here goes through the typed client
 * (@switchboard/client — generated types, openapi-fetch, tokenSource for both grants) against the
 * local suite over real HTTP. The runtime is only used to start, drain and stop the suite (and the
 * table to register the subscription usage is billed to, as Zuora's provisioning would). The
 * request bodies are the `events/api/` samples `npm run send` posts.
 */
const sample = (path: string) => JSON.parse(readFileSync(`events/api/${path}.json`, 'utf8'));

describe('typed client end to end', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  const clientOf = (kind: string): SwitchboardClient => {
    const c = rt.devClients.find((x) => x.kind === kind);
    if (!c) throw new Error(`no dev client ${kind}`);
    const grant =
      c.username && c.password
        ? { type: 'password' as const, username: c.username, password: c.password }
        : { type: 'client_credentials' as const };
    return switchboardClient({
      baseUrl: rt.url,
      headers: { 'x-client-id': c.clientId },
      tokens: tokenSource({ baseUrl: rt.url, clientId: c.clientId, clientSecret: c.clientSecret, grant }),
    });
  };

  beforeAll(async () => {
    rt = await startTestRuntime();
    const info = JSON.parse(readFileSync(join(rt.dataDir, 'runtime.json'), 'utf8')) as {
      dynamoEndpoint: string;
      tableName: string;
    };
    const registry = new SubscriptionRegistry(
      createDocumentClient(localDynamoClient(info.dynamoEndpoint)),
      info.tableName,
    );
    const now = systemClock.now();
    await registry.register({
      subscriptionNumber: 'TYPED-Z-1',
      accountNumber: 'A-TYPED-1',
      tenants: ['platform'],
      source: 'test',
      now,
    });
    await registry.putCharge(
      { subscriptionNumber: 'TYPED-Z-1', chargeNumber: 'C-Z-1', unit: 'Minutes' },
      now,
    );
  }, 120_000);
  afterAll(async () => rt?.cleanup());

  it('places an order and polls it to a terminal status; a bad order is a typed 400', async () => {
    const api = clientOf('distributor');
    const body = { ...sample('orders/valid'), channelOrderId: `TYPED-${Date.now()}` };
    const placed = await api.POST('/v1/orders', { body });
    expect(placed.response.status).toBe(201);
    const orderId = placed.data!.orderId;
    expect(placed.data).toMatchObject({ status: 'ACCEPTED', channelOrderId: body.channelOrderId });

    let status = '';
    for (let i = 0; i < 30 && !['FULFILLED', 'REJECTED', 'ERROR', 'NEEDS_REVIEW'].includes(status); i++) {
      await rt.drain(120_000);
      const { data, response } = await api.GET('/v1/orders/{orderId}', { params: { path: { orderId } } });
      expect(response.status).toBe(200);
      status = data!.status;
      if (status !== 'FULFILLED') await rt.advanceClock(200);
    }
    expect(status).toBe('FULFILLED');

    const bad = await api.POST('/v1/orders', { body: sample('orders/missing-lines') });
    expect(bad.response.status).toBe(400);
    expect(bad.data).toBeUndefined();
    expect(bad.error).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  }, 300_000);

  it('sends a Zuora event with the password grant and X-Client-Id', async () => {
    const zuora = clientOf('zuora');
    const res = await zuora.POST('/v1/zuora/events', { body: sample('zuora-events/current-client-created') });
    expect(res.response.status).toBe(200);
    // Without the X-Client-Id header: the Zuora KO body, 403.
    const c = rt.devClients.find((x) => x.kind === 'zuora')!;
    const anonymous = switchboardClient({
      baseUrl: rt.url,
      tokens: tokenSource({
        baseUrl: rt.url,
        clientId: c.clientId,
        clientSecret: c.clientSecret,
        grant: { type: 'password', username: c.username!, password: c.password! },
      }),
    });
    const refused = await anonymous.POST('/v1/zuora/events', {
      body: sample('zuora-events/current-client-created'),
    });
    expect(refused.response.status).toBe(403);
    expect(refused.error).toMatchObject({ success: false });
  });

  it('submits usage and subscribes a webhook endpoint as the platform', async () => {
    const platform = clientOf('platform');
    const now = new Date().toISOString();
    const usage = await platform.POST('/v1/usage', {
      body: {
        records: [
          {
            id: `typed-${Date.now()}`,
            subscriptionNumber: 'TYPED-Z-1',
            chargeNumber: 'C-Z-1',
            unit: 'Minutes',
            quantity: 5,
            timestamp: now,
          },
        ],
      },
    });
    expect(usage.error).toBeUndefined();
    expect(usage.response.status).toBe(202);
    expect(usage.data).toMatchObject({ accepted: 1 });

    const endpoint = await platform.POST('/v1/webhooks/endpoints', {
      body: { ...sample('webhooks-endpoints/local-receiver'), url: `${rt.url}/_sandbox/receiver/typed` },
    });
    expect(endpoint.response.status).toBe(201);
    expect(endpoint.data!.secret).toMatch(/^whsec_/);
    const listed = await platform.GET('/v1/webhooks/endpoints');
    expect(listed.response.status).toBe(200);
    expect(JSON.stringify(listed.data)).toContain(endpoint.data!.id);
  });
});
