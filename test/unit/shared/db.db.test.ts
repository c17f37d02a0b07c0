import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CursorError, decodeCursor, encodeCursor, isConditionFailed } from '../../../shared/db/client.ts';
import { shardOf } from '../../../shared/db/keys.ts';
import { startTestTable, type TestTable } from '../../helpers/dynamo.ts';

describe('embedded table', () => {
  let table: TestTable;
  beforeAll(async () => {
    table = await startTestTable();
  });
  afterAll(async () => table.stop());

  it('is created from the shared definition and enforces conditional writes', async () => {
    const put = () =>
      table.doc.send(
        new PutCommand({
          TableName: table.tableName,
          Item: { PK: 'T#1', SK: 'X', GSI1PK: 'a', GSI1SK: 'b', v: 1 },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    await put();
    const second = await put().catch((e: unknown) => e);
    expect(isConditionFailed(second)).toBe(true);
    const got = await table.doc.send(
      new GetCommand({ TableName: table.tableName, Key: { PK: 'T#1', SK: 'X' } }),
    );
    expect(got.Item?.v).toBe(1);
  });
});

describe('cursor and shards', () => {
  it('round-trips cursors and refuses forged ones', () => {
    const key = { PK: 'A', SK: 'B' };
    expect(decodeCursor(encodeCursor(key))).toEqual(key);
    expect(() => decodeCursor('not-a-cursor!!')).toThrow(CursorError);
    expect(decodeCursor(undefined)).toBeUndefined();
  });
  it('spreads keys over every shard deterministically', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(shardOf(`rec-${i}`, 8));
    expect(seen.size).toBe(8);
    expect(shardOf('x', 8)).toBe(shardOf('x', 8));
  });
});
