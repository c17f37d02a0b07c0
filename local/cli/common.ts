import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createDocumentClient } from '../../shared/db/client.ts';
import { ensureTable, localDynamoClient, startEmbeddedDynamo } from '../dynamo.ts';
import { LOCAL_TABLE } from '../env.ts';

export interface RuntimeInfo {
  pid: number;
  url: string;
  dynamoEndpoint: string;
  tableName: string;
}

export const dataDir = () => resolve(process.env.SWITCHBOARD_DATA_DIR ?? '.switchboard');

/** The running local suite's coordinates, if one is running on this data folder. */
export function runningRuntime(dir = dataDir()): RuntimeInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(join(dir, 'runtime.json'), 'utf8')) as RuntimeInfo;
    process.kill(info.pid, 0); // throws when the process is gone
    return info;
  } catch {
    return undefined;
  }
}

export function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

/** A dev client as written to `<data>/dev-clients.json`. */
export interface DevClientFile {
  kind: string;
  tenant: string;
  clientId: string;
  clientSecret: string;
  username?: string;
  password?: string;
  grantTypes: string[];
  scopes: string[];
}

/** The OAuth clients of `dev-clients.json` (not the operator entry, which has no client id). */
export function readDevClients(dir = dataDir()): DevClientFile[] {
  const entries = JSON.parse(readFileSync(join(dir, 'dev-clients.json'), 'utf8')) as Array<
    Partial<DevClientFile>
  >;
  return entries.filter((e): e is DevClientFile => e.kind !== 'operator' && typeof e.clientId === 'string');
}

/**
 * Gets an access token for a dev client from a running suite: client credentials when the client
 * has that grant, else the password grant; HTTP Basic client authentication.
 */
export async function fetchDevToken(url: string, client: DevClientFile, scope?: string): Promise<string> {
  const grant = client.grantTypes.includes('client_credentials') ? 'client_credentials' : 'password';
  const form = new URLSearchParams({ grant_type: grant });
  if (grant === 'password') {
    form.set('username', client.username ?? '');
    form.set('password', client.password ?? '');
  }
  if (scope) form.set('scope', scope);
  const res = await fetch(`${url}/oauth/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`,
    },
    body: form,
  });
  const body = (await res.json()) as { access_token?: string };
  if (!res.ok || !body.access_token)
    throw new Error(`token for ${client.kind} refused: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/**
 * Runs `fn` against the table a CLI should use: `table` (AWS, default credentials) when given; else
 * the running local suite's DynamoDB (from `<data>/runtime.json`); else the local store opened
 * directly (only while the suite is stopped: dynalite holds a lock on it).
 */
export async function withTable<T>(
  fn: (doc: DynamoDBDocumentClient, table: string) => Promise<T>,
  table?: string,
): Promise<T> {
  if (table) return fn(createDocumentClient(), table);
  const dir = dataDir();
  const running = runningRuntime(dir);
  if (running) {
    const low = localDynamoClient(running.dynamoEndpoint);
    try {
      return await fn(createDocumentClient(low), running.tableName);
    } finally {
      low.destroy();
    }
  }
  const dynamo = await startEmbeddedDynamo({ path: join(dir, 'dynamo') });
  const low = localDynamoClient(dynamo.endpoint);
  try {
    await ensureTable(low, LOCAL_TABLE);
    return await fn(createDocumentClient(low), LOCAL_TABLE);
  } finally {
    low.destroy();
    await dynamo.stop();
  }
}
