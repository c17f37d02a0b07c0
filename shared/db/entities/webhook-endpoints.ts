import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { coalescer, singleFlight } from '../batching.ts';
import { CursorError, decodeCursor, encodeCursor, isConditionFailed } from '../client.ts';
import { key } from '../keys.ts';
import { mergedQuery } from '../merged-query.ts';

/**
 * Webhook endpoints. One item per endpoint in its tenant's partition, so listing a tenant's
 * endpoints (API and fan-out) is one query; endpoints created with `webhooks:all-events` are also
 * indexed in one known GSI1 partition, so fan-out finds them without a scan.
 *
 *   PK `WHEP#<tenant>`  SK `EP#<id>`   [GSI1PK `WHEP#ALL`  GSI1SK `<tenant>#<id>` when allEvents]
 *   PK `WHEPV#T#<tenant>` / `WHEPV#ALL`  SK `V`   endpoints version: `v` is bumped after every
 *     create, update and delete of the tenant's (or of any all-events) endpoints, so fan-out's cached
 *     listings know, for one small read, whether they are still current
 *
 * `secret` and `previousSecret` are stored SEALED (`shared/webhooks/secret-box.ts`, a key only the
 * webhook functions read) and never logged; the previous secret keeps signing until
 * `previousSecretExpiresAt` after a rotation.
 */
export const endpointStatusSchema = z.enum(['enabled', 'disabled']);

export const webhookEndpointSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  url: z.string(),
  eventTypes: z.array(z.string()),
  description: z.string().optional(),
  rateLimitPerSecond: z.number().int(),
  status: endpointStatusSchema,
  disabledReason: z.enum(['manual', 'gone', 'failing']).optional(),
  disabledAt: z.string().optional(),
  /** True once `webhook.endpoint.disabled` was published for the current automatic disable. */
  disabledNotified: z.boolean().optional(),
  /** Receives matching events of every tenant (created by a token with `webhooks:all-events`). */
  allEvents: z.boolean(),
  secret: z.string(),
  previousSecret: z.string().optional(),
  previousSecretExpiresAt: z.string().optional(),
  /** Start of the current run of consecutive failures; cleared by any success. */
  failingSince: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type WebhookEndpoint = z.infer<typeof webhookEndpointSchema>;

export const ALL_EVENTS_PARTITION = 'WHEP#ALL';
/** Every endpoint of every tenant (GSI3; the operations console lists them). */
export const EVERY_ENDPOINT_PARTITION = 'WHEP#EVERY';
export const endpointIndexKeys = (endpoint: Pick<WebhookEndpoint, 'tenant' | 'id'>) => ({
  GSI3PK: EVERY_ENDPOINT_PARTITION,
  GSI3SK: key(endpoint.tenant, endpoint.id),
});

export const endpointKey = (tenant: string, id: string) => ({ PK: key('WHEP', tenant), SK: key('EP', id) });

export function toEndpointItem(endpoint: WebhookEndpoint): Record<string, unknown> {
  return {
    ...endpointKey(endpoint.tenant, endpoint.id),
    entity: 'webhook-endpoint',
    ...(endpoint.allEvents
      ? { GSI1PK: ALL_EVENTS_PARTITION, GSI1SK: key(endpoint.tenant, endpoint.id) }
      : {}),
    ...endpointIndexKeys(endpoint),
    ...webhookEndpointSchema.parse(endpoint),
  };
}

export function fromEndpointItem(item: Record<string, unknown>): WebhookEndpoint {
  return webhookEndpointSchema.parse(item);
}

/** The (sealed) secrets that sign a delivery now: the current one, plus the previous one during rotation. */
export function signingSecrets(endpoint: WebhookEndpoint, now: Date): string[] {
  const previousValid =
    endpoint.previousSecret &&
    endpoint.previousSecretExpiresAt &&
    Date.parse(endpoint.previousSecretExpiresAt) > now.getTime();
  return previousValid ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
}

export type EndpointPatch = Partial<
  Pick<
    WebhookEndpoint,
    | 'url'
    | 'eventTypes'
    | 'description'
    | 'rateLimitPerSecond'
    | 'status'
    | 'disabledReason'
    | 'disabledAt'
    | 'disabledNotified'
    | 'secret'
    | 'previousSecret'
    | 'previousSecretExpiresAt'
    | 'failingSince'
  >
>;

/** The endpoints version item of a tenant, or (undefined) of the all-events partition. */
const versionKey = (tenant: string | undefined) => ({
  PK: tenant === undefined ? key('WHEPV', 'ALL') : key('WHEPV', 'T', tenant),
  SK: 'V',
});

/**
 * Endpoints. Concurrent reads (the records of one batch mostly target the same few endpoints) are
 * coalesced: gets into one BatchGetItem, identical listings into one query (`shared/db/batching.ts`).
 */
export class WebhookEndpointRepository {
  private readonly load: (k: { tenant: string; id: string }) => Promise<Record<string, unknown> | undefined>;
  private readonly listing = singleFlight<WebhookEndpoint[]>();

  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {
    this.load = coalescer({ max: 100, run: (keys) => this.getMany(keys) });
  }

  private async getMany(
    wanted: Array<{ tenant: string; id: string }>,
  ): Promise<Array<Record<string, unknown> | undefined>> {
    const id = (k: { PK: unknown; SK: unknown }) => `${String(k.PK)}|${String(k.SK)}`;
    const found = new Map<string, Record<string, unknown>>();
    let keys = [...new Map(wanted.map((w) => endpointKey(w.tenant, w.id)).map((k) => [id(k), k])).values()];
    for (let attempt = 0; keys.length; attempt++) {
      const res = await this.doc.send(
        new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
      );
      for (const item of res.Responses?.[this.tableName] ?? []) found.set(id(item as never), item);
      keys = (res.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as typeof keys;
      if (keys.length) {
        if (attempt >= 8) throw new Error('BatchGetItem kept returning unprocessed endpoint keys');
        await new Promise((r) => setTimeout(r, 10 * 2 ** Math.min(attempt, 6)));
      }
    }
    return wanted.map((w) => found.get(id(endpointKey(w.tenant, w.id))));
  }

  async create(endpoint: WebhookEndpoint): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: toEndpointItem(endpoint),
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
    await this.bumpVersion(endpoint.tenant, endpoint.allEvents);
  }

  /**
   * Moves the endpoints version of `tenant` (and of the all-events partition) on, after a change.
   * Written after the endpoint: a crash in between leaves fan-out's cache stale for at most its
   * hard limit (`functions/webhook-fanout/endpoint-cache.ts`).
   */
  async bumpVersion(tenant: string, allEvents: boolean): Promise<void> {
    const keys = [versionKey(tenant), ...(allEvents ? [versionKey(undefined)] : [])];
    await Promise.all(
      keys.map((Key) =>
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key,
            UpdateExpression: 'ADD v :one SET entity = :e',
            ExpressionAttributeValues: { ':one': 1, ':e': 'webhook-endpoints-version' },
          }),
        ),
      ),
    );
  }

  /**
   * Current endpoints versions of some tenants (at most 99) and of the all-events partition, in one
   * consistent BatchGetItem of tiny items; -1 for any left unprocessed (the caller reloads).
   */
  async versions(tenants: string[]): Promise<{ tenants: Map<string, number>; allEvents: number }> {
    const unique = [...new Set(tenants)].slice(0, 99);
    const keys = [versionKey(undefined), ...unique.map((t) => versionKey(t))];
    const res = await this.doc.send(
      new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
    );
    const found = new Map(
      (res.Responses?.[this.tableName] ?? []).map((i) => [String(i.PK), Number(i.v ?? 0)]),
    );
    const unprocessed = new Set((res.UnprocessedKeys?.[this.tableName]?.Keys ?? []).map((k) => String(k.PK)));
    const of = (pk: string) => (unprocessed.has(pk) ? -1 : (found.get(pk) ?? 0));
    return {
      tenants: new Map(unique.map((t) => [t, of(versionKey(t).PK)])),
      allEvents: of(versionKey(undefined).PK),
    };
  }

  async get(tenant: string, id: string): Promise<WebhookEndpoint | undefined> {
    const item = await this.load({ tenant, id });
    return item ? fromEndpointItem(item) : undefined;
  }

  /** One page of a tenant's endpoints, oldest first. */
  async list(
    tenant: string,
    options: { limit: number; cursor?: string },
  ): Promise<{ items: WebhookEndpoint[]; cursor?: string }> {
    const pk = key('WHEP', tenant);
    const start = decodeCursor(options.cursor);
    // A cursor is only valid in the partition it came from (and a forged key must not reach DynamoDB).
    if (start && (start.PK !== pk || typeof start.SK !== 'string' || Object.keys(start).length !== 2)) {
      throw new CursorError();
    }
    const res = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :ep)',
        ExpressionAttributeValues: { ':pk': pk, ':ep': 'EP#' },
        Limit: options.limit,
        ExclusiveStartKey: start,
      }),
    );
    return { items: (res.Items ?? []).map(fromEndpointItem), cursor: encodeCursor(res.LastEvaluatedKey) };
  }

  /** Every tenant's endpoints (or one tenant's), by tenant then id (operations console). */
  async listEvery(options: {
    tenant?: string;
    limit: number;
    cursor?: string;
  }): Promise<{ items: WebhookEndpoint[]; cursor?: string }> {
    const page = await mergedQuery({
      doc: this.doc,
      tableName: this.tableName,
      sources: [
        {
          index: 'GSI3',
          pk: EVERY_ENDPOINT_PARTITION,
          ...(options.tenant ? { prefix: key(options.tenant, '') } : {}),
        },
      ],
      descending: false,
      limit: options.limit,
      parse: fromEndpointItem,
      ...(options.cursor ? { cursor: options.cursor } : {}),
    });
    return { items: page.items, ...(page.cursor ? { cursor: page.cursor } : {}) };
  }

  /** Every endpoint of a tenant (fan-out: a tenant has few endpoints). */
  async listAll(tenant: string): Promise<WebhookEndpoint[]> {
    return this.listing(`tenant|${tenant}`, () =>
      this.queryAll({
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :ep)',
        ExpressionAttributeValues: { ':pk': key('WHEP', tenant), ':ep': 'EP#' },
      }),
    );
  }

  /** Every endpoint that receives all tenants' events (one GSI1 partition). */
  async listAllEvents(): Promise<WebhookEndpoint[]> {
    return this.listing('all-events', () =>
      this.queryAll({
        IndexName: 'GSI1',
        KeyConditionExpression: 'GSI1PK = :pk',
        ExpressionAttributeValues: { ':pk': ALL_EVENTS_PARTITION },
      }),
    );
  }

  private async queryAll(input: {
    IndexName?: string;
    KeyConditionExpression: string;
    ExpressionAttributeValues: Record<string, unknown>;
  }): Promise<WebhookEndpoint[]> {
    const out: WebhookEndpoint[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({ TableName: this.tableName, ...input, ExclusiveStartKey: start }),
      );
      out.push(...(res.Items ?? []).map(fromEndpointItem));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  /**
   * Applies a patch (undefined fields are removed when listed in `remove`). With `expectStatus`, the
   * write only happens from that status (state transition); returns the new endpoint, or undefined
   * when the endpoint does not exist or the condition failed.
   */
  async update(
    tenant: string,
    id: string,
    patch: EndpointPatch & { updatedAt: string },
    options: { remove?: Array<keyof EndpointPatch>; expectStatus?: 'enabled' | 'disabled' } = {},
  ): Promise<WebhookEndpoint | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (v === undefined) continue;
      names[`#${k}`] = k;
      values[`:${k}`] = v;
      sets.push(`#${k} = :${k}`);
    }
    const removes = (options.remove ?? []).map((k) => {
      names[`#${k}`] = k;
      return `#${k}`;
    });
    let condition = 'attribute_exists(PK)';
    if (options.expectStatus) {
      names['#status'] = 'status';
      values[':expectStatus'] = options.expectStatus;
      condition += ' AND #status = :expectStatus';
    }
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: endpointKey(tenant, id),
          UpdateExpression: `SET ${sets.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      const updated = res.Attributes ? fromEndpointItem(res.Attributes) : undefined;
      if (updated) await this.bumpVersion(tenant, updated.allEvents);
      return updated;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Records a failure: starts the failing run if none is running; returns the updated endpoint. */
  async markFailing(tenant: string, id: string, now: Date): Promise<WebhookEndpoint | undefined> {
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: endpointKey(tenant, id),
          UpdateExpression: 'SET failingSince = if_not_exists(failingSince, :now)',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':now': now.toISOString() },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return res.Attributes ? fromEndpointItem(res.Attributes) : undefined;
    } catch (error) {
      if (isConditionFailed(error)) return undefined;
      throw error;
    }
  }

  /** Ends the failing run (a success). Conditional, so most successes cost no write. */
  async clearFailing(tenant: string, id: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: endpointKey(tenant, id),
          UpdateExpression: 'REMOVE failingSince',
          ConditionExpression: 'attribute_exists(failingSince)',
        }),
      );
    } catch (error) {
      if (!isConditionFailed(error)) throw error;
    }
  }

  /** Deletes; false when it did not exist. */
  async delete(tenant: string, id: string): Promise<boolean> {
    try {
      const res = await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: endpointKey(tenant, id),
          ConditionExpression: 'attribute_exists(PK)',
          ReturnValues: 'ALL_OLD',
        }),
      );
      await this.bumpVersion(tenant, res.Attributes?.allEvents === true);
      return true;
    } catch (error) {
      if (isConditionFailed(error)) return false;
      throw error;
    }
  }
}
