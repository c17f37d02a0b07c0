import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from '../../../local/sandboxes/kit.ts';
import { createScreeningSandbox, LOCAL_SCREENING_CREDENTIALS } from '../../../local/sandboxes/screening.ts';
import { ScreeningUnavailableError } from '../../../shared/screening/provider.ts';
import { createTradeGovProvider, type TradeGovConfig } from '../../../shared/screening/trade-gov.ts';
import { serveSandbox } from './serve-sandbox.ts';

let server: Awaited<ReturnType<typeof serveSandbox<Sandbox>>>;
beforeAll(async () => {
  server = await serveSandbox('screening', (ctx) => createScreeningSandbox(ctx));
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.sandbox.reset();
  server.sandbox.faults = { errorRate: 0, status: 503, latencyMs: 0, timeoutRate: 0, rateLimitRate: 0 };
});

const provider = (overrides: Partial<TradeGovConfig> = {}) =>
  createTradeGovProvider({
    baseUrl: server.url,
    subscriptionKey: async () => LOCAL_SCREENING_CREDENTIALS.subscriptionKey,
    sleep: async () => {},
    ...overrides,
  });

const searches = () => server.sandbox.records.filter((r) => r.kind === 'search');

describe('trade-gov provider against the screening sandbox (loopback HTTP)', () => {
  it('blocks a listed party in a corroborating country, with evidence', async () => {
    const result = await provider().screen({ name: 'Zenith Orbital Systems Limited', country: 'CN' });
    expect(result.provider).toBe('trade-gov');
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]).toMatchObject({
      entryName: 'Zenith Orbital Systems Ltd',
      list: expect.stringContaining('DEMO-EL'),
      countries: ['CN', 'HK'],
    });
    expect(result.evidence[0]!.score).toBeGreaterThanOrEqual(0.92);
    expect(result.listVersion).toMatch(/^sha256:/);
    expect(searches()).toHaveLength(1);
    expect(searches()[0]).toMatchObject({
      name: 'Zenith Orbital Systems Limited',
      fuzzy: true,
      countries: [],
    });
  });

  it('refers the same name elsewhere for review and clears an ordinary name', async () => {
    expect((await provider().screen({ name: 'Zenith Orbital Systems', country: 'US' })).outcome).toBe(
      'review',
    );
    const clear = await provider().screen({ name: 'Contoso Ltd', country: 'US' });
    expect(clear).toMatchObject({ outcome: 'clear', evidence: [] });
  });

  it('matches accents, misspellings and reordered individual names through the API', async () => {
    expect((await provider().screen({ name: 'Jose Ignacio Alvarez Pena', country: 'VE' })).outcome).toBe(
      'blocked',
    );
    expect((await provider().screen({ name: 'Dragomir Petrovich', country: 'RS' })).outcome).toBe('blocked');
  });

  it('searches each distinct party name once', async () => {
    const result = await provider().screen({
      name: 'Harmless Trading BV',
      country: 'RU',
      alternateNames: ['Borealis Crypto Research', 'Harmless Trading BV'],
    });
    expect(result.outcome).toBe('blocked');
    expect(searches().map((s) => s.name)).toEqual(['Harmless Trading BV', 'Borealis Crypto Research']);
  });

  it('sends the subscription key; a refused key makes the service unavailable', async () => {
    const err = await provider({ subscriptionKey: async () => 'wrong' })
      .screen({ name: 'Contoso', country: 'US' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScreeningUnavailableError);
    expect((err as Error).message).toContain('401');
    expect(searches()).toHaveLength(0);
  });

  it('is unavailable when the credentials cannot be read', async () => {
    const failing = provider({
      subscriptionKey: async () => {
        throw new Error('AccessDenied');
      },
    });
    await expect(failing.screen({ name: 'Contoso', country: 'US' })).rejects.toBeInstanceOf(
      ScreeningUnavailableError,
    );
  });

  it.each([
    ['5xx', { errorRate: 1, status: 503 }],
    ['500', { errorRate: 1, status: 500 }],
    ['429', { rateLimitRate: 1 }],
  ])('is unavailable on %s after retrying, then recovers', async (_label, faults) => {
    Object.assign(server.sandbox.faults, faults);
    const err = await provider()
      .screen({ name: 'Contoso', country: 'US' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScreeningUnavailableError);
    expect(searches()).toHaveLength(0);
    server.sandbox.faults.errorRate = 0;
    server.sandbox.faults.rateLimitRate = 0;
    expect((await provider().screen({ name: 'Contoso', country: 'US' })).outcome).toBe('clear');
  });

  it('is unavailable when the service is slower than the timeout', async () => {
    server.sandbox.faults.latencyMs = 5_000;
    const err = await provider({ timeoutMs: 150, attempts: 2 })
      .screen({ name: 'Contoso', country: 'US' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScreeningUnavailableError);
  });

  it('is unavailable when the caller aborts', async () => {
    server.sandbox.faults.latencyMs = 5_000;
    const controller = new AbortController();
    const pending = provider({ timeoutMs: 10_000 }).screen(
      { name: 'Contoso', country: 'US' },
      { signal: controller.signal },
    );
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(ScreeningUnavailableError);
  });

  it('is unavailable when nothing listens', async () => {
    const down = createTradeGovProvider({
      baseUrl: 'http://127.0.0.1:9/_sandbox/screening',
      subscriptionKey: async () => 'k',
      sleep: async () => {},
    });
    await expect(down.screen({ name: 'Contoso', country: 'US' })).rejects.toBeInstanceOf(
      ScreeningUnavailableError,
    );
  });

  it('is unavailable when the answer is not the search response', async () => {
    const html = createTradeGovProvider({
      baseUrl: 'http://screening.invalid',
      subscriptionKey: async () => 'k',
      fetchImpl: async () =>
        new Response('<html>maintenance</html>', { status: 200, headers: { 'content-type': 'text/html' } }),
    });
    await expect(html.screen({ name: 'Contoso', country: 'US' })).rejects.toThrow(/unexpected body/);
  });

  it('is never less strict than trade.gov: its own score counts', async () => {
    const entry = {
      id: 'x1',
      name: 'Qwerty Holdings',
      alt_names: [],
      addresses: [{ country: 'FR' }],
      source: 'Some List (SL)',
      score: 95,
    };
    const fake = createTradeGovProvider({
      baseUrl: 'http://screening.invalid',
      subscriptionKey: async () => 'k',
      fetchImpl: async () => Response.json({ total: 1, results: [entry], sources_used: [] }),
    });
    const result = await fake.screen({ name: 'Azerty Holdings', country: 'FR' });
    expect(result.outcome).toBe('blocked');
    expect(result.evidence[0]).toMatchObject({ entryId: 'x1', score: 0.95 });
  });
});

describe('screening sandbox API', () => {
  const get = (query: string, key: string | null = LOCAL_SCREENING_CREDENTIALS.subscriptionKey) =>
    fetch(`${server.url}/consolidated_screening_list/v1/search?${query}`, {
      headers: key ? { 'subscription-key': key } : {},
    });

  it('answers 401 without a subscription key, as the API gateway does', async () => {
    const res = await get('name=Zenith', null);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { message: string }).message).toContain('missing subscription key');
  });

  it('filters by countries and sources, pages, and scores fuzzy results 0..100', async () => {
    const fuzzy = (await (await get('name=Zenith%20Orbitl%20Systems&fuzzy_name=true')).json()) as {
      total: number;
      results: Array<{ name: string; score: number }>;
    };
    expect(fuzzy.total).toBe(1);
    expect(fuzzy.results[0]!.name).toBe('Zenith Orbital Systems Ltd');
    expect(fuzzy.results[0]!.score).toBeGreaterThan(75);
    expect(fuzzy.results[0]!.score).toBeLessThanOrEqual(100);

    const elsewhere = (await (
      await get('name=Zenith%20Orbital%20Systems&fuzzy_name=true&countries=US')
    ).json()) as {
      total: number;
    };
    expect(elsewhere.total).toBe(0);

    const all = (await (await get('sources=DEMO-SDN&size=3&offset=0')).json()) as {
      total: number;
      results: unknown[];
    };
    expect(all.total).toBeGreaterThan(3);
    expect(all.results).toHaveLength(3);

    const exact = (await (await get('name=karamazov')).json()) as {
      total: number;
      results: Array<{ score?: number }>;
    };
    expect(exact.total).toBe(1);
    expect(exact.results[0]!.score).toBeUndefined();
  });

  it('refuses an out-of-range page size', async () => {
    const res = await get('name=x&size=500');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain('size');
  });
});
