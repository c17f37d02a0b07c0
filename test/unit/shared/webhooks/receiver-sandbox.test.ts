import { describe, expect, it } from 'vitest';
import { createReceiverSandbox, verifyDelivery } from '../../../../local/sandboxes/receiver.ts';
import { generateSecret, webhookHeaders } from '../../../../shared/webhooks/signing.ts';

const clockAt = (ms: number) => ({ now: () => new Date(ms) });

function sandbox(nowMs: number) {
  return createReceiverSandbox({
    runtimeUrl: 'http://127.0.0.1:1',
    baseUrl: 'http://127.0.0.1:1/_sandbox/receiver',
    clock: clockAt(nowMs),
    dataDir: undefined,
    random: () => 0.99,
  });
}

const request = (method: string, path: string, body: string, headers: Record<string, string> = {}) => ({
  method,
  path,
  query: new URLSearchParams(),
  headers,
  body: Buffer.from(body),
  text: () => body,
  json: <T>() => JSON.parse(body) as T,
});

describe('receiver sandbox', () => {
  const now = Date.parse('2030-01-01T00:00:00Z'); // an advanced hub clock, far from the wall clock
  const secret = generateSecret();
  const payload = JSON.stringify({ type: 'custom.a', timestamp: '2030-01-01T00:00:00Z', data: {} });
  const headers = webhookHeaders({
    msgId: 'msg_1',
    timestampSeconds: now / 1000,
    payload,
    secrets: [secret],
  });

  it('verifies with the library against the hub clock, and refuses tampering or stale timestamps', () => {
    expect(verifyDelivery(secret, payload, headers, now)).toEqual({ verified: true });
    expect(verifyDelivery(secret, `${payload} `, headers, now).verified).toBe(false);
    expect(verifyDelivery(generateSecret(), payload, headers, now).verified).toBe(false);
    expect(verifyDelivery(secret, payload, headers, now + 10 * 60_000)).toMatchObject({
      verified: false,
      error: 'Message timestamp too old',
    });
  });

  it('records deliveries and fails on request (status, count, Retry-After)', async () => {
    const s = sandbox(now);
    const config = await s.handle(
      request(
        'PUT',
        '/erp/_config',
        JSON.stringify({ secret, failStatus: 503, failTimes: 1, retryAfter: '30' }),
      ),
    );
    expect(config?.status).toBe(200);
    expect(JSON.stringify(config?.body)).not.toContain(secret);
    const first = await s.handle(request('POST', '/erp', payload, headers));
    expect(first).toMatchObject({ status: 503, headers: { 'retry-after': '30' } });
    const second = await s.handle(request('POST', '/erp', payload, headers));
    expect(second?.status).toBe(200);
    expect(s.records.map((r) => [r.webhookId, r.verified, r.answered, r.type])).toEqual([
      ['msg_1', true, 503, 'custom.a'],
      ['msg_1', true, 200, 'custom.a'],
    ]);
    expect((await s.handle(request('PUT', '/erp/_config', '{"failStatus": 99}')))?.status).toBe(400);
  });

  it('a PUT of _config without a secret keeps the one already set (deliveries still verify)', async () => {
    const s = sandbox(now);
    await s.handle(request('PUT', '/erp/_config', JSON.stringify({ secret })));
    const again = await s.handle(
      request('PUT', '/erp/_config', JSON.stringify({ failStatus: 503, failTimes: 1 })),
    );
    expect(again?.body).toMatchObject({ hasSecret: true, failStatus: 503 });
    expect((await s.handle(request('GET', '/erp/_config', '')))?.body).toMatchObject({ hasSecret: true });
    expect((await s.handle(request('POST', '/erp', payload, headers)))?.status).toBe(503);
    expect((await s.handle(request('POST', '/erp', payload, headers)))?.status).toBe(200);
    expect(s.records.map((r) => r.verified)).toEqual([true, true]);
  });
});
