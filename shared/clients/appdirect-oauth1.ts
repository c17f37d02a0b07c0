import { randomBytes, timingSafeEqual } from 'node:crypto';
import { generateBase, hmacsign, rfc3986 } from 'oauth-sign';

/**
 * OAuth 1.0a (RFC 5849) with HMAC-SHA1 and no token, the way AppDirect marketplaces sign their calls
 * to a product and expect the product to sign its calls back (two-legged: consumer key and secret
 * only). The signature base string and the HMAC come from the `oauth-sign` library; this module adds
 * what a library leaves to its caller: collecting the parameters of a real request (query, form body,
 * `Authorization` header — RFC 5849 §3.4.1.3), normalising the base string URI (§3.4.1.2), building
 * and parsing the header (§3.5.1), and verifying an incoming request (timestamp window, constant-time
 * comparison).
 */

/** Parameters as `oauth-sign` takes them: a repeated name carries every value. */
type Params = Record<string, string | string[]>;

export interface OAuth1Credentials {
  consumerKey: string;
  consumerSecret: string;
}

function addParam(params: Params, name: string, value: string): void {
  const current = params[name];
  if (current === undefined) params[name] = value;
  else params[name] = Array.isArray(current) ? [...current, value] : [current, value];
}

/** A parameter map with no prototype (a query parameter named `__proto__` stays a parameter). */
const emptyParams = (): Params => Object.create(null) as Params;

/**
 * Decodes `application/x-www-form-urlencoded` text (query strings and form bodies) into name/value
 * pairs: `+` is a space, then percent-decoding (RFC 5849 §3.4.1.3.1).
 */
export function decodeForm(text: string): Array<[string, string]> {
  if (!text) return [];
  return text
    .split('&')
    .filter((pair) => pair.length > 0)
    .map((pair) => {
      const at = pair.indexOf('=');
      const [name, value] = at < 0 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      const decode = (s: string) => {
        try {
          return decodeURIComponent(s.replace(/\+/g, ' '));
        } catch {
          return s;
        }
      };
      return [decode(name), decode(value)];
    });
}

/**
 * The base string URI (RFC 5849 §3.4.1.2): scheme and host lower-cased, the default port (80 for
 * http, 443 for https) dropped, the path kept, no query and no fragment.
 */
export function baseStringUri(url: string | URL): string {
  const u = typeof url === 'string' ? new URL(url) : url;
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const defaultPort = (scheme === 'http' && u.port === '80') || (scheme === 'https' && u.port === '443');
  const port = u.port && !defaultPort ? `:${u.port}` : '';
  return `${scheme}://${u.hostname.toLowerCase()}${port}${u.pathname || '/'}`;
}

/**
 * The signature base string of a request (RFC 5849 §3.4.1): method, base string URI, and the
 * normalised parameters of the query, the form body (only when the body is form-encoded) and the
 * `oauth_*` protocol parameters (without `oauth_signature` and `realm`).
 */
export function signatureBaseString(input: {
  method: string;
  url: string;
  oauthParams: Record<string, string>;
  formBody?: string;
}): string {
  return generateBase(input.method.toUpperCase(), baseStringUri(input.url), collectParams(input));
}

function collectParams(input: {
  url: string;
  oauthParams: Record<string, string>;
  formBody?: string;
}): Params {
  const params = emptyParams();
  const u = new URL(input.url);
  for (const [k, v] of decodeForm(u.search.replace(/^\?/, ''))) addParam(params, k, v);
  for (const [k, v] of decodeForm(input.formBody ?? '')) addParam(params, k, v);
  for (const [k, v] of Object.entries(input.oauthParams)) {
    if (k !== 'oauth_signature' && k !== 'realm') addParam(params, k, v);
  }
  return params;
}

/** HMAC-SHA1 signature (base64) with the consumer secret and an empty token secret (§3.4.2). */
export function hmacSha1Signature(input: {
  method: string;
  url: string;
  oauthParams: Record<string, string>;
  formBody?: string;
  consumerSecret: string;
  tokenSecret?: string;
}): string {
  return hmacsign(
    input.method.toUpperCase(),
    baseStringUri(input.url),
    collectParams(input),
    input.consumerSecret,
    input.tokenSecret ?? '',
  );
}

/**
 * Signs a request: returns the `Authorization: OAuth …` header value (§3.5.1). `nonce` and
 * `timestampSeconds` are injectable for tests; in use they are random and the current time.
 */
export function signRequest(input: {
  method: string;
  url: string;
  credentials: OAuth1Credentials;
  formBody?: string;
  nonce?: string;
  timestampSeconds?: number;
}): string {
  const oauthParams: Record<string, string> = {
    oauth_consumer_key: input.credentials.consumerKey,
    oauth_nonce: input.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: String(input.timestampSeconds ?? Math.floor(Date.now() / 1000)),
    oauth_version: '1.0',
  };
  const signature = hmacSha1Signature({
    method: input.method,
    url: input.url,
    oauthParams,
    ...(input.formBody !== undefined ? { formBody: input.formBody } : {}),
    consumerSecret: input.credentials.consumerSecret,
  });
  const all = { ...oauthParams, oauth_signature: signature };
  return `OAuth ${Object.entries(all)
    .map(([k, v]) => `${rfc3986(k)}="${rfc3986(v)}"`)
    .join(', ')}`;
}

/** The protocol parameters of an `Authorization: OAuth …` header, or undefined if it is not one. */
export function parseAuthorizationHeader(header: string | undefined): Record<string, string> | undefined {
  if (!header) return undefined;
  const m = /^\s*OAuth\s+(.*)$/is.exec(header);
  if (!m) return undefined;
  const out: Record<string, string> = {};
  const re = /\s*([A-Za-z0-9_.~%-]+)\s*=\s*"([^"]*)"\s*(?:,|$)/gy;
  const body = m[1]!.trim();
  let consumed = 0;
  for (let match = re.exec(body); match; match = re.exec(body)) {
    try {
      out[decodeURIComponent(match[1]!)] = decodeURIComponent(match[2]!);
    } catch {
      return undefined;
    }
    consumed = re.lastIndex;
  }
  if (consumed !== body.length) return undefined;
  return out;
}

export type VerifyFailure =
  | 'missing'
  | 'malformed'
  | 'unsupported-method'
  | 'unknown-consumer'
  | 'stale-timestamp'
  | 'bad-signature';

export type VerifyResult = { ok: true; consumerKey: string } | { ok: false; reason: VerifyFailure };

/**
 * Verifies a request signed with OAuth 1.0a HMAC-SHA1 (two-legged): the header names a known
 * consumer, its timestamp is within `maxSkewSeconds` of now, and the signature recomputed over the
 * request as this side sees it (`url` must be the URL the caller signed) matches, compared in
 * constant time. Nonces are not stored: every AppDirect notification is idempotent by its event id,
 * so a replayed notification within the window changes nothing.
 */
export function verifyRequest(input: {
  method: string;
  url: string;
  authorization: string | undefined;
  formBody?: string;
  secretOf: (consumerKey: string) => string | undefined;
  nowSeconds: number;
  maxSkewSeconds?: number;
}): VerifyResult {
  if (!input.authorization) return { ok: false, reason: 'missing' };
  const params = parseAuthorizationHeader(input.authorization);
  if (!params) return { ok: false, reason: 'malformed' };
  const key = params.oauth_consumer_key;
  const signature = params.oauth_signature;
  const timestamp = params.oauth_timestamp;
  if (!key || !signature || !timestamp || !params.oauth_nonce || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: 'malformed' };
  }
  if (params.oauth_signature_method !== 'HMAC-SHA1') return { ok: false, reason: 'unsupported-method' };
  if (params.oauth_version !== undefined && params.oauth_version !== '1.0') {
    return { ok: false, reason: 'malformed' };
  }
  const secret = input.secretOf(key);
  if (secret === undefined) return { ok: false, reason: 'unknown-consumer' };
  if (Math.abs(input.nowSeconds - Number(timestamp)) > (input.maxSkewSeconds ?? 300)) {
    return { ok: false, reason: 'stale-timestamp' };
  }
  const expected = hmacSha1Signature({
    method: input.method,
    url: input.url,
    oauthParams: params,
    ...(input.formBody !== undefined ? { formBody: input.formBody } : {}),
    consumerSecret: secret,
  });
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'bad-signature' };
  return { ok: true, consumerKey: key };
}
