import { randomUUID } from 'node:crypto';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ensureTable, localDynamoClient, startEmbeddedDynamo } from '../../local/dynamo.ts';
import { createDocumentClient } from '../../shared/db/client.ts';

export interface TestTable {
  endpoint: string;
  tableName: string;
  doc: DynamoDBDocumentClient;
  /** Points the SDK's standard configuration at this endpoint (for handlers built from env). */
  applyEnv(): void;
  stop(): Promise<void>;
}

/**
 * A fresh hub table for one test file. Uses in-memory dynalite by default; when
 * `SWITCHBOARD_TEST_DYNAMODB_ENDPOINT` is set (the DynamoDB Local fidelity lane of `.ci/run`), a
 * uniquely named table on that endpoint instead. Call `stop()` in `afterAll`.
 */
export async function startTestTable(): Promise<TestTable> {
  const external = process.env.SWITCHBOARD_TEST_DYNAMODB_ENDPOINT;
  const embedded = external ? undefined : await startEmbeddedDynamo();
  const endpoint = external ?? embedded!.endpoint;
  const tableName = `switchboard-test-${randomUUID().slice(0, 8)}`;
  const low = localDynamoClient(endpoint);
  await ensureTable(low, tableName);
  const doc = createDocumentClient(low);
  return {
    endpoint,
    tableName,
    doc,
    applyEnv() {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
      process.env.TABLE_NAME = tableName;
      process.env.AWS_REGION ??= 'us-east-1';
      process.env.AWS_ACCESS_KEY_ID ??= 'local';
      process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    },
    async stop() {
      low.destroy();
      await embedded?.stop();
    },
  };
}
