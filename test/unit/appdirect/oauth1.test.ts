import { describe, expect, it } from 'vitest';
import {
  baseStringUri,
  hmacSha1Signature,
  parseAuthorizationHeader,
  signatureBaseString,
  signRequest,
  verifyRequest,
} from '../../../shared/clients/appdirect-oauth1.ts';

/** OAuth 1.0a as RFC 5849 defines it, checked against the RFC's own examples (typed in from the RFC). */
describe('OAuth 1.0a (RFC 5849)', () => {
  it('builds the signature base string of §3.4.1.1 (query, form body, repeated names, encoded names)', () => {
    const base = signatureBaseString({
      method: 'POST',
      url: 'http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b',
      formBody: 'c2&a3=2+q',
      oauthParams: {
        realm: 'Example',
        oauth_consumer_key: '9djdj82h48djs9d2',
        oauth_token: 'kkk9d7dh3k39sjv7',
        oauth_signature_method: 'HMAC-SHA1',
        oauth_timestamp: '137131201',
        oauth_nonce: '7d8f3e4a',
        oauth_signature: 'djosJKDKJSD8743243%2Fjdk33klY%3D',
      },
    });
    expect(base).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });

  it('signs the §1.2 photo request with HMAC-SHA1 as the RFC shows', () => {
    const params = {
      oauth_consumer_key: 'dpf43f3p2l4k3l03',
      oauth_token: 'nnch734d00sl2jdk',
      oauth_signature_method: 'HMAC-SHA1',
      oauth_timestamp: '137131202',
      oauth_nonce: 'chapoH',
    };
    const signature = hmacSha1Signature({
      method: 'GET',
      url: 'http://photos.example.net/photos?file=vacation.jpg&size=original',
      oauthParams: params,
      consumerSecret: 'kd94hf93k423kf44',
      tokenSecret: 'pfkkdhi9sl3r4s00',
    });
    expect(signature).toBe('MdpQcU8iPSUjWoN/UDMsK2sui9I=');
    // The header of the RFC's request decodes to the same signature.
    const header =
      'OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D"';
    expect(parseAuthorizationHeader(header)?.oauth_signature).toBe(signature);
  });

  it('normalises the base string URI (§3.4.1.2): case, default port, no query', () => {
    expect(baseStringUri('HTTP://EXAMPLE.COM:80/r%20v/X?id=123')).toBe('http://example.com/r%20v/X');
    expect(baseStringUri('https://www.example.net:8080/?q=1')).toBe('https://www.example.net:8080/');
    expect(baseStringUri('https://example.com:443/a')).toBe('https://example.com/a');
  });

  const creds = { consumerKey: 'product-key', consumerSecret: 'product-secret' };
  const url =
    'https://hub.example.com/v1/channels/appdirect/events?eventUrl=https%3A%2F%2Fm.example.com%2Fapi%2Fintegration%2Fv1%2Fevents%2Fe1';
  const now = 1_800_000_000;
  const signed = signRequest({ method: 'GET', url, credentials: creds, timestampSeconds: now, nonce: 'n1' });
  const verify = (over: Partial<Parameters<typeof verifyRequest>[0]> = {}) =>
    verifyRequest({
      method: 'GET',
      url,
      authorization: signed,
      secretOf: (k) => (k === creds.consumerKey ? creds.consumerSecret : undefined),
      nowSeconds: now,
      ...over,
    });

  it('verifies what it signs, and nothing else', () => {
    expect(verify()).toEqual({ ok: true, consumerKey: 'product-key' });
    expect(verify({ url: url.replace('e1', 'e2') })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verify({ method: 'POST' })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verify({ secretOf: () => 'another-secret' })).toEqual({ ok: false, reason: 'bad-signature' });
    expect(verify({ secretOf: () => undefined })).toEqual({ ok: false, reason: 'unknown-consumer' });
    expect(verify({ nowSeconds: now + 301 })).toEqual({ ok: false, reason: 'stale-timestamp' });
    expect(verify({ authorization: undefined })).toEqual({ ok: false, reason: 'missing' });
    expect(verify({ authorization: 'Bearer abc' })).toEqual({ ok: false, reason: 'malformed' });
    expect(verify({ authorization: signed.replace('HMAC-SHA1', 'PLAINTEXT') })).toEqual({
      ok: false,
      reason: 'unsupported-method',
    });
  });
});
