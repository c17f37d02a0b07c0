import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubscriptionRegistry } from '../../../shared/db/entities/subscriptions.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

describe('subscription registry', () => {
  let table: TestTable;
  let registry: SubscriptionRegistry;
  const now = new Date('2026-11-01T00:00:00Z');
  beforeAll(async () => {
    table = await startTestTable();
    registry = new SubscriptionRegistry(table.doc, table.tableName);
  });
  afterAll(async () => table.stop());

  it('merges tenants, keeps the biller unless overridden, and tracks charges', async () => {
    await registry.register({
      subscriptionNumber: 'A-S1',
      accountNumber: 'A1',
      tenants: ['platform'],
      source: 'zuora-event',
      now,
    });
    await registry.register({
      subscriptionNumber: 'A-S1',
      accountNumber: 'A1',
      tenants: ['arrow'],
      source: 'order',
      biller: 'appdirect',
      now,
    });
    await registry.putCharge({ subscriptionNumber: 'A-S1', chargeNumber: 'C-1', unit: 'Giga' }, now);
    await registry.putCharge({ subscriptionNumber: 'A-S1', chargeNumber: 'C-2' }, now);
    await registry.removeCharge('A-S1', 'C-2');
    let sub = await registry.get('A-S1');
    expect(sub?.tenants).toEqual(['arrow', 'platform']);
    expect(sub?.biller).toBe('zuora');
    expect(sub?.charges.map((c) => c.chargeNumber)).toEqual(['C-1']);
    expect(await registry.setBiller('A-S1', 'appdirect', now)).toBe(true);
    expect(await registry.setBiller('NOPE', 'appdirect', now)).toBe(false);
    sub = await registry.get('A-S1');
    expect(sub?.biller).toBe('appdirect');
    expect(await registry.get('missing')).toBeUndefined();
  });
});
