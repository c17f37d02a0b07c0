import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  APPDIRECT_LIMITS,
  appDirectUsageBody,
  chunkAppDirectLines,
  isPricingUnit,
} from '../../../functions/usage-billing/appdirect-usage.ts';
import { openPeriods } from '../../../functions/usage-billing/run-billing.ts';
import { formatZuoraDate, zuoraUsageCsv } from '../../../functions/usage-billing/zuora-usage.ts';
import { parseUsageCsv } from '../../../local/sandboxes/zuora/usage.ts';
import type { SubmissionLine } from '../../../shared/db/entities/usage-billing.ts';
import { canonicalQuantity, fromScaled, toScaled } from '../../../shared/usage/quantity.ts';

const line = (i: number, over: Partial<SubmissionLine> = {}): SubmissionLine => ({
  tenant: 'platform',
  subscriptionNumber: `A-S${String(i).padStart(8, '0')}`,
  chargeNumber: `C-${i}`,
  unit: 'GIGABYTE',
  period: '2026-11',
  accountNumber: `A${String(i % 7).padStart(8, '0')}`,
  quantity: '12.5',
  target: '12.5',
  targetCount: 3,
  usageDate: '2026-11-20T10:00:00.000Z',
  ...over,
});

describe('exact quantities', () => {
  it('parses and renders decimals exactly, refusing more than 9 places and exponents of tiny numbers beyond it', () => {
    expect(canonicalQuantity(1.5)).toBe('1.5');
    expect(canonicalQuantity(0.1)).toBe('0.1');
    expect(canonicalQuantity(1e-9)).toBe('0.000000001');
    expect(canonicalQuantity(1e-10)).toBeUndefined();
    expect(canonicalQuantity(1e21)).toBe('1000000000000000000000');
    expect(canonicalQuantity(-1)).toBeUndefined();
    expect(canonicalQuantity(Number.NaN)).toBeUndefined();
    expect(canonicalQuantity('2.500')).toBe('2.5');
  });

  it('sums of 0.1 are exact (no floating point drift)', () => {
    let total = 0n;
    for (let i = 0; i < 1000; i++) total += toScaled(0.1)!;
    expect(fromScaled(total)).toBe('100');
  });

  it('round-trips any value with up to 9 decimals', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: 0, max: 9 }), (n, d) => {
        const value = n / 10 ** d;
        expect(Number(fromScaled(toScaled(value)!))).toBe(value);
      }),
    );
  });
});

describe('AppDirect chunking', () => {
  it('puts at most 250 preconfigured events in a request', () => {
    const chunks = chunkAppDirectLines(Array.from({ length: 600 }, (_, i) => line(i)));
    expect(chunks.map((c) => c.length)).toEqual([250, 250, 100]);
  });

  it('allows up to 850 custom events', () => {
    const chunks = chunkAppDirectLines(
      Array.from({ length: 1000 }, (_, i) => line(i, { unit: 'api-calls' })),
    );
    expect(chunks.map((c) => c.length)).toEqual([850, 150]);
    expect(isPricingUnit('api-calls')).toBe(false);
  });

  it('keeps every request under 262,144 bytes', () => {
    const big = 'X'.repeat(90);
    const lines = Array.from({ length: 850 }, (_, i) =>
      line(i, { unit: `custom-${i}-${big}`, subscriptionNumber: `S-${i}-${big}`, chargeNumber: `C-${big}` }),
    );
    const chunks = chunkAppDirectLines(lines);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      const body = appDirectUsageBody({ id: 'usub_01KAAAAAAAAAAAAAAAAAAAAAAA', lines: c });
      expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThanOrEqual(APPDIRECT_LIMITS.bytes);
    }
    expect(chunks.flat()).toHaveLength(850);
  });

  it('never mixes volume-priced units with others, nor two periods', () => {
    const lines = [
      ...Array.from({ length: 10 }, (_, i) => line(i, { pricing: 'volume' })),
      ...Array.from({ length: 10 }, (_, i) => line(100 + i)),
      ...Array.from({ length: 5 }, (_, i) => line(200 + i, { period: '2026-10' })),
    ];
    const chunks = chunkAppDirectLines(lines);
    for (const c of chunks) {
      expect(new Set(c.map((l) => l.pricing === 'volume')).size).toBe(1);
      expect(new Set(c.map((l) => l.period)).size).toBe(1);
    }
    expect(chunks.flat()).toHaveLength(25);
  });

  it('isolates lines that failed before', () => {
    const lines = Array.from({ length: 5 }, (_, i) => line(i));
    const chunks = chunkAppDirectLines(lines, (l) => l === lines[2]);
    expect(chunks).toContainEqual([lines[2]]);
    expect(chunks.flat()).toHaveLength(5);
  });

  it('builds the V2 body with a deterministic idempotency key and the period as request group', () => {
    const body = appDirectUsageBody({ id: 'usub_X', lines: [line(1), line(8)] });
    expect(body.idempotencyKey).toBe('usub_X');
    expect(body.requestGroupId).toBe('2026-11');
    expect(body.billable).toBe(true);
    expect(body.usages).toHaveLength(1); // both lines share account A00000001
    expect(body.usages[0]!.usageList[0]).toMatchObject({
      eventId: 'usub_X-0',
      pricingUnit: 'GIGABYTE',
      quantity: '12.5',
    });
  });
});

describe('Zuora usage file', () => {
  it('formats dates in the configured locale format', () => {
    expect(formatZuoraDate('2026-11-05T10:00:00.000Z', 'MM/DD/YYYY')).toBe('11/05/2026');
    expect(formatZuoraDate('2026-11-05T10:00:00.000Z', 'DD/MM/YYYY')).toBe('05/11/2026');
    expect(formatZuoraDate('2026-11-05T10:00:00.000Z', 'YYYY-MM-DD')).toBe('2026-11-05');
  });

  it('writes the required columns and the sandbox parses it back', () => {
    const csv = zuoraUsageCsv({ id: 'usub_1', lines: [line(1, { unit: 'Minutes, "peak"' })] }, 'DD/MM/YYYY');
    expect(csv.split('\r\n')[0]).toBe(
      'ACCOUNT_ID,UOM,QTY,STARTDATE,ENDDATE,PRODUCT_RATE_PLAN_CHARGE_ID,SUBSCRIPTION_ID,CHARGE_ID,DESCRIPTION',
    );
    const parsed = parseUsageCsv(csv, 'DD/MM/YYYY');
    expect(parsed.error).toBeUndefined();
    expect(parsed.rows[0]).toMatchObject({
      UOM: 'Minutes, "peak"',
      QTY: '12.5',
      STARTDATE: '20/11/2026',
      SUBSCRIPTION_ID: 'A-S00000001',
    });
    expect(parseUsageCsv(csv, 'MM/DD/YYYY').error).toMatch(/STARTDATE/);
  });
});

describe('open periods', () => {
  it('covers the late window plus slack', () => {
    expect(openPeriods(new Date('2026-11-23T17:00:00Z'), 35)).toEqual(['2026-10', '2026-11']);
    expect(openPeriods(new Date('2026-01-02T17:00:00Z'), 35)).toEqual(['2025-11', '2025-12', '2026-01']);
  });
});
