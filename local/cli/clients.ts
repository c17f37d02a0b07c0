import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ClientRepository } from '../../shared/auth/clients.ts';
import { systemClock } from '../../shared/clock.ts';
import { createDocumentClient } from '../../shared/db/client.ts';
import { ensureTable, localDynamoClient, startEmbeddedDynamo } from '../dynamo.ts';
import { LOCAL_TABLE } from '../env.ts';
import { runClientsCli, runtimeInfoSchema } from './clients-core.ts';

/** True if a process with this pid exists (a stale runtime.json must not point us at a dead port). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `npm run clients -- add | list | remove | rotate`. Target: `--table`/TABLE_NAME in AWS (default
 * credentials); else the running local suite's dynalite (from `<dataDir>/runtime.json`); else the
 * local store opened directly (only while the suite is stopped: dynalite holds a lock on it).
 */
async function main(argv: string[]): Promise<number> {
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

  const dataDir = resolve(process.env.SWITCHBOARD_DATA_DIR ?? '.switchboard');
  const runtimeFile = join(dataDir, 'runtime.json');
  const running = existsSync(runtimeFile)
    ? runtimeInfoSchema.safeParse(JSON.parse(readFileSync(runtimeFile, 'utf8')))
    : undefined;
  if (running?.success && alive(running.data.pid)) {
    const low = localDynamoClient(running.data.dynamoEndpoint);
    try {
      const clients = new ClientRepository(createDocumentClient(low), running.data.tableName);
      return await runClientsCli(argv, { ...io, clients });
    } finally {
      low.destroy();
    }
  }

  const dynamo = await startEmbeddedDynamo({ path: join(dataDir, 'dynamo') });
  const low = localDynamoClient(dynamo.endpoint);
  try {
    await ensureTable(low, LOCAL_TABLE);
    return await runClientsCli(argv, { ...io, clients: new ClientRepository(createDocumentClient(low), LOCAL_TABLE) });
  } finally {
    low.destroy();
    await dynamo.stop();
  }
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
