import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUsageCli } from '../../../local/cli/usage.ts';
import { systemClock } from '../../../shared/clock.ts';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

let table: TestTable;
let registry: SubscriptionRegistry;
beforeAll(async () => {
  table = await startTestTable();
  registry = new SubscriptionRegistry(table.doc, table.tableName);
});
afterAll(async () => table?.stop());

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runUsageCli(argv, {
    registry,
    clock: systemClock,
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run usage', () => {
  it('registers a subscription with charges, then switches its biller to AppDirect', async () => {
    const reg = await cli(
      'register',
      'A-S1',
      '--account',
      'A001',
      '--tenant',
      'platform,arrow',
      '--charge',
      'C-1:GIGABYTE',
      '--charge',
      'C-2:HOUR:volume',
    );
    expect(reg.code).toBe(0);
    const sub = await registry.get('A-S1');
    expect(sub).toMatchObject({
      biller: 'zuora',
      accountNumber: 'A001',
      tenants: ['arrow', 'platform'],
      source: 'cli',
    });
    expect(sub?.charges.map((c) => [c.chargeNumber, c.unit, c.pricing])).toEqual([
      ['C-1', 'GIGABYTE', undefined],
      ['C-2', 'HOUR', 'volume'],
    ]);
    const biller = await cli('biller', 'A-S1', 'appdirect');
    expect(biller.code).toBe(0);
    expect(JSON.parse(biller.out).biller).toBe('appdirect');
    expect((await registry.get('A-S1'))?.biller).toBe('appdirect');
  });

  it('refuses unknown subscriptions, billers and commands without changing anything', async () => {
    expect((await cli('biller', 'A-S404', 'appdirect')).code).toBe(1);
    expect(await registry.get('A-S404')).toBeUndefined();
    expect((await cli('biller', 'A-S1', 'stripe')).code).toBe(2);
    expect((await registry.get('A-S1'))?.biller).toBe('appdirect');
    expect((await cli('register', 'A-S2', '--tenant', 'platform')).code).toBe(2); // no --account
    expect(await registry.get('A-S2')).toBeUndefined();
    expect((await cli('frobnicate', 'A-S1')).code).toBe(2);
  });
});
