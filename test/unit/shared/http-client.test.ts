import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, HttpClient, parseRetryAfter } from '../../../shared/clients/http.ts';
import { TransientError } from '../../../shared/errors.ts';

describe('partner HTTP client over loopback', () => {
  let server: Server;
  let base: string;
  const script: Array<{ status: number; headers?: Record<string, string>; hang?: boolean }> = [];
  let hits = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      const step = script.shift() ?? { status: 200 };
      if (step.hang) return; // never answers: the client's timeout must fire
      res.writeHead(step.status, { 'content-type': 'application/json', ...step.headers });
      res.end(JSON.stringify({ path: req.url }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const delays: number[] = [];
  const client = () =>
    new HttpClient({
      baseUrl: base,
      baseDelayMs: 10,
      maxDelayMs: 50,
      sleep: async (ms) => void delays.push(ms),
    });

  it('retries 503 and 429 and returns the eventual success', async () => {
    hits = 0;
    script.push({ status: 503 }, { status: 429, headers: { 'retry-after': '0' } });
    const res = await client().request<{ path: string }>('/v1/x', { operation: 'test', attempts: 3 });
    expect(res.status).toBe(200);
    expect(res.attempts).toBe(3);
    expect(hits).toBe(3);
  });
  it('returns a 4xx at once without retrying', async () => {
    hits = 0;
    script.push({ status: 400 });
    const res = await client().request('/v1/x', { operation: 'test', attempts: 3 });
    expect(res.status).toBe(400);
    expect(hits).toBe(1);
  });
  it('gives up with a TransientError after the last retryable answer', async () => {
    script.push({ status: 502 }, { status: 502 });
    await expect(client().request('/v1/x', { operation: 'test', attempts: 2 })).rejects.toBeInstanceOf(
      TransientError,
    );
  });
  it('times out a hanging partner and retries', async () => {
    hits = 0;
    script.push({ status: 0, hang: true });
    const res = await client().request('/v1/x', { operation: 'test', attempts: 2, timeoutMs: 100 });
    expect(res.status).toBe(200);
    expect(hits).toBe(2);
  });
  it('parses Retry-After and bounds the jitter', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.now() + 5000).toUTCString(), Date.now())).toBeGreaterThan(3000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    for (let a = 1; a < 10; a++) {
      const d = backoffDelay(a, 100, 1000);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** a));
    }
    expect(backoffDelay(3, 100, 1000, () => 0.999)).toBe(799);
  });
});
