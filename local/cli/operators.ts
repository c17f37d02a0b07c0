import '../quiet-warnings.ts';
import { hashSecret } from '../../shared/auth/hash.ts';
import { buildOperator, OperatorRepository } from '../../shared/auth/operators.ts';
import { systemClock } from '../../shared/clock.ts';
import { opsScopes } from '../../shared/contracts/oauth.ts';
import { backfillIndexes } from '../../shared/db/index-backfill.ts';
import { zodDetails } from '../../shared/errors.ts';
import { withTable } from './common.ts';
import { parseCli, runCli } from './kit.ts';

/**
 * `npm run operators -- add | list | disable | enable | reset-password | backfill-indexes`: the people
 * who sign in to the console, and the one-off index backfill of an existing table. Target as for
 * `npm run clients`: `--table <name>` (AWS, default credentials), else the local suite.
 */
const USAGE = `Usage: npm run operators -- <command> [--table <name>]
  add <username> [--name <label>] [--scopes "<scope> …"]   create an operator; prints the password ONCE
  list                                                     username, status, scopes (never hashes)
  disable <username> | enable <username>                   refused at the next sign-in or refresh
  reset-password <username>                                a new password, printed ONCE
  backfill-indexes                                         key items written before the operations indexes
Scopes: ${opsScopes.join(' ')} (default: all)`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCli(
    {
      name: 'npm run operators --',
      usage: USAGE,
      allowPositionals: true,
      options: { table: { type: 'string' }, name: { type: 'string' }, scopes: { type: 'string' } },
    },
    argv,
  );
  const [command, username] = positionals;
  const out = (line: string) => process.stdout.write(`${line}\n`);
  return withTable(async (doc, table) => {
    const repo = new OperatorRepository(doc, table);
    const now = systemClock.now();
    switch (command) {
      case 'add': {
        const input = {
          username: username ?? '',
          ...(values.name ? { name: values.name } : {}),
          ...(values.scopes ? { scopes: values.scopes.split(/[\s,]+/).filter(Boolean) } : {}),
        };
        let built: Awaited<ReturnType<typeof buildOperator>>;
        try {
          built = await buildOperator(input as Parameters<typeof buildOperator>[0], now);
        } catch (error) {
          const issues = (error as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
          for (const d of zodDetails(issues ?? [])) process.stderr.write(`${d.field}: ${d.message}\n`);
          return 2;
        }
        if (!(await repo.add(built.operator))) {
          process.stderr.write(`An operator ${built.operator.username} already exists.\n`);
          return 1;
        }
        out(`username: ${built.operator.username}`);
        out(`password: ${built.password}`);
        out(`scopes:   ${built.operator.scopes.join(' ')}`);
        out('Store the password now: it is kept only as a hash and cannot be shown again.');
        return 0;
      }
      case 'list': {
        const all = await repo.list();
        if (!all.length) out('No operators.');
        for (const o of all) out(`${o.username.padEnd(24)} ${o.status.padEnd(9)} ${o.scopes.join(' ')}`);
        return 0;
      }
      case 'disable':
      case 'enable': {
        if (
          !username ||
          !(await repo.update(username, { status: command === 'enable' ? 'enabled' : 'disabled' }, now))
        ) {
          process.stderr.write(`No operator ${username ?? '(none given)'}.\n`);
          return 1;
        }
        out(
          `${username} ${command}d.${command === 'disable' ? ' Access tokens already issued expire within 10 minutes.' : ''}`,
        );
        return 0;
      }
      case 'reset-password': {
        const password = (await buildOperator({ username: 'xx' }, now)).password;
        if (
          !username ||
          !(await repo.update(
            username,
            { passwordHash: await hashSecret(password), failures: 0, lockedUntil: undefined },
            now,
          ))
        ) {
          process.stderr.write(`No operator ${username ?? '(none given)'}.\n`);
          return 1;
        }
        out(`username: ${username}`);
        out(`password: ${password}`);
        return 0;
      }
      case 'backfill-indexes': {
        const shards = Number(process.env.USAGE_PERIOD_SHARDS ?? '');
        const report = await backfillIndexes(doc, table, shards > 0 ? { usagePeriodShards: shards } : {});
        out(
          `Index keys written: ${report.orders} orders, ${report.deliveries} deliveries, ${report.other} other items.`,
        );
        return 0;
      }
      default:
        process.stderr.write(`${USAGE}\n`);
        return 2;
    }
  }, values.table ?? process.env.TABLE_NAME);
}

runCli('npm run operators --', () => main(process.argv.slice(2)));
