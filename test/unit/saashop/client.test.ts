import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  SaashopAnswerError,
  SaashopClient,
  type SaashopClientOptions,
  SaashopTokenError,
} from '../../../shared/clients/saashop.ts';
import { TransientError } from '../../../shared/errors.ts';
import { ManualClock } from '../orders/fixtures.ts';

/**
 * The SaaShop client against a scripted partner over real loopback HTTP: token caching and single
 * flight, one refresh on 401, a fresh X-Request-ID on every request, jittered backoff honouring
 * Retry-After on 429/5xx, timeouts, and malformed answers refused without a retry loop.
 */
interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}
type Reply = (req: Seen, res: ServerResponse) => void;

let server: Server;
let baseUrl: string;
let seen: Seen[] = [];
let script: Array<{ match: RegExp; reply: Reply }> = [];
const tokensIssued: string[] = [];

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Reply =>
  (_q, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
const text =
  (status: number, body: string, type = 'text/html'): Reply =>
  (_q, res) => {
    res.writeHead(status, { 'content-type': type }).end(body);
  };
const token: Reply = (_q, res) => {
  const t = `tok-${tokensIssued.length + 1}`;
  tokensIssued.push(t);
  res
    .writeHead(201, { 'content-type': 'application/json' })
    .end(JSON.stringify({ accessToken: t, tokenType: 'Bearer', expiresIn: 1800 }));
};
const page = json(200, { hasMore: false, marketplaceEvents: [{ eventId: 'e1' }] });

/** Answers the next scripted step whose pattern matches; unmatched requests get a 599. */
function on(match: RegExp, ...replies: Reply[]) {
  for (const reply of replies) script.push({ match, reply });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      const i = script.findIndex((step) => step.match.test(`${s.method} ${s.path}`));
      if (i < 0) {
        res.writeHead(599).end();
        return;
      }
      const [step] = script.splice(i, 1);
      step!.reply(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(
  () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
);
afterEach(() => {
  seen = [];
  script = [];
  tokensIssued.length = 0;
});

function client(overrides: Partial<SaashopClientOptions> = {}) {
  const sleeps: number[] = [];
  const clock = new ManualClock();
  const c = new SaashopClient({
    baseUrl,
    clock,
    credentials: async () => ({ clientId: 'seller', clientSecret: 's3cret' }),
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  });
  return { c, sleeps, clock };
}

const TOKENS = /^POST \/auth\/v1\/tokens$/;
const FEED = /^GET \/lead\/v1\/marketplaceEvents/;
const ORDER = /^GET \/lead\/v1\/orders\//;
const POST_EVENT = /^POST \/lead\/v1\/marketplaceEvents$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('SaaShop client', () => {
  it('gets a token with HTTP Basic, caches it, and sends a fresh UUID X-Request-ID on every call', async () => {
    on(TOKENS, token);
    on(FEED, page, page);
    const { c } = client();
    await c.listEvents(0, 50);
    await c.listEvents(1, 50);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /auth/v1/tokens',
      'GET /lead/v1/marketplaceEvents?offset=0&limit=50',
      'GET /lead/v1/marketplaceEvents?offset=1&limit=50',
    ]);
    expect(seen[0]!.headers.authorization).toBe(`Basic ${Buffer.from('seller:s3cret').toString('base64')}`);
    expect(seen[1]!.headers.authorization).toBe('Bearer tok-1');
    expect(seen[2]!.headers.authorization).toBe('Bearer tok-1');
    const ids = seen.map((s) => s.headers['x-request-id']);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
    expect(c.calls).toEqual({ token: 1, listEvents: 2, getOrder: 0, postEvent: 0 });
  });

  it('concurrent callers share one token request (single flight)', async () => {
    on(TOKENS, (q, res) => setTimeout(() => token(q, res), 50));
    for (let i = 0; i < 6; i++) on(FEED, page);
    const { c } = client();
    await Promise.all(Array.from({ length: 6 }, (_, i) => c.listEvents(i, 10)));
    expect(seen.filter((s) => TOKENS.test(`${s.method} ${s.path}`))).toHaveLength(1);
  });

  it('refreshes the token shortly before it expires', async () => {
    on(TOKENS, token, token);
    on(FEED, page, page, page);
    const { c, clock } = client();
    await c.listEvents(0, 1);
    clock.advance(28 * 60); // 2 minutes left: still good
    await c.listEvents(0, 1);
    clock.advance(90); // 30 s left: inside the one-minute margin
    await c.listEvents(0, 1);
    expect(seen.filter((s) => s.path.startsWith('/lead')).map((s) => s.headers.authorization)).toEqual([
      'Bearer tok-1',
      'Bearer tok-1',
      'Bearer tok-2',
    ]);
  });

  it('on a 401 it refreshes the token once and retries', async () => {
    on(TOKENS, token, token);
    on(ORDER, json(401, { errorCode: 'Unauthorized' }), json(200, { orderId: 'o1' }));
    const { c } = client();
    expect(await c.getOrder('o1')).toEqual({ orderId: 'o1' });
    const orderCalls = seen.filter((s) => ORDER.test(`${s.method} ${s.path}`));
    expect(orderCalls.map((s) => s.headers.authorization)).toEqual(['Bearer tok-1', 'Bearer tok-2']);
    expect(orderCalls[0]!.headers['x-request-id']).not.toBe(orderCalls[1]!.headers['x-request-id']);
  });

  it('retries 429 after Retry-After and 5xx with jittered backoff, each retry a new request id', async () => {
    on(TOKENS, token);
    on(
      ORDER,
      json(429, { errorCode: 'TooManyRequests' }, { 'retry-after': '2' }),
      text(503, '<html><body>Service Unavailable</body></html>'),
      json(200, { orderId: 'o2' }),
    );
    const { c, sleeps } = client();
    expect(await c.getOrder('o2')).toEqual({ orderId: 'o2' });
    // Retry-After 2 s beats the backoff (full jitter, random 0.5); then 0.5 × 250 ms × 2².
    expect(sleeps).toEqual([2000, 500]);
    const ids = seen.filter((s) => ORDER.test(`${s.method} ${s.path}`)).map((s) => s.headers['x-request-id']);
    expect(new Set(ids).size).toBe(3);
  });

  it('gives up after its attempts with a TransientError (the caller retries later)', async () => {
    on(TOKENS, token);
    on(ORDER, ...Array.from({ length: 4 }, () => text(502, '<html>Bad Gateway</html>')));
    const { c, sleeps } = client();
    await expect(c.getOrder('o3')).rejects.toBeInstanceOf(TransientError);
    expect(seen.filter((s) => ORDER.test(`${s.method} ${s.path}`))).toHaveLength(4);
    expect(sleeps).toHaveLength(3);
  });

  it('does not sleep past its budget when Retry-After asks for a long pause', async () => {
    on(TOKENS, token);
    on(ORDER, json(429, {}, { 'retry-after': '120' }));
    const { c, sleeps } = client();
    const error = await c.getOrder('o4').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as TransientError).retryAfterMs).toBe(120_000);
    expect(sleeps).toEqual([]);
  });

  it('times out a call that does not answer', async () => {
    on(TOKENS, token);
    on(
      ORDER,
      () => undefined,
      () => undefined,
    ); // never answered
    const { c } = client({ timeoutMs: 150, attempts: 2 });
    const started = Date.now();
    await expect(c.getOrder('o5')).rejects.toBeInstanceOf(TransientError);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen.filter((s) => ORDER.test(`${s.method} ${s.path}`))).toHaveLength(2);
  });

  it('refused credentials are a token error, asked once (no retry storm)', async () => {
    on(TOKENS, json(401, { errorCode: 'Unauthorized' }));
    const { c } = client();
    await expect(c.listEvents(0, 1)).rejects.toBeInstanceOf(SaashopTokenError);
    expect(seen).toHaveLength(1);
  });

  it('a token answer that is not JSON is a token error, not an order problem', async () => {
    on(TOKENS, text(201, '<html>login</html>'));
    const { c } = client();
    const error = await c.getOrder('o6').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SaashopTokenError);
    expect(error).not.toBeInstanceOf(SaashopAnswerError);
  });

  describe('malformed and refused answers are permanent (no retry)', () => {
    it('an HTML page with 200 instead of the feed', async () => {
      on(TOKENS, token);
      on(FEED, text(200, '<!doctype html><html><body>Maintenance</body></html>'));
      const { c } = client();
      const error = (await c.listEvents(0, 1).catch((e: unknown) => e)) as SaashopAnswerError;
      expect(error).toBeInstanceOf(SaashopAnswerError);
      expect(error.problem).toBe('MALFORMED_ANSWER');
      expect(error.message).toMatch(/text\/html text of \d+ characters, not JSON/);
      expect(error.raw).toContain('Maintenance');
      expect(seen.filter((s) => FEED.test(`${s.method} ${s.path}`))).toHaveLength(1);
    });

    it('a feed with a missing or mistyped field names it', async () => {
      on(TOKENS, token);
      on(FEED, json(200, { marketplaceEvents: 'none' }));
      const { c } = client();
      const error = (await c.listEvents(0, 1).catch((e: unknown) => e)) as SaashopAnswerError;
      expect(error.problem).toBe('MALFORMED_ANSWER');
      expect(error.message).toContain('hasMore');
      expect(error.message).toContain('marketplaceEvents');
    });

    it('an order that is not a JSON object, and a 404', async () => {
      on(TOKENS, token);
      on(ORDER, json(200, ['not', 'an', 'order']), json(404, { errorCode: 'NotFound' }));
      const { c } = client();
      const a = (await c.getOrder('x').catch((e: unknown) => e)) as SaashopAnswerError;
      expect(a.problem).toBe('MALFORMED_ANSWER');
      const b = (await c.getOrder('y').catch((e: unknown) => e)) as SaashopAnswerError;
      expect(b.problem).toBe('NOT_FOUND');
      expect(b.status).toBe(404);
    });

    it('a 400 to a posted event carries SaaShop’s error code', async () => {
      on(TOKENS, token);
      on(POST_EVENT, json(400, { errorCode: 'InvalidRequest', description: 'Invalid request parameters' }));
      const { c } = client();
      const error = (await c
        .postEvent({
          eventId: '6f0e7a2c-8d1b-4c3e-9f5a-1b2c3d4e5f60',
          eventTypeCode: 'ServicePurchased',
          statusCode: 'ProvisioningStarted',
          eventTime: 1_800_000_000,
          description: 'Provisioning has been started',
        })
        .catch((e: unknown) => e)) as SaashopAnswerError;
      expect(error.problem).toBe('REFUSED');
      expect(error.message).toContain('InvalidRequest');
      const posted = seen.find((s) => POST_EVENT.test(`${s.method} ${s.path}`))!;
      expect(posted.headers['content-type']).toBe('application/json');
      expect(JSON.parse(posted.body)).toMatchObject({
        statusCode: 'ProvisioningStarted',
        eventTime: 1_800_000_000,
      });
    });
  });
});
