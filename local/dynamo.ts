import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  CreateTableCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import dynalite from 'dynalite';
import { createDocumentClient } from '../shared/db/client.ts';
import { createTableInput, tableDefinition } from '../shared/db/table.ts';

export interface EmbeddedDynamo {
  endpoint: string;
  stop(): Promise<void>;
}

type LevelCallback = (error?: Error | null) => void;
interface LevelOp {
  type: 'put' | 'del';
  key: string;
  value?: unknown;
}
interface IndexActions {
  puts: Array<{ index: string; key: string; item: unknown }>;
  deletes: Array<{ index: string; key: string }>;
}
type DynaliteTable = Record<string, unknown> & { TableName: string };
interface DynaliteItemDb {
  put(key: string, value: unknown, cb: LevelCallback): void;
  del(key: string, cb: LevelCallback): void;
  [ATOMIC]?: true;
}
interface DynaliteStore {
  db: { batch(ops: LevelOp[], cb: LevelCallback): void };
  getItemDb(name: string): DynaliteItemDb;
  [PENDING]?: Map<string, LevelOp[]>;
}
interface DynaliteDb {
  create(options: unknown): DynaliteStore;
  createKey(item: unknown, table: DynaliteTable): string;
  getIndexActions(indexes: unknown[], existing: unknown, item: unknown, table: DynaliteTable): IndexActions;
  updateIndexes(
    store: DynaliteStore,
    table: DynaliteTable,
    existing: unknown,
    item: unknown,
    cb: LevelCallback,
  ): void;
  [ATOMIC]?: true;
}
const ATOMIC = Symbol('switchboard.atomicItemWrites');
const PENDING = Symbol('switchboard.pendingIndexWrites');

/**
 * dynalite writes an item's index entries and then the item as SEPARATE LevelDB writes (index
 * deletes, index puts, the item). A SIGKILL between them leaves an index without the item, or with a
 * stale copy of it: the 30-minute chaos soak (33 kills) found a webhook delivery whose re-arm was
 * killed after its old status entries were deleted and before anything else was written — still
 * `skipped` in the table, absent from every status-keyed index, so no replay ever found it and the
 * event was never delivered. DynamoDB writes an item and its index entries atomically (an index may
 * lag, it never loses an item). Here each item write becomes ONE LevelDB batch — the index deletes,
 * the index puts and the item — which LevelDB applies whole or not at all after a crash.
 *
 * dynalite's actions call `db.updateIndexes(…)` and then `itemDb.put|del(key)` under the item's
 * lock; `updateIndexes` now only computes the index writes (dynalite's own `getIndexActions`) and
 * leaves them for that item write, which sends everything in one batch. Applied once per process,
 * before the first server starts.
 */
function makeItemWritesAtomic(): void {
  const dyn = createRequire(import.meta.url)('dynalite/db/index.js') as DynaliteDb;
  if (dyn[ATOMIC]) return;
  if (typeof dyn.getIndexActions !== 'function' || typeof dyn.createKey !== 'function') {
    throw new Error('dynalite changed its internals: local/dynamo.ts cannot make item writes atomic');
  }
  const pendingOf = (store: DynaliteStore) => {
    store[PENDING] ??= new Map();
    return store[PENDING];
  };
  dyn.updateIndexes = (store, table, existing, item, cb) => {
    if (!existing && !item) {
      setImmediate(cb);
      return;
    }
    const deletes: LevelOp[] = [];
    const puts: LevelOp[] = [];
    for (const type of ['Local', 'Global'] as const) {
      const indexes = (table[`${type}SecondaryIndexes`] as unknown[] | undefined) ?? [];
      const prefix = (index: string) => `index-${type.toLowerCase()}~${table.TableName}~${index}~`;
      const actions = dyn.getIndexActions(indexes, existing, item, table);
      for (const a of actions.deletes) deletes.push({ type: 'del', key: prefix(a.index) + a.key });
      for (const a of actions.puts) puts.push({ type: 'put', key: prefix(a.index) + a.key, value: a.item });
    }
    // Deletes first, as dynalite does: an unchanged index key is deleted and put again.
    pendingOf(store).set(`${table.TableName}\0${dyn.createKey(item ?? existing, table)}`, [
      ...deletes,
      ...puts,
    ]);
    setImmediate(cb);
  };
  const create = dyn.create;
  dyn.create = (options) => {
    const store = create(options);
    const getItemDb = store.getItemDb.bind(store);
    store.getItemDb = (name) => {
      // The same object every time (it carries the item locks): patched in place, once.
      const items = getItemDb(name);
      if (items[ATOMIC]) return items;
      items[ATOMIC] = true;
      const write = (key: string, op: LevelOp, cb: LevelCallback) => {
        const pending = pendingOf(store);
        const indexOps = pending.get(`${name}\0${key}`) ?? [];
        pending.delete(`${name}\0${key}`);
        store.db.batch([...indexOps, { ...op, key: `item-${name}~${key}` }], cb);
      };
      items.put = (key, value, cb) => write(key, { type: 'put', key, value }, cb);
      items.del = (key, cb) => write(key, { type: 'del', key }, cb);
      return items;
    };
    return store;
  };
  dyn[ATOMIC] = true;
}

/**
 * Starts dynalite (pure-JS DynamoDB) on loopback. With `path` the data persists in LevelDB there
 * (the local runtime uses `.switchboard/dynamo`); without it the store is in memory (tests).
 */
export async function startEmbeddedDynamo(
  options: { path?: string; port?: number } = {},
): Promise<EmbeddedDynamo> {
  makeItemWritesAtomic();
  const server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        // dynalite closes its LevelDB store when the server closes.
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      }),
  };
}

/** A low-level client for an explicit endpoint with dummy local credentials. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: process.env.AWS_REGION ?? 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
}

/** Creates the hub table from the shared definition if it does not exist, and waits until ACTIVE. */
export async function ensureTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(tableName)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let i = 0; i < 200; i++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`table ${tableName} did not become ACTIVE`);
}

/**
 * Brings an existing local table up to the shared definition when indexes were added since it was
 * created. dynalite cannot add an index to a table (`UpdateTable` only changes throughput), so the
 * items are copied to `backupFile`, the table is re-created and the items loaded back; a crash
 * part-way leaves the backup, and the next start finishes from it. Returns how many items moved
 * (0 when nothing was missing).
 */
export async function upgradeTable(
  client: DynamoDBClient,
  tableName: string,
  backupFile: string,
  log: (line: string) => void = () => {},
  options: { rebuild?: boolean } = {},
): Promise<number> {
  const doc = createDocumentClient(client);
  if (!existsSync(backupFile)) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const have = new Set((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    const missing = tableDefinition.globalSecondaryIndexes.filter((g) => !have.has(g.indexName));
    if (missing.length === 0 && !options.rebuild) return 0;
    log(
      missing.length
        ? `Adding indexes ${missing.map((g) => g.indexName).join(', ')} to the local table (one-off copy)…`
        : 'Rebuilding the local table and its indexes (one-off copy)…',
    );
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await doc.send(new ScanCommand({ TableName: tableName, ExclusiveStartKey: start }));
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    writeFileSync(`${backupFile}.tmp`, JSON.stringify(items));
    renameSync(`${backupFile}.tmp`, backupFile);
  }
  const items = JSON.parse(readFileSync(backupFile, 'utf8')) as Record<string, unknown>[];
  try {
    await client.send(new DeleteTableCommand({ TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  // dynalite deletes a table in the background: create it again only once it is gone.
  for (let i = 0; ; i++) {
    try {
      await client.send(new DescribeTableCommand({ TableName: tableName }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) break;
      throw error;
    }
    if (i >= 400) throw new Error(`table ${tableName} was not deleted`);
    await new Promise((r) => setTimeout(r, 25));
  }
  await ensureTable(client, tableName);
  for (let i = 0; i < items.length; i += 25) {
    let batch: Array<Record<string, unknown>> = items
      .slice(i, i + 25)
      .map((Item) => ({ PutRequest: { Item } }));
    while (batch.length) {
      const res = await doc.send(new BatchWriteCommand({ RequestItems: { [tableName]: batch } }));
      batch = (res.UnprocessedItems?.[tableName] ?? []) as Array<Record<string, unknown>>;
    }
  }
  rmSync(backupFile, { force: true });
  log(`Local table upgraded (${items.length} items copied).`);
  return items.length;
}

/** Marks a data folder whose table has been written with atomic item writes only. */
const ATOMIC_WRITES_MARKER = 'dynamo-atomic-writes';

/**
 * Opens the suite's table in a data folder: created if new, brought up to the shared definition's
 * indexes, and — once, for a folder written before item writes were atomic (no marker), where a kill
 * may have left index entries missing or stale — rebuilt from its items (the same copy as an index
 * upgrade, so every index entry is written again from the item it belongs to). Returns the items
 * copied (0 when nothing had to move).
 */
export async function openLocalTable(
  client: DynamoDBClient,
  tableName: string,
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<number> {
  await ensureTable(client, tableName);
  const marker = join(dataDir, ATOMIC_WRITES_MARKER);
  // A new (empty) table has nothing to rebuild.
  const written =
    !existsSync(marker) &&
    ((await createDocumentClient(client).send(new ScanCommand({ TableName: tableName, Limit: 1 }))).Items
      ?.length ?? 0) > 0;
  const moved = await upgradeTable(client, tableName, join(dataDir, 'dynamo-upgrade.json'), log, {
    rebuild: written,
  });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return moved;
}
