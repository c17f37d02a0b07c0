import { ValidationError } from '../../shared/errors.ts';

/** `Idempotency-Key`: optional, 1–255 visible ASCII characters (Zuora's and Stripe's rule). */
export function idempotencyKeyOf(headers: Record<string, string>): string | undefined {
  const value = headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(value)) {
    throw new ValidationError('The Idempotency-Key header must be 1-255 visible ASCII characters.', [
      { field: 'Idempotency-Key', message: 'must be 1-255 visible ASCII characters' },
    ]);
  }
  return value;
}
