import { describe, expect, it } from 'vitest';
import { createSender } from '../../../functions/webhook-deliverer/http-sender.ts';
import { blockedReason } from '../../../shared/webhooks/ssrf.ts';
import { urlProblem } from '../../../shared/webhooks/url-policy.ts';

/**
 * `::ffff:0:a.b.c.d` (IPv4-translated, SIIT, RFC 2765/7915) wraps an IPv4 address like the mapped,
 * NAT64 and 6to4 forms the guard already unwraps; a translator on the path delivers it to the IPv4
 * address, so it must be judged as that address.
 */
const strict = { allowLoopback: false };

describe('SSRF guard: IPv4-translated IPv6 addresses', () => {
  it.each([
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:0:127.0.0.1', 'loopback'],
    ['::ffff:0:a9fe:a9fe', 'link-local'],
    ['::ffff:0:10.0.0.1', 'private'],
  ])('%s is refused as %s', (address, reason) => {
    expect(blockedReason(address, strict)).toMatch(new RegExp(`^${reason}`));
  });

  it('keeps a translated public address allowed, like the other wrappers', () => {
    expect(blockedReason('::ffff:0:5db8:d822', strict)).toBeUndefined(); // 93.184.216.34
  });

  it('refuses such a literal at registration and at send time, and after DNS', async () => {
    expect(urlProblem('https://[::ffff:0:a9fe:a9fe]/hook', { stage: 'prod' })).toMatch(/link-local/);
    const literal = await createSender({ stage: 'prod' })({
      url: 'https://[::ffff:0:7f00:1]/hook',
      body: '{}',
      headers: {},
    });
    expect(literal.kind).toBe('blocked');
    const viaDns = await createSender({
      stage: 'prod',
      resolver: async () => [{ address: '::ffff:0:a9fe:a9fe', family: 6 }],
    })({ url: 'https://innocent.example/hook', body: '{}', headers: {} });
    expect(viaDns.kind).toBe('blocked');
    expect(viaDns.error).toMatch(/link-local/);
  });
});
