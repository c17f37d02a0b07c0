import '../quiet-warnings.ts';
import { parseArgs } from 'node:util';
import { type Clock, systemClock } from '../../shared/clock.ts';
import { billerSchema, SubscriptionRegistry } from '../../shared/db/entities/subscriptions.ts';
import { withTable } from './common.ts';
import { parseCli, runCli } from './kit.ts';

const USAGE = `usage:
  npm run usage -- register <subscriptionNumber> --account <accountNumber> --tenant <tenant>[,<tenant>…]
                   [--charge <chargeNumber>[:<unit>[:volume]]]… [--biller zuora|appdirect]
  npm run usage -- biller <subscriptionNumber> zuora|appdirect
  npm run usage -- show <subscriptionNumber>
Target: --table/TABLE_NAME in AWS, else the running local suite, else the local store directly.`;

const USAGE_OPTIONS = {
  table: { type: 'string' },
  account: { type: 'string' },
  tenant: { type: 'string' },
  charge: { type: 'string', multiple: true },
  biller: { type: 'string' },
} as const;

/**
 * The usage CLI core: registers subscriptions and charges for demos (until channels create them),
 * sets a subscription's biller, shows what the registry holds. Returns the exit code.
 */
export async function runUsageCli(
  argv: string[],
  io: { registry: SubscriptionRegistry; clock: Clock; out: (l: string) => void; err: (l: string) => void },
): Promise<number> {
  const { positionals: positional, values: flags } = parseArgs({
    args: argv,
    options: USAGE_OPTIONS,
    allowPositionals: true,
    strict: true,
  });
  const charges = flags.charge ?? [];
  const [command, subscription, value] = positional;
  if (!command || !subscription || !/^[^#\s]{1,100}$/.test(subscription)) {
    io.err(USAGE);
    return 2;
  }
  const now = io.clock.now();
  if (command === 'register') {
    const biller = billerSchema.safeParse(flags.biller ?? 'zuora');
    if (!flags.account || !flags.tenant || !biller.success) {
      io.err(USAGE);
      return 2;
    }
    await io.registry.register({
      subscriptionNumber: subscription,
      accountNumber: flags.account,
      tenants: flags.tenant.split(',').filter(Boolean),
      source: 'cli',
      biller: biller.data,
      overrideBiller: flags.biller !== undefined,
      now,
    });
    for (const spec of charges) {
      const [chargeNumber, unit, pricing] = spec.split(':');
      if (!chargeNumber) continue;
      await io.registry.putCharge(
        {
          subscriptionNumber: subscription,
          chargeNumber,
          ...(unit ? { unit } : {}),
          ...(pricing === 'volume' ? { pricing: 'volume' as const } : {}),
        },
        now,
      );
    }
  } else if (command === 'biller') {
    const biller = billerSchema.safeParse(value);
    if (!biller.success) {
      io.err(USAGE);
      return 2;
    }
    if (!(await io.registry.setBiller(subscription, biller.data, now))) {
      io.err(
        `subscription ${subscription} is not registered; use: npm run usage -- register ${subscription} …`,
      );
      return 1;
    }
  } else if (command !== 'show') {
    io.err(USAGE);
    return 2;
  }
  const found = await io.registry.get(subscription);
  if (!found) {
    io.err(`subscription ${subscription} is not registered`);
    return 1;
  }
  io.out(JSON.stringify(found, null, 2));
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const { values } = parseCli({
    name: 'npm run usage --',
    usage: USAGE,
    options: USAGE_OPTIONS,
    allowPositionals: true,
  });
  const table = values.table ?? process.env.TABLE_NAME;
  runCli('npm run usage --', () =>
    withTable(
      (doc, name) =>
        runUsageCli(argv, {
          registry: new SubscriptionRegistry(doc, name),
          clock: systemClock,
          out: (l) => process.stdout.write(`${l}\n`),
          err: (l) => process.stderr.write(`${l}\n`),
        }),
      table,
    ),
  );
}
