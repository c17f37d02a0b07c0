import '../quiet-warnings.ts';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import {
  baseUrlProblem,
  HOME_MARKETPLACE_ID,
  marketplaceSchema,
} from '../../shared/appdirect/marketplaces.ts';
import { type Clock, systemClock } from '../../shared/clock.ts';
import { AppDirectAccountStore } from '../../shared/db/entities/appdirect-accounts.ts';
import { MarketplaceStore } from '../../shared/db/entities/appdirect-marketplaces.ts';
import { withTable } from './common.ts';
import { parseCli, runCli } from './kit.ts';

const USAGE = `usage:
  npm run appdirect -- marketplaces list
  npm run appdirect -- marketplaces add <id> --base-url https://acme.byappdirect.com --partner-email ops@acme.example
                         [--tenant appdirect-<id>] [--partner-name "Acme marketplace"] [--currency USD]
                         [--fetch-auth oauth1|oauth2] [--unsigned-notifications] [--stage local|dev|staging|prod]
  npm run appdirect -- marketplaces remove <id>
  npm run appdirect -- account <accountIdentifier>
Credentials go to the appdirect-credentials secret under marketplaces.<id> ({consumerKey, consumerSecret, clientId?, clientSecret?}).
Target: --table/TABLE_NAME in AWS, else the running local suite, else the local store directly.`;

const APPDIRECT_OPTIONS = {
  table: { type: 'string' },
  'base-url': { type: 'string' },
  'partner-email': { type: 'string' },
  'partner-name': { type: 'string' },
  tenant: { type: 'string' },
  currency: { type: 'string' },
  'fetch-auth': { type: 'string' },
  'unsigned-notifications': { type: 'boolean' },
  stage: { type: 'string' },
} as const;

/**
 * The AppDirect CLI core: registers the marketplaces served beyond the stage's home marketplace (the
 * functions pick a change up within a minute) and shows an account. Returns the exit code.
 */
export async function runAppDirectCli(
  argv: string[],
  io: {
    marketplaces: MarketplaceStore;
    accounts: AppDirectAccountStore;
    clock: Clock;
    out: (l: string) => void;
    err: (l: string) => void;
  },
): Promise<number> {
  const { positionals: positional, values: flags } = parseArgs({
    args: argv,
    options: APPDIRECT_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const [area, command, id] = positional;
  if (area === 'account' && command) {
    const account = await io.accounts.get(command);
    if (!account) {
      io.err(`no account ${command}`);
      return 1;
    }
    io.out(JSON.stringify(account, null, 2));
    return 0;
  }
  if (area !== 'marketplaces') {
    io.err(USAGE);
    return 2;
  }
  if (command === 'list') {
    io.out(JSON.stringify(await io.marketplaces.list(), null, 2));
    return 0;
  }
  if (command === 'remove' && id) {
    if (!(await io.marketplaces.remove(id))) {
      io.err(`no marketplace ${id}`);
      return 1;
    }
    io.out(`removed ${id}`);
    return 0;
  }
  if (command === 'add' && id) {
    if (id === HOME_MARKETPLACE_ID) {
      io.err(`"${HOME_MARKETPLACE_ID}" is the stage's own marketplace (APPDIRECT_BASE_URL); pick another id`);
      return 2;
    }
    const parsed = marketplaceSchema.safeParse({
      id,
      baseUrl: (flags['base-url'] ?? '').replace(/\/+$/, ''),
      tenant: flags.tenant ?? `appdirect-${id}`,
      fetchAuth: flags['fetch-auth'] ?? 'oauth1',
      signedNotifications: flags['unsigned-notifications'] === undefined,
      currency: flags.currency ?? 'USD',
      partnerEmail: flags['partner-email'],
      partnerName: flags['partner-name'] ?? `AppDirect marketplace ${id}`,
    });
    const stage = z.enum(['local', 'dev', 'staging', 'prod']).safeParse(flags.stage ?? 'prod');
    if (!parsed.success || !stage.success) {
      io.err(
        `${parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') ?? 'stage must be local, dev, staging or prod'}\n${USAGE}`,
      );
      return 2;
    }
    const problem = baseUrlProblem(parsed.data.baseUrl, stage.data);
    if (problem) {
      io.err(`--base-url ${problem}`);
      return 2;
    }
    await io.marketplaces.put(parsed.data, io.clock.now());
    io.out(JSON.stringify(parsed.data, null, 2));
    return 0;
  }
  io.err(USAGE);
  return 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const { values } = parseCli({
    name: 'npm run appdirect --',
    usage: USAGE,
    options: APPDIRECT_OPTIONS,
    allowPositionals: true,
  });
  const table = values.table ?? process.env.TABLE_NAME;
  runCli('npm run appdirect --', () =>
    withTable(
      (doc, name) =>
        runAppDirectCli(argv, {
          marketplaces: new MarketplaceStore(doc, name),
          accounts: new AppDirectAccountStore(doc, name),
          clock: systemClock,
          out: (l) => process.stdout.write(`${l}\n`),
          err: (l) => process.stderr.write(`${l}\n`),
        }),
      table,
    ),
  );
}
