import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { grantTypes, scopes } from '../contracts/oauth.ts';
import { isConditionFailed } from '../db/client.ts';
import { key } from '../db/keys.ts';
import { newId } from '../ids.ts';
import { generateSecret, hashSecret } from './hash.ts';

/**
 * OAuth clients of the token endpoint, one item each:
 *   PK `CLIENT#<clientId>`  SK `CLIENT`   GSI1PK `CLIENTS`  GSI1SK `<tenant>#<clientId>`
 * The GSI1 partition lists clients for the CLI (tens of items, never on a request path). Secrets and
 * passwords are stored only as scrypt hashes; the plaintext is shown once by whoever created it.
 */

/** Client ids travel in HTTP Basic (`id:secret`) and in keys: no `:`, no `#`, no spaces. */
export const clientIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._~-]{2,127}$/, 'must be 3-128 characters of A-Z a-z 0-9 . _ ~ -');
/** Tenants are lower-case slugs (`arrow`, `zuora`, `platform`); they end up in other entities' keys. */
export const tenantSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lower-case letters, digits and dashes (max 63)');
/** Users of password-grant clients (the Zuora event emitter). */
export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ @ + -');

export const clientUserSchema = z.object({ username: usernameSchema, passwordHash: z.string().min(1) });
export type ClientUser = z.infer<typeof clientUserSchema>;

/** The stored client: hashes only, never a plaintext secret or password. */
export const oauthClientSchema = z.object({
  clientId: clientIdSchema,
  tenant: tenantSchema,
  name: z.string().min(1).max(200),
  secretHash: z.string().startsWith('scrypt$'),
  grantTypes: z.array(z.enum(grantTypes)).min(1),
  scopes: z.array(z.enum(scopes)).min(1),
  users: z.array(clientUserSchema).optional(),
  createdAt: z.iso.datetime(),
  rotatedAt: z.iso.datetime().optional(),
});
export type OAuthClient = z.infer<typeof oauthClientSchema>;

export const clientKey = (clientId: string) => ({ PK: key('CLIENT', clientId), SK: 'CLIENT' });
const LIST_PARTITION = 'CLIENTS';

/** The DynamoDB item of a client (validated on the way in too). */
export function toItem(client: OAuthClient): Record<string, unknown> {
  const parsed = oauthClientSchema.parse(client);
  return {
    ...clientKey(parsed.clientId),
    GSI1PK: LIST_PARTITION,
    GSI1SK: key(parsed.tenant, parsed.clientId),
    entity: 'oauth-client',
    ...parsed,
  };
}

/** Parses a stored item (a malformed item is an error, never a half-trusted client). */
export function fromItem(item: Record<string, unknown>): OAuthClient {
  return oauthClientSchema.parse(item);
}

export class ClientExistsError extends Error {
  constructor(readonly clientId: string) {
    super(`client ${clientId} already exists`);
    this.name = 'ClientExistsError';
  }
}

/** What the token endpoint needs: one read. */
export interface ClientReader {
  get(clientId: string): Promise<OAuthClient | undefined>;
}

/** Add, get, list, remove and rotate OAuth clients in the hub table. */
export class ClientRepository implements ClientReader {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Stores a new client; the client id is unique by condition (ClientExistsError otherwise). */
  async add(client: OAuthClient): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: toItem(client),
          ConditionExpression: 'attribute_not_exists(PK)',
        }),
      );
    } catch (error) {
      if (isConditionFailed(error)) throw new ClientExistsError(client.clientId);
      throw error;
    }
  }

  /** Writes a client whether or not it exists (local dev-client seeding only). */
  async put(client: OAuthClient): Promise<void> {
    await this.doc.send(new PutCommand({ TableName: this.tableName, Item: toItem(client) }));
  }

  /** Strongly consistent, so a rotation or removal takes effect on the very next token request. */
  async get(clientId: string): Promise<OAuthClient | undefined> {
    if (!clientIdSchema.safeParse(clientId).success) return undefined;
    const { Item } = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: clientKey(clientId), ConsistentRead: true }),
    );
    return Item ? fromItem(Item) : undefined;
  }

  /** Every client, ordered by tenant then id (optionally one tenant). */
  async list(tenant?: string): Promise<OAuthClient[]> {
    const out: OAuthClient[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: 'GSI1',
          KeyConditionExpression: tenant ? 'GSI1PK = :pk AND begins_with(GSI1SK, :t)' : 'GSI1PK = :pk',
          ExpressionAttributeValues: { ':pk': LIST_PARTITION, ...(tenant ? { ':t': key(tenant, '') } : {}) },
          ExclusiveStartKey: start,
        }),
      );
      out.push(...(page.Items ?? []).map(fromItem));
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /** Deletes a client; false if there was none. */
  async remove(clientId: string): Promise<boolean> {
    const { Attributes } = await this.doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: clientKey(clientId), ReturnValues: 'ALL_OLD' }),
    );
    return Attributes !== undefined;
  }

  /** Replaces the secret hash of an existing client; false if there is no such client. */
  async rotate(clientId: string, secretHash: string, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: clientKey(clientId),
          UpdateExpression: 'SET secretHash = :h, rotatedAt = :r',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':h': secretHash, ':r': now.toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }

  /**
   * Replaces the password hash of one user of a password-grant client; false if the client or user
   * does not exist. The condition pins the list position to the username, so a concurrent change of
   * the user list cannot make this write land on another user.
   */
  async setUserPassword(
    clientId: string,
    username: string,
    passwordHash: string,
    now: Date,
  ): Promise<boolean> {
    const client = await this.get(clientId);
    const index = client?.users?.findIndex((u) => u.username === username) ?? -1;
    if (index < 0) return false;
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: clientKey(clientId),
          // `users` is a DynamoDB reserved word.
          UpdateExpression: `SET #users[${index}].passwordHash = :h, rotatedAt = :r`,
          ConditionExpression: `#users[${index}].username = :u`,
          ExpressionAttributeNames: { '#users': 'users' },
          ExpressionAttributeValues: { ':h': passwordHash, ':r': now.toISOString(), ':u': username },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}

/** Input of `registerClient` (CLI `add`, dev-client seeding). */
export const newClientSchema = z
  .object({
    tenant: tenantSchema,
    scopes: z.array(z.enum(scopes)).min(1),
    grantTypes: z.array(z.enum(grantTypes)).min(1).default(['client_credentials']),
    name: z.string().min(1).max(200).optional(),
    clientId: clientIdSchema.optional(),
    username: usernameSchema.optional(),
    /** Supplied secrets are for re-seeding local dev clients; otherwise one is generated. */
    clientSecret: z.string().min(16).optional(),
    password: z.string().min(12).optional(),
  })
  .refine((c) => !c.grantTypes.includes('password') || c.username !== undefined, {
    message: 'the password grant needs a username',
    path: ['username'],
  })
  .refine((c) => c.username === undefined || c.grantTypes.includes('password'), {
    message: 'a username is only used by the password grant',
    path: ['username'],
  });
export type NewClient = z.input<typeof newClientSchema>;

/** A client just created, with the plaintext secrets to show once. */
export interface CreatedClient {
  client: OAuthClient;
  clientSecret: string;
  password?: string;
}

/** Builds a client with fresh (or supplied) secrets, hashed; does not store it. */
export async function buildClient(input: NewClient, now: Date): Promise<CreatedClient> {
  const parsed = newClientSchema.parse(input);
  const clientSecret = parsed.clientSecret ?? generateSecret();
  const password = parsed.username ? (parsed.password ?? generateSecret(18)) : undefined;
  const clientId = parsed.clientId ?? `${parsed.tenant}-${newId().toLowerCase()}`;
  const client: OAuthClient = {
    clientId,
    tenant: parsed.tenant,
    name: parsed.name ?? `${parsed.tenant} client`,
    secretHash: await hashSecret(clientSecret),
    grantTypes: [...new Set(parsed.grantTypes)],
    scopes: [...new Set(parsed.scopes)],
    ...(parsed.username && password
      ? { users: [{ username: parsed.username, passwordHash: await hashSecret(password) }] }
      : {}),
    createdAt: now.toISOString(),
  };
  return { client, clientSecret, ...(password ? { password } : {}) };
}

/** Creates and stores a client; throws ClientExistsError if the id is taken. */
export async function registerClient(
  input: NewClient,
  deps: { clients: Pick<ClientRepository, 'add'>; now: Date },
): Promise<CreatedClient> {
  const created = await buildClient(input, deps.now);
  await deps.clients.add(created.client);
  return created;
}

/** Gives a client a new secret (returned once); undefined if the client does not exist. */
export async function rotateClientSecret(
  clientId: string,
  deps: { clients: Pick<ClientRepository, 'rotate'>; now: Date },
): Promise<string | undefined> {
  const secret = generateSecret();
  const ok = await deps.clients.rotate(clientId, await hashSecret(secret), deps.now);
  return ok ? secret : undefined;
}

/** Gives a user of a password-grant client a new password (returned once); undefined if unknown. */
export async function rotateUserPassword(
  clientId: string,
  username: string,
  deps: { clients: Pick<ClientRepository, 'setUserPassword'>; now: Date },
): Promise<string | undefined> {
  const password = generateSecret(18);
  const ok = await deps.clients.setUserPassword(clientId, username, await hashSecret(password), deps.now);
  return ok ? password : undefined;
}
