import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestRuntime } from '../helpers/runtime.ts';

/**
 * Through the local runtime: the Zuora emitter (password grant + X-Client-Id) sends the model's
 * events; a ZLINKUPDATED upgrade reaches the bus as `zuora.capacity.upgraded` and, through the
 * webhook capability, the platform's subscribed endpoint (the receiver sandbox verifies signatures).
 */
describe('Zuora events end to end', () => {
  let rt: Awaited<ReturnType<typeof startTestRuntime>>;
  let zuora: { token: string; clientId: string };
  let platformToken: string;
  const receiverName = 'platform-zuora';

  beforeAll(async () => {
    rt = await startTestRuntime();
    const client = rt.devClients.find((c) => c.tenant === 'zuora');
    if (!client) throw new Error('no zuora dev client');
    zuora = { token: await rt.token('zuora'), clientId: client.clientId };
    platformToken = await rt.token('platform');
  });
  afterAll(async () => rt?.cleanup());

  const send = (body: unknown, headers: Record<string, string> = {}, path = '/v1/zuora/events') =>
    api(rt, 'POST', path, {
      token: zuora.token,
      body,
      headers: { 'x-client-id': zuora.clientId, ...headers },
    });
  const event = (typeEvent: string, payload: unknown[]) => ({
    typeEvent,
    emitter: 'ZUORA',
    timestamp: '2026-11-23T10:00:00.000Z',
    payload,
  });

  it('refuses a request whose X-Client-Id does not name the token’s client, in the seed KO shape', async () => {
    const res = await send(event('CLIENTISCREATED', [{ zaccount: 'E2E-0', client: {} }]), {
      'x-client-id': 'someone-else',
    });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ success: false, typeEvent: 'CLIENTISCREATED' });
    expect(res.body.details[0].name).toBe('FORBIDDEN');
  });

  it('delivers zuora.capacity.upgraded to a subscribed platform webhook after a ZLINKUPDATED', async () => {
    // The platform subscribes a receiver to the Zuora events.
    const endpoint = await api(rt, 'POST', '/v1/webhooks/endpoints', {
      token: platformToken,
      body: { url: `${rt.url}/_sandbox/receiver/${receiverName}`, eventTypes: ['zuora.*'] },
    });
    expect(endpoint.status).toBe(201);
    const configured = await api(rt, 'PUT', `/_sandbox/receiver/${receiverName}/_config`, {
      body: { secret: endpoint.body.secret },
    });
    expect(configured.status).toBeLessThan(300);

    const steps: Array<[unknown, string]> = [
      [
        event('CLIENTISCREATED', [
          { zReference: 'c', zaccount: 'E2E-1', client: { name: 'Org', email: 'x@example.com' } },
        ]),
        'CREATED',
      ],
      [
        event('WORKSPACEISADDEDTOPCLIENT', [{ zReference: 'w', zaccount: 'E2E-1', zworkspace: 'main' }]),
        'CREATED',
      ],
      [
        event('SUBSCRIPTIONISCREATED', [
          {
            zReference: 's',
            zaccount: 'E2E-1',
            zworkspace: 'main',
            zsubscription: 'E2E-1-S',
            products: [
              { zcharge: 'E2E-C1', family: 'Adbackup', threshold: { newCapacity: 5, unit: 'Giga' } },
            ],
          },
        ]),
        'CREATED',
      ],
    ];
    for (const [body, name] of steps) {
      const res = await send(body);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.details[0].name).toBe(name);
    }
    const upgrade = event('ZLINKUPDATED', [
      {
        zReference: 'u',
        zaccount: 'E2E-1',
        zsubscription: 'E2E-1-S',
        product: { zcharge: 'E2E-C1', family: 'Adbackup', threshold: { newCapacity: 50, unit: 'Giga' } },
      },
    ]);
    const res = await send(upgrade, { 'zuora-notification-id': 'e2e-notif-1' }, '/api/billing/events');
    expect(res.status).toBe(200);
    expect(res.body.details[0]).toMatchObject({ success: true, name: 'UPGRADED' });
    // Zuora's retry of the same notification: first response, nothing published again.
    const retry = await send(upgrade, { 'zuora-notification-id': 'e2e-notif-1' });
    expect(retry.body).toEqual(res.body);
    await rt.drain();

    const bus = await api(rt, 'GET', '/_local/events');
    expect(bus.status).toBe(200);
    const upgraded = (
      bus.body as Array<{
        envelope: { 'detail-type': string; detail: Record<string, unknown> };
        matchedRules: string[];
      }>
    ).filter((e) => e.envelope['detail-type'] === 'zuora.capacity.upgraded');
    expect(upgraded).toHaveLength(1);
    expect(upgraded[0]!.matchedRules.length).toBeGreaterThan(0);
    expect(upgraded[0]!.envelope.detail).toMatchObject({
      tenant: 'platform',
      subscriptionNumber: 'E2E-1-S',
      previousCapacity: 5,
      product: { chargeNumber: 'E2E-C1', capacity: 50, unit: 'Giga' },
    });
    expect(JSON.stringify(bus.body)).not.toContain('x@example.com');

    const records = await api(rt, 'GET', '/_sandbox/receiver/_records');
    const deliveries = (
      records.body as Array<{ kind: string; type?: string; verified?: boolean; receiver?: string }>
    ).filter((r) => r.kind === 'delivery' && r.receiver === receiverName);
    const capacity = deliveries.filter((d) => d.type === 'zuora.capacity.upgraded');
    expect(capacity).toHaveLength(1);
    expect(capacity[0]!.verified).toBe(true);
    expect(deliveries.map((d) => d.type)).toEqual(
      expect.arrayContaining(['zuora.client.created', 'zuora.workspace.added', 'zuora.subscription.created']),
    );
  });
});
