import { describe, expect, it, vi } from 'vitest';
import { type Marketplace, pinEventUrl } from '../../../shared/appdirect/marketplaces.ts';
import { MarketplaceClient } from '../../../shared/clients/appdirect.ts';
import { systemClock } from '../../../shared/clock.ts';

/**
 * Host pinning of `eventUrl`: only the configured marketplace's host, port and scheme, under its
 * events path, may receive a signed request. Everything else is refused before anything is signed.
 */
const marketplace = (baseUrl: string, id = 'acme'): Marketplace => ({
  id,
  baseUrl,
  tenant: `appdirect-${id}`,
  fetchAuth: 'oauth1',
  signedNotifications: true,
  currency: 'USD',
  partnerEmail: 'partner@example.com',
  partnerName: 'Acme marketplace',
});
const acme = marketplace('https://acme.byappdirect.com');
const local = marketplace('http://127.0.0.1:4321/_sandbox/appdirect', 'home');
const event = (origin: string, id = 'e-1') => `${origin}/api/integration/v1/events/${id}`;

describe('eventUrl host pinning', () => {
  it('accepts the marketplace host and returns the event id (last path segment)', () => {
    expect(pinEventUrl(event('https://acme.byappdirect.com', 'dbd5bf2b-7b1f'), [acme], 'prod')).toMatchObject(
      {
        ok: true,
        eventId: 'dbd5bf2b-7b1f',
        marketplace: { id: 'acme' },
      },
    );
    expect(pinEventUrl(event('https://ACME.byappdirect.com:443'), [acme], 'prod').ok).toBe(true);
  });

  it.each([
    ['another host', event('https://evil.example.com'), 'unknown-host'],
    ['a suffix trick', event('https://acme.byappdirect.com.evil.example.com'), 'unknown-host'],
    ['userinfo', event('https://acme.byappdirect.com@evil.example.com'), 'userinfo'],
    ['userinfo on the right host', event('https://user:pw@acme.byappdirect.com'), 'userinfo'],
    ['an IPv4 literal', event('https://203.0.113.7'), 'ip-literal'],
    ['an IPv6 literal', event('https://[2001:db8::1]'), 'ip-literal'],
    ['a decimal IP', event('https://3405803783'), 'ip-literal'],
    ['a port change', event('https://acme.byappdirect.com:8443'), 'port'],
    ['http in AWS', event('http://acme.byappdirect.com'), 'scheme'],
    ['another scheme', 'ftp://acme.byappdirect.com/api/integration/v1/events/e-1', 'scheme'],
    ['another path', 'https://acme.byappdirect.com/api/account/v2/users/1', 'path'],
    ['a query', `${event('https://acme.byappdirect.com')}?x=1`, 'path'],
    ['a nested id', event('https://acme.byappdirect.com', 'a/b'), 'path'],
    ['not a URL', 'acme.byappdirect.com/api/integration/v1/events/1', 'malformed'],
  ])('refuses %s', (_label, url, reason) => {
    expect(pinEventUrl(url, [acme], 'prod')).toMatchObject({ ok: false, reason });
  });

  it('allows http and a loopback IP only on the local stage, and only on the configured port', () => {
    const url = event('http://127.0.0.1:4321/_sandbox/appdirect');
    expect(pinEventUrl(url, [local], 'local').ok).toBe(true);
    expect(pinEventUrl(url, [local], 'dev')).toMatchObject({ ok: false, reason: 'scheme' });
    expect(pinEventUrl(event('http://127.0.0.1:4322/_sandbox/appdirect'), [local], 'local')).toMatchObject({
      ok: false,
      reason: 'port',
    });
    expect(pinEventUrl(event('http://127.0.0.1:4321'), [local], 'local')).toMatchObject({
      ok: false,
      reason: 'path',
    });
    expect(pinEventUrl(event('http://10.0.0.1:4321/_sandbox/appdirect'), [local], 'local')).toMatchObject({
      ok: false,
      reason: 'scheme',
    });
  });

  it('the client refuses an unpinned URL before signing or sending anything', async () => {
    const fetchImpl = vi.fn(async () => new Response('{}', { status: 200 }));
    const credentials = vi.fn(async () => ({ consumerKey: 'k', consumerSecret: 's' }));
    const client = new MarketplaceClient({
      marketplace: acme,
      credentials,
      stage: 'prod',
      limiter: { acquire: async () => {} },
      clock: systemClock,
      fetchImpl,
    });
    await expect(client.fetchEvent(event('https://evil.example.com'))).rejects.toThrow(/refused/);
    await expect(client.fetchEvent(event('http://acme.byappdirect.com'))).rejects.toThrow(/refused/);
    expect(fetchImpl).not.toHaveBeenCalled();
    expect(credentials).not.toHaveBeenCalled();
    await client.fetchEvent(event('https://acme.byappdirect.com'));
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    const [calledUrl, init] = fetchImpl.mock.calls[0] as unknown as [string, RequestInit];
    expect(calledUrl).toBe(event('https://acme.byappdirect.com'));
    expect((init.headers as Record<string, string>).authorization).toMatch(/^OAuth oauth_consumer_key="k"/);
  });

  it('a marketplace base URL that is not https to a host name cannot be used in AWS', () => {
    expect(
      () =>
        new MarketplaceClient({
          marketplace: marketplace('http://127.0.0.1:9'),
          credentials: async () => ({ consumerKey: 'k', consumerSecret: 's' }),
          stage: 'prod',
          limiter: { acquire: async () => {} },
          clock: systemClock,
        }),
    ).toThrow(/base URL/);
  });
});
