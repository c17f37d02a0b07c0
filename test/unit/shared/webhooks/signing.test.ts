import { readFileSync } from 'node:fs';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import {
  generateSecret,
  isValidSecret,
  signPayload,
  webhookHeaders,
} from '../../../../shared/webhooks/signing.ts';

interface Vector {
  name: string;
  secret: string;
  msgId: string;
  timestamp: number;
  payload: string;
  expectedSignatureHeader: string;
}
const vectors = (
  JSON.parse(
    readFileSync(
      new URL(
        '../../../../../shared/reference/data/standard-webhooks/test-vectors.extracted.json',
        import.meta.url,
      ),
      'utf8',
    ),
  ) as { vectors: Vector[] }
).vectors;

describe('Standard Webhooks signer', () => {
  it.each(vectors.map((v) => [v.name, v] as const))('reproduces the shared test vector: %s', (_, v) => {
    expect(signPayload(v.secret, v.msgId, v.timestamp, v.payload)).toBe(v.expectedSignatureHeader);
    expect(
      webhookHeaders({
        msgId: v.msgId,
        timestampSeconds: v.timestamp,
        payload: v.payload,
        secrets: [v.secret],
      }),
    ).toEqual({
      'webhook-id': v.msgId,
      'webhook-timestamp': String(v.timestamp),
      'webhook-signature': v.expectedSignatureHeader,
    });
  });

  it('agrees with the standardwebhooks library for generated secrets, including a rotation pair', () => {
    const current = generateSecret();
    const previous = generateSecret();
    const payload = JSON.stringify({
      type: 'order.accepted',
      timestamp: new Date().toISOString(),
      data: { a: 'é' },
    });
    const ts = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders({
      msgId: 'msg_1',
      timestampSeconds: ts,
      payload,
      secrets: [current, previous],
    });
    expect(headers['webhook-signature']!.split(' ')).toHaveLength(2);
    // Either receiver (old secret or new) verifies the same request.
    expect(new Webhook(current).verify(payload, headers)).toEqual(JSON.parse(payload));
    expect(new Webhook(previous).verify(payload, headers)).toEqual(JSON.parse(payload));
    expect(() => new Webhook(generateSecret()).verify(payload, headers)).toThrow();
    expect(new Webhook(current).sign('msg_1', new Date(ts * 1000), payload)).toBe(
      signPayload(current, 'msg_1', ts, payload),
    );
  });

  it('generates whsec_ secrets of 24 random bytes', () => {
    const a = generateSecret();
    expect(isValidSecret(a)).toBe(true);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(24);
    expect(generateSecret()).not.toBe(a);
    expect(isValidSecret('whsec_short')).toBe(false);
    expect(isValidSecret('nope')).toBe(false);
  });
});
