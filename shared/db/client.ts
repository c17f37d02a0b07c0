import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { ValidationError } from '../errors.ts';
import { awsClient } from '../telemetry.ts';

/**
 * The DynamoDB document client. The endpoint comes from the SDK's standard configuration
 * (`AWS_ENDPOINT_URL_DYNAMODB` points it at dynalite locally), so no code differs between stages.
 */
export function createDocumentClient(
  client = awsClient(DynamoDBClient, { maxAttempts: 4 }),
): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false },
    unmarshallOptions: { wrapNumbers: false },
  });
}

let shared: DynamoDBDocumentClient | undefined;

/** One client per execution environment, created on first use and reused across invocations. */
export function documentClient(): DynamoDBDocumentClient {
  shared ??= createDocumentClient();
  return shared;
}

/** True when a write lost its condition (duplicate, concurrent update, stale version). */
export function isConditionFailed(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'name' in error &&
    (error as { name: string }).name === 'ConditionalCheckFailedException'
  );
}

/** Opaque pagination cursor: base64url of the LastEvaluatedKey. */
export function encodeCursor(key: Record<string, unknown> | undefined): string | undefined {
  return key ? Buffer.from(JSON.stringify(key)).toString('base64url') : undefined;
}

export function decodeCursor(cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new CursorError();
}

/**
 * A pagination cursor this API did not issue (forged, truncated, or another tenant's). It is a 400
 * `INVALID_CURSOR` naming the `cursor` field, answered by the one error middleware like any other
 * validation error, so list routes need no translation of their own.
 */
export class CursorError extends ValidationError {
  constructor() {
    super(
      'The cursor is not one this API issued.',
      [{ field: 'cursor', message: 'not a cursor this API issued' }],
      'INVALID_CURSOR',
    );
    this.name = 'CursorError';
  }
}

/**
 * Every item of one partition (an item collection: a subscription with its charges, …), following
 * `LastEvaluatedKey`, strongly consistent. For collections known to be small; lists exposed to
 * callers paginate with cursors instead.
 */
export async function queryCollection(
  doc: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  pk: string,
): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'PK = :pk',
        ExpressionAttributeValues: { ':pk': pk },
        ExclusiveStartKey: start,
        ConsistentRead: true,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}
