import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { opsScopes } from '../contracts/oauth.ts';
import { isConditionFailed } from '../db/client.ts';
import { key } from '../db/keys.ts';
import { hashSecret } from './hash.ts';

/**
 * Operators (people who sign in to the console) and the state of their sign-ins, one item each:
 *   PK `OPERATOR#<username>`  SK `OPERATOR`  GSI1PK `OPERATORS` GSI1SK `<username>`  an operator
 *   PK `OAUTHCODE#<sha256>`   SK `CODE`      an authorization code (single use, 60 s)
 *   PK `OPSESSION#<id>`       SK `SESSION`   a sign-in: its refresh token (rotated at each use)
 * Passwords, codes and refresh tokens are stored only as hashes (scrypt for passwords, SHA-256 for
 * the 256-bit random codes and tokens, which cannot be guessed).
 */
export const OPERATOR_TENANT = 'operators';
/** The console, a public client (RFC 6749 §2.1): it proves itself with PKCE, never a secret. */
export const CONSOLE_CLIENT_ID = 'switchboard-console';
export const CODE_TTL_SECONDS = 60;
/** A sign-in lasts at most this long, however often its refresh token is used. */
export const SESSION_TTL_SECONDS = 8 * 3600;
/** Failed passwords that lock an operator for `LOCK_SECONDS`. */
export const MAX_FAILURES = 5;
export const LOCK_SECONDS = 15 * 60;

export const operatorUsernameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._@-]{1,63}$/, 'must be 2-64 characters of a-z 0-9 . _ @ -');
export const operatorPasswordSchema = z.string().min(12, 'must be at least 12 characters').max(200);

export const operatorSchema = z.object({
  username: operatorUsernameSchema,
  name: z.string().max(200).optional(),
  passwordHash: z.string().startsWith('scrypt$'),
  scopes: z.array(z.enum(opsScopes)).min(1),
  status: z.enum(['enabled', 'disabled']),
  failures: z.number().int().default(0),
  lockedUntil: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Operator = z.infer<typeof operatorSchema>;

const operatorKey = (username: string) => ({ PK: key('OPERATOR', username), SK: 'OPERATOR' });
const codeKey = (hash: string) => ({ PK: key('OAUTHCODE', hash), SK: 'CODE' });
const sessionKey = (id: string) => ({ PK: key('OPSESSION', id), SK: 'SESSION' });
/** SHA-256 (base64url) of a random code or token: what is stored and looked up. */
export const tokenHash = (value: string) => createHash('sha256').update(value).digest('base64url');
export const randomToken = () => randomBytes(32).toString('base64url');

export const authCodeSchema = z.object({
  username: z.string(),
  clientId: z.string(),
  redirectUri: z.string(),
  codeChallenge: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  expiresAt: z.number(),
  usedAt: z.string().optional(),
  sessionId: z.string().optional(),
});
export type AuthCode = z.infer<typeof authCodeSchema>;

export const sessionSchema = z.object({
  id: z.string(),
  username: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  tokenHash: z.string(),
  createdAt: z.string(),
  expiresAt: z.number(),
  revokedAt: z.string().optional(),
  revokedReason: z.string().optional(),
});
export type OperatorSession = z.infer<typeof sessionSchema>;

const strip = (item: Record<string, unknown>) => {
  const { PK: _p, SK: _s, GSI1PK: _g, GSI1SK: _h, entity: _e, ...rest } = item;
  return rest;
};

/** Operators, their authorization codes and sessions in the hub table. */
export class OperatorRepository {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Stores a new operator; false when the username is taken. */
  async add(op: Operator): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...operatorKey(op.username),
            GSI1PK: 'OPERATORS',
            GSI1SK: op.username,
            entity: 'operator',
            ...operatorSchema.parse(op),
          },
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Writes an operator whether or not it exists (local dev seeding). */
  async put(op: Operator): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...operatorKey(op.username),
          GSI1PK: 'OPERATORS',
          GSI1SK: op.username,
          entity: 'operator',
          ...operatorSchema.parse(op),
        },
      }),
    );
  }

  async get(username: string): Promise<Operator | undefined> {
    if (!operatorUsernameSchema.safeParse(username).success) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: operatorKey(username), ConsistentRead: true }),
    );
    return Item ? operatorSchema.parse(strip(Item)) : undefined;
  }

  async list(): Promise<Operator[]> {
    const out: Operator[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': 'OPERATORS' },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(page.Items ?? []).map((i) => operatorSchema.parse(strip(i))));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Sets fields of an existing operator; false when there is none. */
  async update(
    username: string,
    patch: Partial<Pick<Operator, 'status' | 'passwordHash' | 'failures' | 'lockedUntil' | 'scopes'>>,
    now: Date,
  ): Promise<boolean> {
    const names: Record<string, string> = { '#u': 'updatedAt' };
    const values: Record<string, unknown> = { ':u': now.toISOString() };
    const sets = ['#u = :u'];
    const removes: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      names[`#${k}`] = k;
      if (v === undefined) removes.push(`#${k}`);
      else {
        values[`:${k}`] = v;
        sets.push(`#${k} = :${k}`);
      }
    }
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: operatorKey(username),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /** Counts a failed password; the operator is locked once `MAX_FAILURES` is reached. */
  async recordFailure(username: string, now: Date): Promise<void> {
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: operatorKey(username),
          UpdateExpression: 'ADD failures :one',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (Number(res.Attributes?.failures ?? 0) >= MAX_FAILURES) {
        await this.update(
          username,
          { failures: 0, lockedUntil: new Date(now.getTime() + LOCK_SECONDS * 1000).toISOString() },
          now,
        );
      }
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  async putCode(hash: string, code: AuthCode): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...codeKey(hash), entity: 'oauth-code', ...authCodeSchema.parse(code) },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  /**
   * Redeems a code once: marks it used (conditional), returning it. `{replayed}` when it was used
   * before (the caller revokes what it issued), undefined when there is no such code.
   */
  async redeemCode(
    hash: string,
    now: Date,
  ): Promise<{ code: AuthCode } | { replayed: AuthCode } | undefined> {
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: codeKey(hash),
          UpdateExpression: 'SET usedAt = :now',
          ConditionExpression: 'attribute_exists(PK) AND attribute_not_exists(usedAt)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return { code: authCodeSchema.parse(strip(res.Attributes!)) };
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: codeKey(hash), ConsistentRead: true }),
    );
    return Item ? { replayed: authCodeSchema.parse(strip(Item)) } : undefined;
  }

  /** Remembers which session a code started (so a replay of the code can end it). */
  async linkCode(hash: string, sessionId: string): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: codeKey(hash),
        UpdateExpression: 'SET sessionId = :s',
        ExpressionAttributeValues: { ':s': sessionId },
      }),
    );
  }

  async deleteCode(hash: string): Promise<void> {
    await this.doc.send(new DeleteCommand({ TableName: this.tableName, Key: codeKey(hash) }));
  }

  async putSession(session: OperatorSession): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...sessionKey(session.id), entity: 'operator-session', ...sessionSchema.parse(session) },
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  }

  async getSession(id: string): Promise<OperatorSession | undefined> {
    if (!/^[A-Za-z0-9_-]{10,64}$/.test(id)) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: sessionKey(id), ConsistentRead: true }),
    );
    return Item ? sessionSchema.parse(strip(Item)) : undefined;
  }

  /** Rotates the refresh token: only from the hash the caller presented, only while not revoked. */
  async rotateSession(id: string, seenHash: string, nextHash: string): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(id),
          UpdateExpression: 'SET tokenHash = :next',
          ConditionExpression: 'tokenHash = :seen AND attribute_not_exists(revokedAt)',
          ExpressionAttributeValues: { ':next': nextHash, ':seen': seenHash },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  async revokeSession(id: string, reason: string, now: Date): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionKey(id),
          UpdateExpression: 'SET revokedAt = if_not_exists(revokedAt, :now), revokedReason = :r',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':now': now.toISOString(), ':r': reason },
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }
}

/** Input of a new operator (CLI, dev seeding). */
export const newOperatorSchema = z.object({
  username: operatorUsernameSchema,
  name: z.string().max(200).optional(),
  password: operatorPasswordSchema.optional(),
  scopes: z
    .array(z.enum(opsScopes))
    .min(1)
    .default([...opsScopes]),
});

/** Builds an operator with a fresh (or supplied) password, hashed; returns the plaintext once. */
export async function buildOperator(
  input: z.input<typeof newOperatorSchema>,
  now: Date,
): Promise<{ operator: Operator; password: string }> {
  const parsed = newOperatorSchema.parse(input);
  const password = parsed.password ?? randomBytes(15).toString('base64url');
  const at = now.toISOString();
  return {
    password,
    operator: {
      username: parsed.username,
      ...(parsed.name ? { name: parsed.name } : {}),
      passwordHash: await hashSecret(password),
      scopes: parsed.scopes,
      status: 'enabled',
      failures: 0,
      createdAt: at,
      updatedAt: at,
    },
  };
}
