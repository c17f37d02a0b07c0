import '../quiet-warnings.ts';
import { parseArgs } from 'node:util';
import { ClientRepository } from '../../shared/auth/clients.ts';
import { systemClock } from '../../shared/clock.ts';
import { updateDevClientFile } from '../dev-clients.ts';
import { CLIENTS_OPTIONS, CLIENTS_USAGE, runClientsCli } from './clients-core.ts';
import { dataDir, fetchDevToken, readDevClients, runningRuntime, withTable } from './common.ts';
import { parseCli, runCli } from './kit.ts';

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
    (doc, table) =>
      runClientsCli(argv, {
        ...io,
        clients: new ClientRepository(doc, table),
        // Locally, a rotated dev client's new secret goes to dev-clients.json too (not in AWS).
        ...(awsTable ? {} : { rotated: (id, change) => void updateDevClientFile(dataDir(), id, change) }),
      }),
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

parseCli({
  name: 'npm run clients --',
  usage: `${CLIENTS_USAGE}
  npm run -s clients -- token <kind|tenant> [scope]   an access token of a dev client of the running suite`,
  options: CLIENTS_OPTIONS,
  allowPositionals: true,
});
runCli('npm run clients --', () => main(process.argv.slice(2)));
