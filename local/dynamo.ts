import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
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

/**
 * Starts dynalite (pure-JS DynamoDB) on loopback. With `path` the data persists in LevelDB there
 * (the local runtime uses `.switchboard/dynamo`); without it the store is in memory (tests).
 */
export async function startEmbeddedDynamo(
  options: { path?: string; port?: number } = {},
): Promise<EmbeddedDynamo> {
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
): Promise<number> {
  const doc = createDocumentClient(client);
  if (!existsSync(backupFile)) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const have = new Set((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName));
    const missing = tableDefinition.globalSecondaryIndexes.filter((g) => !have.has(g.indexName));
    if (missing.length === 0) return 0;
    log(`Adding indexes ${missing.map((g) => g.indexName).join(', ')} to the local table (one-off copy)…`);
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
