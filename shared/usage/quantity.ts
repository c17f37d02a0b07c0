/**
 * Exact decimal arithmetic for usage quantities. Totals are sums of many records and must equal, to
 * the last digit, what the billers receive; binary floating point cannot promise that, so quantities
 * are held as integers scaled by 10^9 (at most nine decimal places are accepted).
 */
export const QUANTITY_SCALE_DIGITS = 9;
const SCALE = 10n ** BigInt(QUANTITY_SCALE_DIGITS);

/** Largest accepted quantity of one record (keeps CSV and JSON renderings plain decimals). */
export const MAX_QUANTITY = 1e15;

/**
 * Parses a finite, non-negative number or decimal string into scaled units; undefined when it has
 * more than nine decimal places or is not a plain decimal. Uses the shortest round-trip text of a
 * number, i.e. exactly what the caller wrote in JSON for any value a double can carry.
 */
export function toScaled(value: number | string): bigint | undefined {
  const text = typeof value === 'number' ? numberText(value) : value.trim();
  if (text === undefined) return undefined;
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return undefined;
  const fraction = (m[2] ?? '').replace(/0+$/, '');
  if (fraction.length > QUANTITY_SCALE_DIGITS) return undefined;
  return BigInt(m[1]!) * SCALE + BigInt(fraction.padEnd(QUANTITY_SCALE_DIGITS, '0') || '0');
}

/** Renders scaled units as a plain decimal string without trailing zeros (`1.5`, `3`, `0.000000001`). */
export function fromScaled(scaled: bigint): string {
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const whole = abs / SCALE;
  const fraction = (abs % SCALE).toString().padStart(QUANTITY_SCALE_DIGITS, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Canonical decimal text of a quantity (`1.50` → `1.5`), or undefined when not acceptable. */
export function canonicalQuantity(value: number | string): string | undefined {
  const scaled = toScaled(value);
  return scaled === undefined ? undefined : fromScaled(scaled);
}

function numberText(n: number): string | undefined {
  if (!Number.isFinite(n) || n < 0) return undefined;
  const text = String(n);
  if (!/e/i.test(text)) return text;
  // Exponent form (1e-7, 1e+21): expand it exactly from the digits JavaScript printed.
  const [mantissa, exp] = text.toLowerCase().split('e') as [string, string];
  const [int, frac = ''] = mantissa.split('.') as [string, string?];
  const digits = int + frac;
  const point = int.length + Number(exp);
  if (point <= 0) return `0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return digits + '0'.repeat(point - digits.length);
  return `${digits.slice(0, point)}.${digits.slice(point)}`;
}
