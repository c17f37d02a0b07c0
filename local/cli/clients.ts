import '../quiet-warnings.ts';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClientRepository } from '../../shared/auth/clients.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { ensureTable, localDynamoClient, startEmbeddedDynamo } from '../dynamo.ts';
import { LOCAL_TABLE } from '../env.ts';
import { runClientsCli } from './clients-core.ts';
import { dataDir, fetchDevToken, readDevClients, runningRuntime } from './common.ts';

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
  if (awsTable) {
    return runClientsCli(argv, { ...io, clients: new ClientRepository(createDocumentClient(), awsTable) });
  }

  const dir = dataDir();
  const running = runningRuntime(dir);
  if (running) {
    const low = localDynamoClient(running.dynamoEndpoint);
    try {
      const clients = new ClientRepository(createDocumentClient(low), running.tableName);
      return await runClientsCli(argv, { ...io, clients });
    } finally {
      low.destroy();
    }
  }

  const dynamo = await startEmbeddedDynamo({ path: join(dir, 'dynamo') });
  const low = localDynamoClient(dynamo.endpoint);
  try {
    await ensureTable(low, LOCAL_TABLE);
    return await runClientsCli(argv, {
      ...io,
      clients: new ClientRepository(createDocumentClient(low), LOCAL_TABLE),
    });
  } finally {
    low.destroy();
    await dynamo.stop();
  }
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
