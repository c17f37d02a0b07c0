import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks symmetric signatures (`v1`, HMAC-SHA256 over `id.timestamp.body`), with
 * `whsec_` secrets of 24 random bytes, base64 (https://www.standardwebhooks.com).
 */
export const SECRET_PREFIX = 'whsec_';

/** A new endpoint secret: `whsec_` + base64 of 24 random bytes (the spec's minimum key size). */
export function generateSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

/** True for a well-formed `whsec_` secret whose key is 24 to 64 bytes. */
export function isValidSecret(secret: string): boolean {
  if (!secret.startsWith(SECRET_PREFIX)) return false;
  const b64 = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return false;
  const length = Buffer.from(b64, 'base64').length;
  return length >= 24 && length <= 64;
}

const keyCache = new Map<string, Buffer>();
function keyOf(secret: string): Buffer {
  let key = keyCache.get(secret);
  if (!key) {
    const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
    key = Buffer.from(b64, 'base64');
    if (key.length === 0) throw new Error('webhook secret is empty');
    // Bounded: a deliverer sees few endpoints per execution environment.
    if (keyCache.size > 1_000) keyCache.clear();
    keyCache.set(secret, key);
  }
  return key;
}

/** One `v1,<base64>` signature of `msgId.timestamp.payload`. */
export function signPayload(
  secret: string,
  msgId: string,
  timestampSeconds: number,
  payload: string,
): string {
  const mac = createHmac('sha256', keyOf(secret))
    .update(`${msgId}.${timestampSeconds}.${payload}`, 'utf8')
    .digest('base64');
  return `v1,${mac}`;
}

/**
 * The `webhook-*` headers of one attempt. Several secrets (rotation) give a space-separated list of
 * signatures, which the spec's verifiers accept when any one matches.
 */
export function webhookHeaders(input: {
  msgId: string;
  timestampSeconds: number;
  payload: string;
  secrets: string[];
}): Record<string, string> {
  return {
    'webhook-id': input.msgId,
    'webhook-timestamp': String(input.timestampSeconds),
    'webhook-signature': input.secrets
      .map((s) => signPayload(s, input.msgId, input.timestampSeconds, input.payload))
      .join(' '),
  };
}
