import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, startTestRuntime } from '../helpers/runtime.ts';

type TestRuntime = Awaited<ReturnType<typeof startTestRuntime>>;

interface ReceiverRecord {
  kind: string;
  receiver: string;
  webhookId: string;
  type: string;
  verified: boolean;
  answered: number;
  signatures: number;
}

describe('webhooks through the local runtime', () => {
  let rt: TestRuntime;
  // Tokens are fetched per call: moving the hub clock forward expires them.
  const platform = () => rt.token('platform');
  const arrow = () => rt.token('distributor');

  beforeAll(async () => {
    rt = await startTestRuntime();
  });
  afterAll(async () => rt.cleanup());

  const received = async (receiver?: string): Promise<ReceiverRecord[]> => {
    const all = (await api(rt, 'GET', '/_sandbox/receiver/_records')).body as ReceiverRecord[];
    return all.filter((r) => r.kind === 'delivery' && (!receiver || r.receiver === receiver));
  };

  /** Registers an endpoint pointing at a receiver sandbox and gives the receiver its secret. */
  async function subscribe(
    token: () => Promise<string>,
    receiver: string,
    eventTypes: string[],
    fail: Record<string, unknown> = {},
  ) {
    const res = await api(rt, 'POST', '/v1/webhooks/endpoints', {
      token: await token(),
      body: { url: `${rt.url}/_sandbox/receiver/${receiver}`, eventTypes },
    });
    expect(res.status).toBe(201);
    const config = await api(rt, 'PUT', `/_sandbox/receiver/${receiver}/_config`, {
      body: { secret: res.body.secret, ...fail },
    });
    expect(config.status).toBe(200);
    return res.body as { id: string; secret: string };
  }

  async function publish(type: string, data: Record<string, unknown>) {
    const res = await api(rt, 'POST', '/v1/webhooks/events', {
      token: await platform(),
      body: { type, data },
    });
    expect(res.status).toBe(202);
    await rt.drain();
  }

  it('delivers a custom event, verified by standardwebhooks, to its tenant’s and all-events endpoints only', async () => {
    await subscribe(platform, 'platform-hub', ['custom.invoice.*']);
    await subscribe(arrow, 'arrow-erp', ['*']);
    await publish('custom.invoice.paid', { invoice: 'INV-1' });
    const hub = await received('platform-hub');
    expect(hub).toHaveLength(1);
    expect(hub[0]).toMatchObject({ type: 'custom.invoice.paid', verified: true, answered: 200 });
    expect(await received('arrow-erp')).toHaveLength(0);

    // An event of tenant arrow reaches arrow's endpoint and the platform's all-events endpoint.
    const bus = new EventBridgeClient({
      endpoint: `${rt.url}/_aws`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const put = await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: 'switchboard-local',
            Source: 'switchboard',
            DetailType: 'custom.invoice.issued',
            Detail: JSON.stringify({ tenant: 'arrow', eventId: 'evt-arrow-1', data: { invoice: 'INV-2' } }),
          },
        ],
      }),
    );
    bus.destroy();
    expect(put.FailedEntryCount ?? 0).toBe(0);
    await rt.drain();
    expect((await received('arrow-erp')).map((r) => [r.type, r.verified])).toEqual([
      ['custom.invoice.issued', true],
    ]);
    expect((await received('platform-hub')).map((r) => r.type)).toEqual([
      'custom.invoice.paid',
      'custom.invoice.issued',
    ]);
    const log = await api(rt, 'GET', '/v1/webhooks/deliveries', { token: await arrow() });
    expect(log.body.items.map((d: { eventType: string }) => d.eventType)).toEqual(['custom.invoice.issued']);
  });

  it('retries through simulated time, beyond the 15-minute SQS delay, with one webhook-id', async () => {
    await subscribe(platform, 'platform-flaky', ['custom.flaky.*'], { failStatus: 503, failTimes: 4 });
    await publish('custom.flaky.event', { n: 1 });
    // Nominal 5 s, 5 min, 30 min (> 15 min: chained delay), 2 h; ±20 % jitter.
    for (const seconds of [7, 6 * 60, 37 * 60, 145 * 60]) {
      await rt.advanceClock(seconds);
      await rt.drain();
    }
    const got = await received('platform-flaky');
    expect(got.map((r) => r.answered)).toEqual([503, 503, 503, 503, 200]);
    expect(got.every((r) => r.verified)).toBe(true);
    expect(new Set(got.map((r) => r.webhookId)).size).toBe(1);
    const delivery = await api(rt, 'GET', `/v1/webhooks/deliveries/${got[0]!.webhookId}`, {
      token: await platform(),
    });
    expect(delivery.body).toMatchObject({ status: 'succeeded', attemptCount: 5 });
    expect(delivery.body.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([
      503, 503, 503, 503, 200,
    ]);
    expect(delivery.body.attempts[0].nextAttemptAt).toBeDefined();
  });

  it('honours Retry-After from the receiver', async () => {
    await subscribe(platform, 'platform-busy', ['custom.busy.*'], {
      failStatus: 429,
      failTimes: 1,
      retryAfter: '600',
    });
    await publish('custom.busy.event', {});
    await rt.advanceClock(120); // past the 60 s floor, but not the 600 s asked for
    await rt.drain();
    expect((await received('platform-busy')).map((r) => r.answered)).toEqual([429]);
    await rt.advanceClock(600);
    await rt.drain();
    expect((await received('platform-busy')).map((r) => r.answered)).toEqual([429, 200]);
  });

  it('disables an endpoint that answers 410 Gone', async () => {
    const ep = await subscribe(platform, 'platform-gone', ['custom.gone.*'], { failStatus: 410 });
    await publish('custom.gone.event', {});
    const after = await api(rt, 'GET', `/v1/webhooks/endpoints/${ep.id}`, { token: await platform() });
    expect(after.body).toMatchObject({ status: 'disabled', disabledReason: 'gone' });
    const events = JSON.stringify((await api(rt, 'GET', '/_local/events')).body);
    expect(events).toContain('webhook.endpoint.disabled');
    await publish('custom.gone.event', {});
    expect(await received('platform-gone')).toHaveLength(1);
  });

  /** Disables an endpoint, publishes three events a second apart: three skipped deliveries. */
  async function skipThree(receiver: string, prefix: string) {
    const ep = await subscribe(platform, receiver, [`custom.${prefix}.*`]);
    const off = await api(rt, 'PATCH', `/v1/webhooks/endpoints/${ep.id}`, {
      token: await platform(),
      body: { status: 'disabled' },
    });
    expect(off.status).toBe(200);
    const since = new Date(Date.parse(off.body.updatedAt) - 1000).toISOString();
    for (const n of ['one', 'two', 'three']) {
      await rt.advanceClock(1);
      await publish(`custom.${prefix}.${n}`, { n });
    }
    expect(await received(receiver)).toHaveLength(0);
    const log = await api(rt, 'GET', `/v1/webhooks/deliveries?endpointId=${ep.id}&status=skipped`, {
      token: await platform(),
    });
    expect(log.body.items).toHaveLength(3);
    expect(log.body.items[0]).toMatchObject({ status: 'skipped', lastError: 'endpoint disabled' });
    return { ep, since, types: ['one', 'two', 'three'].map((n) => `custom.${prefix}.${n}`) };
  }

  it('delivers the events published while an endpoint was disabled when it is re-enabled with replaySkipped: all, in order, once', async () => {
    const { ep, types } = await skipThree('platform-paused', 'paused');
    const on = await api(rt, 'PATCH', `/v1/webhooks/endpoints/${ep.id}`, {
      token: await platform(),
      body: { status: 'enabled', replaySkipped: true },
    });
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ status: 'enabled', replay: { replayed: 3, complete: true } });
    await rt.drain();
    // Asking again replays nothing: each (event, endpoint) is delivered once.
    const again = await api(rt, 'PATCH', `/v1/webhooks/endpoints/${ep.id}`, {
      token: await platform(),
      body: { status: 'enabled', replaySkipped: true },
    });
    expect(again.body.replay).toEqual({ replayed: 0, complete: true });
    await rt.drain();
    const got = await received('platform-paused');
    expect(got.map((r) => r.type)).toEqual(types);
    expect(got.every((r) => r.verified && r.answered === 200)).toBe(true);
    expect(new Set(got.map((r) => r.webhookId)).size).toBe(3);
    // replaySkipped alone, without enabling, is a clear 400.
    const bad = await api(rt, 'PATCH', `/v1/webhooks/endpoints/${ep.id}`, {
      token: await platform(),
      body: { replaySkipped: true },
    });
    expect(bad.status).toBe(400);
  });

  it('"replay failed since T" also delivers the skipped events, in order, once', async () => {
    const { ep, since, types } = await skipThree('platform-resumed', 'resumed');
    const on = await api(rt, 'PATCH', `/v1/webhooks/endpoints/${ep.id}`, {
      token: await platform(),
      body: { status: 'enabled' },
    });
    expect(on.status).toBe(200);
    for (let i = 0; i < 2; i++) {
      const replay = await api(rt, 'POST', `/v1/webhooks/endpoints/${ep.id}/replay`, {
        token: await platform(),
        body: { since },
      });
      expect(replay.status).toBe(202);
      expect(replay.body.replayed).toBe(i === 0 ? 3 : 0);
      await rt.drain();
    }
    const got = await received('platform-resumed');
    expect(got.map((r) => r.type)).toEqual(types);
    expect(new Set(got.map((r) => r.webhookId)).size).toBe(3);
  });

  it('signs with both secrets during a rotation, and the sweeper runs', async () => {
    const ep = await subscribe(platform, 'platform-rotate', ['custom.rotate.*']);
    const rotated = await api(rt, 'POST', `/v1/webhooks/endpoints/${ep.id}/rotate-secret`, {
      token: await platform(),
    });
    expect(rotated.status).toBe(200);
    // The receiver still holds the old secret: it verifies thanks to the second signature.
    await publish('custom.rotate.event', {});
    const [first] = await received('platform-rotate');
    expect(first).toMatchObject({ verified: true, signatures: 2 });
    await api(rt, 'PUT', '/_sandbox/receiver/platform-rotate/_config', {
      body: { secret: rotated.body.secret },
    });
    await publish('custom.rotate.event', {});
    expect((await received('platform-rotate')).map((r) => r.verified)).toEqual([true, true]);
    await rt.runSchedule('webhook-sweeper');
    await rt.drain();
  });
});
