import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../../../shared/redact.ts';

describe('redact', () => {
  it('replaces secrets and personal fields at any depth, keeps the rest', () => {
    const out = redact({
      orderId: 'o-1',
      client_secret: 's3cret',
      headers: { Authorization: 'Bearer x', 'x-request-id': 'r' },
      sellTo: {
        company: 'ACME',
        contact: { firstName: 'Ada', lastName: 'L', email: 'a@b.c', phone: '+1' },
        address: { street: '1 Main', country: 'FR' },
      },
      lines: [{ productCode: 'P1', password: 'p' }],
    }) as Record<string, any>;
    expect(out.orderId).toBe('o-1');
    expect(out.client_secret).toBe(REDACTED);
    expect(out.headers.Authorization).toBe(REDACTED);
    expect(out.headers['x-request-id']).toBe('r');
    expect(out.sellTo.company).toBe('ACME');
    expect(out.sellTo.contact).toEqual({
      firstName: REDACTED,
      lastName: REDACTED,
      email: REDACTED,
      phone: REDACTED,
    });
    expect(out.sellTo.address).toBe(REDACTED);
    expect(out.lines[0]).toEqual({ productCode: 'P1', password: REDACTED });
  });
  it('survives cycles and errors', () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    expect(redact(a)).toEqual({ n: 1, self: '[CYCLE]' });
    expect(redact(new Error('boom'))).toMatchObject({ name: 'Error', message: 'boom' });
  });
});
