import { DeleteCommand, type DynamoDBDocumentClient, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { queryCollection } from '../client.ts';
import { key } from '../keys.ts';

/**
 * The subscription registry: which subscriptions and charges exist, who bills them and which
 * tenants may submit and read their usage. Written by the Zuora event endpoint (the vendor's Zuora
 * model) and by billing provisioning of orders; read by usage submission and the billing run.
 *
 * Items (no transaction needed: each write is one item):
 *   PK `SUBSCRIPTION#<number>`  SK `REGISTRY`            the subscription
 *   PK `SUBSCRIPTION#<number>`  SK `CHARGE#<number>`     one per charge (product)
 */
export const billerSchema = z.enum(['zuora', 'appdirect']);
export type Biller = z.infer<typeof billerSchema>;

export const registeredSubscriptionSchema = z.object({
  subscriptionNumber: z.string(),
  accountNumber: z.string(),
  biller: billerSchema,
  /** Tenants allowed to submit and read usage of this subscription. */
  tenants: z.array(z.string()),
  /** Where it was learnt from: `zuora-event`, `order`, `cli`. */
  source: z.string(),
  /** AppDirect channel: the account identifier and marketplace its usage is billed to. */
  appdirect: z
    .object({ accountIdentifier: z.string(), marketplaceId: z.string(), baseUrl: z.string() })
    .optional(),
  updatedAt: z.string(),
});
export type RegisteredSubscription = z.infer<typeof registeredSubscriptionSchema>;

export const registeredChargeSchema = z.object({
  subscriptionNumber: z.string(),
  chargeNumber: z.string(),
  /** Unit of measure the usage of this charge is billed in, if known. */
  unit: z.string().optional(),
  productCode: z.string().optional(),
  /** AppDirect: volume-priced units must never share a submission chunk with others. */
  pricing: z.enum(['unit', 'volume']).optional(),
  updatedAt: z.string(),
});
export type RegisteredCharge = z.infer<typeof registeredChargeSchema>;

export const subscriptionKey = (subscriptionNumber: string) => ({
  PK: key('SUBSCRIPTION', subscriptionNumber),
  SK: 'REGISTRY',
});
export const chargeKey = (subscriptionNumber: string, chargeNumber: string) => ({
  PK: key('SUBSCRIPTION', subscriptionNumber),
  SK: key('CHARGE', chargeNumber),
});

export class SubscriptionRegistry {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /**
   * Creates or updates a subscription. Tenants are added (a set), never removed; the biller is kept
   * once set unless `biller` is given explicitly with `overrideBiller` (configuration or CLI).
   */
  async register(input: {
    subscriptionNumber: string;
    accountNumber: string;
    tenants: string[];
    source: string;
    biller?: Biller;
    overrideBiller?: boolean;
    now: Date;
  }): Promise<void> {
    const biller = input.biller ?? 'zuora';
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: subscriptionKey(input.subscriptionNumber),
        UpdateExpression: `SET subscriptionNumber = :s, accountNumber = :a, #src = :src, updatedAt = :u, entity = :e, biller = ${
          input.overrideBiller ? ':b' : 'if_not_exists(biller, :b)'
        }${input.tenants.length ? ' ADD tenants :t' : ''}`,
        ExpressionAttributeNames: { '#src': 'source' },
        ExpressionAttributeValues: {
          ':s': input.subscriptionNumber,
          ':a': input.accountNumber,
          ':src': input.source,
          ':u': input.now.toISOString(),
          ':e': 'subscription-registry',
          ':b': biller,
          ...(input.tenants.length ? { ':t': new Set(input.tenants) } : {}),
        },
      }),
    );
  }

  /** Sets the biller of an existing subscription (configuration or `npm run usage -- biller …`). */
  async setBiller(subscriptionNumber: string, biller: Biller, now: Date): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionKey(subscriptionNumber),
          UpdateExpression: 'SET biller = :b, updatedAt = :u',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':b': biller, ':u': now.toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  /**
   * Bills the subscription through AppDirect, to `accountIdentifier` on the marketplace that holds
   * the account (the AppDirect channel, once the order is provisioned). False if not registered.
   */
  async setAppDirectAccount(
    subscriptionNumber: string,
    appdirect: { accountIdentifier: string; marketplaceId: string; baseUrl: string },
    now: Date,
  ): Promise<boolean> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: subscriptionKey(subscriptionNumber),
          UpdateExpression: 'SET biller = :b, appdirect = :ad, updatedAt = :u',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeValues: { ':b': 'appdirect', ':ad': appdirect, ':u': now.toISOString() },
        }),
      );
      return true;
    } catch (error) {
      if ((error as { name?: string }).name === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  }

  async putCharge(charge: Omit<RegisteredCharge, 'updatedAt'>, now: Date): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...chargeKey(charge.subscriptionNumber, charge.chargeNumber),
          entity: 'subscription-charge',
          ...charge,
          updatedAt: now.toISOString(),
        },
      }),
    );
  }

  async removeCharge(subscriptionNumber: string, chargeNumber: string): Promise<void> {
    await this.doc.send(
      new DeleteCommand({ TableName: this.tableName, Key: chargeKey(subscriptionNumber, chargeNumber) }),
    );
  }

  /** The subscription with its charges, or undefined. One query (the item collection). */
  async get(
    subscriptionNumber: string,
  ): Promise<(RegisteredSubscription & { charges: RegisteredCharge[] }) | undefined> {
    const items = await queryCollection(this.doc, this.tableName, key('SUBSCRIPTION', subscriptionNumber));
    const head = items.find((i) => i.SK === 'REGISTRY');
    if (!head) return undefined;
    const subscription = registeredSubscriptionSchema.parse({
      ...head,
      tenants: head.tenants instanceof Set ? [...head.tenants].sort() : (head.tenants ?? []),
    });
    const charges = items
      .filter((i) => typeof i.SK === 'string' && i.SK.startsWith('CHARGE#'))
      .map((i) => registeredChargeSchema.parse(i));
    return { ...subscription, charges };
  }
}
