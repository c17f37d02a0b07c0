import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { localDynamoClient, openLocalTable, startEmbeddedDynamo } from '../../../local/dynamo.ts';
import { createDocumentClient } from '../../../shared/db/client.ts';
import { repoRoot } from '../../helpers/reference.ts';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-dynamo-kill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const TABLE = 'hub';
const KEY = { PK: 'DELIVERY#1', SK: 'D' };

/**
 * A child process on the embedded DynamoDB at `path` (`raw`: plain dynalite, as before its item
 * writes were made atomic). `prepare` creates the hub table and an item filed in GSI2 under
 * `skipped#1`; `update` moves it to `pending#1` (an UpdateItem that changes the index key, as a
 * delivery's re-arm does) and SIGKILLs itself right after the `killAfter`-th LevelDB write of that
 * update — between two writes, if the update takes more than one — or, when the update was a single
 * write, waits for the test to kill it.
 */
async function child(
  path: string,
  mode: 'prepare' | 'update',
  killAfter = 0,
  variant: 'embedded' | 'raw' = 'embedded',
): Promise<string> {
  const script = join(dir, 'child.mts');
  const dynamoUrl = pathToFileURL(join(repoRoot, 'local/dynamo.ts')).href;
  writeFileSync(
    script,
    `import { createRequire } from 'node:module';
import { ensureTable, startEmbeddedDynamo, localDynamoClient } from ${JSON.stringify(dynamoUrl)};
// The script lives outside the repository: packages resolve from it.
const fromRepo = createRequire(${JSON.stringify(join(repoRoot, 'package.json'))});
const { DynamoDBDocumentClient, PutCommand, UpdateCommand } = fromRepo('@aws-sdk/lib-dynamodb');
const [path, mode, killAfter, variant] = process.argv.slice(2);
// LevelDB writes, counted once armed, under dynalite's own bindings (set before it opens the store).
const fromDynalite = createRequire(fromRepo.resolve('dynalite'));
const { Level } = fromDynalite('level');
let armed = false;
let writes = 0;
for (const method of ['put', 'del', 'batch']) {
  const original = Level.prototype[method];
  Level.prototype[method] = async function (...args) {
    const result = await original.apply(this, args);
    if (armed && ++writes === Number(killAfter)) process.kill(process.pid, 'SIGKILL');
    return result;
  };
}
let endpoint;
if (variant === 'raw') {
  const server = fromRepo('dynalite')({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  endpoint = 'http://127.0.0.1:' + server.address().port;
} else {
  endpoint = (await startEmbeddedDynamo({ path })).endpoint;
}
const low = localDynamoClient(endpoint);
const doc = DynamoDBDocumentClient.from(low);
if (mode === 'prepare') {
  await ensureTable(low, ${JSON.stringify(TABLE)});
  await doc.send(new PutCommand({
    TableName: ${JSON.stringify(TABLE)},
    Item: { ...${JSON.stringify(KEY)}, GSI2PK: 'ENDPOINT#1', GSI2SK: 'skipped#1', status: 'skipped' },
  }));
  process.stdout.write('prepared\\n');
  process.exit(0);
}
armed = true;
await doc.send(new UpdateCommand({
  TableName: ${JSON.stringify(TABLE)},
  Key: ${JSON.stringify(KEY)},
  UpdateExpression: 'SET GSI2SK = :sk, #status = :status',
  ExpressionAttributeNames: { '#status': 'status' },
  ExpressionAttributeValues: { ':sk': 'pending#1', ':status': 'pending' },
}));
process.stdout.write('updated after ' + writes + ' writes\\n');
setInterval(() => {}, 1000);
`,
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', script, path, mode, String(killAfter), variant], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (c) => {
    out += c;
    // A single-write update answered: the kill comes after it instead.
    if (out.includes('updated')) proc.kill('SIGKILL');
  });
  proc.stderr.on('data', (c) => (out += c));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    proc.once('exit', (c, s) => resolve([c, s])),
  );
  if (mode === 'prepare' && code !== 0) throw new Error(`prepare exited ${code}:\n${out}`);
  if (mode === 'update' && signal !== 'SIGKILL') throw new Error(`update exited ${code}:\n${out}`);
  return out;
}

/** The item as the table holds it, and what the index lists for its partition. */
async function reopen(path: string, before?: (low: ReturnType<typeof localDynamoClient>) => Promise<void>) {
  const dynamo = await startEmbeddedDynamo({ path });
  const low = localDynamoClient(dynamo.endpoint);
  try {
    await before?.(low);
    const doc = createDocumentClient(low);
    const item = (await doc.send(new GetCommand({ TableName: TABLE, Key: KEY }))).Item;
    const indexed = await doc.send(
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': 'ENDPOINT#1' },
      }),
    );
    return { item, indexed: (indexed.Items ?? []).map((i) => `${i.GSI2SK} ${i.status}`) };
  } finally {
    low.destroy();
    await dynamo.stop();
  }
}

describe('embedded DynamoDB across SIGKILL', () => {
  // After the 1st write dynalite used to have deleted the old index entry only (the item vanished
  // from its listing); after the 2nd, written the new entry for an item still old (a stale copy).
  it.each([1, 2])(
    'an update killed after LevelDB write %i leaves the item and its index entry consistent',
    async (killAfter) => {
      const path = join(dir, `dynamo-${killAfter}`);
      await child(path, 'prepare');
      const out = await child(path, 'update', killAfter);

      const { item, indexed } = await reopen(path);
      expect(item, out).toBeDefined();
      // Whichever side of the kill the update fell on, the index lists the item exactly as it is.
      expect(indexed, out).toEqual([`${item!.GSI2SK} ${item!.status}`]);
    },
  );

  it('an item write, its index entries included, is one LevelDB write', async () => {
    const path = join(dir, 'dynamo-count');
    await child(path, 'prepare');
    const out = await child(path, 'update', 0);
    expect(out).toContain('updated after 1 writes');
    const { indexed } = await reopen(path);
    expect(indexed).toEqual(['pending#1 pending']);
  });

  it('a data folder written before atomic item writes is rebuilt once on start, its index drift gone', async () => {
    const dataDir = join(dir, 'folder');
    const path = join(dataDir, 'dynamo');
    // Plain dynalite, killed after its first write: the old index entry deleted, nothing else.
    await child(path, 'prepare', 0, 'raw');
    await child(path, 'update', 1, 'raw');
    const drifted = await reopen(path);
    expect(drifted.item).toMatchObject({ GSI2SK: 'skipped#1' });
    expect(drifted.indexed).toEqual([]);

    const lines: string[] = [];
    const { item, indexed } = await reopen(path, async (low) => {
      expect(await openLocalTable(low, TABLE, dataDir, (l) => lines.push(l))).toBe(1);
    });
    expect(lines[0]).toMatch(/Rebuilding the local table/);
    expect(indexed).toEqual([`${item!.GSI2SK} ${item!.status}`]);
    // Once: the next start copies nothing.
    await reopen(path, async (low) => {
      expect(await openLocalTable(low, TABLE, dataDir)).toBe(0);
    });
    // A new folder has nothing to rebuild: its table is created, nothing copied.
    const fresh = join(dir, 'fresh');
    const created: string[] = [];
    await reopen(join(fresh, 'dynamo'), async (low) => {
      expect(await openLocalTable(low, TABLE, fresh, (l) => created.push(l))).toBe(0);
    });
    expect(created).toEqual([]);
  });
});
