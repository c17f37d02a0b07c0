import '../quiet-warnings.ts';
import { parseArgs } from 'node:util';
import { ClientRepository } from '../../shared/auth/clients.ts';
import { systemClock } from '../../shared/clock.ts';
import { runClientsCli } from './clients-core.ts';
import { fetchDevToken, readDevClients, runningRuntime, withTable } from './common.ts';

/**
 * `npm run clients -- add | list | remove | rotate | token`. Target: `--table`/TABLE_NAME in AWS (default
 * credentials); else the running local suite's dynalite (from `<dataDir>/runtime.json`); else the
 * local store opened directly (only while the suite is stopped: dynalite holds a lock on it).
 */
async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'token') return printToken(argv[1], argv[2]);
  const { values } = parseArgs({
    args: argv,
    strict: false,
    allowPositionals: true,
    options: { table: { type: 'string' } },
  });
  const awsTable = typeof values.table === 'string' ? values.table : process.env.TABLE_NAME;
  const io = {
    clock: systemClock,
    out: (line: string) => process.stdout.write(`${line}\n`),
    err: (line: string) => process.stderr.write(`${line}\n`),
  };
  return withTable(
    (doc, table) => runClientsCli(argv, { ...io, clients: new ClientRepository(doc, table) }),
    awsTable,
  );
}

/** `npm run -s clients -- token <kind|tenant> [scope]`: an access token of a dev client of the running suite. */
async function printToken(who: string | undefined, scope: string | undefined): Promise<number> {
  const running = runningRuntime();
  if (!running) {
    process.stderr.write('clients token: no local suite is running (npm start)\n');
    return 2;
  }
  const client = readDevClients().find((c) => c.kind === who || c.tenant === who);
  if (!client) {
    process.stderr.write(
      `clients token: no dev client ${who ?? '(none given)'}; kinds: distributor, zuora, platform\n`,
    );
    return 2;
  }
  process.stdout.write(`${await fetchDevToken(running.url, client, scope)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`clients: ${(error as Error).message}\n`);
    process.exitCode = 1;
  },
);
