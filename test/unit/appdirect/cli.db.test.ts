import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAppDirectCli } from '../../../local/cli/appdirect.ts';
import { systemClock } from '../../../shared/clock.ts';
import { AppDirectAccountStore } from '../../../shared/db/entities/appdirect-accounts.ts';
import {
  MarketplaceDirectory,
  MarketplaceStore,
} from '../../../shared/db/entities/appdirect-marketplaces.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';
import { testMarketplace } from './fakes.ts';

/** `npm run appdirect -- marketplaces …`: registered marketplaces are served next to the home one. */
let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => {
  await table.stop();
});

describe('AppDirect CLI', () => {
  it('adds, lists and removes marketplaces; refuses bad base URLs and the home id', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const marketplaces = new MarketplaceStore(table.doc, table.tableName);
    const io = {
      marketplaces,
      accounts: new AppDirectAccountStore(table.doc, table.tableName),
      clock: systemClock,
      out: (l: string) => out.push(l),
      err: (l: string) => err.push(l),
    };
    const add = (...args: string[]) => runAppDirectCli(['marketplaces', 'add', ...args], io);
    expect(
      await add('acme', '--base-url', 'https://acme.byappdirect.com/', '--partner-email', 'ops@acme.example'),
    ).toBe(0);
    expect(await add('ip', '--base-url', 'https://203.0.113.9', '--partner-email', 'ops@acme.example')).toBe(
      2,
    );
    expect(
      await add('plain', '--base-url', 'http://acme.example.com', '--partner-email', 'ops@acme.example'),
    ).toBe(2);
    expect(
      await add('home', '--base-url', 'https://x.example.com', '--partner-email', 'ops@acme.example'),
    ).toBe(2);
    expect(await add('nomail', '--base-url', 'https://x.example.com')).toBe(2);
    expect(await marketplaces.list()).toEqual([
      expect.objectContaining({
        id: 'acme',
        baseUrl: 'https://acme.byappdirect.com',
        tenant: 'appdirect-acme',
        signedNotifications: true,
      }),
    ]);
    const directory = new MarketplaceDirectory(testMarketplace(), marketplaces, systemClock, 0);
    expect((await directory.list()).map((m) => m.id)).toEqual(['home', 'acme']);
    expect(await runAppDirectCli(['marketplaces', 'remove', 'acme'], io)).toBe(0);
    expect(await runAppDirectCli(['marketplaces', 'remove', 'acme'], io)).toBe(1);
    expect((await directory.list()).map((m) => m.id)).toEqual(['home']);
    expect(await runAppDirectCli(['account', 'nobody'], io)).toBe(1);
  });
});
