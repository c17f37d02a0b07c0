import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type Marketplace, marketplaceSchema } from '../../appdirect/marketplaces.ts';
import type { Clock } from '../../clock.ts';
import { key } from '../keys.ts';

/**
 * Marketplaces registered beyond the stage's home marketplace (`npm run appdirect -- marketplaces
 * add`). One small partition: all of them are read at once, and cached by the functions.
 *
 *   PK `ADMARKETPLACES`   SK `MARKETPLACE#<id>`
 */
const PK = 'ADMARKETPLACES';
const itemKey = (id: string) => ({ PK, SK: key('MARKETPLACE', id) });

export class MarketplaceStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async list(): Promise<Marketplace[]> {
    const out: Marketplace[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': PK },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of res.Items ?? []) {
        const { PK: _p, SK: _s, entity: _e, updatedAt: _u, ...rest } = item;
        out.push(marketplaceSchema.parse(rest));
      }
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async put(marketplace: Marketplace, now: Date): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...itemKey(marketplace.id),
          entity: 'appdirect-marketplace',
          ...marketplace,
          updatedAt: now.toISOString(),
        },
      }),
    );
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: itemKey(id), ReturnValues: 'ALL_OLD' }),
    );
    return res.Attributes !== undefined;
  }
}

/**
 * Every marketplace this stage serves: the home one first, then the registered ones, re-read at most
 * every `ttlMs` (a marketplace added by the CLI is served within a minute, no redeploy).
 */
export class MarketplaceDirectory {
  private cached: { at: number; list: Marketplace[] } | undefined;

  constructor(
    private readonly home: Marketplace,
    private readonly store: Pick<MarketplaceStore, 'list'>,
    private readonly clock: Clock,
    private readonly ttlMs = 60_000,
  ) {}

  async list(): Promise<Marketplace[]> {
    const now = this.clock.now().getTime();
    if (!this.cached || now - this.cached.at > this.ttlMs) {
      const registered = (await this.store.list()).filter((m) => m.id !== this.home.id);
      this.cached = { at: now, list: [this.home, ...registered] };
    }
    return this.cached.list;
  }

  async byId(id: string): Promise<Marketplace | undefined> {
    return (await this.list()).find((m) => m.id === id);
  }
}
